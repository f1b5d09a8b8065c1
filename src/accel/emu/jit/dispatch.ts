// The emu JIT's dispatcher: Interp.run() with the block cache on. 64-bit code runs as compiled blocks (cache.ts,
// translate.ts); everything else, TF single-stepping and code that is not hot yet goes through Interp.step().
// Same stop conditions, interrupt polling (at block boundaries) and fault handling as the interpreter's loop.

import type { Interp } from "../interp.ts";
import { type Block, HELPERS } from "./cache.ts";
import { FAULT } from "../cpu_state.ts";

const IF = 1 << 9, TF = 1 << 8;
/** Interrupt poll period in dispatches (blocks or single steps) executed with IF=1. */
const IRQ_POLL = 8;

/** run() with the block cache: 64-bit code runs as compiled blocks, everything else (and code not hot yet)
 * through step(). Same stop conditions, interrupt polling (at block boundaries) and fault handling. */
export function runJit(c: Interp, budget: number): number {
  const cpu = c.cpu, sys = c.sys, jit = c.jit!;
  const stats = jit.stats;
  const start = cpu.icount;
  const end = start + budget;
  while (cpu.icount < end) {
    if (cpu.stopRequest) { cpu.stopRequest = false; break; }
    if (cpu.tripleFault) break;
    if (cpu.halted) {
      if ((cpu.eflagsRest & IF) !== 0 && c.serviceInterrupts()) continue;
      break;
    }
    let blk: Block | undefined;
    try {
      while (cpu.icount < end) {
        blk = undefined;
        if (cpu.interruptShadow) cpu.interruptShadow = false;
        else if ((cpu.eflagsRest & IF) !== 0 && --c.irqPoll <= 0) {
          c.irqPoll = IRQ_POLL;
          c.startLo = cpu.ripLo; c.startHi = cpu.ripHi;
          if (sys.serviceInterrupts()) {
            cpu.halted = false;
            if (cpu.stopRequest) break;
          }
        }
        const tf = cpu.eflagsRest & TF;
        if (cpu.mode === 5 && tf === 0) {
          const lo = cpu.ripLo, hi = cpu.ripHi;
          const page = lo & ~0xfff;
          if (page !== c.fPageLo || hi !== c.fPageHi || cpu.tlbGen !== c.fGen || cpu.cpl !== c.fCpl) {
            c.is64 = true;
            c.refillFetch(page, hi);
          }
          const base = c.fBase;
          if (base >= 0) {
            blk = jit.lookup(base + (lo & 0xfff), lo, hi);
            if (blk !== undefined && blk.fn === null) { blk.execs++; blk = undefined; }
          }
        }
        if (blk !== undefined) {
          c.smc = false;
          c.is64 = true; // helpers (probeWrite, linAdd) read it
          blk.execs++;
          stats.blockRuns++;
          cpu.icount += blk.fn!(c, HELPERS);
          c.pfxDirty = true;
        } else {
          stats.interpSteps++;
          c.step();
          cpu.icount++;
          if (tf !== 0) c.singleStepTrap();
        }
        if (cpu.halted || cpu.stopRequest) break;
      }
    } catch (e) {
      c.noSeg = false;
      c.pfxDirty = true;
      if (e !== FAULT) throw e;
      if (blk !== undefined) {
        const k = c.bi;
        cpu.icount += k;
        c.startLo = blk.ripsLo[k]!; c.startHi = blk.ripsHi[k]!;
      }
      cpu.ripLo = c.startLo; cpu.ripHi = c.startHi;
      c.deliverException();
    }
  }
  return cpu.icount - start;
}

