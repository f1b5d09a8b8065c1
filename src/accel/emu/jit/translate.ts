// Block translator of the emu JIT: decodes a run of 64-bit-mode guest instructions from one physical code page
// and emits the source of a JavaScript function that executes them on the interpreter's state (registers in
// CpuState.rlo/rhi, lazy flags in the core's lf* fields, memory through EmuSystem), without re-decoding.
//
// Contract of a generated block function `blk(c)` (c = the Interp):
//  - before each instruction that can fault it stores the instruction's index in c.bi, so a FAULT thrown anywhere
//    in the block is restarted by the dispatcher at ripsLo/ripsHi[c.bi] with c.bi instructions retired (plus
//    whatever the block added to cpu.icount itself: loop iterations, skipped instructions taken off, rep counts);
//  - it returns the number of instructions retired beyond what it left in cpu.icount (cpu.icount is back at its
//    entry value when it returns, so the dispatcher may read it before or after the call) and leaves
//    cpu.ripLo/ripHi at the next instruction;
//  - after every memory write it checks c.smc (set when a write hit a page holding translated code) and leaves
//    the block, so self-modifying code never executes stale translations;
//  - an instruction the translator does not handle runs through the interpreter (`c.step()`) inside the block,
//    which goes on when RIP is at the next instruction and nothing it relies on changed (STEP_CHECK);
//    control transfers and mode-changing system instructions end the block after the step (translate_len.ts);
//  - inside a block: direct jmps and calls to the same page are followed, forward jccs to a later instruction
//    skip to it, backward jccs/jmps to an earlier instruction loop (at most LOOP_MAX instructions per dispatch).
// Semantics mirror interp.ts / exec/*.ts exactly (same lazy-flag records, except records no one can observe:
// translate_opt.ts); complex operations call the same helpers (alu, incDec, execGroup2, imulTrunc), hot forms of
// them are inlined with the same records (translate_inl.ts: shifts/rotates of registers by constants, inc/dec, imul;
// TSXEN_EMU_JIT_INLINE=0 off), and looping blocks keep guest registers in JS locals (translate_regs.ts;
// TSXEN_EMU_JIT_REGS=0 off).

import { INLINE_TLB, memPrologueFor, memRd, memWr, setInlineTlb, useMemPrologue, WRITE_MARK } from "./mem_src.ts";
import { insnLength, isStringOp, lenInfo } from "./translate_len.ts";
import { optimizeBlock } from "./translate_opt.ts";
import { INLINE, imulSrc, incDecSrc, shiftRegClSrc, shiftRegSrc } from "./translate_inl.ts";
import { REGS, REGS_ALL, regsInLocals } from "./translate_regs.ts";

/** Thrown by the decoder for anything it does not translate. */
const NO = { no: true };

/** Target of the last translated direct jmp (the block may continue there when it is on the same page). */
const jmpTarget = [0, 0];
/** The last translated direct call: instruction index, target, and the source of its push (the block may go on at
 * the target when it is on the same page). */
const callInfo = { k: -1, lo: 0, hi: 0, push: "" };
/** The last translated forward jcc: instruction index and target. */
const jccInfo = { k: -1, lo: 0, hi: 0, back: false };


/** After an in-block interpreter step (besides RIP at the next instruction): the block leaves when a write hit
 * translated code, the mode, CPL or paging (tlbGen: CR0/CR3/CR4/EFER writes, invlpg) changed, the core halted or
 * was asked to stop, TF was set (popf) or an interrupt shadow started (sti, mov/pop ss), so the dispatcher sees
 * every such change at an instruction boundary, as with the interpreter. */
const STEP_CHECK = "c.smc || cpu.mode !== 5 || cpu.cpl !== cpl0 || cpu.tlbGen !== gen0 || cpu.halted || cpu.stopRequest || cpu.interruptShadow || (cpu.eflagsRest & 256) !== 0";

/** Returns of a block after an interpreted string instruction: rep iterations beyond the first were added to
 * cpu.icount by the string code; they are moved into the return value and cpu.icount is set back, so the count is
 * right whether the dispatcher adds the return value to cpu.icount read before or after the call. (A fault leaves
 * them in cpu.icount, where the dispatcher adds c.bi.) */
const ICOUNT_FIX = "return (ic = cpu.icount - ic0, cpu.icount = ic0, $1 + ic);";

const ENV = ((): Record<string, string | undefined> => {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return g.process?.env ?? {};
})();
/** TSXEN_EMU_JIT_STEP=0: no in-block interpreter steps (a block ends at the first instruction it does not
 * translate, as before); TSXEN_EMU_JIT_OPT=0: no peephole passes (translate_opt.ts). For A/B measurements.
 */
const IN_BLOCK_STEPS = ENV.TSXEN_EMU_JIT_STEP !== "0";
/** Blocks whose jcc/jmp goes back to one of their instructions loop inside the function (TSXEN_EMU_JIT_LOOP=0: off),
 * for at most LOOP_MAX instructions per dispatch (interrupts are polled between dispatches). */
const LOOPS = ENV.TSXEN_EMU_JIT_LOOP !== "0";
const LOOP_MAX = 1 << 16;
/** Forward jccs to a later instruction of the block skip to it inside the block (TSXEN_EMU_JIT_FWD=0: off). */
const FORWARD = ENV.TSXEN_EMU_JIT_FWD !== "0";
const OPTIMIZE = ENV.TSXEN_EMU_JIT_OPT !== "0";
/** Maximum instructions per block (TSXEN_EMU_JIT_MAXBLOCK for A/B measurements). */
export const MAX_BLOCK = Number(ENV.TSXEN_EMU_JIT_MAXBLOCK ?? 48);
/** Looping blocks get inline TLB probes (TSXEN_EMU_JIT_LOOP_TLB=0: off; TSXEN_EMU_JIT_INLINE_TLB=1: every block). */
const LOOP_INLINE_TLB = ENV.TSXEN_EMU_JIT_LOOP_TLB !== "0";
useMemPrologue();

/** TSXEN_EMU_JIT_STEPPROF=1: count in-block interpreter steps per opcode (printed at exit; profiling only). */
const STEP_PROF = ENV.TSXEN_EMU_JIT_STEPPROF === "1";
let stepProfOn = false;
function setStepProf(): void {
  if (stepProfOn) return;
  stepProfOn = true;
  const counts = new Map<string, number>();
  (globalThis as { __tsxenStepProf?: (op: string) => void }).__tsxenStepProf = (op: string) => { counts.set(op, (counts.get(op) ?? 0) + 1); };
  const g = globalThis as { process?: { on?: (ev: string, f: () => void) => void } };
  g.process?.on?.("exit", () => {
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 70);
    let total = 0;
    for (const v of counts.values()) total += v;
    console.error(`jit step profile: ${total} in-block interpreter steps`);
    for (const [op, n] of top) console.error(`jit step profile:   ${op} x${n}`);
  });
}

export interface Translation {
  src: string;
  /** Native (translated) instructions, not counting a tail. */
  native: number;
  /** Instruction start RIPs (index = c.bi); one extra entry for the tail instruction if any. */
  ripsLo: Int32Array;
  ripsHi: Int32Array;
  /** Bytes of guest code covered (from the start offset). */
  bytes: number;
  /** First bytes (hex) of the instruction left to the interpreter at the end, "" if none. */
  tailOp: string;
  /** The block loops (a backward branch to one of its instructions). */
  loops: boolean;
}

/** Hex of up to 4 bytes at ram[p] (within the page): for profiles of what is not translated. */
export function opBytes(ram: Uint8Array, p: number): string {
  const end = Math.min(p + 4, p - (p & 0xfff) + 4096, ram.length);
  let s = "";
  for (let i = p; i < end; i++) s += ram[i]!.toString(16).padStart(2, "0");
  return s;
}

const TWO32 = 4294967296;
const SS = 2, FS = 4, GS = 5;

function canonical(hi: number): boolean { return ((hi << 16) >> 16) === hi; }

/** (lo, hi) + n for a 64-bit RIP (n may be negative, |n| < 2^32). */
function ripAdd(lo: number, hi: number, n: number): [number, number] {
  const s = (lo >>> 0) + n;
  let h = hi;
  if (s > 0xffffffff) h = (h + 1) | 0; else if (s < 0) h = (h - 1) | 0;
  return [s | 0, h];
}

class Dec {
  p: number;
  // prefixes
  rex = 0; rexR = 0; rexX = 0; rexB = 0; w = false;
  has66 = false; rep = 0; seg = -1; a67 = false; lock = false;
  os = 4;
  // modrm
  modrm = 0; mod = 0; reg = 0; rm = 0;
  base = -1; idx = -1; scale = 0; disp = 0; ripRel = false;

  // emission context of the current instruction
  k = 0;
  eaCode = "";

  constructor(readonly ram: Uint8Array, p: number, readonly lim: number,
    readonly phys: number, readonly ripLo: number, readonly ripHi: number) { this.p = p; }

  /** RIP after the bytes decoded so far (call it after all immediates are read). */
  end(): [number, number] { return ripAdd(this.ripLo, this.ripHi, this.p - this.phys); }
  /** Computes the EA source of a memory operand (after the immediates). */
  needEA(): void {
    if (this.mod !== 3) { const [l, h] = this.end(); this.eaCode = eaSrc(this, l, h, true); }
  }
  /** Reads E (decoded) of size s into dst/dsth; the EA is left in ea/eh for a write-back. */
  readE(s: number, dst = "a", dsth = "ah"): string {
    return this.mod === 3 ? `${dst} = ${regRdLo(this, s, this.rm)}; ${dsth} = ${regRdHi(s, this.rm)};` : this.eaCode + " " + memRd(s, dst, dsth);
  }
  /** readE for the destination of a read-modify-write: memory is probed for write access first (a #PF on it
   * reports W=1, as in the interpreter's readRmw). */
  readRmw(s: number, dst = "a", dsth = "ah"): string {
    return this.mod === 3 ? this.readE(s, dst, dsth) : `${this.eaCode} probeWrite(c, ${s}, ea, eh); ${memRd(s, dst, dsth)}`;
  }
  /** Writes E from v/vh; readE must have emitted the EA already when `again` (RMW). */
  writeE(s: number, v: string, vh: string, again: boolean): string {
    return this.mod === 3 ? regWr(this, s, this.rm, v, vh) : (again ? "" : this.eaCode + " ") + memWr(s, v, vh);
  }
  jumpTo(lo: number, hi: number): string { return `cpu.ripLo = ${lo}; cpu.ripHi = ${hi}; return ${this.k + 1}; /*end*/`; }
  jcc(cc: number, disp: number): string | null {
    if (this.has66) return null;
    const [nl, nh] = this.end();
    const [tl, th] = ripAdd(nl, nh, disp);
    if (!canonical(th)) return null;
    // Taken: leave the block (or start the next iteration of a block that is a loop); not taken: the block goes
    // on with the next instruction (superblock).
    jccInfo.k = this.k; jccInfo.lo = tl; jccInfo.hi = th; jccInfo.back = disp < 0;
    return `if (c.cond(${cc})) { cpu.ripLo = ${tl}; cpu.ripHi = ${th}; return ${this.k + 1}; }`;
  }

  u8(): number { if (this.p >= this.lim) throw NO; return this.ram[this.p++]!; }
  s8(): number { return (this.u8() << 24) >> 24; }
  u16(): number { const a = this.u8(); return a | (this.u8() << 8); }
  s32(): number { const a = this.u8(), b = this.u8(), c = this.u8(), d = this.u8(); return a | (b << 8) | (c << 16) | (d << 24); }

  /** Prefixes as the interpreter decodes them in 64-bit mode; returns the opcode byte. */
  prefixes(): number {
    let rex = 0;
    for (;;) {
      const b = this.u8();
      switch (b) {
        case 0x66: this.has66 = true; rex = 0; continue;
        case 0x67: this.a67 = true; rex = 0; continue;
        case 0xf2: case 0xf3: this.rep = b; rex = 0; continue;
        case 0xf0: this.lock = true; rex = 0; continue;
        case 0x26: case 0x2e: case 0x36: case 0x3e: rex = 0; continue;
        case 0x64: case 0x65: this.seg = b - 0x60; rex = 0; continue;
        default:
          if ((b & 0xf0) === 0x40) { rex = b; continue; }
      }
      this.rex = rex;
      this.rexR = (rex & 4) << 1; this.rexX = (rex & 2) << 2; this.rexB = (rex & 1) << 3;
      this.w = (rex & 8) !== 0;
      this.os = this.w ? 8 : this.has66 ? 2 : 4;
      return b;
    }
  }

  modrmDecode(): void {
    const m = this.u8();
    this.modrm = m;
    this.mod = m >> 6;
    this.reg = ((m >> 3) & 7) | this.rexR;
    if (this.mod === 3) { this.rm = (m & 7) | this.rexB; return; }
    if (this.a67) throw NO;
    this.rm = m & 7;
    this.base = -1; this.idx = -1; this.scale = 0; this.disp = 0; this.ripRel = false;
    const mod = this.mod, rm = this.rm;
    if (rm === 4) {
      const sib = this.u8();
      this.scale = sib >> 6;
      let idx = ((sib >> 3) & 7) | this.rexX;
      if (idx === 4) idx = -1;
      this.idx = idx;
      this.base = (sib & 7) | this.rexB;
      if ((sib & 7) === 5 && mod === 0) { this.base = -1; this.disp = this.s32(); }
    } else if (rm === 5 && mod === 0) {
      this.disp = this.s32();
      this.ripRel = true;
    } else {
      this.base = rm | this.rexB;
    }
    if (mod === 1) this.disp = this.s8(); else if (mod === 2) this.disp = this.s32();
  }
}

/** Source that sets (ea, eh) to the effective address of the decoded memory operand; with seg = true also applies
 * FS/GS bases and the canonical check (#SS for stack-based operands, else #GP). endLo/endHi: RIP after the
 * instruction (RIP-relative operands). */
function eaSrc(d: Dec, endLo: number, endHi: number, seg: boolean): string {
  let s = "";
  if (d.ripRel) {
    const [lo, hi] = ripAdd(endLo, endHi, d.disp);
    s = `ea = ${lo}; eh = ${hi};`;
  } else if (d.idx < 0 && d.base >= 0 && d.disp === 0) {
    s = `ea = rlo[${d.base}]; eh = rhi[${d.base}];`;
  } else if (d.idx < 0 && d.base >= 0) {
    s = `s = (rlo[${d.base}] >>> 0) + ${d.disp}; ea = s | 0; eh = s > 4294967295 ? (rhi[${d.base}] + 1) | 0 : s < 0 ? (rhi[${d.base}] - 1) | 0 : rhi[${d.base}];`;
  } else {
    let lo = `${d.disp >>> 0}`, hi = `${d.disp >> 31}`;
    if (d.base >= 0) { lo += ` + (rlo[${d.base}] >>> 0)`; hi += ` + rhi[${d.base}]`; }
    if (d.idx >= 0) {
      const i = d.idx, sc = d.scale;
      if (sc === 0) { lo += ` + (rlo[${i}] >>> 0)`; hi += ` + rhi[${i}]`; }
      else { lo += ` + ((rlo[${i}] << ${sc}) >>> 0)`; hi += ` + ((rhi[${i}] << ${sc}) | (rlo[${i}] >>> ${32 - sc}))`; }
    }
    s = `s = ${lo}; eh = ${hi}; if (s > 4294967295) { a = s > 8589934591 ? 2 : 1; eh += a; s -= a * 4294967296; } ea = s | 0; eh |= 0;`;
  }
  if (!seg) return s;
  if (d.seg === FS || d.seg === GS) {
    s += ` s = (ea >>> 0) + (cpu.segBaseLo[${d.seg}] >>> 0); eh = (eh + cpu.segBaseHi[${d.seg}] + (s > 4294967295 ? 1 : 0)) | 0; ea = s | 0;`;
  } else if (d.ripRel) {
    const [, hi] = ripAdd(endLo, endHi, d.disp);
    if (!canonical(hi)) throw NO;
    return s;
  }
  const ss = d.seg < 0 && !d.ripRel && (d.base === 4 || d.base === 5);
  s += ` if (((eh << 16) >> 16) !== eh) c.fault(${ss ? 12 : 13}, true, 0);`;
  void SS;
  return s;
}

// ---- register access source fragments ----

function reg8Rd(d: Dec, r: number): string {
  return d.rex === 0 && r >= 4 && r < 8 ? `((rlo[${r - 4}] >> 8) & 255)` : `(rlo[${r}] & 255)`;
}
function regRdLo(d: Dec, os: number, r: number): string {
  if (os === 1) return reg8Rd(d, r);
  if (os === 2) return `(rlo[${r}] & 65535)`;
  return `rlo[${r}]`;
}
function regRdHi(os: number, r: number): string { return os === 8 ? `rhi[${r}]` : "0"; }
function regWr(d: Dec, os: number, r: number, lo: string, hi: string): string {
  switch (os) {
    case 1:
      if (d.rex === 0 && r >= 4 && r < 8) return `rlo[${r - 4}] = (rlo[${r - 4}] & -65281) | ((${lo} & 255) << 8);`;
      return `rlo[${r}] = (rlo[${r}] & -256) | (${lo} & 255);`;
    case 2: return `rlo[${r}] = (rlo[${r}] & -65536) | (${lo} & 65535);`;
    case 4: return `rlo[${r}] = ${lo}; rhi[${r}] = 0;`;
    default: return `rlo[${r}] = ${lo}; rhi[${r}] = ${hi};`;
  }
}
const ALU_ADD = 0, ALU_OR = 1, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7;

/** r/rh = a op b with the interpreter's lazy-flag record (inline for the common 32/64-bit ops). */
function aluSrc(op: number, os: number): string {
  if (os === 8) {
    switch (op) {
      case ALU_ADD:
        return "r = (a + b) | 0; rh = (ah + bh + ((r >>> 0) < (a >>> 0) ? 1 : 0)) | 0; c.lfOp = 1; c.lfSize = 8; c.lfResLo = r; c.lfResHi = rh; c.lfS1Lo = a; c.lfS1Hi = ah; c.lfS2Lo = b; c.lfS2Hi = bh;";
      case ALU_SUB: case ALU_CMP:
        return "r = (a - b) | 0; rh = (ah - bh - ((a >>> 0) < (b >>> 0) ? 1 : 0)) | 0; c.lfOp = 3; c.lfSize = 8; c.lfResLo = r; c.lfResHi = rh; c.lfS1Lo = a; c.lfS1Hi = ah; c.lfS2Lo = b; c.lfS2Hi = bh;";
      case ALU_AND: return "r = a & b; rh = ah & bh; c.lfOp = 5; c.lfSize = 8; c.lfResLo = r; c.lfResHi = rh;";
      case ALU_OR: return "r = a | b; rh = ah | bh; c.lfOp = 5; c.lfSize = 8; c.lfResLo = r; c.lfResHi = rh;";
      case ALU_XOR: return "r = a ^ b; rh = ah ^ bh; c.lfOp = 5; c.lfSize = 8; c.lfResLo = r; c.lfResHi = rh;";
    }
  } else if (os === 4) {
    switch (op) {
      case ALU_ADD: return "r = (a + b) | 0; rh = 0; c.lfOp = 1; c.lfSize = 4; c.lfResLo = r; c.lfResHi = 0; c.lfS1Lo = a; c.lfS1Hi = 0; c.lfS2Lo = b; c.lfS2Hi = 0;";
      case ALU_SUB: case ALU_CMP:
        return "r = (a - b) | 0; rh = 0; c.lfOp = 3; c.lfSize = 4; c.lfResLo = r; c.lfResHi = 0; c.lfS1Lo = a; c.lfS1Hi = 0; c.lfS2Lo = b; c.lfS2Hi = 0;";
      case ALU_AND: return "r = a & b; rh = 0; c.lfOp = 5; c.lfSize = 4; c.lfResLo = r; c.lfResHi = 0;";
      case ALU_OR: return "r = a | b; rh = 0; c.lfOp = 5; c.lfSize = 4; c.lfResLo = r; c.lfResHi = 0;";
      case ALU_XOR: return "r = a ^ b; rh = 0; c.lfOp = 5; c.lfSize = 4; c.lfResLo = r; c.lfResHi = 0;";
    }
  }
  return `r = alu(c, ${op}, ${os}, a, ah, b, bh); rh = c.hi;`;
}

/** Translates guest code at ram[phys..] (64-bit mode, RIP = (ripLo, ripHi)) into a block function source.
 * Returns null when the first instruction is not translated. */
export function translate(ram: Uint8Array, phys: number, ripLo: number, ripHi: number): Translation | null {
  const t = translateOnce(ram, phys, ripLo, ripHi);
  if (t === null || !t.loops || INLINE_TLB || !LOOP_INLINE_TLB) return t;
  // A looping block runs many iterations per dispatch and V8 optimizes it soon: inline TLB probes pay off there
  // (mem_src.ts), so it is translated again with them.
  setInlineTlb(true);
  try { return translateOnce(ram, phys, ripLo, ripHi); } finally { setInlineTlb(false); }
}

function translateOnce(ram: Uint8Array, phys: number, ripLo: number, ripHi: number): Translation | null {
  const pageEnd = phys - (phys & 0xfff) + 4096;
  const lim = Math.min(pageEnd, ram.length);
  const out: string[] = [];
  const ripsLo: number[] = [], ripsHi: number[] = [];
  let p = phys;
  let k = 0;
  let ended = false;
  let tailOp = "";
  const stepped: string[] = [];
  /** Opcode bytes per entry of `out` (profiling only). */
  const exitOps: string[] = [];
  /** Forward and backward jccs (and backward jmps): (instruction index, target lo, target hi) triples. */
  const fwd: number[] = [], back: number[] = [];
  /** Index in `out` of the first interpreted string instruction (-1: none); see ICOUNT_FIX. */
  let fixFrom = -1;
  while (k < MAX_BLOCK) {
    const [iLo, iHi] = ripAdd(ripLo, ripHi, p - phys);
    if (p >= lim) { // continue on the next page: end here
      out.push(`cpu.ripLo = ${iLo}; cpu.ripHi = ${iHi}; return ${k};`);
      ended = true;
      break;
    }
    ripsLo.push(iLo); ripsHi.push(iHi);
    if (STEP_PROF) exitOps[out.length] = opBytes(ram, p);
    const d = new Dec(ram, p, lim, phys, ripLo, ripHi);
    let code: string | null;
    callInfo.k = -1; jccInfo.k = -1;
    try {
      code = insn(d, k);
    } catch (e) {
      if (e !== NO) throw e;
      code = null;
    }
    if (code === null) {
      const len = insnLength(ram, p, lim);
      if (len > 0 && k + 1 < MAX_BLOCK && IN_BLOCK_STEPS) {
        // In-block fallback: the interpreter executes this instruction and the block goes on when RIP is at the
        // next instruction and nothing the block relies on changed (see STEP_CHECK).
        const [nl, nh] = ripAdd(ripLo, ripHi, p + len - phys);
        const op = opBytes(ram, p);
        stepped.push(op);
        if (fixFrom < 0 && isStringOp(lenInfo.op)) fixFrom = out.length;
        out.push(`c.bi = ${k}; cpu.ripLo = ${iLo}; cpu.ripHi = ${iHi}; c.pfxDirty = true; ${STEP_PROF ? `globalThis.__tsxenStepProf(${JSON.stringify(op)}); ` : ""}c.step(); ` +
          `if (cpu.ripLo !== ${nl} || cpu.ripHi !== ${nh} || ${STEP_CHECK}) return ${k + 1};`);
        k++;
        p += len;
        continue;
      }
      if (k === 0) return null;
      tailOp = opBytes(ram, p);
      if (fixFrom < 0 && (lenInfo.op < 0 || isStringOp(lenInfo.op))) fixFrom = out.length;
      // Tail: the interpreter executes this instruction, then the block ends wherever it left RIP.
      const prof = STEP_PROF ? `globalThis.__tsxenStepProf(${JSON.stringify(`tail ${tailOp} at ${(iHi >>> 0).toString(16)}${(iLo >>> 0).toString(16).padStart(8, "0")}`)}); ` : "";
      out.push(`c.bi = ${k}; cpu.ripLo = ${iLo}; cpu.ripHi = ${iHi}; c.pfxDirty = true; ${prof}c.step(); return ${k + 1};`);
      ended = true;
      p = p + 1;
      break;
    }
    if (d.p - p > 15) { // over-long: the interpreter raises #GP
      if (k === 0) return null;
      out.push(`c.bi = ${k}; cpu.ripLo = ${iLo}; cpu.ripHi = ${iHi}; c.pfxDirty = true; c.step(); return ${k + 1};`);
      ended = true;
      break;
    }
    if (callInfo.k === k && code.endsWith("/*end*/") && callInfo.hi === ripHi && (callInfo.lo & ~0xfff) === (ripLo & ~0xfff) &&
      k + 1 < MAX_BLOCK) {
      // Direct call within the page: push the return address and go on at the target.
      out.push(`${callInfo.push} if (c.smc) { cpu.ripLo = ${callInfo.lo}; cpu.ripHi = ${callInfo.hi}; return ${k + 1}; }`);
      k++;
      p = phys - (phys & 0xfff) + (callInfo.lo & 0xfff);
      continue;
    }
    if (!code.endsWith("/*end*/") && (code.includes(WRITE_MARK) || code.includes("execGroup2(c") && !code.includes("c.mod = 3;"))) {
      // A write may have hit translated code (possibly this block): leave before the next instruction.
      const [l, h] = ripAdd(ripLo, ripHi, d.p - phys);
      code += ` if (c.smc) { cpu.ripLo = ${l}; cpu.ripHi = ${h}; return ${k + 1}; }`;
    }
    if (LOOPS && code.endsWith("/*jmp*/") && ripsLo.some((l, q) => l === jmpTarget[0] && ripsHi[q] === jmpTarget[1])) {
      // Direct jump back to an instruction of this block: a loop back edge (see below).
      out.push(`cpu.ripLo = ${jmpTarget[0]}; cpu.ripHi = ${jmpTarget[1]}; return ${k + 1};`);
      back.push(k, jmpTarget[0]!, jmpTarget[1]!);
      k++;
      p = d.p;
      ended = true;
      break;
    }
    if (code.endsWith("/*jmp*/") && jmpTarget[1] === ripHi && (jmpTarget[0]! & ~0xfff) === (ripLo & ~0xfff) && k + 1 < MAX_BLOCK) {
      // Direct jump within the page: follow it (the jmp itself retires as an empty instruction).
      out.push("");
      k++;
      p = phys - (phys & 0xfff) + (jmpTarget[0]! & 0xfff);
      continue;
    }
    if (jccInfo.k === k) (jccInfo.back ? back : fwd).push(k, jccInfo.lo, jccInfo.hi);
    out.push(code);
    k++;
    p = d.p;
    if (code.endsWith("/*end*/") || code.endsWith("/*jmp*/")) { ended = true; break; }
  }
  if (!ended) {
    const [lo, hi] = ripAdd(ripLo, ripHi, p - phys);
    out.push(`cpu.ripLo = ${lo}; cpu.ripHi = ${hi}; return ${k};`);
  }
  const native = k - stepped.length;
  if (native === 0) return null; // only interpreted instructions: no gain over stepping
  // Forward jccs whose target is a later instruction of this block: taken, they skip to it (a labeled JS block
  // around the skipped instructions, `break`) instead of leaving. The skipped instructions are taken off
  // cpu.icount so that every later count (returns, faults through c.bi) stays right. Labeled blocks must nest.
  const opens: string[] = new Array<string>(out.length).fill(""), closes: string[] = new Array<string>(out.length).fill("");
  const joins = new Set<number>();
  // Backward jccs/jmps to an instruction h of this block (a loop head): the block wraps h..end in a labeled
  // `for (;;)` and the back edge adds the iteration (i + 1 - h instructions) to cpu.icount (a fault in a later
  // iteration is then counted right by the dispatcher, which adds c.bi) and continues at h, until LOOP_MAX
  // instructions ran in this dispatch; then it leaves with RIP at h (returning h + the extra count).
  const heads: number[] = [];
  if (LOOPS) {
    for (let f = 0; f < back.length; f += 3) {
      const i = back[f]!, tl = back[f + 1]!, th = back[f + 2]!;
      let h = -1;
      for (let q = i; q >= 0; q--) if (ripsLo[q] === tl && ripsHi[q] === th) { h = q; break; }
      if (h < 0) continue;
      const taken = `cpu.ripLo = ${tl}; cpu.ripHi = ${th}; return ${i + 1};`;
      if (!out[i]!.includes(taken)) continue;
      out[i] = out[i]!.replace(taken, `cpu.icount += ${i + 1 - h}; if (cpu.icount - ic0 < ${LOOP_MAX}) continue H${h}; cpu.ripLo = ${tl}; cpu.ripHi = ${th}; return ${h};`);
      if (!heads.includes(h)) { heads.push(h); opens[h] = `H${h}: for (;;) {\n` + opens[h]; }
      joins.add(h);
      fixFrom = 0;
    }
  }
  if (FORWARD) {
    const spans: number[] = []; // accepted [i, j) pairs
    for (let f = 0; f < fwd.length; f += 3) {
      const i = fwd[f]!, tl = fwd[f + 1]!, th = fwd[f + 2]!;
      let j = -1;
      for (let q = i + 1; q < ripsLo.length; q++) if (ripsLo[q] === tl && ripsHi[q] === th) { j = q; break; }
      if (j < 0) continue;
      let ok = true;
      for (let t = 0; t < spans.length; t += 2) {
        const a = spans[t]!, b = spans[t + 1]!;
        if (i < b && j > b) { ok = false; break; } // [a, b) starts before i (a < i) and ends inside (i, j)
        void a;
      }
      if (heads.some((h) => i < h && h < j)) ok = false; // would cross a loop's start
      if (!ok) continue;
      const e = out[i]!;
      const taken = `cpu.ripLo = ${tl}; cpu.ripHi = ${th}; return ${i + 1}; }`;
      if (!e.endsWith(taken)) continue;
      out[i] = e.slice(0, e.length - taken.length) + `cpu.icount -= ${j - i - 1}; break L${i}; }`;
      opens[i] = opens[i] + `L${i}: { `;
      closes[j - 1] = closes[j - 1] + " }";
      joins.add(j);
      spans.push(i, j);
      fixFrom = 0;
    }
  }
  if (OPTIMIZE) optimizeBlock(out, joins);
  if (STEP_PROF) setStepProf();
  if (STEP_PROF) { // count block exits by the opcode of the instruction they leave at
    for (let i = 0; i < out.length; i++) {
      const lbl = JSON.stringify(`exit ${exitOps[i] ?? "end"}`);
      out[i] = out[i]!.replace(/return (\d+);/g, `{ globalThis.__tsxenStepProf(${lbl}); return $1; }`);
    }
  }
  if (fixFrom >= 0) for (let i = fixFrom; i < out.length; i++) out[i] = out[i]!.replace(/return (\d+);/g, ICOUNT_FIX);
  if (stepped.length > 0) {
    tailOp = stepped.join(" ") + (tailOp === "" ? "" : " | " + tailOp);
  }
  let body = out.map((e, i) => (opens[i] ?? "") + e + (closes[i] ?? "")).join("\n") + "\n}".repeat(heads.length);
  let regDecl = "";
  if (REGS && (heads.length > 0 || REGS_ALL)) { // looping blocks: guest registers in locals (translate_regs.ts)
    const rw = regsInLocals(body);
    if (rw !== null) [regDecl, body] = rw;
  }
  const src = "const cpu = c.cpu, rlo = c.rlo, rhi = c.rhi, sys = c.sys, alu = H.alu, incDec = H.incDec, execGroup2 = H.execGroup2, imulTrunc = H.imulTrunc, probeWrite = H.probeWrite;\n" +
    memPrologueFor(body) +
    "let a = 0, ah = 0, b = 0, bh = 0, r = 0, rh = 0, s = 0, ea = 0, eh = 0, cf = 0, t = 0;\n" +
    (stepped.length > 0 ? "const gen0 = cpu.tlbGen, cpl0 = cpu.cpl;\n" : "") +
    (fixFrom >= 0 ? "const ic0 = cpu.icount; let ic = 0;\n" : "") + regDecl +
    body;
  return { src, native, ripsLo: Int32Array.from(ripsLo), ripsHi: Int32Array.from(ripsHi), bytes: p - phys, tailOp, loops: heads.length > 0 };
}

/** Source for one instruction (index k, starting at iLo/iHi); null = not translated. `end()` gives the RIP after
 * the bytes decoded so far (call it after all immediates are read). Control transfers end with "/*end*\/". */
function insn(d: Dec, k: number): string | null {
  d.k = k;
  const b0 = d.prefixes();
  const os = d.os;
  const pre = `c.bi = ${k};`;
  if (d.rep !== 0 && !(b0 === 0x90 && d.rep === 0xf3) && b0 !== 0x0f) return null;
  if (d.lock) return null; // the interpreter checks lockability (#UD) and runs it

  // ---- two-operand ALU 00-3d ----
  if (b0 < 0x40 && (b0 & 7) < 6) {
    const op = b0 >> 3;
    const form = b0 & 7;
    const wb = op !== ALU_CMP;
    switch (form) {
      case 0: { d.modrmDecode(); d.needEA();
        return `${pre} ${wb ? d.readRmw(1) : d.readE(1)} b = ${reg8Rd(d, d.reg)}; bh = 0; ${aluSrc(op, 1)}${wb ? " " + d.writeE(1, "r", "0", true) : ""}`; }
      case 1: { d.modrmDecode(); d.needEA();
        return `${pre} ${wb ? d.readRmw(os) : d.readE(os)} b = ${regRdLo(d, os, d.reg)}; bh = ${regRdHi(os, d.reg)}; ${aluSrc(op, os)}${wb ? " " + d.writeE(os, "r", "rh", true) : ""}`; }
      case 2: { d.modrmDecode(); d.needEA();
        return `${pre} ${d.readE(1, "b", "bh")} a = ${reg8Rd(d, d.reg)}; ah = 0; ${aluSrc(op, 1)}${wb ? " " + regWr(d, 1, d.reg, "r", "0") : ""}`; }
      case 3: { d.modrmDecode(); d.needEA();
        return `${pre} ${d.readE(os, "b", "bh")} a = ${regRdLo(d, os, d.reg)}; ah = ${regRdHi(os, d.reg)}; ${aluSrc(op, os)}${wb ? " " + regWr(d, os, d.reg, "r", "rh") : ""}`; }
      case 4: { const v = d.u8();
        return `${pre} a = rlo[0] & 255; ah = 0; b = ${v}; bh = 0; ${aluSrc(op, 1)}${wb ? " rlo[0] = (rlo[0] & -256) | r;" : ""}`; }
      default: {
        const v = os === 2 ? d.u16() : d.s32(), vh = os === 8 ? v >> 31 : 0;
        return `${pre} a = ${regRdLo(d, os, 0)}; ah = ${regRdHi(os, 0)}; b = ${v}; bh = ${vh}; ${aluSrc(op, os)}${wb ? " " + regWr(d, os, 0, "r", "rh") : ""}`;
      }
    }
  }

  switch (b0) {
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57: {
      if (d.has66) return null;
      const r = (b0 & 7) | d.rexB;
      return `${pre} ${push64(`rlo[${r}]`, `rhi[${r}]`)}`;
    }
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      if (d.has66) return null;
      const r = (b0 & 7) | d.rexB;
      return `${pre} ${peek64()} ${adjSp(8)} rlo[${r}] = a; rhi[${r}] = ah;`;
    }
    case 0x63: { // movsxd
      d.modrmDecode(); d.needEA();
      if (os === 8) return `${pre} ${d.readE(4)} rlo[${d.reg}] = a; rhi[${d.reg}] = a >> 31;`;
      return `${pre} ${d.readE(4)} ${regWr(d, os, d.reg, os === 2 ? "(a & 65535)" : "a", "0")}`;
    }
    case 0x68: case 0x6a: {
      if (d.has66) return null;
      const v = b0 === 0x68 ? d.s32() : d.s8();
      return `${pre} ${push64(`${v}`, `${v >> 31}`)}`;
    }
    case 0x69: case 0x6b: {
      d.modrmDecode();
      let m: number;
      if (b0 === 0x6b) m = d.s8(); else m = os === 2 ? (d.u16() << 16) >> 16 : d.s32();
      d.needEA();
      const inl = imulSrc(os);
      if (inl !== null) return `${pre} ${d.readE(os)} b = ${m}; bh = ${m >> 31}; ${inl} ${regWr(d, os, d.reg, "r", "rh")}`;
      return `${pre} ${d.readE(os)} r = imulTrunc(c, ${os}, a, ah, ${m}, ${m >> 31}); rh = c.hi; ${regWr(d, os, d.reg, "r", "rh")}`;
    }
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const disp = d.s8();
      return d.jcc(b0 & 15, disp);
    }
    case 0x80: case 0x81: case 0x83: {
      const s = b0 === 0x80 ? 1 : os;
      d.modrmDecode();
      const op = (d.modrm >> 3) & 7;
      let v: number, vh: number;
      if (b0 === 0x81) { if (s === 2) { v = d.u16(); vh = 0; } else { v = d.s32(); vh = v >> 31; } }
      else if (b0 === 0x83) { v = d.s8(); vh = v >> 31; }
      else { v = d.u8(); vh = 0; }
      d.needEA();
      const wb = op !== ALU_CMP;
      return `${pre} ${wb ? d.readRmw(s) : d.readE(s)} b = ${v}; bh = ${vh}; ${aluSrc(op, s)}${wb ? " " + d.writeE(s, "r", "rh", true) : ""}`;
    }
    case 0x84: case 0x85: {
      const s = b0 === 0x84 ? 1 : os;
      d.modrmDecode(); d.needEA();
      return `${pre} ${d.readE(s)} c.lfOp = 5; c.lfSize = ${s}; c.lfResLo = a & ${regRdLo(d, s, d.reg)}; c.lfResHi = ${s === 8 ? `ah & rhi[${d.reg}]` : "0"};`;
    }
    case 0x86: case 0x87: {
      const s = b0 === 0x86 ? 1 : os;
      d.modrmDecode();
      // xchg with memory is locked: the interpreter runs it atomically (exec/lock.ts), against other threads'
      // Atomics on the same guest word (event channels)
      if (d.mod !== 3) return null;
      d.needEA();
      return `${pre} ${d.readRmw(s)} b = ${regRdLo(d, s, d.reg)}; bh = ${regRdHi(s, d.reg)}; ${d.writeE(s, "b", "bh", true)} ${regWr(d, s, d.reg, "a", "ah")}`;
    }
    case 0x88: d.modrmDecode(); d.needEA(); return `${pre} ${d.writeE(1, reg8Rd(d, d.reg), "0", false)}`;
    case 0x89: d.modrmDecode(); d.needEA(); return `${pre} ${d.writeE(os, regRdLo(d, os, d.reg), regRdHi(os, d.reg), false)}`;
    case 0x8a: d.modrmDecode(); d.needEA(); return `${pre} ${d.readE(1)} ${regWr(d, 1, d.reg, "a", "0")}`;
    case 0x8b: d.modrmDecode(); d.needEA(); return `${pre} ${d.readE(os)} ${regWr(d, os, d.reg, "a", "ah")}`;
    case 0x8d: {
      d.modrmDecode();
      if (d.mod === 3) return null;
      const [l, h] = d.end();
      const e = eaSrc(d, l, h, false);
      if (os === 8) return `${e} rlo[${d.reg}] = ea; rhi[${d.reg}] = eh;`;
      return `${e} ${regWr(d, os, d.reg, os === 2 ? "(ea & 65535)" : "ea", "0")}`;
    }
    case 0x90:
      if (d.rexB !== 0) return null;
      return "";
    case 0x98:
      if (os === 8) return "rhi[0] = rlo[0] >> 31;";
      if (os === 4) return "rlo[0] = (rlo[0] << 16) >> 16; rhi[0] = 0;";
      return null;
    case 0x99:
      if (os === 8) return "a = rhi[0] >> 31; rlo[2] = a; rhi[2] = a;";
      if (os === 4) return "rlo[2] = rlo[0] >> 31; rhi[2] = 0;";
      return null;
    case 0xa8: { const v = d.u8(); return `c.lfOp = 5; c.lfSize = 1; c.lfResLo = rlo[0] & ${v}; c.lfResHi = 0;`; }
    case 0xa9: {
      const v = os === 2 ? d.u16() : d.s32();
      return `c.lfOp = 5; c.lfSize = ${os}; c.lfResLo = ${regRdLo(d, os, 0)} & ${v}; c.lfResHi = ${os === 8 ? `rhi[0] & ${v >> 31}` : "0"};`;
    }
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7: {
      const v = d.u8();
      return regWr(d, 1, (b0 & 7) | d.rexB, `${v}`, "0");
    }
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
      const r = (b0 & 7) | d.rexB;
      if (os === 8) { const lo = d.s32(), hi = d.s32(); return `rlo[${r}] = ${lo}; rhi[${r}] = ${hi};`; }
      if (os === 4) return `rlo[${r}] = ${d.s32()}; rhi[${r}] = 0;`;
      return regWr(d, 2, r, `${d.u16()}`, "0");
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const s = (b0 & 1) === 0 ? 1 : os;
      d.modrmDecode();
      const count = b0 <= 0xc1 ? `${d.u8()}` : b0 <= 0xd1 ? "1" : "(rlo[1] & 255)";
      d.needEA();
      if (d.mod === 3 && b0 < 0xd2) {
        const inl = shiftRegSrc((d.modrm >> 3) & 7, s, d.rm, Number(count));
        if (inl !== null) return inl;
      }
      if (d.mod === 3 && b0 >= 0xd2) {
        const inl = shiftRegClSrc((d.modrm >> 3) & 7, s, d.rm);
        if (inl !== null) return inl;
      }
      let setup = `c.modrm = ${d.modrm}; c.mod = ${d.mod}; c.rm = ${d.rm}; c.rex = ${d.rex};`;
      if (d.mod !== 3) setup += ` ${d.eaCode} c.eaLo = ea; c.eaHi = eh;`;
      return `${pre} ${setup} execGroup2(c, ${s}, ${count});`;
    }
    case 0xc2: case 0xc3: {
      if (d.has66) return null;
      const n = b0 === 0xc2 ? d.u16() : 0;
      return `${pre} ${peek64()} if (((ah << 16) >> 16) !== ah) c.fault(13, true, 0); ${adjSp(8 + n)} cpu.ripLo = a; cpu.ripHi = ah; return ${k + 1}; /*end*/`;
    }
    case 0xc6: case 0xc7: {
      const s = b0 === 0xc6 ? 1 : os;
      d.modrmDecode();
      if (((d.modrm >> 3) & 7) !== 0) return null;
      let v: number, vh = 0;
      if (s === 1) v = d.u8(); else if (s === 2) v = d.u16(); else { v = d.s32(); vh = v >> 31; }
      d.needEA();
      return `${pre} ${d.writeE(s, `${v}`, `${vh}`, false)}`;
    }
    case 0xc9: {
      if (d.has66) return null;
      return `${pre} ea = rlo[5]; eh = rhi[5]; if (((eh << 16) >> 16) !== eh) c.fault(12, true, 0); ${memRd(8, "b", "bh")} ` +
        `s = (ea >>> 0) + 8; rlo[4] = s | 0; rhi[4] = s > 4294967295 ? (eh + 1) | 0 : eh; rlo[5] = b; rhi[5] = bh;`;
    }
    case 0xe8: {
      if (d.has66) return null;
      const disp = d.s32();
      const [nl, nh] = d.end();
      const [tl, th] = ripAdd(nl, nh, disp);
      if (!canonical(th)) return null;
      const push = `${pre} ${push64(`${nl}`, `${nh}`)}`;
      callInfo.k = k; callInfo.lo = tl; callInfo.hi = th; callInfo.push = push;
      return `${push} ${d.jumpTo(tl, th)}`;
    }
    case 0xe9: case 0xeb: {
      if (d.has66) return null;
      const disp = b0 === 0xe9 ? d.s32() : d.s8();
      const [nl, nh] = d.end();
      const [tl, th] = ripAdd(nl, nh, disp);
      if (!canonical(th)) return null;
      jmpTarget[0] = tl; jmpTarget[1] = th;
      return d.jumpTo(tl, th) + "/*jmp*/";
    }
    case 0xf6: case 0xf7: {
      const s = b0 === 0xf6 ? 1 : os;
      d.modrmDecode();
      const op = (d.modrm >> 3) & 7;
      if (op < 2) {
        let v: number, vh = 0;
        if (s === 1) v = d.u8(); else if (s === 2) v = d.u16(); else { v = d.s32(); vh = v >> 31; }
        d.needEA();
        return `${pre} ${d.readE(s)} c.lfOp = 5; c.lfSize = ${s}; c.lfResLo = a & ${v}; c.lfResHi = ${s === 8 ? `ah & ${vh}` : "0"};`;
      }
      d.needEA();
      if (op === 2) {
        const m = s === 1 ? 255 : s === 2 ? 65535 : -1;
        return `${pre} ${d.readRmw(s)} r = ~a & ${m}; rh = ~ah; ${d.writeE(s, "r", "rh", true)}`;
      }
      if (op === 3) return `${pre} ${d.readRmw(s, "b", "bh")} a = 0; ah = 0; r = alu(c, 5, ${s}, 0, 0, b, bh); rh = c.hi; ${d.writeE(s, "r", "rh", true)}`;
      return null;
    }
    case 0xfe: case 0xff: {
      const s = b0 === 0xfe ? 1 : os;
      d.modrmDecode();
      const op = (d.modrm >> 3) & 7;
      d.needEA();
      if (op < 2 && INLINE) return `${pre} cf = c.cf(); ${d.readRmw(s)} ${incDecSrc(s, op === 1)} ${d.writeE(s, "r", "rh", true)}`;
      if (op < 2) return `${pre} ${d.readRmw(s)} r = incDec(c, ${s}, a, ah, ${op === 1}); rh = c.hi; ${d.writeE(s, "r", "rh", true)}`;
      if (b0 === 0xfe || d.has66) return null;
      if (op === 2) {
        const [nl, nh] = d.end();
        return `${pre} ${d.readE(8)} if (((ah << 16) >> 16) !== ah) c.fault(13, true, 0); ${push64(`${nl}`, `${nh}`)} cpu.ripLo = a; cpu.ripHi = ah; return ${k + 1}; /*end*/`;
      }
      if (op === 4) return `${pre} ${d.readE(8)} if (((ah << 16) >> 16) !== ah) c.fault(13, true, 0); cpu.ripLo = a; cpu.ripHi = ah; return ${k + 1}; /*end*/`;
      if (op === 6) return `${pre} ${d.readE(8)} ${push64("a", "ah")}`;
      return null;
    }
    case 0x0f: return insn0f(d, pre);
    default: return null;
  }


}

function push64(v: string, vh: string): string {
  // Value expressions are evaluated before RSP changes (push rsp pushes the old value).
  return `r = ${v}; rh = ${vh}; s = (rlo[4] >>> 0) - 8; ea = s | 0; eh = s < 0 ? (rhi[4] - 1) | 0 : rhi[4]; ` +
    `if (((eh << 16) >> 16) !== eh) c.fault(12, true, 0); ${memWr(8, "r", "rh")} rlo[4] = ea; rhi[4] = eh;`;
}
function peek64(): string {
  return `ea = rlo[4]; eh = rhi[4]; if (((eh << 16) >> 16) !== eh) c.fault(12, true, 0); ${memRd(8, "a", "ah")}`;
}
function adjSp(n: number): string {
  return `s = (rlo[4] >>> 0) + ${n}; rlo[4] = s | 0; if (s > 4294967295) rhi[4] = (rhi[4] + 1) | 0;`;
}

function insn0f(d: Dec, pre: string): string | null {
  const b = d.u8();
  const os = d.os;
  if (d.rep !== 0 && !(b >= 0x18 && b <= 0x1f)) return null;
  switch (b) {
    case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      d.modrmDecode();
      return ""; // hint nops: no access
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      d.modrmDecode(); d.needEA();
      return `${pre} ${d.readE(os)} if (c.cond(${b & 15})) { ${regWr(d, os, d.reg, "a", "ah")} }${os === 4 ? ` else rhi[${d.reg}] = 0;` : ""}`;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
      if (d.has66) return null;
      return d.jcc(b & 15, d.s32());
    }
    case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f:
      d.modrmDecode(); d.needEA();
      return `${pre} r = c.cond(${b & 15}) ? 1 : 0; ${d.writeE(1, "r", "0", false)}`;
    case 0xae: // lfence / mfence / sfence: no reordering to order against
      d.modrmDecode();
      if (d.mod !== 3 || (d.modrm & 0x38) < 0x28 || d.has66) return null;
      return "";
    case 0xaf:
      d.modrmDecode(); d.needEA();
      return `${pre} ${d.readE(os, "b", "bh")} a = ${regRdLo(d, os, d.reg)}; ah = ${regRdHi(os, d.reg)}; ${imulSrc(os) ?? `r = imulTrunc(c, ${os}, a, ah, b, bh); rh = c.hi;`} ${regWr(d, os, d.reg, "r", "rh")}`;
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
      d.modrmDecode(); d.needEA();
      const src = (b & 1) === 0 ? 1 : 2;
      let conv = "ah = 0;";
      if (b >= 0xbe) conv = src === 1 ? "a = (a << 24) >> 24; ah = a >> 31;" : "a = (a << 16) >> 16; ah = a >> 31;";
      return `${pre} ${d.readE(src)} ${conv} ${regWr(d, os, d.reg, os === 2 ? "(a & 65535)" : "a", "ah")}`;
    }
    default: return null;
  }
}

void TWO32;
