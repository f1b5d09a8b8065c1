// i8042 keyboard controller ports, status bits and commands (IBM PC/AT technical reference; Linux i8042.h names),
// plus the PC reset ports: System Control Port A (0x92) and the ICH Reset Control Register (0xcf9).

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
export const KEYBOARD_IRQ = 1;
export const AUX_IRQ = 12;
export const PORT_A = 0x92;
export const RESET_CONTROL_PORT = 0xcf9;

export const STR_OBF = 0x01;
export const STR_IBF = 0x02;
export const STR_SYSFLAG = 0x04;
export const STR_CMDDAT = 0x08;
export const STR_KEYLOCK = 0x10;
export const STR_AUXDATA = 0x20;
export const STR_TIMEOUT = 0x40;

export const CTR_KBDINT = 0x01;
export const CTR_AUXINT = 0x02;
export const CTR_SYSFLAG = 0x04;
export const CTR_KBDDIS = 0x10;
export const CTR_AUXDIS = 0x20;
export const CTR_XLATE = 0x40;

export const CMD_READ_CTR = 0x20;
export const CMD_WRITE_CTR = 0x60;
export const CMD_AUX_DISABLE = 0xa7;
export const CMD_AUX_ENABLE = 0xa8;
export const CMD_AUX_TEST = 0xa9;
export const CMD_CTL_TEST = 0xaa;
export const CMD_KBD_TEST = 0xab;
export const CMD_KBD_DISABLE = 0xad;
export const CMD_KBD_ENABLE = 0xae;
export const CMD_READ_INPUT = 0xc0;
export const CMD_READ_OUTPUT = 0xd0;
export const CMD_WRITE_OUTPUT = 0xd1;
export const CMD_KBD_LOOP = 0xd2;
export const CMD_AUX_LOOP = 0xd3;
export const CMD_AUX_SEND = 0xd4;
export const CMD_DISABLE_A20 = 0xdd;
export const CMD_ENABLE_A20 = 0xdf;
export const CMD_PULSE_RESET = 0xfe;

export const KBD_ACK = 0xfa;
export const KBD_RESEND = 0xfe;
export const KBD_BAT_OK = 0xaa;

/** Output port bits (command 0xd0/0xd1). */
export const OUT_RESET_HIGH = 0x01;
export const OUT_A20 = 0x02;
