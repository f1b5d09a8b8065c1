// MC146818 RTC / CMOS register indices and bits (Motorola MC146818A data sheet; Linux mc146818rtc.h names).

export const RTC_PORT = 0x70;
export const RTC_PORT_COUNT = 2;
export const RTC_IRQ = 8;
export const CMOS_SIZE = 128;

export const SECONDS = 0x00;
export const SECONDS_ALARM = 0x01;
export const MINUTES = 0x02;
export const MINUTES_ALARM = 0x03;
export const HOURS = 0x04;
export const HOURS_ALARM = 0x05;
export const DAY_OF_WEEK = 0x06;
export const DAY_OF_MONTH = 0x07;
export const MONTH = 0x08;
export const YEAR = 0x09;
export const REG_A = 0x0a;
export const REG_B = 0x0b;
export const REG_C = 0x0c;
export const REG_D = 0x0d;
/** Century byte (the FADT's CENTURY field points here). */
export const CENTURY = 0x32;

export const A_UIP = 0x80;
export const B_SET = 0x80;
export const B_PIE = 0x40;
export const B_AIE = 0x20;
export const B_UIE = 0x10;
export const B_DM_BINARY = 0x04;
export const B_24H = 0x02;
export const C_IRQF = 0x80;
export const C_PF = 0x40;
export const C_AF = 0x20;
export const C_UF = 0x10;
export const D_VRT = 0x80;

/** The update cycle (UIP set) lasts 244 µs before each second boundary. */
export const UIP_WINDOW_NS = 244_000;
