// I/O APIC registers (Intel 82093AA data sheet; version 0x20 adds the EOI register as on ICH parts).

export const IOAPIC_BASE_GPA = 0xfec00000;
export const IOAPIC_MMIO_SIZE = 0x1000;
export const IOAPIC_PINS = 24;

/** MMIO offsets. */
export const IOREGSEL = 0x00;
export const IOWIN = 0x10;
export const IOEOI = 0x40;

/** Indirect register indices. */
export const IOAPICID = 0x00;
export const IOAPICVER = 0x01;
export const IOAPICARB = 0x02;
export const IOREDTBL = 0x10;

export const IOAPIC_VERSION = 0x20;

/** Redirection-entry bits (low dword). */
export const RTE_VECTOR = 0xff;
export const RTE_DELIVERY_MODE_SHIFT = 8;
export const RTE_DEST_LOGICAL = 1 << 11;
export const RTE_DELIVERY_STATUS = 1 << 12;
export const RTE_POLARITY_LOW = 1 << 13;
export const RTE_REMOTE_IRR = 1 << 14;
export const RTE_LEVEL = 1 << 15;
export const RTE_MASKED = 1 << 16;
/** Guest-writable bits of the low dword (delivery status and remote IRR are read-only). */
export const RTE_LOW_WRITABLE = 0x1afff;
