// The emu JIT's dispatcher: Interp.run() with the block cache on. 64-bit code runs as compiled blocks (cache.ts,
// translate.ts); everything else, TF single-stepping and code that is not hot yet goes through Interp.step().
// Same stop conditions, interrupt polling (at block boundaries) and fault handling as the interpreter's loop.
//
// Direct chaining: after a block ran, the RIP it left at is looked up in the block's two links (exit RIP ->
// successor) before the table. A link is followed only when
//  - it was made under the same link key: this core, cpu.tlbGen and CPL (so the successor was found through the
//    current translation of that RIP: any TLB flush, invlpg, CR0/CR3/CR4/EFER paging change or mode change bumps
//    tlbGen and retires every link made before), and
//  - the successor is not dead (invalidated by a write into its bytes, evicted or flushed).
// A chained dispatch skips the fetch-page check, the table lookup and hot counting; the interrupt poll, TF,
// mode, halted/stop and budget checks run for every dispatch as before. A block whose last instruction crosses
// into the next page (wasm regions) runs after a lookup only if that page still translates to the RAM it was
// translated from; links to it were made after that check under the same tlbGen.
//
// Wasm blocks (slot != 0) are entered through the wasm tier's chaining run (wasm_tier.ts): the dispatcher records
// the RIP -> block mapping it just resolved in the vCPU's lookup table, passes the budget and interrupt-poll
// allowance, and counts the blocks the run went through as chained block runs.
//
// Not-hot path: block starts are looked up (and counted towards compiling) only where control arrived by a jump,
// call, return, interrupt, fault or the end of a block, not after an interpreted instruction that went on to the
// next one (RIP advanced by 0..15 bytes within the page: straight-line code, rep iterations, short forward skips). Interpreted
// straight-line code then costs about what the interpreter's own loop does (no per-instruction fetch-page check,
// table probe and hot counter). Only which blocks get compiled changes: skipping a lookup just interprets. Off
// with hot thresholds 0 and 1 (tests, differential runs: every start compiled at first sight).

import type { Interp } from "../interp.ts";
import { type Block, HELPERS } from "./cache.ts";
import { FAULT } from "../cpu_state.ts";
import { NO_CTX } from "./wasm_tier.ts";

const IF = 1 << 9, TF = 1 << 8;
/** Interrupt poll period in dispatches (blocks or single steps) executed with IF=1. */
const IRQ_POLL = 8;
/** A wasm chaining run with IF=1 polls interrupts after CHAIN_POLL times as many blocks as the dispatcher does
 * (IRQ_POLL): blocks chained inside wasm cost far less than a dispatch, and the latency stays bounded. */
const CHAIN_POLL = 8;

/** run() with the block cache: 64-bit code runs as compiled blocks, everything else (and code not hot yet)
 * through step(). Same stop conditions, interrupt polling (at block boundaries) and fault handling. */
export function runJit(c: Interp, budget: number): number {
  const cpu = c.cpu, sys = c.sys, jit = c.jit!;
  const stats = jit.stats;
  /** This core's part of the link key (-1: no chaining). */
  const tag = jit.coreTag(c);
  const start = cpu.icount;
  const end = start + budget;
  /** The block that ran last (null after anything else), whose links are tried first. */
  let prev: Block | null = null;
  // Statistics counted in locals (registers) and added to jit.stats on the way out.
  let runs = 0, chained = 0, steps = 0, entries = 0;
  /** The last dispatch was an interpreted step that went on to the next instruction (or a few bytes further, or
   * repeated itself: rep): its RIP is not looked up (see the header). */
  let seq = false;
  /** Lookups after straight-line steps are skipped only with a real hot threshold (tests and differential runs
   * compile at first sight: 0 or 1, and want every start compiled). */
  const skipSeq = jit.hotThreshold > 1;
  while (cpu.icount < end) {
    if (cpu.stopRequest) { cpu.stopRequest = false; break; }
    if (cpu.tripleFault) break;
    if (cpu.halted) {
      seq = false;
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
            prev = null;
            seq = false;
            if (cpu.stopRequest) break;
          }
        }
        const tf = cpu.eflagsRest & TF;
        if (cpu.mode === 5 && tf === 0) {
          const lo = cpu.ripLo, hi = cpu.ripHi;
          const key = (cpu.tlbGen * 4 + cpu.cpl) * 64 + tag;
          if (prev !== null) {
            let n: Block | null = null;
            if (prev.l0Lo === lo && prev.l0Hi === hi && prev.l0Key === key) n = prev.l0;
            else if (prev.l1Lo === lo && prev.l1Hi === hi && prev.l1Key === key) n = prev.l1;
            if (n !== null && !n.dead) { blk = n; chained++; }
          }
          if (blk === undefined && !seq) {
            const page = lo & ~0xfff;
            if (page !== c.fPageLo || hi !== c.fPageHi || cpu.tlbGen !== c.fGen || cpu.cpl !== c.fCpl) {
              c.is64 = true;
              c.refillFetch(page, hi);
            }
            const base = c.fBase;
            if (base >= 0) {
              blk = jit.lookup(base + (lo & 0xfff), lo, hi, sys);
              if (blk !== undefined) {
                if (blk.fn === null) { blk.execs++; blk = undefined; }
                // a block that goes on into the next page runs only while that page maps to the same RAM
                else if (blk.phys2 >= 0 && sys.fetchProbe!(blk.lo2, hi) !== blk.phys2) { jit.remapped(blk); blk = undefined; }
                // The lookup went through the current translation of (lo, hi): link the previous block to it.
                else if (prev !== null && !prev.dead) prev.link(lo, hi, key, blk);
              }
            }
          }
        }
        if (blk !== undefined) {
          c.smc = false;
          c.is64 = true; // helpers (probeWrite, linAdd) read it
          blk.execs++;
          runs++;
          if (blk.slot !== 0) {
            // a wasm block may go on to the next wasm blocks inside wasm (wasm_tier.ts chaining)
            const w = jit.wasm!, ifOn = (cpu.eflagsRest & IF) !== 0;
            entries++;
            const ctx = tag >= 0 ? cpu.cpl * 2 : NO_CTX; // each vCPU has its own lookup table: no core in it
            if (tag >= 0) w.remember(c, cpu.ripLo, cpu.ripHi, ctx, blk.slot, blk.phys2 >= 0 ? blk.lo2 : 0);
            w.ctx = ctx; w.budget = end - cpu.icount; w.polls = ifOn ? c.irqPoll * CHAIN_POLL : 0x40000000;
            cpu.icount += blk.fn!(c, HELPERS);
            if (ifOn) c.irqPoll = w.polls > CHAIN_POLL ? (w.polls / CHAIN_POLL) | 0 : 1;
            if (w.runs > 1) { runs += w.runs - 1; chained += w.runs - 1; } // blocks chained inside wasm
          } else cpu.icount += blk.fn!(c, HELPERS);
          c.pfxDirty = true;
          seq = false;
          if (tag >= 0) prev = blk;
        } else {
          prev = null;
          steps++;
          let lo0 = cpu.ripLo, hi0 = cpu.ripHi;
          c.step();
          cpu.icount++;
          // (a step onto the next page is looked up: a block can start there, e.g. after an instruction that
          // crosses the page end, which no JavaScript block holds)
          seq = skipSeq && cpu.ripHi === hi0 && ((cpu.ripLo - lo0) >>> 0) <= 15 && ((cpu.ripLo ^ lo0) & -4096) === 0;
          if (tf !== 0) { c.singleStepTrap(); seq = false; }
          // Straight-line burst: while the code goes on sequentially (RIPs that would not be looked up anyway),
          // step here without the dispatch checks above; leave for anything they handle (the interrupt poll is
          // due, interrupt shadow, TF, halt, stop, budget).
          while (seq && cpu.icount < end && !cpu.interruptShadow && (cpu.eflagsRest & TF) === 0 && !cpu.halted && !cpu.stopRequest) {
            if ((cpu.eflagsRest & IF) !== 0) { if (c.irqPoll <= 1) break; c.irqPoll--; }
            lo0 = cpu.ripLo; hi0 = cpu.ripHi;
            steps++;
            c.step();
            cpu.icount++;
            seq = cpu.ripHi === hi0 && ((cpu.ripLo - lo0) >>> 0) <= 15 && ((cpu.ripLo ^ lo0) & -4096) === 0;
          }
        }
        if (cpu.halted || cpu.stopRequest) break;
      }
    } catch (e) {
      prev = null;
      seq = false;
      c.noSeg = false;
      c.pfxDirty = true;
      if (e !== FAULT) throw e;
      if (blk !== undefined) {
        if (blk.slot !== 0 && jit.wasm!.runs > 1) { runs += jit.wasm!.runs - 1; chained += jit.wasm!.runs - 1; }
        const k = c.bi;
        cpu.icount += k;
        const w = jit.wasm;
        if (w !== null && w.faultRipsLo !== null) { // a later block of a wasm chaining run faulted
          c.startLo = w.faultRipsLo[k]!; c.startHi = w.faultRipsHi![k]!;
          w.faultRipsLo = null; w.faultRipsHi = null;
        } else { c.startLo = blk.ripsLo[k]!; c.startHi = blk.ripsHi[k]!; }
      }
      cpu.ripLo = c.startLo; cpu.ripHi = c.startHi;
      c.deliverException();
    }
  }
  stats.blockRuns += runs; stats.chainedRuns += chained; stats.interpSteps += steps; stats.wasmEntries += entries;
  return cpu.icount - start;
}
