// Intel 8254 PIT ports and control-word fields (8254 data sheet) and the PC's port 0x61 (system control port B).

export const PIT_BASE_PORT = 0x40;
export const PIT_PORT_COUNT = 4;
export const PORT_B = 0x61;
/** Input clock: 14.31818 MHz / 12. */
export const PIT_HZ = 1193182;
export const CONTROL_OFFSET = 3;

export const RW_LATCH = 0;
export const RW_LSB = 1;
export const RW_MSB = 2;
export const RW_WORD = 3;
export const SELECT_READBACK = 3;

/** Port 0x61 bits. */
export const PORTB_GATE2 = 0x01;
export const PORTB_SPEAKER = 0x02;
export const PORTB_REFRESH = 0x10;
export const PORTB_OUT2 = 0x20;
/** DRAM refresh toggles every 15.085 µs on PCs (some code times delays with it). */
export const REFRESH_PERIOD_NS = 15085;
