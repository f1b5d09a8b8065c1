// ACPI fixed-hardware PM1a event/control blocks and PM timer in I/O space (ACPI 6.5 §4.8).

export const PM_BASE_PORT = 0x600;
/** PM1a_EVT_BLK = base (4 bytes: PM1_STS, PM1_EN), PM1a_CNT_BLK = base + 4 (2 bytes), PM_TMR_BLK = base + 8 (4 bytes). */
export const PM1_EVT_OFFSET = 0;
export const PM1_EVT_LEN = 4;
export const PM1_CNT_OFFSET = 4;
export const PM1_CNT_LEN = 2;
export const PM_TMR_OFFSET = 8;
export const PM_TMR_LEN = 4;
export const PM_PORT_COUNT = 12;
/** ACPI SCI on ISA IRQ 9 (level, active high via a MADT interrupt source override). */
export const SCI_IRQ = 9;

export const STS_TMR = 1 << 0;
export const STS_BM = 1 << 4;
export const STS_GBL = 1 << 5;
export const STS_PWRBTN = 1 << 8;
export const STS_SLPBTN = 1 << 9;
export const STS_RTC = 1 << 10;
export const STS_WAK = 1 << 15;

export const CNT_SCI_EN = 1 << 0;
export const CNT_SLP_TYP_SHIFT = 10;
export const CNT_SLP_EN = 1 << 13;

/** SLP_TYP value our DSDT's \_S5 package announces; writing it with SLP_EN powers off. */
export const SLP_TYP_S5 = 5;

/** 3.579545 MHz. */
export const PM_TIMER_HZ = 3579545;
