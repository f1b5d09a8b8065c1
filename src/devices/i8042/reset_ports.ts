// PC reset ports: System Control Port A at 0x92 (fast A20 gate, bit 0 = fast reset) and the Reset
// Control Register at 0xcf9 (Intel ICH data sheets; ACPI FADT RESET_REG points here with value 6).
import type { PioDevice } from "../../hv/ports.ts";
import type { ResetPortsState } from "./state.ts";

export class PortA implements PioDevice {
  readonly name = "port92";
  private value = 0x02; // A20 enabled

  constructor(private readonly reset: () => void) {}

  get a20(): boolean {
    return (this.value & 0x02) !== 0;
  }

  read(_offset: number, _size: 1 | 2 | 4): number {
    return this.value & 0x02;
  }

  write(_offset: number, _size: 1 | 2 | 4, value: number): void {
    this.value = value & 0x02;
    if (value & 0x01) this.reset();
  }

  save(): number {
    return this.value;
  }

  restore(value: number): void {
    this.value = value & 0x02;
  }
}

/** 0xcf9: bit 1 SYS_RST (hard reset), bit 2 RST_CPU (0→1 resets), bit 3 FULL_RST. */
export class ResetControl implements PioDevice {
  readonly name = "reset-control";
  private value = 0;

  constructor(private readonly reset: () => void) {}

  read(_offset: number, _size: 1 | 2 | 4): number {
    return this.value;
  }

  write(_offset: number, _size: 1 | 2 | 4, value: number): void {
    const old = this.value;
    this.value = value & 0x0a;
    if (value & 0x04 && !(old & 0x04)) this.reset();
  }

  save(): number {
    return this.value;
  }

  restore(value: number): void {
    this.value = value & 0x0a;
  }
}

export function saveResetPorts(a: PortA, c: ResetControl): ResetPortsState {
  return { version: 1, portA: a.save(), resetControl: c.save() };
}

export function restoreResetPorts(a: PortA, c: ResetControl, s: ResetPortsState): void {
  if (s.version !== 1) throw new Error(`Cannot restore reset-port state version "${String(s.version)}"`);
  a.restore(s.portA);
  c.restore(s.resetControl);
}
