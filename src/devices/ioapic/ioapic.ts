// I/O APIC with 24 pins at 0xfec00000 (82093AA data sheet; EOI register of version 0x20 parts).
//
// Design: each pin input is an IrqLine (asserted = raise(), polarity is the board's business: ISA
// lines here are active high). Edge-triggered pins deliver on an asserting transition; if the entry
// is masked, the edge is latched and delivered on unmask (as QEMU does, so Linux's mask/program/
// unmask sequences lose nothing). Level-triggered pins deliver while asserted and remote IRR is
// clear, set remote IRR, and redeliver after the EOI (LAPIC broadcast or the EOI register) if still
// asserted. Messages go to local APICs through the ApicBus.
import type { IrqLine, MmioDevice } from "../../hv/ports.ts";
import type { ApicBus } from "../lapic/apic_bus.ts";
import * as Registers from "./registers.ts";
import type { IoapicState } from "./state.ts";

// Hot paths read constants from a plain object: module-namespace loads were measured far slower under tsx.
const R = { ...Registers };

export class Ioapic implements MmioDevice {
  readonly name = "ioapic";
  private id = 0;
  private select = 0;
  private readonly redirLow = new Uint32Array(R.IOAPIC_PINS).fill(R.RTE_MASKED);
  private readonly redirHigh = new Uint32Array(R.IOAPIC_PINS);
  private readonly levels = new Uint8Array(R.IOAPIC_PINS);
  private readonly pendingEdges = new Uint8Array(R.IOAPIC_PINS);
  private readonly lines: IrqLine[] = [];

  constructor(private readonly bus: ApicBus) {
    for (let pin = 0; pin < R.IOAPIC_PINS; pin++) {
      this.lines.push({
        raise: () => this.setPin(pin, true),
        lower: () => this.setPin(pin, false),
        pulse: () => {
          this.setPin(pin, true);
          this.setPin(pin, false);
        },
      });
    }
  }

  /** Input pin (GSI) as an IrqLine. */
  pin(gsi: number): IrqLine {
    return this.lines[gsi]!;
  }

  setPin(pin: number, level: boolean): void {
    const old = this.levels[pin]!;
    this.levels[pin] = level ? 1 : 0;
    if (!level) return;
    const low = this.redirLow[pin]!;
    if (low & R.RTE_LEVEL) {
      this.service(pin);
    } else if (!old) {
      this.pendingEdges[pin] = 1;
      this.service(pin);
    }
  }

  /** EOI for a vector: clears remote IRR of matching level entries and re-services them. */
  eoi(vector: number): void {
    for (let pin = 0; pin < R.IOAPIC_PINS; pin++) {
      const low = this.redirLow[pin]!;
      if ((low & R.RTE_VECTOR) !== vector || !(low & R.RTE_REMOTE_IRR)) continue;
      this.redirLow[pin] = low & ~R.RTE_REMOTE_IRR;
      this.service(pin);
    }
  }

  private service(pin: number): void {
    const low = this.redirLow[pin]!;
    if (low & R.RTE_MASKED) return;
    const level = (low & R.RTE_LEVEL) !== 0;
    if (level) {
      if (!this.levels[pin] || low & R.RTE_REMOTE_IRR) return;
      this.redirLow[pin] = low | R.RTE_REMOTE_IRR;
    } else {
      if (!this.pendingEdges[pin]) return;
      this.pendingEdges[pin] = 0;
    }
    this.bus.deliver(
      this.redirHigh[pin]! >>> 24,
      (low & R.RTE_DEST_LOGICAL) !== 0,
      (low >> R.RTE_DELIVERY_MODE_SHIFT) & 7,
      low & R.RTE_VECTOR,
      level,
      0,
      -1,
    );
  }

  read(offset: number, _size: 1 | 2 | 4 | 8): number {
    if (offset === R.IOREGSEL) return this.select;
    if (offset === R.IOWIN) return this.readIndirect(this.select) >>> 0;
    return 0;
  }

  write(offset: number, _size: 1 | 2 | 4 | 8, value: number): void {
    if (offset === R.IOREGSEL) this.select = value & 0xff;
    else if (offset === R.IOWIN) this.writeIndirect(this.select, value >>> 0);
    else if (offset === R.IOEOI) this.eoi(value & 0xff);
  }

  private readIndirect(index: number): number {
    switch (index) {
      case R.IOAPICID:
        return this.id << 24;
      case R.IOAPICVER:
        return ((R.IOAPIC_PINS - 1) << 16) | R.IOAPIC_VERSION;
      case R.IOAPICARB:
        return this.id << 24;
    }
    if (index >= R.IOREDTBL && index < R.IOREDTBL + 2 * R.IOAPIC_PINS) {
      const pin = (index - R.IOREDTBL) >> 1;
      return index & 1 ? this.redirHigh[pin]! : this.redirLow[pin]!;
    }
    return 0xffffffff;
  }

  private writeIndirect(index: number, value: number): void {
    if (index === R.IOAPICID) {
      this.id = (value >>> 24) & 0x0f;
      return;
    }
    if (index < R.IOREDTBL || index >= R.IOREDTBL + 2 * R.IOAPIC_PINS) return;
    const pin = (index - R.IOREDTBL) >> 1;
    if (index & 1) {
      this.redirHigh[pin] = value & 0xff000000;
      return;
    }
    const old = this.redirLow[pin]!;
    let low = (old & ~R.RTE_LOW_WRITABLE) | (value & R.RTE_LOW_WRITABLE);
    if (!(low & R.RTE_LEVEL)) low &= ~R.RTE_REMOTE_IRR; // switching to edge clears remote IRR
    this.redirLow[pin] = low >>> 0;
    this.service(pin);
  }

  save(): IoapicState {
    return {
      version: 1,
      id: this.id,
      select: this.select,
      redirLow: Array.from(this.redirLow),
      redirHigh: Array.from(this.redirHigh),
      levels: Array.from(this.levels),
      pendingEdges: Array.from(this.pendingEdges),
    };
  }

  restore(s: IoapicState): void {
    if (s.version !== 1) throw new Error(`Cannot restore ioapic state version "${String(s.version)}"`);
    this.id = s.id;
    this.select = s.select;
    this.redirLow.set(s.redirLow);
    this.redirHigh.set(s.redirHigh);
    this.levels.set(s.levels);
    this.pendingEdges.set(s.pendingEdges);
  }
}
