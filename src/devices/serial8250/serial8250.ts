// 16550A UART (PC16550D data sheet): registers, 16-byte FIFOs, THRE/RX/line/modem interrupts.
//
// Design: transmission is instantaneous — a THR write goes straight to the ByteSink, so LSR always
// reports THRE|TEMT and the guest's polling loop (one LSR read per character) exits at once. The
// THRE interrupt follows the data sheet / Linux expectations: it becomes pending when THR empties
// (i.e. after every THR write) or when IER.THRI goes 0→1 while THR is empty, and reading IIR while
// it is the reported source clears it. Received bytes wait in an unbounded queue (the host never
// overruns the guest); the first 16 form the visible RX FIFO. The IRQ line is level-like: raised
// while any enabled source is pending, lowered otherwise (the IOAPIC/PIC see the edge).
import type { IrqLine, PioDevice } from "../../hv/ports.ts";
import * as Registers from "./registers.ts";
import type { Serial8250State } from "./state.ts";

// Hot paths read constants from a plain object: module-namespace loads were measured far slower under tsx.
const R = { ...Registers };

/** Where transmitted bytes go (the domain's console). */
export interface ByteSink {
  write(byte: number): void;
}

const TRIGGER_LEVELS = [1, 4, 8, 14] as const;

export class Serial8250 implements PioDevice {
  readonly name: string;
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsr = R.LSR_THRE | R.LSR_TEMT;
  private msr = R.MSR_DCD | R.MSR_DSR | R.MSR_CTS;
  private scr = 0;
  private fcr = 0;
  private divisor = 12; // 9600 baud
  private thrPending = false;
  private rx: number[] = [];
  private rxHead = 0;
  private irqLevel = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly sink: ByteSink,
    name = "serial8250",
  ) {
    this.name = name;
  }

  /** Host → guest bytes (console input). */
  receive(bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.rx.push(bytes[i]! & 0xff);
    this.updateIrq();
  }

  /** Bytes queued for the guest and not yet read. */
  get rxQueued(): number {
    return this.rx.length - this.rxHead;
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    switch (offset) {
      case R.RBR_THR_DLL:
        if (this.lcr & R.LCR_DLAB) return this.divisor & 0xff;
        return this.readRbr();
      case R.IER_DLM:
        if (this.lcr & R.LCR_DLAB) return (this.divisor >> 8) & 0xff;
        return this.ier;
      case R.IIR_FCR: {
        const iir = this.computeIir();
        if ((iir & 0x0f) === R.IIR_THRI) {
          this.thrPending = false;
          this.updateIrq();
        }
        return iir;
      }
      case R.LCR:
        return this.lcr;
      case R.MCR:
        return this.mcr;
      case R.LSR: {
        const v = this.lsr | (this.rxQueued > 0 ? R.LSR_DR : 0);
        if (this.lsr & (R.LSR_OE | R.LSR_BI)) {
          this.lsr &= ~(R.LSR_OE | R.LSR_BI);
          this.updateIrq();
        }
        return v;
      }
      case R.MSR: {
        const v = this.msr;
        if (v & 0x0f) {
          this.msr &= 0xf0;
          this.updateIrq();
        }
        return v;
      }
      case R.SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    switch (offset) {
      case R.RBR_THR_DLL:
        if (this.lcr & R.LCR_DLAB) {
          this.divisor = (this.divisor & 0xff00) | value;
          return;
        }
        if (this.mcr & R.MCR_LOOP) this.rx.push(value);
        else this.sink.write(value);
        // The byte left at once: THR is empty again.
        this.thrPending = true;
        this.updateIrq();
        return;
      case R.IER_DLM: {
        if (this.lcr & R.LCR_DLAB) {
          this.divisor = (this.divisor & 0xff) | (value << 8);
          return;
        }
        const old = this.ier;
        this.ier = value & 0x0f;
        if (!(old & R.IER_THRI) && this.ier & R.IER_THRI) this.thrPending = true;
        this.updateIrq();
        return;
      }
      case R.IIR_FCR:
        if (value & R.FCR_CLEAR_RCVR) {
          this.rx.length = 0;
          this.rxHead = 0;
        }
        this.fcr = value & 0xc9;
        if (!(value & R.FCR_ENABLE_FIFO)) this.fcr = 0;
        this.updateIrq();
        return;
      case R.LCR:
        this.lcr = value;
        return;
      case R.MCR: {
        this.mcr = value & 0x1f;
        this.updateModemStatus();
        this.updateIrq();
        return;
      }
      case R.LSR:
        return; // read-only (factory test register on real parts)
      case R.MSR:
        return;
      case R.SCR:
        this.scr = value;
        return;
    }
  }

  private readRbr(): number {
    if (this.rxHead >= this.rx.length) return 0;
    const v = this.rx[this.rxHead++]!;
    if (this.rxHead >= this.rx.length) {
      this.rx.length = 0;
      this.rxHead = 0;
    } else if (this.rxHead > 4096) {
      this.rx = this.rx.slice(this.rxHead);
      this.rxHead = 0;
    }
    this.updateIrq();
    return v;
  }

  private updateModemStatus(): void {
    let status: number;
    if (this.mcr & R.MCR_LOOP) {
      status =
        (this.mcr & R.MCR_RTS ? R.MSR_CTS : 0) |
        (this.mcr & R.MCR_DTR ? R.MSR_DSR : 0) |
        (this.mcr & R.MCR_OUT1 ? R.MSR_RI : 0) |
        (this.mcr & R.MCR_OUT2 ? R.MSR_DCD : 0);
    } else {
      status = R.MSR_DCD | R.MSR_DSR | R.MSR_CTS;
    }
    const old = this.msr & 0xf0;
    const changed = old ^ status;
    let delta = this.msr & 0x0f;
    if (changed & R.MSR_CTS) delta |= R.MSR_DCTS;
    if (changed & R.MSR_DSR) delta |= R.MSR_DDSR;
    if (changed & R.MSR_DCD) delta |= R.MSR_DDCD;
    if (old & R.MSR_RI && !(status & R.MSR_RI)) delta |= R.MSR_TERI;
    this.msr = status | delta;
  }

  private computeIir(): number {
    const fifo = this.fcr & R.FCR_ENABLE_FIFO ? R.IIR_FIFO_ENABLED : 0;
    const ier = this.ier;
    if (ier & R.IER_RLSI && this.lsr & (R.LSR_OE | R.LSR_BI)) return fifo | R.IIR_RLSI;
    if (ier & R.IER_RDI) {
      const queued = this.rxQueued;
      if (queued > 0) {
        if (!fifo) return R.IIR_RDI;
        const trigger = TRIGGER_LEVELS[(this.fcr >> 6) & 3]!;
        return fifo | (queued >= trigger ? R.IIR_RDI : R.IIR_RX_TIMEOUT);
      }
    }
    if (ier & R.IER_THRI && this.thrPending) return fifo | R.IIR_THRI;
    if (ier & R.IER_MSI && this.msr & 0x0f) return fifo | R.IIR_MSI;
    return fifo | R.IIR_NO_INT;
  }

  private updateIrq(): void {
    const level = (this.computeIir() & R.IIR_NO_INT) === 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    if (level) this.irq.raise();
    else this.irq.lower();
  }

  save(): Serial8250State {
    return {
      version: 1,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      lsr: this.lsr,
      msr: this.msr,
      scr: this.scr,
      fcr: this.fcr,
      divisor: this.divisor,
      thrInterruptPending: this.thrPending,
      rx: this.rx.slice(this.rxHead),
    };
  }

  restore(state: Serial8250State): void {
    if (state.version !== 1) throw new Error(`Cannot restore serial8250 state version "${String(state.version)}"`);
    this.ier = state.ier;
    this.lcr = state.lcr;
    this.mcr = state.mcr;
    this.lsr = state.lsr;
    this.msr = state.msr;
    this.scr = state.scr;
    this.fcr = state.fcr;
    this.divisor = state.divisor;
    this.thrPending = state.thrInterruptPending;
    this.rx = state.rx.slice();
    this.rxHead = 0;
    this.irqLevel = false;
    this.updateIrq();
  }
}
