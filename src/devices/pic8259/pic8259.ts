// Cascaded Intel 8259A PICs (master 0x20, slave 0xa0 on master IR2) plus the ELCR at 0x4d0/0x4d1.
//
// Design (8259A data sheet): IRR latches rising edges (edge mode) or follows the line (level mode,
// per ELCR bit); the highest-priority unmasked IRR bit that outranks every in-service bit drives
// INT. The slave's INT is a level on master IR2. INTR (master INT) is reported through a callback,
// which the machine routes to the BSP's LAPIC LINT0 (ExtINT, virtual-wire mode); the CPU's
// interrupt-acknowledge cycle is acknowledge(). Priorities rotate via priorityAdd.
import type { IrqLine, PioDevice } from "../../hv/ports.ts";
import type { Pic8259ChipStateV1, Pic8259State } from "./state.ts";

class Chip {
  irr = 0;
  isr = 0;
  /** Power-on IMR is undefined on the 8259A; all masked is what a BIOS leaves before handing over. */
  imr = 0xff;
  lastLevels = 0;
  vectorBase = 0;
  priorityAdd = 0;
  initStep = 0;
  needIcw4 = false;
  single = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;
  specialMask = false;
  readIsr = false;
  poll = false;
  elcr = 0;

  constructor(
    readonly isMaster: boolean,
    readonly elcrMask: number,
  ) {}

  setLevel(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.elcr & bit) {
      if (level) {
        this.irr |= bit;
        this.lastLevels |= bit;
      } else {
        this.irr &= ~bit;
        this.lastLevels &= ~bit;
      }
    } else if (level) {
      if (!(this.lastLevels & bit)) this.irr |= bit;
      this.lastLevels |= bit;
    } else {
      this.lastLevels &= ~bit;
    }
  }

  /** Priority (0 = highest) of the best bit in mask, 8 if none. */
  priority(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while ((mask & (1 << ((p + this.priorityAdd) & 7))) === 0) p++;
    return p;
  }

  /** The IRQ (0-7) this chip would signal now, or -1. */
  pendingIrq(): number {
    const p = this.priority(this.irr & ~this.imr);
    if (p === 8) return -1;
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;
    if (this.specialFullyNested && this.isMaster) inService &= ~(1 << 2);
    if (p < this.priority(inService)) return (p + this.priorityAdd) & 7;
    return -1;
  }

  intAck(irq: number): void {
    const bit = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    if (!(this.elcr & bit)) this.irr &= ~bit;
  }

  initReset(): void {
    this.lastLevels = 0;
    this.irr &= this.elcr;
    this.imr = 0;
    this.isr = 0;
    this.priorityAdd = 0;
    this.vectorBase = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.initStep = 0;
    this.single = false;
    this.needIcw4 = false;
  }

  save(): Pic8259ChipStateV1 {
    return {
      irr: this.irr, isr: this.isr, imr: this.imr, lastLevels: this.lastLevels,
      vectorBase: this.vectorBase, priorityAdd: this.priorityAdd, initStep: this.initStep,
      needIcw4: this.needIcw4, single: this.single, autoEoi: this.autoEoi,
      rotateOnAutoEoi: this.rotateOnAutoEoi, specialFullyNested: this.specialFullyNested,
      specialMask: this.specialMask, readIsr: this.readIsr, poll: this.poll, elcr: this.elcr,
    };
  }

  restore(s: Pic8259ChipStateV1): void {
    Object.assign(this, s);
  }
}

export class Pic8259 {
  private readonly chips: readonly [Chip, Chip] = [new Chip(true, 0xf8), new Chip(false, 0xde)];
  private intrLevel = false;
  private readonly lines: IrqLine[] = [];

  /** Master command/data at 0x20/0x21. */
  readonly master: PioDevice;
  /** Slave command/data at 0xa0/0xa1. */
  readonly slave: PioDevice;
  /** Edge/level control registers at 0x4d0/0x4d1. */
  readonly elcr: PioDevice;

  constructor(private readonly onIntr: (level: boolean) => void) {
    this.master = this.chipPorts(0, "pic8259-master");
    this.slave = this.chipPorts(1, "pic8259-slave");
    this.elcr = {
      name: "pic8259-elcr",
      read: (offset) => (offset < 2 ? this.chips[offset]!.elcr : 0xff),
      write: (offset, _size, value) => {
        if (offset >= 2) return;
        const chip = this.chips[offset]!;
        chip.elcr = value & chip.elcrMask;
        this.update();
      },
    };
    for (let irq = 0; irq < 16; irq++) {
      this.lines.push({
        raise: () => this.setIrq(irq, true),
        lower: () => this.setIrq(irq, false),
        pulse: () => {
          this.setIrq(irq, true);
          this.setIrq(irq, false);
        },
      });
    }
  }

  /** ISA IRQ input 0-15 as an IrqLine. */
  line(irq: number): IrqLine {
    return this.lines[irq]!;
  }

  setIrq(irq: number, level: boolean): void {
    this.chips[irq >> 3]!.setLevel(irq & 7, level);
    this.update();
  }

  /** Current INTR output level. */
  get intr(): boolean {
    return this.intrLevel;
  }

  /** The CPU's INTA cycle: returns the vector and moves the IRQ in service (spurious IRQ7/15 if none). */
  acknowledge(): number {
    const [m, s] = this.chips;
    let vector: number;
    const irq = m.pendingIrq();
    if (irq >= 0) {
      m.intAck(irq);
      if (irq === 2 && !m.single) {
        const irq2 = s.pendingIrq();
        if (irq2 >= 0) {
          s.intAck(irq2);
          vector = s.vectorBase + irq2;
        } else {
          vector = s.vectorBase + 7;
        }
      } else {
        vector = m.vectorBase + irq;
      }
    } else {
      vector = m.vectorBase + 7;
    }
    this.update();
    return vector;
  }

  private update(): void {
    const [m, s] = this.chips;
    // The slave's INT re-arms master IR2 whenever it has something to deliver (as a pulse, so
    // an edge-mode IR2 sees it again after each acknowledge).
    if (!m.single && s.pendingIrq() >= 0) {
      m.setLevel(2, true);
      m.setLevel(2, false);
    }
    const level = m.pendingIrq() >= 0;
    if (level !== this.intrLevel) {
      this.intrLevel = level;
      this.onIntr(level);
    }
  }

  private chipPorts(index: 0 | 1, name: string): PioDevice {
    const chip = this.chips[index];
    return {
      name,
      read: (offset) => this.readPort(chip, offset),
      write: (offset, _size, value) => this.writePort(chip, offset, value & 0xff),
    };
  }

  private readPort(chip: Chip, offset: number): number {
    if (offset === 0) {
      if (chip.poll) {
        chip.poll = false;
        const irq = chip.pendingIrq();
        if (irq < 0) return 0;
        chip.intAck(irq);
        this.update();
        return 0x80 | irq;
      }
      return chip.readIsr ? chip.isr : chip.irr;
    }
    if (offset === 1) return chip.imr;
    return 0xff;
  }

  private writePort(chip: Chip, offset: number, value: number): void {
    if (offset === 0) {
      if (value & 0x10) {
        // ICW1
        chip.initReset();
        chip.initStep = 1;
        chip.single = (value & 0x02) !== 0;
        chip.needIcw4 = (value & 0x01) !== 0;
      } else if (value & 0x08) {
        // OCW3
        if (value & 0x04) chip.poll = true;
        if (value & 0x02) chip.readIsr = (value & 0x01) !== 0;
        if (value & 0x40) chip.specialMask = (value & 0x20) !== 0;
      } else {
        // OCW2
        const cmd = value >> 5;
        switch (cmd) {
          case 0:
          case 4:
            chip.rotateOnAutoEoi = cmd === 4;
            break;
          case 1:
          case 5: {
            const p = chip.priority(chip.isr);
            if (p !== 8) {
              const irq = (p + chip.priorityAdd) & 7;
              chip.isr &= ~(1 << irq);
              if (cmd === 5) chip.priorityAdd = (irq + 1) & 7;
            }
            break;
          }
          case 3:
          case 7: {
            const irq = value & 7;
            chip.isr &= ~(1 << irq);
            if (cmd === 7) chip.priorityAdd = (irq + 1) & 7;
            break;
          }
          case 6:
            chip.priorityAdd = (value + 1) & 7;
            break;
          default:
            break;
        }
      }
    } else if (offset === 1) {
      switch (chip.initStep) {
        case 0:
          chip.imr = value;
          break;
        case 1:
          chip.vectorBase = value & 0xf8;
          chip.initStep = chip.single ? (chip.needIcw4 ? 3 : 0) : 2;
          break;
        case 2:
          chip.initStep = chip.needIcw4 ? 3 : 0;
          break;
        case 3:
          chip.specialFullyNested = (value & 0x10) !== 0;
          chip.autoEoi = (value & 0x02) !== 0;
          chip.initStep = 0;
          break;
      }
    }
    this.update();
  }

  save(): Pic8259State {
    return { version: 1, master: this.chips[0].save(), slave: this.chips[1].save() };
  }

  restore(state: Pic8259State): void {
    if (state.version !== 1) throw new Error(`Cannot restore pic8259 state version "${String(state.version)}"`);
    this.chips[0].restore(state.master);
    this.chips[1].restore(state.slave);
    this.intrLevel = false;
    this.update();
  }
}
