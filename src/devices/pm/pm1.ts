// ACPI PM1a event block (PM1_STS/PM1_EN), PM1a control block (SCI_EN, SLP_TYP/SLP_EN) and the
// 24-bit PM timer, as one I/O-port device at 0x600 (ACPI 6.5 §4.8.3).
//
// Design: writing SLP_TYP = S5 (the value the DSDT's \_S5 package gives) together with SLP_EN calls
// poweroff(); other sleep types are ignored (no S1-S4). The SCI (IRQ9, level) is asserted while any
// enabled status bit is set; only the fixed power button sets one (pressPowerButton()). SMI_CMD is 0
// in the FADT, so the platform is always in ACPI mode and SCI_EN reads 1. The PM timer is derived
// from the injected clock.
import type { Clock } from "../../platform/timers.ts";
import type { IrqLine, PioDevice } from "../../hv/ports.ts";
import * as Registers from "./registers.ts";
import type { Pm1State } from "./state.ts";

// Hot paths read constants from a plain object: module-namespace loads were measured far slower under tsx.
const R = { ...Registers };

export interface Pm1Options {
  readonly clock: Clock;
  readonly sci: IrqLine;
  readonly poweroff: () => void;
}

export class Pm1 implements PioDevice {
  readonly name = "acpi-pm1";
  private status = 0;
  private enable = 0;
  private control = R.CNT_SCI_EN;
  private sciAsserted = false;

  constructor(private readonly opts: Pm1Options) {}

  /** The fixed-hardware power button (xl trigger power / xl shutdown without PV drivers). */
  pressPowerButton(): void {
    this.status |= R.STS_PWRBTN;
    this.updateSci();
  }

  /** PM timer value (24 bits). */
  timerValue(): number {
    return Math.floor((this.opts.clock.nowNs() * R.PM_TIMER_HZ) / 1e9) % 0x1000000;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset >= R.PM_TMR_OFFSET) {
      const v = this.timerValue();
      const shift = (offset - R.PM_TMR_OFFSET) * 8;
      return size === 4 ? v >>> shift : (v >>> shift) & (size === 1 ? 0xff : 0xffff);
    }
    // 16-bit registers, read as a little-endian byte stream.
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByte(offset + i) << (8 * i);
    return value >>> 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset >= R.PM_TMR_OFFSET) return; // the timer is read-only
    // Assemble per-register values so that SLP_TYP and SLP_EN arriving in one word act together.
    for (let reg = offset & ~1; reg < offset + size; reg += 2) {
      let mask = 0;
      let v = 0;
      for (let b = 0; b < 2; b++) {
        const byteOffset = reg + b;
        if (byteOffset < offset || byteOffset >= offset + size) continue;
        mask |= 0xff << (8 * b);
        v |= ((value >>> (8 * (byteOffset - offset))) & 0xff) << (8 * b);
      }
      this.writeRegister(reg, v, mask);
    }
  }

  private readByte(offset: number): number {
    const reg = offset & ~1;
    const shift = (offset & 1) * 8;
    let v: number;
    if (reg === 0) v = this.status;
    else if (reg === 2) v = this.enable;
    else if (reg === 4) v = this.control & ~R.CNT_SLP_EN;
    else v = 0;
    return (v >> shift) & 0xff;
  }

  private writeRegister(reg: number, value: number, mask: number): void {
    switch (reg) {
      case 0: // PM1_STS: write 1 to clear
        this.status &= ~(value & mask);
        this.updateSci();
        return;
      case 2:
        this.enable = (this.enable & ~mask) | (value & mask);
        this.updateSci();
        return;
      case 4: {
        const v = (this.control & ~mask) | (value & mask);
        this.control = (v & ~R.CNT_SLP_EN) | R.CNT_SCI_EN;
        if (v & R.CNT_SLP_EN && ((v >> R.CNT_SLP_TYP_SHIFT) & 7) === R.SLP_TYP_S5) this.opts.poweroff();
        return;
      }
    }
  }

  private updateSci(): void {
    const level = (this.status & this.enable & 0x0721) !== 0;
    if (level === this.sciAsserted) return;
    this.sciAsserted = level;
    if (level) this.opts.sci.raise();
    else this.opts.sci.lower();
  }

  save(): Pm1State {
    return { version: 1, status: this.status, enable: this.enable, control: this.control };
  }

  restore(s: Pm1State): void {
    if (s.version !== 1) throw new Error(`Cannot restore acpi-pm1 state version "${String(s.version)}"`);
    this.status = s.status;
    this.enable = s.enable;
    this.control = s.control;
    this.sciAsserted = false;
    this.updateSci();
  }
}
