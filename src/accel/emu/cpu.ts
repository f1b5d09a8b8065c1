// EmuCpu: one emulated x86-64 vCPU = the shared CpuState + the core interpreter + an EmuSystem (paging,
// descriptors, exceptions, MSRs, devices) supplied by the system side.
//
//   const state = new CpuState(vcpuId);
//   const system: EmuSystem = ...;            // system.ts (or src/testing/emu_flat_system.ts in tests)
//   const cpu = new EmuCpu(state, system, { features: { popcnt: false, rdtscp: false, cx16: false },
//                                           onUnknownOpcode: (bytes, rip) => log(...) });
//   const n = cpu.run(system.instructionBudget());   // instructions retired; stops on hlt/stopRequest
//   cpu.getEflags() / cpu.setEflags(v)               // the only way to read/write EFLAGS

import type { CpuState, EmuSystem } from "./cpu_state.ts";
import { Interp, type UnknownOpcodeLog } from "./interp.ts";
import type { Features } from "./exec/system.ts";
import type { JitCache } from "./jit/cache.ts";

export interface EmuCpuOptions {
  /** CPUID-advertised optional instructions the core should execute (else #UD). Default: none. */
  features?: Partial<Features>;
  /** Called once per distinct unimplemented opcode (bytes as hex, RIP as 16 hex digits, cpu mode). */
  onUnknownOpcode?: UnknownOpcodeLog;
  /** Compile hot 64-bit guest code to JavaScript blocks (jit/). Default: jitFromEnv() (xl.cfg emu_jit sets it). */
  jit?: boolean;
}

/**
 * Whether the emu backend compiles guest code when neither xl.cfg (emu_jit) nor the caller says. On: the JIT passes
 * the interpreter's correctness tests and boots the stock kernel ~1.6x faster (docs/benchmarks.md, ADR 0037).
 */
export const DEFAULT_EMU_JIT = true;

/** TSXEN_EMU_JIT=0|1 overrides DEFAULT_EMU_JIT (for tests and benches); anything else leaves the default. */
export function jitFromEnv(): boolean {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  const v = g.process?.env?.TSXEN_EMU_JIT;
  return v === "1" ? true : v === "0" ? false : DEFAULT_EMU_JIT;
}

export class EmuCpu {
  readonly core: Interp;

  constructor(readonly state: CpuState, readonly system: EmuSystem, opts: EmuCpuOptions = {}) {
    this.core = new Interp(state, system);
    this.core.features = { rdtscp: false, popcnt: false, cx16: false, ...opts.features };
    this.core.onUnknownOpcode = opts.onUnknownOpcode ?? null;
    if (opts.jit ?? jitFromEnv()) this.core.enableJit(true);
  }

  /** The block cache (shared by the vCPUs of a domain), or null when interpreting. */
  get jit(): JitCache | null { return this.core.jit; }

  /** Runs up to `budget` instructions (default: system.instructionBudget()); returns instructions retired. */
  run(budget: number = this.system.instructionBudget()): number {
    return this.core.run(budget);
  }

  /** Executes exactly one instruction (or delivers a fault); returns 1 if it retired. */
  step(): number {
    return this.core.run(1);
  }

  getEflags(): number { return this.core.getEflags(); }
  setEflags(v: number): void { this.core.setEflags(v); }
  /** Drops the core's cached code page (the system calls this if it changes mappings without tlbGen). */
  /** Also drops every compiled block: call it after writing guest code other than through the CPU (loaders). */
  flushCodeCache(): void { this.core.flushFetch(); this.core.jit?.flush(); }
}
