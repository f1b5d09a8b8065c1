// Shared helpers for the emu core's unit tests: run assembled code on the flat test-double system.

import { CpuState } from "./cpu_state.ts";
import { EmuCpu } from "./cpu.ts";
import { FlatEmuSystem, setFlat32, setFlat64, setReal } from "../../testing/emu_flat_system.ts";
import { asm } from "../../testing/emu_asm.ts";

export const CODE = 0x1000;
export const STACK_TOP = 0x8000;
export const DATA = 0x10000;

export interface Run {
  st: CpuState;
  sys: FlatEmuSystem;
  cpu: EmuCpu;
  unknown: string[];
  /** 64-bit register as a BigInt (tests only). */
  r(i: number): bigint;
  flags(): number;
}

/** Assembles `src`, runs it from CODE until hlt, an exception/interrupt event, or `budget` instructions. */
export function runAsm(src: string, opts: { bits?: 16 | 32 | 64; budget?: number; setup?: (r: Run) => void } = {}): Run {
  const bits = opts.bits ?? 64;
  const st = new CpuState(0);
  if (bits === 64) setFlat64(st); else if (bits === 32) setFlat32(st); else setReal(st);
  const sys = new FlatEmuSystem(st, 1 << 20);
  sys.ram.set(asm(src, bits), CODE);
  st.ripLo = CODE; st.ripHi = 0;
  st.rlo[4] = STACK_TOP;
  const unknown: string[] = [];
  const cpu = new EmuCpu(st, sys, { onUnknownOpcode: (b, rip) => unknown.push(`${b}@${rip}`) });
  const run: Run = {
    st, sys, cpu, unknown,
    r: (i) => (BigInt(st.rhi[i]! >>> 0) << 32n) | BigInt(st.rlo[i]! >>> 0),
    flags: () => cpu.getEflags(),
  };
  opts.setup?.(run);
  cpu.run(opts.budget ?? 100000);
  return run;
}

export const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
export const ARITH = CF | PF | AF | ZF | SF | OF;
