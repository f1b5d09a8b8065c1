// A scripted CPU engine for tests: plays a list of guest actions (port writes, hypercalls, spinning,
// crashing) through the same VcpuIo and worker loop as real engines, on RAM in a SharedArrayBuffer.
// It shows how a software engine (emu) plugs in: check control.attentionRequested() while running.
import { PagingGuestMemory } from "../hv/hypercall/guest_pagewalk.ts";
import type { BootEntry } from "../hv/ports.ts";
import type { CpuEngine, EngineExit, EngineModule, VcpuIo } from "./engine.ts";
import type { VcpuInit } from "./protocol.ts";
import { VcpuCommand, type VcpuControlBlock } from "./shared_layout.ts";

export type ScriptStep =
  | { readonly op: "out"; readonly port: number; readonly bytes: string }
  /** A 64-bit hypercall whose pointer args are guest-physical (paging off in this fake). */
  | { readonly op: "hypercall"; readonly nr: number; readonly args: readonly number[]; readonly repeat?: number; readonly expect?: number }
  | { readonly op: "poke"; readonly gpa: number; readonly bytes: readonly number[] }
  /** Runs until the owner raises ATTENTION, then continues spinning on the next run(). */
  | { readonly op: "spin" }
  | { readonly op: "crash"; readonly why: string }
  | { readonly op: "throw"; readonly message: string };

export interface ScriptedEngineData {
  readonly steps: readonly ScriptStep[];
}

class ScriptedEngine implements CpuEngine {
  private pc = 0;
  constructor(
    private readonly init: VcpuInit,
    private readonly ram: Uint8Array,
    private readonly io: VcpuIo,
    private readonly control: VcpuControlBlock,
  ) {}

  reset(_entry: BootEntry | null): void {
    this.pc = 0;
  }

  run(): EngineExit {
    const steps = (this.init.engineData as ScriptedEngineData).steps;
    const mem = new PagingGuestMemory(this.ram, { cr0: 0x11, cr3: 0, cr4: 0, efer: 0 }); // paging off
    for (;;) {
      if (this.control.attentionRequested()) return { kind: "attention" };
      const step = steps[this.pc];
      if (step === undefined) {
        // Out of script: behave like a halted CPU until the owner changes the command.
        this.control.waitWhileCommand(VcpuCommand.run);
        return { kind: "attention" };
      }
      switch (step.op) {
        case "out":
          for (const ch of step.bytes) this.io.pioWrite(step.port, 1, ch.charCodeAt(0));
          break;
        case "poke":
          this.ram.set(step.bytes, step.gpa);
          break;
        case "hypercall": {
          const a = [0n, 0n, 0n, 0n, 0n] as [bigint, bigint, bigint, bigint, bigint];
          step.args.forEach((v, i) => (a[i] = BigInt(v)));
          for (let i = 0; i < (step.repeat ?? 1); i++) {
            const r = BigInt.asIntN(64, this.io.hypercall({ vcpuId: this.init.vcpuId, nr: step.nr, args: a, longMode: true }, mem));
            if (step.expect !== undefined && r !== BigInt(step.expect)) {
              this.pc++;
              return { kind: "crashed", why: `hypercall ${step.nr} returned ${r}, expected ${step.expect}` };
            }
          }
          break;
        }
        case "spin":
          while (!this.control.attentionRequested()) {
            /* guest busy loop */
          }
          return { kind: "attention" };
        case "crash":
          this.pc++;
          return { kind: "crashed", why: step.why };
        case "throw":
          throw new Error(step.message);
      }
      this.pc++;
      if (this.io.stopRequested) return { kind: "stopRequested" };
    }
  }

  registerDump(): string {
    return `pc=${this.pc}`;
  }

  close(): void {}
}

export const scriptedEngineModule: EngineModule = {
  mapRam(init) {
    if (init.ram.kind !== "sab") throw new TypeError("The scripted engine needs RAM in a SharedArrayBuffer");
    return new Uint8Array(init.ram.buffer);
  },
  createEngine: (init, ram, io, control) => new ScriptedEngine(init, ram, io, control),
};
export const { mapRam, createEngine } = scriptedEngineModule;
