// Local APIC (xAPIC) register offsets and bits (Intel SDM vol. 3A ch. 11, "Advanced Programmable Interrupt Controller").

export const LAPIC_BASE_GPA = 0xfee00000;
export const LAPIC_MMIO_SIZE = 0x1000;

export const REG_ID = 0x020;
export const REG_VERSION = 0x030;
export const REG_TPR = 0x080;
export const REG_APR = 0x090;
export const REG_PPR = 0x0a0;
export const REG_EOI = 0x0b0;
export const REG_RRD = 0x0c0;
export const REG_LDR = 0x0d0;
export const REG_DFR = 0x0e0;
export const REG_SVR = 0x0f0;
export const REG_ISR = 0x100;
export const REG_TMR = 0x180;
export const REG_IRR = 0x200;
export const REG_ESR = 0x280;
export const REG_ICR_LOW = 0x300;
export const REG_ICR_HIGH = 0x310;
export const REG_LVT_TIMER = 0x320;
export const REG_LVT_THERMAL = 0x330;
export const REG_LVT_PERF = 0x340;
export const REG_LVT_LINT0 = 0x350;
export const REG_LVT_LINT1 = 0x360;
export const REG_LVT_ERROR = 0x370;
export const REG_TIMER_INITIAL = 0x380;
export const REG_TIMER_CURRENT = 0x390;
export const REG_TIMER_DIVIDE = 0x3e0;

/** Version 0x14 (integrated APIC), max LVT entry 5 (6 LVTs), no directed EOI. */
export const LAPIC_VERSION = 0x50014;

/** Index into the LVT array = (offset - 0x320) >> 4. */
export const LVT_TIMER = 0;
export const LVT_THERMAL = 1;
export const LVT_PERF = 2;
export const LVT_LINT0 = 3;
export const LVT_LINT1 = 4;
export const LVT_ERROR = 5;
export const LVT_COUNT = 6;
/** Writable bits per LVT entry (delivery status bit 12 and remote IRR bit 14 are read-only). */
export const LVT_WRITABLE = [0x700ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff] as const;

export const LVT_MASKED = 1 << 16;
export const LVT_TIMER_MODE_SHIFT = 17;
export const TIMER_MODE_ONESHOT = 0;
export const TIMER_MODE_PERIODIC = 1;
export const TIMER_MODE_TSC_DEADLINE = 2;

export const SVR_ENABLED = 1 << 8;

/** Delivery modes (ICR bits 8-10, LVT/redirection-entry bits 8-10). */
export const DM_FIXED = 0;
export const DM_LOWEST = 1;
export const DM_SMI = 2;
export const DM_NMI = 4;
export const DM_INIT = 5;
export const DM_STARTUP = 6;
export const DM_EXTINT = 7;

/** ICR destination shorthand (bits 18-19). */
export const SH_NONE = 0;
export const SH_SELF = 1;
export const SH_ALL = 2;
export const SH_OTHERS = 3;

export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;

export const MSR_APIC_BASE = 0x1b;
export const MSR_TSC_DEADLINE = 0x6e0;
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_EXTD = 1 << 10;
export const APIC_BASE_ENABLE = 1 << 11;

/** APIC timer input clock: 1 GHz bus (1 ns per tick before the divider), as QEMU models it. */
export const APIC_BUS_NS_PER_TICK = 1;

// ---- x2APIC (SDM vol. 3A §11.12): MSR 0x800 + (xAPIC offset >> 4), enabled by APIC_BASE.EXTD ----

export const MSR_X2APIC_FIRST = 0x800;
export const MSR_X2APIC_LAST = 0x8ff;
/** Only in x2APIC mode: write-only, sends a fixed self-IPI with vector bits 7:0 (offset 0x3f0). */
export const REG_SELF_IPI = 0x3f0;
/** ICR bits that are reserved in x2APIC mode (a WRMSR setting one raises #GP): 31:20, 17:16 and 13. */
export const X2APIC_ICR_RESERVED = 0xfff32000;
/** Physical and logical broadcast destination of an x2APIC interrupt message. */
export const X2APIC_BROADCAST = 0xffffffff;
