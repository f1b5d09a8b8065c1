// i8042 PS/2 controller at 0x60/0x64 with a keyboard that answers Linux's probe (atkbd) and no mouse,
// and the controller's reset line (command 0xfe / output port bit 0).
//
// Design: the controller keeps a FIFO of bytes for the guest; the head is "the output buffer"
// (status OBF, AUXDATA). IRQ1/IRQ12 are asserted while an enabled byte sits in the buffer and lowered
// when it is read, so every new byte is a fresh edge. The AUX port has nothing attached: commands
// sent to it (0xd4) answer 0xfe with the timeout bit, so psmouse gives up at once; the AUX loopback
// (0xd3) works because Linux's i8042_check_aux uses it to find the port.
import type { IrqLine, PioDevice } from "../../hv/ports.ts";
import * as Registers from "./registers.ts";
import type { I8042State } from "./state.ts";

// Hot paths read constants from a plain object: module-namespace loads were measured far slower under tsx.
const R = { ...Registers };

interface QueuedByte {
  byte: number;
  aux: boolean;
  timeout: boolean;
}

export interface I8042Options {
  readonly keyboardIrq: IrqLine;
  readonly auxIrq: IrqLine;
  /** The guest pulsed the reset line: reboot the domain. */
  readonly reset: () => void;
}

export class I8042 implements PioDevice {
  readonly name = "i8042";
  private ctr = R.CTR_KBDINT | R.CTR_SYSFLAG | R.CTR_XLATE;
  private status = R.STR_SYSFLAG | R.STR_KEYLOCK;
  /** Controller command waiting for its data byte (0 = none). */
  private pendingCommand = 0;
  /** Keyboard command waiting for its argument byte (0 = none). */
  private pendingKeyboardCommand = 0;
  private outputPort = R.OUT_RESET_HIGH | R.OUT_A20;
  private queue: QueuedByte[] = [];
  private keyboardIrqAsserted = false;
  private auxIrqAsserted = false;

  constructor(private readonly opts: I8042Options) {}

  /** True while the A20 gate is enabled through the output port. */
  get a20(): boolean {
    return (this.outputPort & R.OUT_A20) !== 0;
  }

  /** Host keyboard input as scan codes (set 1 when translating). */
  injectScancodes(bytes: ArrayLike<number>): void {
    if (this.ctr & R.CTR_KBDDIS) return;
    for (let i = 0; i < bytes.length; i++) this.push(bytes[i]!, false);
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    if (offset === 0) return this.readData();
    if (offset === 4) return this.readStatus();
    return 0xff;
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    if (offset === 0) this.writeData(value);
    else if (offset === 4) this.writeCommand(value);
  }

  private readStatus(): number {
    let s = this.status & ~(R.STR_OBF | R.STR_AUXDATA | R.STR_TIMEOUT);
    const head = this.queue[0];
    if (head !== undefined) {
      s |= R.STR_OBF;
      if (head.aux) s |= R.STR_AUXDATA;
      if (head.timeout) s |= R.STR_TIMEOUT;
    }
    return s;
  }

  private readData(): number {
    const head = this.queue.shift();
    this.updateIrqs(true);
    return head === undefined ? 0 : head.byte;
  }

  private push(byte: number, aux: boolean, timeout = false): void {
    this.queue.push({ byte: byte & 0xff, aux, timeout });
    this.updateIrqs();
  }

  /** newHead: the buffer's byte changed, so an asserted line must drop and rise again (new edge). */
  private updateIrqs(newHead = false): void {
    const head = this.queue[0];
    const kbd = head !== undefined && !head.aux && (this.ctr & R.CTR_KBDINT) !== 0;
    const aux = head !== undefined && head.aux && (this.ctr & R.CTR_AUXINT) !== 0;
    if (this.keyboardIrqAsserted && (newHead || !kbd)) {
      this.keyboardIrqAsserted = false;
      this.opts.keyboardIrq.lower();
    }
    if (this.auxIrqAsserted && (newHead || !aux)) {
      this.auxIrqAsserted = false;
      this.opts.auxIrq.lower();
    }
    if (kbd && !this.keyboardIrqAsserted) {
      this.keyboardIrqAsserted = true;
      this.opts.keyboardIrq.raise();
    }
    if (aux && !this.auxIrqAsserted) {
      this.auxIrqAsserted = true;
      this.opts.auxIrq.raise();
    }
  }

  private writeCommand(cmd: number): void {
    this.status |= R.STR_CMDDAT;
    this.pendingCommand = 0;
    switch (cmd) {
      case R.CMD_READ_CTR:
        this.push(this.ctr, false);
        return;
      case R.CMD_WRITE_CTR:
      case R.CMD_WRITE_OUTPUT:
      case R.CMD_KBD_LOOP:
      case R.CMD_AUX_LOOP:
      case R.CMD_AUX_SEND:
        this.pendingCommand = cmd;
        return;
      case R.CMD_AUX_DISABLE:
        this.ctr |= R.CTR_AUXDIS;
        return;
      case R.CMD_AUX_ENABLE:
        this.ctr &= ~R.CTR_AUXDIS;
        return;
      case R.CMD_AUX_TEST:
      case R.CMD_KBD_TEST:
        this.push(0x00, false);
        return;
      case R.CMD_CTL_TEST:
        this.status |= R.STR_SYSFLAG;
        this.push(0x55, false);
        return;
      case R.CMD_KBD_DISABLE:
        this.ctr |= R.CTR_KBDDIS;
        return;
      case R.CMD_KBD_ENABLE:
        this.ctr &= ~R.CTR_KBDDIS;
        return;
      case R.CMD_READ_INPUT:
        this.push(0x80, false); // keyboard not inhibited
        return;
      case R.CMD_READ_OUTPUT:
        this.push(this.outputPort, false);
        return;
      case R.CMD_DISABLE_A20:
        this.outputPort &= ~R.OUT_A20;
        return;
      case R.CMD_ENABLE_A20:
        this.outputPort |= R.OUT_A20;
        return;
    }
    if (cmd >= 0xf0 && (cmd & 1) === 0) {
      // Pulse output-port bits low; bit 0 is the CPU reset line (0xfe is the classic reboot).
      this.opts.reset();
    }
  }

  private writeData(value: number): void {
    this.status &= ~R.STR_CMDDAT;
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    switch (cmd) {
      case R.CMD_WRITE_CTR:
        this.ctr = value;
        this.status = (this.status & ~R.STR_SYSFLAG) | (value & R.CTR_SYSFLAG);
        this.updateIrqs();
        return;
      case R.CMD_WRITE_OUTPUT:
        this.outputPort = value;
        if (!(value & R.OUT_RESET_HIGH)) this.opts.reset();
        return;
      case R.CMD_KBD_LOOP:
        this.push(value, false);
        return;
      case R.CMD_AUX_LOOP:
        this.push(value, true);
        return;
      case R.CMD_AUX_SEND:
        this.push(R.KBD_RESEND, true, true); // no mouse attached
        return;
    }
    this.keyboardCommand(value);
  }

  private keyboardCommand(value: number): void {
    const pending = this.pendingKeyboardCommand;
    if (pending !== 0) {
      this.pendingKeyboardCommand = 0;
      this.push(R.KBD_ACK, false);
      if (pending === 0xf0 && value === 0) this.push(this.ctr & R.CTR_XLATE ? 0x41 : 0x02, false);
      return;
    }
    switch (value) {
      case 0xff: // reset + self-test
        this.push(R.KBD_ACK, false);
        this.push(R.KBD_BAT_OK, false);
        return;
      case 0xf2: // identify: MF2 keyboard
        this.push(R.KBD_ACK, false);
        this.push(0xab, false);
        this.push(this.ctr & R.CTR_XLATE ? 0x41 : 0x83, false);
        return;
      case 0xee: // echo
        this.push(0xee, false);
        return;
      case 0xed: // set LEDs
      case 0xf3: // typematic rate
      case 0xf0: // scan code set
        this.pendingKeyboardCommand = value;
        this.push(R.KBD_ACK, false);
        return;
      default: // enable, disable, defaults, ... all acknowledged
        this.push(R.KBD_ACK, false);
    }
  }

  save(): I8042State {
    return {
      version: 1,
      ctr: this.ctr,
      status: this.status,
      pendingCommand: this.pendingCommand,
      pendingKeyboardCommand: this.pendingKeyboardCommand,
      outputPort: this.outputPort,
      queue: this.queue.map((q) => ({ ...q })),
    };
  }

  restore(s: I8042State): void {
    if (s.version !== 1) throw new Error(`Cannot restore i8042 state version "${String(s.version)}"`);
    this.ctr = s.ctr;
    this.status = s.status;
    this.pendingCommand = s.pendingCommand;
    this.pendingKeyboardCommand = s.pendingKeyboardCommand;
    this.outputPort = s.outputPort;
    this.queue = s.queue.map((q) => ({ ...q }));
    this.updateIrqs();
  }
}
