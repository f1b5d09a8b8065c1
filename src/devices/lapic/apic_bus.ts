// The APIC "bus": routes interrupt messages (IPIs from ICR writes, IOAPIC redirection entries) to
// local APICs by destination, following the xAPIC rules of Intel SDM vol. 3A §11.6.2.
//
// Design: the machine creates one bus per domain, registers each vCPU's Lapic, and supplies
// ApicEvents for what only the CPU can do (INIT, SIPI, NMI, waking a halted vCPU). Everything runs on
// the thread that runs the vCPUs (vCPUs are interleaved on one thread); no locking.
import type { Lapic } from "./lapic.ts";
import * as Registers from "./registers.ts";

// Hot paths read constants from a plain object: module-namespace loads were measured far slower under tsx.
const R = { ...Registers };

/** What the CPU side must do when the APICs say so. vcpuId = index of the Lapic on the bus. */
export interface ApicEvents {
  /** INIT IPI: the LAPIC has already been reset; put the vCPU in wait-for-SIPI. */
  init(vcpuId: number): void;
  /** Start-up IPI: if the vCPU waits for SIPI, start it in real mode at CS = vector << 8, IP = 0. */
  startup(vcpuId: number, vector: number): void;
  /** NMI (LINT1 in NMI mode, NMI IPI). */
  nmi(vcpuId: number): void;
  /** An interrupt became pending on this vCPU's LAPIC: wake it if halted. */
  kick(vcpuId: number): void;
}

export class ApicBus {
  readonly lapics: Lapic[] = [];
  /** EOI of a level-triggered vector (TMR bit set): the machine points this at IOAPIC.eoi. */
  onLevelEoi: (vector: number) => void = () => {};
  /** ExtINT acknowledge cycle (the 8259's INTA): the machine points this at Pic8259.acknowledge. */
  extIntAcknowledge: () => number = () => 0xff;

  constructor(readonly events: ApicEvents) {}

  attach(lapic: Lapic): number {
    this.lapics.push(lapic);
    return this.lapics.length - 1;
  }

  /**
   * Delivers one interrupt message.
   * @param destination 8-bit xAPIC destination (physical APIC ID or logical MDA; 0xff = broadcast), or a 32-bit
   *   x2APIC one when x2Format (0xffffffff = broadcast)
   * @param logical destination mode (false = physical)
   * @param deliveryMode DM_* value
   * @param shorthand SH_* value (IOAPIC messages use SH_NONE)
   * @param source index of the sending Lapic for self/others shorthands, -1 for the IOAPIC
   * @param x2Format the message comes from an ICR write in x2APIC mode (SDM §11.12.9)
   */
  deliver(
    destination: number,
    logical: boolean,
    deliveryMode: number,
    vector: number,
    levelTriggered: boolean,
    shorthand: number,
    source: number,
    x2Format = false,
  ): void {
    const lapics = this.lapics;
    if (deliveryMode === R.DM_LOWEST && shorthand === R.SH_NONE) {
      // Lowest priority: the matching APIC with the lowest TPR (first one on ties).
      let best = -1;
      for (let i = 0; i < lapics.length; i++) {
        if (!lapics[i]!.matchesDestination(destination, logical, x2Format)) continue;
        if (best < 0 || lapics[i]!.taskPriority < lapics[best]!.taskPriority) best = i;
      }
      if (best >= 0) this.deliverTo(best, R.DM_FIXED, vector, levelTriggered);
      return;
    }
    for (let i = 0; i < lapics.length; i++) {
      let hit: boolean;
      switch (shorthand) {
        case R.SH_SELF:
          hit = i === source;
          break;
        case R.SH_ALL:
          hit = true;
          break;
        case R.SH_OTHERS:
          hit = i !== source;
          break;
        default:
          hit = lapics[i]!.matchesDestination(destination, logical, x2Format);
      }
      if (hit) this.deliverTo(i, deliveryMode, vector, levelTriggered);
    }
  }

  private deliverTo(index: number, deliveryMode: number, vector: number, levelTriggered: boolean): void {
    const lapic = this.lapics[index]!;
    switch (deliveryMode) {
      case R.DM_FIXED:
      case R.DM_LOWEST:
        lapic.acceptExternal(vector, levelTriggered);
        return;
      case R.DM_NMI:
        this.events.nmi(index);
        return;
      case R.DM_INIT:
        lapic.initReset();
        this.events.init(index);
        return;
      case R.DM_STARTUP:
        this.events.startup(index, vector & 0xff);
        return;
      default:
        return; // SMI and ExtINT messages are not modelled
    }
  }
}
