// Emu runner: the same batch program and memory image on the emu core (EmuCpu over the flat test double:
// linear = physical, like the native identity map), 64-bit mode at CPL 3 with IOPL 3. Exceptions are
// recorded per sequence and the run restarts at the next sequence, as the native runner does.
import { CpuState } from "../../src/accel/emu/cpu_state.ts";
import { EmuCpu } from "../../src/accel/emu/cpu.ts";
import { FlatEmuSystem, setFlat64 } from "../../src/testing/emu_flat_system.ts";
import * as L from "./layout.ts";
import type { AssembledBatch } from "./program.ts";
import type { BatchRun, SeqFault } from "./kvm_runner.ts";

class DiffSystem extends FlatEmuSystem {
  exited = false;
  override portOut(port: number, size: 1 | 2 | 4, v: number): void {
    super.portOut(port, size, v);
    if (port === L.EXIT_PORT) {
      this.exited = true;
      this.cpu.stopRequest = true;
    }
  }
}

export class EmuRunner {
  readonly state = new CpuState(0);
  readonly sys = new DiffSystem(this.state, L.RAM_BYTES);
  readonly cpu = new EmuCpu(this.state, this.sys, { features: { popcnt: false, rdtscp: false, cx16: false } });
  /** Unimplemented opcodes the core reported. */
  readonly unknownOpcodes: string[] = [];

  constructor() {
    this.cpu.core.onUnknownOpcode = (bytes: string, rip: string) => { this.unknownOpcodes.push(`${bytes} at ${rip}`); };
  }

  get ram(): Uint8Array {
    return this.sys.ram;
  }

  private enterRing3(rip: number): void {
    const c = this.state;
    setFlat64(c);
    c.cpl = 3;
    c.segSel[1] = L.SEL.UCODE; c.segSel[2] = L.SEL.UDATA;
    c.segAttr[1] |= 3 << 5;
    c.segAttr[2] |= 3 << 5;
    c.cr0 = 0x80010033; c.cr4 = 0x620; c.efer = 0x500;
    c.ripLo = rip; c.ripHi = 0;
    c.rlo.fill(0); c.rhi.fill(0);
    c.rlo[4] = L.SCRATCH;
    this.cpu.setEflags(0x3002);
    c.tlbGen++;
    this.cpu.flushCodeCache();
  }

  run(batch: AssembledBatch, maxInstructions = 50_000_000): BatchRun {
    const faults: SeqFault[] = [];
    let start = batch.seqs.length > 0 ? batch.seqs[0]!.prologue : batch.exitAddr;
    let total = 0;
    this.sys.exited = false;
    for (;;) {
      this.enterRing3(start);
      this.sys.events.length = 0;
      while (!this.sys.exited && this.sys.events.length === 0 && !this.state.tripleFault) {
        const n = this.cpu.run(1_000_000);
        total += n;
        if (total > maxInstructions) throw new Error(`emu ran more than ${maxInstructions} instructions without reaching the exit`);
        if (n === 0 && !this.sys.exited && this.sys.events.length === 0) throw new Error(`emu stopped at rip 0x${(this.state.ripLo >>> 0).toString(16)}`);
      }
      if (this.sys.exited) return { faults, entries: 0 };
      const ev = this.sys.events[0];
      const rip = BigInt(this.state.ripLo >>> 0);
      const vector = ev?.vector ?? -1;
      const seq = batch.seqs.findIndex((s, i) => BigInt(s.prologue) <= rip && rip < BigInt(batch.seqs[i + 1]?.prologue ?? batch.exitAddr));
      faults.push({ seq, vector, rip, where: "emu" });
      if (seq < 0) throw new Error(`emu fault ${vector} outside any sequence at rip 0x${rip.toString(16)}`);
      start = batch.seqs[seq + 1]?.prologue ?? batch.exitAddr;
    }
  }
}
