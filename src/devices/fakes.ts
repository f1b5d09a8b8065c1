// Test doubles shared by the device tests: an IrqLine that records its level and edges.
import type { IrqLine } from "../hv/ports.ts";

export class RecordingIrq implements IrqLine {
  level = false;
  /** Number of low→high transitions seen (pulses count once). */
  edges = 0;
  raise(): void {
    if (!this.level) this.edges++;
    this.level = true;
  }
  lower(): void {
    this.level = false;
  }
  pulse(): void {
    this.edges++;
    this.level = false;
  }
}
