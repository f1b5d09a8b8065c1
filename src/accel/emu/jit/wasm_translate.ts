// The emu JIT's WebAssembly tier: translates a run of 64-bit guest instructions into one wasm function
// in which guest registers are i64 locals, the lazy-flag record lives in locals (V8's optimizing compiler drops
// records no one reads), memory goes through an inline probe of the MMU's flat TLB (which, like guest RAM, lives
// in the domain's shared WebAssembly.Memory) and 64-bit arithmetic is native (no int32 halves, no 16-bit limbs).
//
// Translated natively: 8/32/64-bit ALU ops on registers, memory and immediates, test, mov/lea/movzx/movsx/movsxd,
// imul, shifts/rotates by constants and CL, not/neg/inc/dec, cmovcc, setcc, push/pop, call/ret (end the block),
// jcc/jmp, FS/GS-relative operands; other instructions run as interpreter steps inside the block (the `step`
// import), control transfers and mode changes end it (translate_len.ts). With chaining (CHAIN, the default: a
// block goes on to the next wasm block inside wasm, wasm_tier.ts) every block the subset covers is taken; without
// it only blocks that loop (a backward branch to one of their instructions), which run long enough to repay the
// JavaScript-to-wasm transition, and the rest stays with the JavaScript translator (translate.ts). A block can
// also be a region (`any`, cache.ts regionHot; TSXEN_EMU_JIT_WASM_REGION=1 for looping
// blocks): the instructions reachable from its start through jumps on the same page, compiled into one dispatch
// loop. Off by default: measured a loss overall (module creation and V8's tier-up of the new functions cost about
// what the interpreted steps they save did; ADR 0038). The semantics are the interpreter's, with the same
// lazy-flag records (exec/alu.ts, exec/shift.ts, exec/muldiv.ts, translate_inl.ts).
//
// Contract (wasm_tier.ts wraps the function so that it is a BlockFn, see translate.ts):
//  f(rTlb, wTlb, scr) -> instructions retired. rTlb/wTlb: byte addresses of the TLB's read and write sets for the
//  current CPL; scr: the core's scratch area (SCR_* below), holding the registers and the lazy-flag record on
//  entry and exit, RIP on exit, and on a slow-path call that may throw (memory, faults) the instruction index
//  (bi) and the instructions retired in earlier loop iterations (extra).

import { Code, type ImportFn, moduleBytes, Op, T } from "./wasm_bin.ts";
import { insnLength } from "./translate_len.ts";

/** Scratch layout (byte offsets from scr). Registers: 16 low halves (int32) at SCR_REGS, then 16 high halves: the
 * layout of CpuState's rlo/rhi, which live right there when the core was built with regStorageFor (wasm_tier.ts). */
export const SCR_REGS = 0, SCR_RIP = 128, SCR_LF = 136, SCR_BI = 176, SCR_EXTRA = 180, SCR_TMP = 184;
/** Chaining (wasm_tier.ts): the table slot of the block running (or to run first), instructions retired by the
 * blocks before it in this run, "leave" (set by host functions: code written, an in-block step that must leave),
 * cpu.tlbGen, dispatches left before the interrupt poll, the byte offset of the core's lookup table, blocks run;
 * cpu.globalGen and the run's context (CPL) further down. The lookup table (LKP_ENTRIES entries of
 * 16 bytes: rip lo, rip hi, generation, slot | context << 20) follows the scratch area. */
export const SCR_SLOT = 192, SCR_TOTAL = 196, SCR_ATTN = 200, SCR_GEN = 204, SCR_POLLS = 208, SCR_LKP = 212, SCR_RUNS = 216;
/** FS and GS bases (64-bit each), stored by the tier on entry and after every in-block interpreter step. */
export const SCR_FSBASE = 224, SCR_GSBASE = 232;
export const SCR_GGEN = 240, SCR_CTX = 244;
/** EFLAGS.DF (nonzero: set), written by the tier on entry and after host steps (rep movs/stos run in wasm with DF 0). */
export const SCR_DF = 248;
export const SCR_BYTES = 256;
export const LKP_ENTRIES = 4096;
// Lazy-flag record in the scratch area, as int32 slots from SCR_LF: op, size, res lo/hi, s1 lo/hi, s2 lo/hi, aux, flags.
const LF_OP = SCR_LF, LF_SIZE = SCR_LF + 4, LF_RES = SCR_LF + 8, LF_S1 = SCR_LF + 16, LF_S2 = SCR_LF + 24, LF_AUX = SCR_LF + 32, LF_FLAGS = SCR_LF + 36;

/** Host functions the module imports, in index order. */
export const IMPORTS: readonly ImportFn[] = [
  { name: "rd8", params: [T.I32, T.I32], results: [T.I32] },
  { name: "rd16", params: [T.I32, T.I32], results: [T.I32] },
  { name: "rd32", params: [T.I32, T.I32], results: [T.I32] },
  { name: "rd64", params: [T.I32, T.I32], results: [T.I32] }, // low half; high half at SCR_TMP
  { name: "wr8", params: [T.I32, T.I32, T.I32], results: [T.I32] }, // returns 1 when the write hit translated code
  { name: "wr16", params: [T.I32, T.I32, T.I32], results: [T.I32] },
  { name: "wr32", params: [T.I32, T.I32, T.I32], results: [T.I32] },
  { name: "wr64", params: [T.I32, T.I32, T.I32, T.I32], results: [T.I32] },
  { name: "fault", params: [T.I32], results: [] }, // #SS(0)/#GP(0): throws
  { name: "arith", params: [], results: [T.I32] }, // arithmetic flags of the record in the scratch area
  { name: "cond", params: [T.I32], results: [T.I32] }, // condition cc on the record in the scratch area
  { name: "pw", params: [T.I32, T.I32, T.I32], results: [] }, // probe (size, lo, hi) for a write: #PF with W=1
  // the interpreter runs the instruction at (lo, hi); 1 when the block must leave (see wasm_tier.ts)
  { name: "step", params: [T.I32, T.I32, T.I32, T.I32], results: [T.I32] },
];
const F_RD = 0, F_WR = 4, F_FAULT = 8, F_ARITH = 9, F_COND = 10, F_PW = 11, F_STEP = 12;

const ENV = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
/** TSXEN_EMU_JIT_WASM_STEP=0: no in-block interpreter steps in wasm blocks (a block ends at the first instruction
 * outside the subset). */
const STEPS = ENV.TSXEN_EMU_JIT_WASM_STEP !== "0";
/** Chaining (wasm_tier.ts): a wasm block goes on to the next one inside wasm. TSXEN_EMU_JIT_WASM_CHAIN=0 turns
 * it off (for A/B measurements). */
export const CHAIN = ENV.TSXEN_EMU_JIT_WASM_CHAIN !== "0";
/** Every block the subset covers becomes wasm, not only loops (TSXEN_EMU_JIT_WASM_ALL=0/1; default: with chaining,
 * whose blocks pay no JavaScript-to-wasm transition; without it short blocks do not repay one). */
const WASM_ALL = ENV.TSXEN_EMU_JIT_WASM_ALL === undefined ? CHAIN : ENV.TSXEN_EMU_JIT_WASM_ALL === "1";
/** Smallest non-looping block taken with WASM_ALL: one instruction when chained (a lone `ret` between two
 * blocks, e.g. the return thunk, would otherwise leave the chain), else three. */
const MIN_INSNS = CHAIN ? 1 : 3;
/** TSXEN_EMU_JIT_WASM_REGION=1: looping blocks follow jumps too (regions, as for `any`), not just the straight
 * run from their start. */
const REGIONS = ENV.TSXEN_EMU_JIT_WASM_REGION === "1";
/** Loop iterations inside one call, in instructions (interrupts are polled between dispatches), as translate.ts. */
const LOOP_MAX = 1 << 16;
/** Instructions in one region (TSXEN_EMU_JIT_WASM_MAX_INSNS overrides, 16..4000): straight code beyond it goes
 * on in the next block (cache.ts primes that start). */
const MAX_INSNS = ((): number => {
  const v = Number(ENV.TSXEN_EMU_JIT_WASM_MAX_INSNS ?? 160);
  return Number.isInteger(v) && v >= 16 && v <= 4000 ? v : 160;
})();

// ---- locals ----
const P_RTLB = 0, P_WTLB = 1, P_SCR = 2;
const L_REG = 3; // 16 x i64
const L_OP = 19, L_SIZE = 20, L_AUX = 21, L_FLAGS = 22; // i32
const L_RES = 23, L_S1 = 24, L_S2 = 25; // i64
const L_EA = 26, L_A = 27, L_B = 28, L_R = 29; // i64
/* 30, 31: unused */ const L_T = 32, L_ADDR = 33, L_HIT = 34, L_EXTRA = 35, L_F = 36, L_CF = 37, L_N = 38, L_PC = 39, L_RET = 40; // i32
const L_RIPX = 41; // i64
const L_REP = 42, L_SADDR = 43, L_CNT = 44; // i32 (rep movs/stos)
const LOCALS: T[] = [
  ...new Array<T>(16).fill(T.I64), T.I32, T.I32, T.I32, T.I32, T.I64, T.I64, T.I64, T.I64, T.I64, T.I64, T.I64,
  T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I64, T.I32, T.I32, T.I32,
];

// Lazy-flag op kinds (flags.ts).
const LF_NONE = 0, LF_ADD = 1, LF_ADC = 2, LF_SUB = 3, LF_SBB = 4, LF_LOGIC = 5, LF_INC = 6, LF_DEC = 7, LF_RESAUX = 8, LF_IMUL64 = 9;

const enum K { Alu, Test, Mov, MovImm, Lea, Movsxd, Movx, Imul, Shift, Not, Neg, IncDec, Jcc, Jmp, Nop, Push, Pop, Ret, Call, Cmov, Setcc, Step, Leave, Cmpxchg, CallInd, JmpInd, RepMovs, RepStos, Bswap }

/** Instructions after which the region does not fall through (they transfer control themselves). */
function transfers(I: Insn): boolean {
  return I.kind === K.Jmp || I.kind === K.Ret || I.kind === K.Call || I.kind === K.CallInd || I.kind === K.JmpInd;
}

interface Mem { base: number; idx: number; scale: number; disp: number; ripRel: boolean; ss: boolean }

interface Insn {
  kind: K;
  lo: number; hi: number; // RIP
  nlo: number; nhi: number; // RIP of the next instruction
  os: number;
  op: number; // ALU op / group op
  reg: number; // ModRM reg (G)
  rm: number; // register operand (E) or -1 for memory
  m: Mem | null;
  /** ALU/mov direction: the destination is E (else G). */
  dstE: boolean;
  /** Source is the immediate (immLo, immHi). */
  imm: boolean; immLo: number; immHi: number;
  rex: number;
  srcSize: number; signed: boolean; // movzx/movsx
  cc: number; tlo: number; thi: number; // jcc/jmp (cc -1: jmp)
  /** FS (4) or GS (5) segment override of the memory operand (its base is added), else -1. */
  seg: number;
}

const NO = { no: true };
/** Most elements a rep movs/stos runs in wasm (the interpreter's chunk: more restart it, interruptibly). */
const REP_MAX = 65536;

function ripAdd(lo: number, hi: number, n: number): [number, number] {
  const s = (lo >>> 0) + n;
  let h = hi;
  if (s > 0xffffffff) h = (h + 1) | 0; else if (s < 0) h = (h - 1) | 0;
  return [s | 0, h];
}
const canonical = (hi: number): boolean => ((hi << 16) >> 16) === hi;

/** Decoder state (module-level: no closures per instruction). */
const D = { ram: new Uint8Array(0) as Uint8Array, p: 0, p0: 0, lim: 0, lo: 0, hi: 0, rexR: 0, rexX: 0, rexB: 0, os: 4, I: null as unknown as Insn };
function du8(): number { if (D.p >= D.lim) throw NO; return D.ram[D.p++]!; }
function ds8(): number { return (du8() << 24) >> 24; }
function ds32(): number { const a = du8(), b = du8(), c = du8(), d = du8(); return a | (b << 8) | (c << 16) | (d << 24); }
function dmodrm(): void {
  const I = D.I;
  const mb = du8();
  const mod = mb >> 6;
  I.reg = ((mb >> 3) & 7) | D.rexR;
  I.op = (mb >> 3) & 7;
  if (mod === 3) { I.rm = (mb & 7) | D.rexB; return; }
  const m: Mem = { base: -1, idx: -1, scale: 0, disp: 0, ripRel: false, ss: false };
  const rm = mb & 7;
  if (rm === 4) {
    const sib = du8();
    m.scale = sib >> 6;
    const idx = ((sib >> 3) & 7) | D.rexX;
    m.idx = idx === 4 ? -1 : idx;
    m.base = (sib & 7) | D.rexB;
    if ((sib & 7) === 5 && mod === 0) { m.base = -1; m.disp = ds32(); }
  } else if (rm === 5 && mod === 0) {
    m.disp = ds32();
    m.ripRel = true;
  } else m.base = rm | D.rexB;
  if (mod === 1) m.disp = ds8(); else if (mod === 2) m.disp = ds32();
  m.ss = !m.ripRel && (m.base === 4 || m.base === 5);
  I.m = m;
}
function dimmOs(): void {
  const I = D.I, v = ds32();
  I.imm = true; I.immLo = v; I.immHi = D.os === 8 ? v >> 31 : 0;
}
function dfinish(): [Insn, number] {
  const I = D.I;
  [I.nlo, I.nhi] = ripAdd(D.lo, D.hi, D.p - D.p0);
  if (I.m !== null && I.m.ripRel) {
    const [, h] = ripAdd(I.nlo, I.nhi, I.m.disp);
    if (!canonical(h)) throw NO;
  }
  if (D.p - D.p0 > 15) throw NO;
  return [I, D.p];
}

/** Finishes a relative branch of displacement d (kind and cc set): target from the next instruction's RIP. */
function dbranch(d: number): [Insn, number] {
  const I = D.I;
  const r = dfinish();
  [I.tlo, I.thi] = ripAdd(I.nlo, I.nhi, d);
  if (!canonical(I.thi)) throw NO;
  return r;
}

/** Decodes one supported instruction at ram[p] (limit lim); throws NO for anything else. */
function decode(ram: Uint8Array, p0: number, lim: number, lo: number, hi: number): [Insn, number] {
  D.ram = ram; D.p = p0; D.p0 = p0; D.lim = lim; D.lo = lo; D.hi = hi;
  let rex = 0, seg = -1, o16 = false, rep = false;
  let b0: number;
  for (;;) {
    b0 = du8();
    if (b0 === 0xf3) { rep = true; rex = 0; continue; } // rep movs/stos only (below)
    if (b0 === 0x2e || b0 === 0x3e || b0 === 0x26 || b0 === 0x36) { rex = 0; continue; }
    if (b0 === 0x64 || b0 === 0x65) { seg = b0 === 0x64 ? 4 : 5; rex = 0; continue; } // FS/GS: base added (ea)
    if (b0 === 0x66) { o16 = true; rex = 0; continue; } // only the forms below
    if ((b0 & 0xf0) === 0x40) { rex = b0; continue; }
    break;
  }
  if (b0 === 0x67 || b0 === 0xf0 || b0 === 0xf2 || b0 === 0xf3) throw NO;
  if (rep && (o16 || seg >= 0 || (b0 !== 0xa4 && b0 !== 0xa5 && b0 !== 0xaa && b0 !== 0xab))) throw NO;
  // operand-size prefix: 16-bit mov (89, 8b, c7 /0) and the nops (66 90, 66 0f 1f); the rest is not translated
  if (o16 && b0 !== 0x90 && b0 !== 0x89 && b0 !== 0x8b && b0 !== 0xc7 && !(b0 === 0x0f && D.p < D.lim && D.ram[D.p] === 0x1f)) throw NO;
  const w = (rex & 8) !== 0, os = w ? 8 : o16 ? 2 : 4;
  const rexB = (rex & 1) << 3;
  D.rexR = (rex & 4) << 1; D.rexX = (rex & 2) << 2; D.rexB = rexB; D.os = os;
  const I: Insn = D.I = {
    kind: K.Nop, lo, hi, nlo: 0, nhi: 0, os, op: 0, reg: 0, rm: -1, m: null, dstE: false, imm: false, immLo: 0, immHi: 0,
    rex, srcSize: 0, signed: false, cc: -1, tlo: 0, thi: 0, seg,
  };
  if (b0 < 0x40 && (b0 & 7) < 6) {
    const op = b0 >> 3, form = b0 & 7;
    I.kind = K.Alu; I.op = op;
    if (form === 0 || form === 2 || form === 4) I.os = 1;
    if (form === 1 || form === 0) { dmodrm(); I.op = op; I.dstE = true; }
    else if (form === 3 || form === 2) { dmodrm(); I.op = op; I.dstE = false; }
    else if (form === 4) { I.rm = 0; I.dstE = true; I.imm = true; I.immLo = du8(); I.immHi = 0; }
    else { I.rm = 0; I.dstE = true; dimmOs(); }
    return dfinish();
  }
  switch (b0) {
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      I.kind = K.Push; I.rm = (b0 & 7) | rexB; return dfinish();
    case 0x6a: case 0x68: { // push imm8 / imm32, sign-extended to 64 bits
      const v = b0 === 0x6a ? ds8() : ds32();
      I.kind = K.Push; I.imm = true; I.immLo = v; I.immHi = v >> 31; I.os = 8;
      return dfinish();
    }
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
      I.kind = K.Pop; I.rm = (b0 & 7) | rexB; return dfinish();
    case 0xc3: I.kind = K.Ret; return dfinish();
    case 0xa4: case 0xa5: case 0xaa: case 0xab: // rep movs/stos (the plain forms are not translated)
      if (!rep) throw NO;
      I.kind = b0 < 0xaa ? K.RepMovs : K.RepStos;
      I.os = (b0 & 1) === 0 ? 1 : os;
      return dfinish();
    case 0xe8: {
      const d = ds32(); I.kind = K.Call;
      return dbranch(d);
    }
    case 0x63: dmodrm(); if (os !== 8) throw NO; I.kind = K.Movsxd; return dfinish();
    case 0x69: case 0x6b: {
      dmodrm(); I.kind = K.Imul;
      const v = b0 === 0x6b ? ds8() : ds32();
      I.imm = true; I.immLo = v; I.immHi = v >> 31;
      return dfinish();
    }
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const d = ds8(); I.kind = K.Jcc; I.cc = b0 & 15;
      return dbranch(d);
    }
    case 0x80: {
      dmodrm();
      I.kind = K.Alu; I.dstE = true; I.os = 1; I.imm = true; I.immLo = du8(); I.immHi = 0;
      return dfinish();
    }
    case 0x84: dmodrm(); I.kind = K.Test; I.os = 1; return dfinish();
    case 0x88: dmodrm(); I.kind = K.Mov; I.os = 1; I.dstE = true; return dfinish();
    case 0x8a: dmodrm(); I.kind = K.Mov; I.os = 1; I.dstE = false; return dfinish();
    case 0xa8: I.kind = K.Test; I.os = 1; I.rm = 0; I.imm = true; I.immLo = du8(); I.immHi = 0; return dfinish();
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      I.kind = K.MovImm; I.os = 1; I.rm = (b0 & 7) | rexB; I.dstE = true; I.imm = true; I.immLo = du8(); I.immHi = 0;
      return dfinish();
    case 0xc6: {
      dmodrm();
      if (I.op !== 0) throw NO;
      I.kind = K.MovImm; I.os = 1; I.dstE = true; I.imm = true; I.immLo = du8(); I.immHi = 0;
      return dfinish();
    }
    case 0xf6: {
      dmodrm(); I.os = 1;
      if (I.op === 0 || I.op === 1) { I.kind = K.Test; I.imm = true; I.immLo = du8(); I.immHi = 0; return dfinish(); }
      if (I.op === 2) { I.kind = K.Not; return dfinish(); }
      if (I.op === 3) { I.kind = K.Neg; return dfinish(); }
      throw NO;
    }
    case 0xfe: dmodrm(); if (I.op > 1) throw NO; I.kind = K.IncDec; I.os = 1; return dfinish();
    case 0xd3: {
      dmodrm();
      if (I.rm < 0 || I.op === 2 || I.op === 3) throw NO;
      I.kind = K.Shift; I.immLo = -1; // count from CL
      return dfinish();
    }
    case 0x81: case 0x83: {
      dmodrm();
      I.kind = K.Alu; I.dstE = true;
      if (b0 === 0x81) dimmOs(); else { const v = ds8(); I.imm = true; I.immLo = os === 4 ? v : v; I.immHi = os === 8 ? v >> 31 : 0; if (os === 4) I.immLo = v; }
      return dfinish();
    }
    case 0x85: dmodrm(); I.kind = K.Test; return dfinish();
    case 0x89: dmodrm(); I.kind = K.Mov; I.dstE = true; return dfinish();
    case 0x8b: dmodrm(); I.kind = K.Mov; I.dstE = false; return dfinish();
    case 0x8d: dmodrm(); if (I.m === null) throw NO; I.kind = K.Lea; return dfinish();
    case 0x90: if (rexB !== 0) throw NO; return dfinish();
    case 0xa9: I.kind = K.Test; I.rm = 0; dimmOs(); return dfinish();
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
      I.kind = K.MovImm; I.rm = (b0 & 7) | rexB; I.dstE = true; I.imm = true;
      if (os === 8) { I.immLo = ds32(); I.immHi = ds32(); } else { I.immLo = ds32(); I.immHi = 0; }
      return dfinish();
    }
    case 0xc1: case 0xd1: {
      dmodrm();
      if (I.rm < 0 || I.op === 2 || I.op === 3) throw NO;
      const n = (b0 === 0xc1 ? du8() : 1) & (os === 8 ? 63 : 31);
      if (n === 0) throw NO;
      I.kind = K.Shift; I.immLo = n;
      return dfinish();
    }
    case 0xc7: {
      dmodrm();
      if (I.op !== 0) throw NO;
      I.kind = K.MovImm; I.dstE = true;
      if (os === 2) { const v = du8(); I.imm = true; I.immLo = v | (du8() << 8); I.immHi = 0; } else dimmOs();
      return dfinish();
    }
    case 0x98: if (!w) throw NO; I.kind = K.Movsxd; I.rm = 0; I.reg = 0; return dfinish(); // cdqe
    case 0xc9: I.kind = K.Leave; return dfinish();
    case 0xe9: case 0xeb: {
      const d = b0 === 0xe9 ? ds32() : ds8(); I.kind = K.Jmp;
      return dbranch(d);
    }
    case 0xf7: {
      dmodrm();
      if (I.op === 0 || I.op === 1) { I.kind = K.Test; dimmOs(); return dfinish(); }
      if (I.op === 2) { I.kind = K.Not; return dfinish(); }
      if (I.op === 3) { I.kind = K.Neg; return dfinish(); }
      throw NO;
    }
    case 0xff:
      dmodrm();
      if (I.op === 2 || I.op === 4) { I.kind = I.op === 2 ? K.CallInd : K.JmpInd; I.os = 8; return dfinish(); } // near, r/m64
      if (I.op > 1) throw NO;
      I.kind = K.IncDec;
      return dfinish();
    case 0x0f: {
      const b1 = du8();
      if (b1 >= 0x80 && b1 <= 0x8f) {
        const d = ds32(); I.kind = K.Jcc; I.cc = b1 & 15;
        return dbranch(d);
      }
      if (b1 === 0x1f || b1 === 0x18) { dmodrm(); I.m = null; I.rm = -1; return dfinish(); } // nop, prefetch (hints)
      if (b1 >= 0xc8 && b1 <= 0xcf) { I.kind = K.Bswap; I.rm = (b1 & 7) | rexB; return dfinish(); }
      if (b1 === 0xae) { // lfence, mfence, sfence: no effect on a single in-order core
        const mb = du8();
        if (mb !== 0xe8 && mb !== 0xf0 && mb !== 0xf8) throw NO;
        return dfinish();
      }
      if (b1 >= 0x40 && b1 <= 0x4f) { dmodrm(); I.kind = K.Cmov; I.cc = b1 & 15; return dfinish(); }
      if (b1 >= 0x90 && b1 <= 0x9f) { dmodrm(); I.kind = K.Setcc; I.cc = b1 & 15; I.os = 1; return dfinish(); }
      if (b1 === 0xaf) { dmodrm(); I.kind = K.Imul; I.imm = false; return dfinish(); }
      if (b1 === 0xb1) { dmodrm(); I.kind = K.Cmpxchg; return dfinish(); } // not locked (lock: interpreter, atomic)
      if (b1 === 0xb6 || b1 === 0xb7 || b1 === 0xbe || b1 === 0xbf) {
        dmodrm(); I.kind = K.Movx; I.srcSize = (b1 & 1) === 0 ? 1 : 2; I.signed = b1 >= 0xbe;
        return dfinish();
      }
      throw NO;
    }
    default: throw NO;
  }
}

export interface WasmTranslation {
  bytes: Uint8Array;
  ripsLo: Int32Array;
  ripsHi: Int32Array;
  /** Length of each instruction in bytes (for the cache's coverage: the instructions are not contiguous). */
  lens: Uint8Array;
  /** Registers the block reads (loaded at entry) and writes (stored back), as bit masks. */
  used: number;
  written: number;
  insns: number;
  /** Some instructions run through the interpreter (in-block steps). */
  steps: boolean;
  /** Bytes of the next linear page (phys2) the last instruction of the page goes on into (0: none). */
  cross: number;
  /** Low RIP halves the region falls through to when it leaves (straight-line code cut by the instruction
   * budget, the page end or an instruction outside the subset): the code that runs next. */
  conts: number[];
}

/** Static knowledge of the flag producer at a point: op kind and size, or null (unknown: read the record). */
type Prod = { op: number; size: number } | null;

class Emitter {
  readonly c = new Code();
  prod: Prod = null;
  written = 0;
  /** Some instruction of the block writes the lazy-flag record (its locals): else the record stays in the scratch
   * area only, never loaded into locals nor stored back (conditions read it there through the host). */
  rec = true;

  constructor(readonly insns: Insn[]) {}

  // ---- state spills ----
  storeRegs(): void {
    const c = this.c;
    for (let r = 0; r < 16; r++) {
      if (((this.written >> r) & 1) === 0) continue;
      c.get(P_SCR).get(L_REG + r).mem(Op.I64Store32, 2, SCR_REGS + 4 * r);
      c.get(P_SCR).get(L_REG + r).i64(32, 0).op(Op.I64ShrU).mem(Op.I64Store32, 2, SCR_REGS + 64 + 4 * r);
    }
  }
  storeRecord(): void {
    if (!this.rec) return;
    const c = this.c;
    c.get(P_SCR).get(L_OP).mem(Op.I32Store, 2, LF_OP);
    c.get(P_SCR).get(L_SIZE).mem(Op.I32Store, 2, LF_SIZE);
    c.get(P_SCR).get(L_RES).mem(Op.I64Store, 3, LF_RES);
    c.get(P_SCR).get(L_S1).mem(Op.I64Store, 3, LF_S1);
    c.get(P_SCR).get(L_S2).mem(Op.I64Store, 3, LF_S2);
    c.get(P_SCR).get(L_AUX).mem(Op.I32Store, 2, LF_AUX);
    c.get(P_SCR).get(L_FLAGS).mem(Op.I32Store, 2, LF_FLAGS);
  }
  /** After an interpreter step: the registers the block uses and the lazy-flag record, from the scratch area. */
  reload(used: number): void {
    const c = this.c;
    for (let r = 0; r < 16; r++) {
      if (((used >> r) & 1) === 0) continue;
      c.get(P_SCR).mem(Op.I64Load32U, 2, SCR_REGS + 4 * r);
      c.get(P_SCR).mem(Op.I64Load32U, 2, SCR_REGS + 64 + 4 * r).i64(32, 0).op(Op.I64Shl).op(Op.I64Or).set(L_REG + r);
    }
    this.prod = null;
    if (!this.rec) return;
    c.get(P_SCR).mem(Op.I32Load, 2, LF_OP).set(L_OP);
    c.get(P_SCR).mem(Op.I32Load, 2, LF_SIZE).set(L_SIZE);
    c.get(P_SCR).mem(Op.I64Load, 3, LF_RES).set(L_RES);
    c.get(P_SCR).mem(Op.I64Load, 3, LF_S1).set(L_S1);
    c.get(P_SCR).mem(Op.I64Load, 3, LF_S2).set(L_S2);
    c.get(P_SCR).mem(Op.I32Load, 2, LF_AUX).set(L_AUX);
    c.get(P_SCR).mem(Op.I32Load, 2, LF_FLAGS).set(L_FLAGS);
    this.prod = null;
  }
  /** Before a host call that may throw: everything the dispatcher needs to restart at instruction k. */
  spill(k: number): void {
    const c = this.c;
    this.storeRegs();
    this.storeRecord();
    c.get(P_SCR).i32(k).mem(Op.I32Store, 2, SCR_BI);
    c.get(P_SCR).get(L_EXTRA).mem(Op.I32Store, 2, SCR_EXTRA);
  }
  /** Leaves with RIP (lo, hi) and `count` + extra instructions retired: through the shared exit (the outermost
   * block, opened first: see translateWasm), which stores the registers and the record. */
  exit(lo: number, hi: number, count: number): void {
    this.c.i64(lo, hi).set(L_RIPX);
    this.toExit(count);
  }
  /** Leaves with RIP from i64 local l and `count` + extra instructions retired. */
  exitDyn(l: number, count: number): void {
    this.c.get(l).set(L_RIPX);
    this.toExit(count);
  }
  private toExit(count: number): void {
    const c = this.c;
    c.get(L_EXTRA).i32(count).op(Op.I32Add).set(L_RET).br(Op.Br, c.level - 1);
  }
  /** The shared exit's code (after the outermost block). */
  exitTail(): void {
    const c = this.c;
    this.storeRegs();
    this.storeRecord();
    c.get(P_SCR).get(L_RIPX).mem(Op.I64Store, 3, SCR_RIP);
    c.get(L_RET).op(Op.Return);
  }
  /** Stack address checks as the interpreter's push/pop: #SS(0) when L_EA is not canonical. */
  stackCanon(k: number): void {
    const c = this.c;
    c.get(L_EA).i64(16, 0).op(Op.I64Shl).i64(16, 0).op(Op.I64ShrS).get(L_EA).op(Op.I64Ne).open(Op.If);
    this.spill(k);
    c.i32(12).call(F_FAULT).op(Op.Unreachable);
    c.op(Op.End);
  }
  /** push of i64 local v (evaluated before RSP changes). */
  push(v: number, I: Insn, k: number): void {
    const c = this.c;
    c.get(L_REG + 4).i64(8, 0).op(Op.I64Sub).set(L_EA);
    this.stackCanon(k);
    this.write(8, v, I, k);
    c.get(L_EA).set(L_REG + 4);
    this.written |= 1 << 4;
  }
  /** pop into i64 local dst (RSP += 8 before dst is written: pop rsp gets the value). */
  pop(dst: number, k: number): void {
    const c = this.c;
    c.get(L_REG + 4).set(L_EA);
    this.stackCanon(k);
    this.read(8, k);
    c.set(dst);
    c.get(L_REG + 4).i64(8, 0).op(Op.I64Add).set(L_REG + 4);
    this.written |= 1 << 4;
  }

  // ---- values (pushed on the wasm stack as i64, zero-extended for 32-bit sizes) ----
  reg(r: number, os: number): void {
    this.c.get(L_REG + r);
    if (os === 4) this.c.i64(-1, 0).op(Op.I64And);
    else if (os === 2) this.c.i64(0xffff, 0).op(Op.I64And);
  }
  reg8(r: number, rex: number): void {
    const c = this.c;
    if (rex === 0 && r >= 4 && r < 8) c.get(L_REG + r - 4).i64(8, 0).op(Op.I64ShrU).i64(255, 0).op(Op.I64And);
    else c.get(L_REG + r).i64(255, 0).op(Op.I64And);
  }
  /** Register operand of size os (8-bit: the REX rules for ah..bh). */
  rd(I: Insn, r: number, os: number): void { if (os === 1) this.reg8(r, I.rex); else this.reg(r, os); }
  /** Writes local l to register operand r of size os (8-bit: merges into the low or high byte). */
  wr(I: Insn, r: number, os: number, l: number): void {
    const c = this.c;
    if (os !== 1) { this.setReg(r, os, l); return; }
    if (I.rex === 0 && r >= 4 && r < 8) {
      c.get(L_REG + r - 4).i64(-65281, -1).op(Op.I64And).get(l).i64(255, 0).op(Op.I64And).i64(8, 0).op(Op.I64Shl).op(Op.I64Or).set(L_REG + r - 4);
      this.written |= 1 << (r - 4);
    } else {
      c.get(L_REG + r).i64(-256, -1).op(Op.I64And).get(l).i64(255, 0).op(Op.I64And).op(Op.I64Or).set(L_REG + r);
      this.written |= 1 << r;
    }
  }
  /** Writes the i64 in local `l` to register r (32-bit: zero-extends). */
  setReg(r: number, os: number, l: number): void {
    const c = this.c;
    if (os === 2) c.get(L_REG + r).i64(-65536, -1).op(Op.I64And); // 16-bit: the upper 48 bits stay
    c.get(l);
    if (os === 4) c.i64(-1, 0).op(Op.I64And);
    else if (os === 2) c.i64(0xffff, 0).op(Op.I64And).op(Op.I64Or);
    c.set(L_REG + r);
    this.written |= 1 << r;
  }

  /**
   * rep movs / rep stos (I.os bytes per element). With DF clear and 1..REP_MAX elements in RCX, runs in page
   * chunks whose source and destination pages are in the read and write TLBs (RAM, not holding translated code):
   * memory.copy / memory.fill or a store loop, RSI/RDI/RCX updated after each chunk. Anything else (DF set, a
   * larger count, a TLB miss, an element across a page end, a forward overlap that hardware copies element by
   * element) runs the rest as an in-block interpreter step. Counts as the interpreter's: one instruction per
   * element; the elements copied here count only once the whole instruction completed (a fault in the step
   * that finishes it counts none of them, as a fault inside the interpreter's rep does).
   */
  repString(I: Insn, k: number, used: number): void {
    const c = this.c, movs = I.kind === K.RepMovs, os = I.os, sh = os === 1 ? 0 : os === 4 ? 2 : 3;
    /** Bytes from L_EA to its page end (i32 on the stack). */
    const room = (): void => { c.i32(4096).get(L_EA).op(Op.I32WrapI64).i32(4095).op(Op.I32And).op(Op.I32Sub); };
    this.written |= movs ? (1 << 1) | (1 << 6) | (1 << 7) : (1 << 1) | (1 << 7);
    c.i32(0).set(L_REP);
    c.open(Op.Block); const done = c.level;
    c.open(Op.Block); const slow = c.level;
    c.get(L_REG + 1).op(Op.I64Eqz).br(Op.BrIf, c.level - done);
    c.get(P_SCR).mem(Op.I32Load, 2, SCR_DF).br(Op.BrIf, c.level - slow);
    c.get(L_REG + 1).i64(REP_MAX, 0).op(Op.I64GtU).br(Op.BrIf, c.level - slow);
    c.open(Op.Loop); const again = c.level;
    if (movs) {
      // source: RAM address and room to its page end (bytes) in L_CNT
      c.get(L_REG + 6).set(L_EA);
      this.probe(1, false);
      c.op(Op.I32Eqz).br(Op.BrIf, c.level - slow);
      this.addr();
      c.get(L_ADDR).set(L_SADDR);
      room();
      c.set(L_CNT);
    } else c.i32(4096).set(L_CNT);
    c.get(L_REG + 7).set(L_EA);
    this.probe(1, true);
    c.op(Op.I32Eqz).br(Op.BrIf, c.level - slow);
    this.addr();
    // elements this chunk: min(room at both ends, RCX); none (an element across the page end): slow
    room();
    c.tee(L_T);
    c.get(L_CNT).get(L_T).get(L_CNT).op(Op.I32LtU).op(Op.Select).i32(sh).op(Op.I32ShrU).set(L_CNT);
    c.get(L_CNT).get(L_REG + 1).op(Op.I32WrapI64).get(L_CNT).get(L_REG + 1).op(Op.I32WrapI64).op(Op.I32LtU).op(Op.Select).tee(L_CNT);
    c.op(Op.I32Eqz).br(Op.BrIf, c.level - slow);
    if (movs) {
      // a destination 1..bytes-1 above the source overlaps forward: hardware moves element by element
      c.get(L_ADDR).get(L_SADDR).op(Op.I32Sub).i32(1).op(Op.I32Sub);
      c.get(L_CNT).i32(sh).op(Op.I32Shl).i32(1).op(Op.I32Sub).op(Op.I32LtU).br(Op.BrIf, c.level - slow);
      c.get(L_ADDR).get(L_SADDR).get(L_CNT).i32(sh).op(Op.I32Shl).memCopy();
    } else if (os === 1) {
      c.get(L_ADDR).get(L_REG + 0).op(Op.I32WrapI64).get(L_CNT).memFill();
    } else {
      // store loop (L_SADDR walks the destination up to L_T)
      c.get(L_ADDR).tee(L_SADDR).get(L_CNT).i32(sh).op(Op.I32Shl).op(Op.I32Add).set(L_T);
      c.open(Op.Loop);
      c.get(L_SADDR).get(L_REG + 0);
      if (os === 4) c.op(Op.I32WrapI64).mem(Op.I32Store, 0); else c.mem(Op.I64Store, 0);
      c.get(L_SADDR).i32(os).op(Op.I32Add).tee(L_SADDR).get(L_T).op(Op.I32LtU).br(Op.BrIf, 0);
      c.op(Op.End);
    }
    // RSI/RDI += bytes, RCX -= elements, elements done += elements
    c.get(L_CNT).i32(sh).op(Op.I32Shl).op(Op.I64ExtendI32U).set(L_EA);
    if (movs) c.get(L_REG + 6).get(L_EA).op(Op.I64Add).set(L_REG + 6);
    c.get(L_REG + 7).get(L_EA).op(Op.I64Add).set(L_REG + 7);
    c.get(L_REG + 1).get(L_CNT).op(Op.I64ExtendI32U).op(Op.I64Sub).set(L_REG + 1);
    c.get(L_REP).get(L_CNT).op(Op.I32Add).set(L_REP);
    c.get(L_REG + 1).op(Op.I64Eqz).op(Op.I32Eqz).br(Op.BrIf, c.level - again);
    c.op(Op.End); // loop
    // all done here: the instruction itself counts through k, its other elements through extra
    c.get(L_EXTRA).get(L_REP).op(Op.I32Add).i32(1).op(Op.I32Sub).set(L_EXTRA);
    c.br(Op.Br, c.level - done);
    c.op(Op.End); // slow
    this.hostStep(I, k, used, L_REP);
    c.op(Op.End); // done
    this.prod = null;
  }

  /** Instruction k run by the interpreter inside the block (F_STEP): registers and record spilled before, reloaded
   * after; the block returns when the step says it must leave. `deferred`: an i32 local of instructions retired
   * that count only once the step succeeded (added to extra then), or -1. */
  hostStep(I: Insn, k: number, used: number, deferred = -1): void {
    const c = this.c;
    this.spill(k);
    c.i32(I.lo).i32(I.hi).i32(I.nlo).i32(I.nhi).call(F_STEP).open(Op.If);
    c.get(L_EXTRA);
    if (deferred >= 0) c.get(deferred).op(Op.I32Add);
    c.i32(k + 1).op(Op.I32Add).op(Op.Return);
    c.op(Op.End);
    if (deferred >= 0) c.get(L_EXTRA).get(deferred).op(Op.I32Add).set(L_EXTRA);
    this.reload(used);
  }

  /** EA of m into L_EA, with the canonical check (#SS for rsp/rbp based, else #GP) unless `lea`. */
  ea(I: Insn, lea: boolean): void {
    const c = this.c, m = I.m!;
    const seg = lea ? -1 : I.seg;
    if (m.ripRel) {
      const [lo, hi] = ripAdd(I.nlo, I.nhi, m.disp);
      c.i64(lo, hi).set(L_EA);
      if (seg < 0) return;
    } else {
      c.i64(m.disp, m.disp >> 31);
      if (m.base >= 0) c.get(L_REG + m.base).op(Op.I64Add);
      if (m.idx >= 0) {
        c.get(L_REG + m.idx);
        if (m.scale > 0) c.i64(m.scale, 0).op(Op.I64Shl);
        c.op(Op.I64Add);
      }
      c.set(L_EA);
      if (lea) return;
    }
    // FS/GS: the segment base (kept in the scratch area by the tier) is added before the canonical check (#GP)
    if (seg >= 0) c.get(L_EA).get(P_SCR).mem(Op.I64Load, 3, seg === 4 ? SCR_FSBASE : SCR_GSBASE).op(Op.I64Add).set(L_EA);
    // The canonical check is made on the access's slow path (slowCanon): a non-canonical address is never in the
    // TLB (the MMU's walk refuses it), so the inline probe misses, and the slow path's spill serves both.
    this.pendingCanon = m.ss && seg < 0 ? 12 : 13;
  }
  /** #SS/#GP of the memory operand computed last by ea() when its address is not canonical; emitted on the slow
   * path of the access that follows it (after its spill). */
  private pendingCanon = 0;
  private slowCanon(): void {
    const v = this.pendingCanon, c = this.c;
    this.pendingCanon = 0;
    if (v === 0) return;
    c.get(L_EA).i64(16, 0).op(Op.I64Shl).i64(16, 0).op(Op.I64ShrS).get(L_EA).op(Op.I64Ne).open(Op.If);
    c.i32(v).call(F_FAULT).op(Op.Unreachable);
    c.op(Op.End);
  }

  /** TLB probe of L_EA for an access of `size` bytes through the read or write set: sets L_T and
   * leaves the hit test (i32) on the stack. */
  probe(size: number, write: boolean): void {
    const c = this.c;
    c.get(L_EA).i64(12, 0).op(Op.I64ShrU).get(L_EA).i64(32, 0).op(Op.I64ShrU).op(Op.I64Xor).op(Op.I32WrapI64)
      .i32(4095).op(Op.I32And).i32(4).op(Op.I32Shl).get(write ? P_WTLB : P_RTLB).op(Op.I32Add).set(L_T);
    c.get(L_T).mem(Op.I64Load, 2, 0);
    c.get(L_EA).i64(-4096 | (size - 1), -1).op(Op.I64And).op(Op.I64Eq);
  }
  /** RAM address of the probed access (after a hit) into L_ADDR. */
  addr(): void {
    this.c.get(L_T).mem(Op.I32Load, 2, 8).get(L_EA).op(Op.I32WrapI64).i32(4095).op(Op.I32And).op(Op.I32Add).set(L_ADDR);
  }
  loadAddr(size: number): void {
    const c = this.c;
    c.get(L_ADDR);
    switch (size) {
      case 1: c.mem(Op.I32Load8U, 0).op(Op.I64ExtendI32U); break;
      case 2: c.mem(Op.I32Load16U, 1).op(Op.I64ExtendI32U); break;
      case 4: c.mem(Op.I64Load32U, 2); break;
      default: c.mem(Op.I64Load, 3); break;
    }
  }
  storeAddr(size: number, l: number): void {
    const c = this.c;
    c.get(L_ADDR).get(l);
    switch (size) {
      case 1: c.op(Op.I32WrapI64).mem(Op.I32Store8, 0); break;
      case 2: c.op(Op.I32WrapI64).mem(Op.I32Store16, 1); break;
      case 4: c.op(Op.I32WrapI64).mem(Op.I32Store, 2); break;
      default: c.mem(Op.I64Store, 3); break;
    }
  }
  /** The halves of L_EA (lo, hi) on the stack, for a host call (slow paths compute them: the fast path keeps only
   * L_EA live across the access). */
  loHi(): void {
    this.c.get(L_EA).op(Op.I32WrapI64).get(L_EA).i64(32, 0).op(Op.I64ShrU).op(Op.I32WrapI64);
  }
  /** Slow-path read of L_EA (after spill) pushing an i64. */
  slowRead(size: number): void {
    const c = this.c;
    const f = F_RD + (size === 1 ? 0 : size === 2 ? 1 : size === 4 ? 2 : 3);
    this.loHi();
    c.call(f).op(Op.I64ExtendI32U);
    if (size === 8) c.get(P_SCR).mem(Op.I64Load32U, 2, SCR_TMP).i64(32, 0).op(Op.I64Shl).op(Op.I64Or);
  }
  /** Slow-path write of local l; leaves when the write hit translated code. */
  slowWrite(size: number, l: number, I: Insn, k: number): void {
    const c = this.c;
    const f = F_WR + (size === 1 ? 0 : size === 2 ? 1 : size === 4 ? 2 : 3);
    this.loHi();
    c.get(l).op(Op.I32WrapI64);
    if (size === 8) c.get(l).i64(32, 0).op(Op.I64ShrU).op(Op.I32WrapI64);
    c.call(f).open(Op.If);
    this.exit(I.nlo, I.nhi, k + 1);
    c.op(Op.End);
  }
  /** Reads memory operand (EA in L_EA) into an i64 on the stack. */
  read(size: number, k: number): void {
    const c = this.c;
    this.probe(size, false);
    c.open(Op.If, T.I64);
    this.addr();
    this.loadAddr(size);
    c.op(Op.Else);
    this.spill(k);
    this.slowCanon();
    this.slowRead(size);
    c.op(Op.End);
  }
  write(size: number, l: number, I: Insn, k: number): void {
    const c = this.c;
    this.probe(size, true);
    c.open(Op.If);
    this.addr();
    this.storeAddr(size, l);
    c.op(Op.Else);
    this.spill(k);
    this.slowCanon();
    this.slowWrite(size, l, I, k);
    c.op(Op.End);
  }
  /** Read of a read-modify-write destination: probes for write (a #PF reports W=1); L_HIT remembers the path. */
  readRmw(size: number, k: number): void {
    const c = this.c;
    this.probe(size, true);
    c.tee(L_HIT).open(Op.If, T.I64);
    this.addr();
    this.loadAddr(size);
    c.op(Op.Else);
    this.spill(k);
    this.slowCanon();
    c.i32(size);
    this.loHi();
    c.call(F_PW);
    this.slowRead(size);
    c.op(Op.End);
  }
  writeRmw(size: number, l: number, I: Insn, k: number): void {
    const c = this.c;
    c.get(L_HIT).open(Op.If);
    this.storeAddr(size, l);
    c.op(Op.Else);
    this.slowWrite(size, l, I, k);
    c.op(Op.End);
  }

  /** E operand (register or memory) of size os as i64 on the stack. */
  readE(I: Insn, os: number, k: number): void {
    if (I.rm >= 0) { if (os === 1) this.reg8(I.rm, I.rex); else this.reg(I.rm, os); return; }
    this.ea(I, false);
    this.read(os, k);
  }

  // ---- lazy flags ----
  record(op: number, size: number, res: number, s1: number, s2: number): void {
    const c = this.c;
    c.i32(op).set(L_OP).i32(size).set(L_SIZE).get(res).set(L_RES);
    if (s1 >= 0) c.get(s1).set(L_S1);
    if (s2 >= 0) c.get(s2).set(L_S2);
    this.prod = { op, size };
  }
  /** Top (sign) bit of i64 local-or-stack value at the record size, as i32. Value on the stack. */
  top(size: number): void {
    const c = this.c;
    c.i64(size * 8 - 1, 0).op(Op.I64ShrU).op(Op.I32WrapI64).i32(1).op(Op.I32And);
  }
  /** Pushes the six arithmetic flags (EFLAGS bits) of the current record. */
  arith(k: number): void {
    const c = this.c, p = this.prod;
    if (p === null || p.op === LF_IMUL64) { this.storeRecord(); c.call(F_ARITH); return; }
    if (p.op === LF_NONE) { c.get(L_FLAGS); return; }
    const s = p.size;
    void k;
    // CF
    switch (p.op) {
      case LF_ADD: c.get(L_RES).get(L_S1).op(Op.I64LtU); break;
      case LF_SUB: c.get(L_S1).get(L_S2).op(Op.I64LtU); break;
      case LF_LOGIC: c.i32(0); break;
      default: c.get(L_AUX).i32(1).op(Op.I32And); break; // INC, DEC, RESAUX
    }
    // PF
    c.get(L_RES).op(Op.I32WrapI64).i32(255).op(Op.I32And).op(Op.I32Popcnt).i32(1).op(Op.I32And).op(Op.I32Eqz)
      .i32(2).op(Op.I32Shl).op(Op.I32Or);
    // AF
    if (p.op === LF_ADD || p.op === LF_SUB || p.op === LF_INC || p.op === LF_DEC) {
      c.get(L_S1).get(L_S2).op(Op.I64Xor).get(L_RES).op(Op.I64Xor).op(Op.I32WrapI64).i32(16).op(Op.I32And).op(Op.I32Or);
    }
    // ZF
    c.get(L_RES).op(Op.I64Eqz).i32(6).op(Op.I32Shl).op(Op.I32Or);
    // SF
    c.get(L_RES); this.top(s); c.i32(7).op(Op.I32Shl).op(Op.I32Or);
    // OF
    switch (p.op) {
      case LF_ADD: case LF_INC:
        c.get(L_S1).get(L_RES).op(Op.I64Xor).get(L_S2).get(L_RES).op(Op.I64Xor).op(Op.I64And); this.top(s); break;
      case LF_SUB: case LF_DEC:
        c.get(L_S1).get(L_S2).op(Op.I64Xor).get(L_S1).get(L_RES).op(Op.I64Xor).op(Op.I64And); this.top(s); break;
      case LF_LOGIC: c.i32(0); break;
      default: c.get(L_AUX).i32(11).op(Op.I32ShrU).i32(1).op(Op.I32And); break;
    }
    c.i32(11).op(Op.I32Shl).op(Op.I32Or);
  }
  /** rol/ror: the arithmetic flags of the current record with CF and OF replaced (pushed by cfFn/ofFn), as
   * LF_NONE (exec/shift.ts). */
  cfOf(k: number, os: number, cfFn: () => void, ofFn: () => void): void {
    const c = this.c;
    this.arith(k);
    c.i32(-2050).op(Op.I32And);
    cfFn(); c.op(Op.I32Or);
    ofFn(); c.i32(11).op(Op.I32Shl).op(Op.I32Or);
    c.set(L_FLAGS);
    c.i32(LF_NONE).set(L_OP);
    this.prod = { op: LF_NONE, size: os };
  }
  /** shl/shr/sar: result L_R, CF and OF (pushed by cfFn/ofFn) in lfAux (LF_RESAUX). */
  resAux(os: number, cfFn: () => void, ofFn: () => void): void {
    cfFn(); ofFn(); this.c.i32(11).op(Op.I32Shl).op(Op.I32Or).set(L_AUX);
    this.record(LF_RESAUX, os, L_R, -1, -1);
  }
  /** Pushes CF (0/1) of the current record. */
  cf(k: number): void {
    const c = this.c, p = this.prod;
    if (p !== null && p.op === LF_SUB) { c.get(L_S1).get(L_S2).op(Op.I64LtU); return; }
    if (p !== null && p.op === LF_ADD) { c.get(L_RES).get(L_S1).op(Op.I64LtU); return; }
    if (p !== null && p.op === LF_LOGIC) { c.i32(0); return; }
    this.arith(k);
    c.i32(1).op(Op.I32And);
  }
  /** Pushes condition cc (0/1). */
  cond(cc: number, k: number): void {
    const c = this.c, p = this.prod;
    if (p === null) { this.storeRecord(); c.i32(cc).call(F_COND); return; }
    const sext = (l: number): void => {
      c.get(l);
      if (p.size < 8) c.i64(64 - 8 * p.size, 0).op(Op.I64Shl).i64(64 - 8 * p.size, 0).op(Op.I64ShrS);
    };
    if (p.op === LF_SUB) {
      const u: Record<number, Op> = { 2: Op.I64LtU, 3: Op.I64GeU, 6: Op.I64LeU, 7: Op.I64GtU };
      const s: Record<number, Op> = { 12: Op.I64LtS, 13: Op.I64GeS, 14: Op.I64LeS, 15: Op.I64GtS };
      if (cc === 4 || cc === 5) { c.get(L_RES).op(Op.I64Eqz); if (cc === 5) c.op(Op.I32Eqz); return; }
      if (u[cc] !== undefined) { c.get(L_S1).get(L_S2).op(u[cc]!); return; }
      if (s[cc] !== undefined) { sext(L_S1); sext(L_S2); c.op(s[cc]!); return; }
    }
    if (p.op === LF_LOGIC) {
      const zf = (): void => { c.get(L_RES).op(Op.I64Eqz); };
      const sf = (): void => { c.get(L_RES); this.top(p.size); };
      switch (cc) {
        case 4: zf(); return;
        case 5: zf(); c.op(Op.I32Eqz); return;
        case 8: case 12: sf(); return;
        case 9: case 13: sf(); c.op(Op.I32Eqz); return;
        case 14: zf(); sf(); c.op(Op.I32Or); return;
        case 15: zf(); sf(); c.op(Op.I32Or).op(Op.I32Eqz); return;
      }
    }
    this.arith(k);
    c.set(L_F);
    const bit = (n: number): void => { c.get(L_F).i32(n).op(Op.I32ShrU).i32(1).op(Op.I32And); };
    switch (cc >> 1) {
      case 0: bit(11); break;
      case 1: bit(0); break;
      case 2: bit(6); break;
      case 3: bit(0); bit(6); c.op(Op.I32Or); break;
      case 4: bit(7); break;
      case 5: bit(2); break;
      case 6: bit(7); bit(11); c.op(Op.I32Xor); break;
      default: bit(6); bit(7); bit(11); c.op(Op.I32Xor).op(Op.I32Or); break;
    }
    if (cc & 1) c.op(Op.I32Eqz);
  }
}

const mask = (os: number): [number, number] => (os === 8 ? [-1, -1] : [-1, 0]);

/** Emits one instruction (not jcc/jmp). */
function emitInsn(e: Emitter, I: Insn, k: number): void {
  const c = e.c, os = I.os;
  switch (I.kind) {
    case K.Nop: return;
    case K.Alu: case K.Test: {
      // adc/sbb: carry in first (from the current record, inline or by the host)
      if (I.kind === K.Alu && (I.op === 2 || I.op === 3)) { e.cond(2, k); c.set(L_CF); }
      // a = destination operand (E or G), b = source
      const rmw = I.kind === K.Alu && I.op !== 7 && I.dstE && I.rm < 0;
      if (I.dstE) {
        if (I.rm >= 0) e.rd(I, I.rm, os);
        else { e.ea(I, false); if (rmw) e.readRmw(os, k); else e.read(os, k); }
        c.set(L_A);
        if (I.imm) c.i64(I.immLo, I.immHi); else e.rd(I, I.reg, os);
        c.set(L_B);
      } else if (I.kind === K.Test) {
        e.readE(I, os, k); c.set(L_A);
        if (I.imm) c.i64(I.immLo, I.immHi); else e.rd(I, I.reg, os);
        c.set(L_B);
      } else {
        e.rd(I, I.reg, os); c.set(L_A);
        e.readE(I, os, k); c.set(L_B);
      }
      const op = I.kind === K.Test ? 4 : I.op;
      c.get(L_A).get(L_B);
      switch (op) {
        case 0: c.op(Op.I64Add); break;
        case 1: c.op(Op.I64Or); break;
        case 2: c.op(Op.I64Add).get(L_CF).op(Op.I64ExtendI32U).op(Op.I64Add); break; // adc
        case 3: c.op(Op.I64Sub).get(L_CF).op(Op.I64ExtendI32U).op(Op.I64Sub); break; // sbb
        case 4: c.op(Op.I64And); break;
        case 5: case 7: c.op(Op.I64Sub); break;
        default: c.op(Op.I64Xor); break;
      }
      if (os === 4) c.i64(...mask(4)).op(Op.I64And);
      else if (os === 1) c.i64(255, 0).op(Op.I64And);
      c.set(L_R);
      if (op === 0) e.record(LF_ADD, os, L_R, L_A, L_B);
      else if (op === 5 || op === 7) e.record(LF_SUB, os, L_R, L_A, L_B);
      else if (op === 2 || op === 3) {
        // the interpreter's record (carry in as aux); its flags are left to the host (no inline form)
        e.record(op === 2 ? LF_ADC : LF_SBB, os, L_R, L_A, L_B);
        c.get(L_CF).set(L_AUX);
        e.prod = null;
      } else e.record(LF_LOGIC, os, L_R, -1, -1);
      if (I.kind === K.Test || op === 7) return;
      if (!I.dstE) e.wr(I, I.reg, os, L_R);
      else if (I.rm >= 0) e.wr(I, I.rm, os, L_R);
      else e.writeRmw(os, L_R, I, k);
      return;
    }
    case K.Mov:
      if (I.dstE) {
        e.rd(I, I.reg, os); c.set(L_R);
        if (I.rm >= 0) e.wr(I, I.rm, os, L_R);
        else { e.ea(I, false); e.write(os, L_R, I, k); }
      } else {
        e.readE(I, os, k); c.set(L_R);
        e.wr(I, I.reg, os, L_R);
      }
      return;
    case K.MovImm:
      c.i64(I.immLo, I.immHi).set(L_R);
      if (I.rm >= 0) e.wr(I, I.rm, os, L_R);
      else { e.ea(I, false); e.write(os, L_R, I, k); }
      return;
    case K.Lea:
      e.ea(I, true);
      e.setReg(I.reg, os, L_EA);
      return;
    case K.Movsxd:
      e.readE(I, 4, k);
      c.op(Op.I32WrapI64).op(Op.I64ExtendI32S).set(L_R);
      e.setReg(I.reg, 8, L_R);
      return;
    case K.Movx:
      e.readE(I, I.srcSize, k);
      if (I.signed) {
        c.op(Op.I32WrapI64);
        if (I.srcSize === 1) c.i32(24).op(Op.I32Shl).i32(24).op(Op.I32ShrS);
        else c.i32(16).op(Op.I32Shl).i32(16).op(Op.I32ShrS);
        c.op(Op.I64ExtendI32S);
      }
      c.set(L_R);
      e.setReg(I.reg, os, L_R);
      return;
    case K.Imul: {
      if (I.imm) { e.readE(I, os, k); c.set(L_A); c.i64(I.immLo, I.immHi).set(L_B); }
      else { e.readE(I, os, k); c.set(L_B); e.reg(I.reg, os); c.set(L_A); }
      if (os === 8) {
        c.get(L_A).get(L_B).op(Op.I64Mul).set(L_R);
        e.record(LF_IMUL64, 8, L_R, L_A, L_B);
      } else {
        // signed 32x32 product; CF = OF = it does not fit in 32 bits (RESAUX, aux 2049)
        c.get(L_A).op(Op.I32WrapI64).op(Op.I64ExtendI32S).get(L_B).op(Op.I32WrapI64).op(Op.I64ExtendI32S).op(Op.I64Mul).set(L_EA);
        c.get(L_EA).i64(-1, 0).op(Op.I64And).set(L_R);
        c.get(L_EA).op(Op.I32WrapI64).op(Op.I64ExtendI32S).get(L_EA).op(Op.I64Ne).i32(2049).op(Op.I32Mul).set(L_AUX);
        e.record(LF_RESAUX, 4, L_R, -1, -1);
      }
      e.setReg(I.reg, os, L_R);
      return;
    }
    case K.Shift: if (I.immLo < 0) emitShiftCl(e, I, k); else emitShift(e, I, k); return;
    case K.Push:
      if (I.imm) c.i64(I.immLo, I.immHi).set(L_R); else c.get(L_REG + I.rm).set(L_R);
      e.push(L_R, I, k);
      return;
    case K.Bswap: {
      // bytes reversed within the low 32 bits (os 4, the upper half cleared) or all 64
      const swap32 = (): void => { // i32 in L_CNT -> reversed i32 on the stack
        c.get(L_CNT).i32(24).op(Op.I32Shl);
        c.get(L_CNT).i32(0xff00).op(Op.I32And).i32(8).op(Op.I32Shl).op(Op.I32Or);
        c.get(L_CNT).i32(8).op(Op.I32ShrU).i32(0xff00).op(Op.I32And).op(Op.I32Or);
        c.get(L_CNT).i32(24).op(Op.I32ShrU).op(Op.I32Or);
      };
      c.get(L_REG + I.rm).op(Op.I32WrapI64).set(L_CNT);
      swap32();
      c.op(Op.I64ExtendI32U);
      if (os === 8) {
        c.i64(32, 0).op(Op.I64Shl);
        c.get(L_REG + I.rm).i64(32, 0).op(Op.I64ShrU).op(Op.I32WrapI64).set(L_CNT);
        swap32();
        c.op(Op.I64ExtendI32U).op(Op.I64Or);
      }
      c.set(L_R);
      e.wr(I, I.rm, os, L_R);
      return;
    }
    case K.Cmpxchg: {
      // flags of acc - dest; equal: dest = src, else acc = dest (a memory dest is written back either way, as the
      // interpreter does: probed for write first)
      if (I.rm >= 0) e.rd(I, I.rm, os);
      else { e.ea(I, false); e.readRmw(os, k); }
      c.set(L_B);
      e.reg(0, os); c.set(L_A);
      c.get(L_A).get(L_B).op(Op.I64Sub);
      if (os === 4) c.i64(...mask(4)).op(Op.I64And);
      c.set(L_R);
      e.record(LF_SUB, os, L_R, L_A, L_B);
      c.get(L_A).get(L_B).op(Op.I64Eq).open(Op.If);
      e.rd(I, I.reg, os); c.set(L_R);
      if (I.rm >= 0) e.wr(I, I.rm, os, L_R); else e.writeRmw(os, L_R, I, k);
      c.op(Op.Else);
      e.setReg(0, os, L_B);
      if (I.rm < 0) e.writeRmw(os, L_B, I, k);
      c.op(Op.End);
      return;
    }
    case K.Leave: // rsp = rbp, then pop rbp (a fault leaves both as they were)
      c.get(L_REG + 5).set(L_EA);
      e.stackCanon(k);
      e.read(8, k);
      c.set(L_R);
      c.get(L_EA).i64(8, 0).op(Op.I64Add).set(L_REG + 4);
      c.get(L_R).set(L_REG + 5);
      e.written |= (1 << 4) | (1 << 5);
      return;
    case K.Pop:
      e.pop(L_R, k);
      c.get(L_R).set(L_REG + I.rm);
      e.written |= 1 << I.rm;
      return;
    case K.Not: case K.Neg: {
      const rmw = I.rm < 0;
      if (rmw) { e.ea(I, false); e.readRmw(os, k); } else e.rd(I, I.rm, os);
      c.set(L_A);
      if (I.kind === K.Not) {
        c.get(L_A).i64(-1, -1).op(Op.I64Xor);
        if (os === 4) c.i64(-1, 0).op(Op.I64And);
        else if (os === 1) c.i64(255, 0).op(Op.I64And);
        c.set(L_R);
      } else {
        c.i64(0, 0).get(L_A).op(Op.I64Sub);
        if (os === 4) c.i64(-1, 0).op(Op.I64And);
        else if (os === 1) c.i64(255, 0).op(Op.I64And);
        c.set(L_R);
        c.get(L_A).set(L_B);
        c.i64(0, 0).set(L_A);
        e.record(LF_SUB, os, L_R, L_A, L_B);
      }
      if (rmw) e.writeRmw(os, L_R, I, k); else e.wr(I, I.rm, os, L_R);
      return;
    }
    case K.IncDec: {
      e.cf(k);
      c.set(L_CF);
      const rmw = I.rm < 0;
      if (rmw) { e.ea(I, false); e.readRmw(os, k); } else e.rd(I, I.rm, os);
      c.set(L_A);
      c.get(L_A).i64(1, 0).op(I.op === 1 ? Op.I64Sub : Op.I64Add);
      if (os === 4) c.i64(-1, 0).op(Op.I64And);
      else if (os === 1) c.i64(255, 0).op(Op.I64And);
      c.set(L_R);
      c.i64(1, 0).set(L_B);
      c.get(L_CF).set(L_AUX);
      e.record(I.op === 1 ? LF_DEC : LF_INC, os, L_R, L_A, L_B);
      if (rmw) e.writeRmw(os, L_R, I, k); else e.wr(I, I.rm, os, L_R);
      return;
    }
    case K.Cmov:
      // the source is read whatever the condition (a fault on it is taken); a 32-bit cmov zero-extends anyway
      e.readE(I, os, k); c.set(L_R);
      e.cond(I.cc, k);
      c.open(Op.If);
      e.setReg(I.reg, os, L_R);
      if (os === 4) { c.op(Op.Else); e.reg(I.reg, 4); c.set(L_REG + I.reg); }
      c.op(Op.End);
      return;
    case K.Setcc:
      e.cond(I.cc, k);
      c.op(Op.I64ExtendI32U).set(L_R);
      if (I.rm >= 0) e.wr(I, I.rm, 1, L_R);
      else { e.ea(I, false); e.write(1, L_R, I, k); }
      return;
    default: throw new Error("wasm translate: unexpected kind");
  }
}

/** Shifts/rotates of a register by a constant, with exec/shift.ts's records (as translate_inl.ts). */
function emitShift(e: Emitter, I: Insn, k: number): void {
  const c = e.c, os = I.os, n = I.immLo, r = I.rm;
  const bits = os === 8 ? 64 : 32;
  e.reg(r, os); c.set(L_A);
  const bitOf = (l: number, b: number): void => { c.get(l).i64(b, 0).op(Op.I64ShrU).op(Op.I32WrapI64).i32(1).op(Op.I32And); };
  const cfOf = (cfFn: () => void, ofFn: () => void): void => e.cfOf(k, os, cfFn, ofFn);
  const resAux = (cfFn: () => void, ofFn: () => void): void => e.resAux(os, cfFn, ofFn);
  switch (I.op) {
    case 0: case 1: {
      if (os === 8) c.get(L_A).i64(n, 0).op(I.op === 0 ? Op.I64Rotl : Op.I64Rotr);
      else {
        // 32-bit rotate of the zero-extended value: (a << n | a >> (32 - n)) & mask
        const l = I.op === 0 ? n : 32 - n;
        c.get(L_A).i64(l, 0).op(Op.I64Shl).get(L_A).i64(32 - l, 0).op(Op.I64ShrU).op(Op.I64Or).i64(-1, 0).op(Op.I64And);
      }
      c.set(L_R);
      if (I.op === 0) cfOf(() => bitOf(L_R, 0), () => { bitOf(L_R, bits - 1); bitOf(L_R, 0); c.op(Op.I32Xor); });
      else cfOf(() => bitOf(L_R, bits - 1), () => { bitOf(L_R, bits - 1); bitOf(L_R, bits - 2); c.op(Op.I32Xor); });
      break;
    }
    case 4: case 6:
      c.get(L_A).i64(n, 0).op(Op.I64Shl);
      if (os === 4) c.i64(-1, 0).op(Op.I64And);
      c.set(L_R);
      resAux(() => bitOf(L_A, bits - n), () => { bitOf(L_R, bits - 1); bitOf(L_A, bits - n); c.op(Op.I32Xor); });
      break;
    case 5:
      c.get(L_A).i64(n, 0).op(Op.I64ShrU).set(L_R);
      resAux(() => bitOf(L_A, n - 1), () => bitOf(L_A, bits - 1));
      break;
    default: // sar
      if (os === 8) c.get(L_A).i64(n, 0).op(Op.I64ShrS);
      else c.get(L_A).op(Op.I32WrapI64).i32(n).op(Op.I32ShrS).op(Op.I64ExtendI32U);
      c.set(L_R);
      resAux(() => bitOf(L_A, n - 1), () => c.i32(0));
      break;
  }
  e.setReg(r, os, L_R);
}

/** Shifts/rotates of a register by CL (masked to 5 or 6 bits): a count of 0 changes neither the value nor the
 * flags (a 32-bit register is still zero-extended), as exec/shift.ts execGroup2. */
function emitShiftCl(e: Emitter, I: Insn, k: number): void {
  const c = e.c, os = I.os, r = I.rm;
  const bits = os === 8 ? 64 : 32;
  const m: [number, number] = os === 8 ? [-1, -1] : [-1, 0];
  e.reg(r, os); c.set(L_A);
  c.get(L_REG + 1).op(Op.I32WrapI64).i32(bits - 1).op(Op.I32And).set(L_N);
  const n = (): void => { c.get(L_N).op(Op.I64ExtendI32U); };
  const nk = (kk: number): void => { c.i32(kk).get(L_N).op(Op.I32Sub).op(Op.I64ExtendI32U); }; // kk - n
  const bitAt = (l: number, pos: () => void): void => { c.get(l); pos(); c.op(Op.I64ShrU).op(Op.I32WrapI64).i32(1).op(Op.I32And); };
  const bitK = (l: number, b: number): void => { c.get(l).i64(b, 0).op(Op.I64ShrU).op(Op.I32WrapI64).i32(1).op(Op.I32And); };
  c.get(L_A).set(L_R);
  c.get(L_N).open(Op.If);
  const cfOf = (cfFn: () => void, ofFn: () => void): void => e.cfOf(k, os, cfFn, ofFn);
  const resAux = (cfFn: () => void, ofFn: () => void): void => e.resAux(os, cfFn, ofFn);
  switch (I.op) {
    case 0: case 1:
      if (os === 8) { c.get(L_A); n(); c.op(I.op === 0 ? Op.I64Rotl : Op.I64Rotr); }
      else if (I.op === 0) { c.get(L_A); n(); c.op(Op.I64Shl).get(L_A); nk(32); c.op(Op.I64ShrU).op(Op.I64Or).i64(...m).op(Op.I64And); }
      else { c.get(L_A); n(); c.op(Op.I64ShrU).get(L_A); nk(32); c.op(Op.I64Shl).op(Op.I64Or).i64(...m).op(Op.I64And); }
      c.set(L_R);
      if (I.op === 0) cfOf(() => bitK(L_R, 0), () => { bitK(L_R, bits - 1); bitK(L_R, 0); c.op(Op.I32Xor); });
      else cfOf(() => bitK(L_R, bits - 1), () => { bitK(L_R, bits - 1); bitK(L_R, bits - 2); c.op(Op.I32Xor); });
      break;
    case 4: case 6:
      c.get(L_A); n(); c.op(Op.I64Shl).i64(...m).op(Op.I64And).set(L_R);
      resAux(() => bitAt(L_A, () => nk(bits)), () => { bitK(L_R, bits - 1); bitAt(L_A, () => nk(bits)); c.op(Op.I32Xor); });
      break;
    case 5:
      c.get(L_A); n(); c.op(Op.I64ShrU).set(L_R);
      resAux(() => bitAt(L_A, () => { n(); c.i64(1, 0).op(Op.I64Sub); }), () => bitK(L_A, bits - 1));
      break;
    default:
      if (os === 8) { c.get(L_A); n(); c.op(Op.I64ShrS); }
      else { c.get(L_A).op(Op.I32WrapI64).get(L_N).op(Op.I32ShrS).op(Op.I64ExtendI32U); }
      c.set(L_R);
      resAux(() => bitAt(L_A, () => { n(); c.i64(1, 0).op(Op.I64Sub); }), () => c.i32(0));
      break;
  }
  c.op(Op.End);
  e.prod = null; // the old record (count 0) or the new one
  e.setReg(r, os, L_R);
}

/** Registers an instruction reads / writes (for the entry loads and the exit stores). */
function regsOf(I: Insn): [number, number] {
  let rd = 0, wr = 0;
  const m = I.m;
  if (m !== null) { if (m.base >= 0) rd |= 1 << m.base; if (m.idx >= 0) rd |= 1 << m.idx; }
  if (I.rm >= 0) { rd |= 1 << I.rm; if (I.kind === K.Movx && I.srcSize === 1 && I.rex === 0 && I.rm >= 4 && I.rm < 8) rd |= 1 << (I.rm - 4); }
  switch (I.kind) {
    case K.Alu: case K.Test: case K.Mov: case K.Imul:
      rd |= 1 << I.reg;
      if (I.kind === K.Alu && I.op === 7) break;
      if (I.kind === K.Test) break;
      if (I.dstE) { if (I.rm >= 0) wr |= 1 << I.rm; } else wr |= 1 << I.reg;
      break;
    case K.MovImm: case K.Shift: case K.Not: case K.Neg: case K.IncDec:
      if (I.rm >= 0) wr |= 1 << I.rm;
      if (I.kind === K.Shift && I.immLo < 0) rd |= 1 << 1;
      break;
    case K.Lea: case K.Movsxd: case K.Movx: wr |= 1 << I.reg; break;
    case K.Push: wr |= 1 << 4; break; // (a register source is I.rm, read above)
    case K.Bswap: wr |= 1 << I.rm; break;
    case K.Cmov: rd |= 1 << I.reg; wr |= 1 << I.reg; break;
    case K.Setcc: if (I.rm >= 0) wr |= 1 << I.rm; break;
    case K.Pop: wr |= (1 << I.rm) | (1 << 4); break;
    case K.Ret: case K.Call: case K.CallInd: wr |= 1 << 4; break;
    case K.RepMovs: rd |= (1 << 1) | (1 << 6) | (1 << 7); wr |= (1 << 1) | (1 << 6) | (1 << 7); break;
    case K.RepStos: rd |= 1 | (1 << 1) | (1 << 7); wr |= (1 << 1) | (1 << 7); break;
    case K.Leave: rd |= 1 << 5; wr |= (1 << 4) | (1 << 5); break;
    case K.Cmpxchg: rd |= (1 << 0) | (1 << I.reg); wr |= 1 << 0; if (I.rm >= 0) wr |= 1 << I.rm; break;
  }
  // 8-bit operands without REX: 4..7 name ah, ch, dh, bh (bits of registers 0..3)
  if (I.rex === 0 && (I.os === 1 || (I.kind === K.Movx && I.srcSize === 1))) { rd |= (rd >> 4) & 15; wr |= (wr >> 4) & 15; }
  // every written register is also loaded (32-bit writes do not need it, but the exit stores all of them)
  return [rd | wr, wr];
}

/** Instruction kinds whose translation never writes the lazy-flag record's locals (jcc, cmov, setcc read it: with no
 * writer in the block, through the host from the scratch area). */
const FLAGLESS = new Set<K>([
  K.Mov, K.MovImm, K.Lea, K.Movsxd, K.Movx, K.Push, K.Pop, K.Ret, K.Call, K.CallInd, K.JmpInd, K.Jmp, K.Jcc, K.Cmov,
  K.Setcc, K.Leave, K.Nop, K.Step, K.RepMovs, K.RepStos, K.Not, K.Bswap,
]);

/** The region's instruction `k` falls through to nothing (it transfers control itself: jmp, ret, call). */
const FALL_NONE = -1;
/** ...or leaves the region at its next RIP (page end, instruction budget, an instruction outside the subset). */
const FALL_EXIT = -2;

/** Decodes the region at ram[phys..]: with `follow`, the instructions reachable from the entry through jcc/jmp
 * targets and fall-throughs on the same page (list order: depth-first sequences), else the straight run from the
 * entry to the first jmp/ret/call; with each one's successor (an index, or FALL_NONE / FALL_EXIT). */
function decodeRegion(ram: Uint8Array, phys: number, ripLo: number, ripHi: number, follow: boolean, phys2: number):
    { insns: Insn[]; fall: number[]; steps: number; cross: number } {
  const base = phys - (phys & 0xfff);
  const lim = Math.min(base + 4096, ram.length);
  const pageLo = ripLo & ~0xfff;
  const insns: Insn[] = [], fall: number[] = [];
  /** Index of the instruction at each decoded page offset. */
  const at = new Map<number, number>();
  const work = [ripLo & 0xfff];
  let steps = 0, cross = 0;
  const inPage = (I: Insn): boolean => I.thi === ripHi && (I.tlo & ~0xfff) === pageLo;
  /** The next linear page's RAM (phys2, when known) starts at page offset 4096 of the same RIP high half. */
  const nextOk = phys2 >= 0 && (pageLo >>> 0) !== 0xfffff000 && phys2 + 15 <= ram.length;
  while (work.length > 0) {
    let off = work.pop()!;
    let prev = -1;
    for (;;) {
      const seen = at.get(off);
      if (seen !== undefined) { if (prev >= 0) fall[prev] = seen; break; }
      if (insns.length >= MAX_INSNS) break;
      const p = base + off, lo = pageLo | off;
      let I: Insn, np: number;
      try { [I, np] = decode(ram, p, lim, lo, ripHi); } catch (e) {
        if (e !== NO) throw e;
        const across = nextOk && off > 4096 - 15 ? decodeAcross(ram, p, lim, phys2, lo, ripHi) : null;
        if (across !== null) {
          // the instruction goes on into the next page: the region ends after it (the cache tracks both pages)
          I = across[0];
          cross = across[1];
          np = lim;
        } else {
          // not translated: the interpreter runs it inside the block, unless it transfers control or changes what
          // the block relies on (translate_len.ts refuses those: the region leaves before it)
          const len = STEPS ? insnLength(ram, p, lim) : 0;
          if (len <= 0) break;
          const [nl, nh] = ripAdd(lo, ripHi, len);
          I = {
            kind: K.Step, lo, hi: ripHi, nlo: nl, nhi: nh, os: 4, op: 0, reg: 0, rm: -1, m: null, dstE: false, imm: false,
            immLo: 0, immHi: 0, rex: 0, srcSize: 0, signed: false, cc: -1, tlo: 0, thi: 0, seg: -1,
          };
          np = p + len;
          steps++;
        }
      }
      const k = insns.length;
      insns.push(I); fall.push(FALL_EXIT); at.set(off, k);
      if (prev >= 0) fall[prev] = k;
      prev = k;
      if (transfers(I)) {
        fall[k] = FALL_NONE;
        if (follow && I.kind === K.Jmp && inPage(I)) work.push(I.tlo & 0xfff);
        break;
      }
      if (follow && I.kind === K.Jcc && inPage(I)) work.push(I.tlo & 0xfff);
      if (np >= lim || I.nhi !== ripHi) break;
      off = np - base;
    }
  }
  return { insns, fall, steps, cross };
}

/** Decodes the subset instruction at ram[p..lim) (the end of a page) that goes on at ram[phys2] (the next linear
 * page's RAM): [instruction, bytes of the next page it uses], or null when it is not in the subset or ends on
 * the first page after all (ram[lim] is the next physical page, not the next linear one: decode() stops there). */
function decodeAcross(ram: Uint8Array, p: number, lim: number, phys2: number, lo: number, hi: number): [Insn, number] | null {
  const head = lim - p;
  const buf = new Uint8Array(head + 15);
  buf.set(ram.subarray(p, lim));
  buf.set(ram.subarray(phys2, phys2 + 15), head);
  try {
    const [I, np] = decode(buf, 0, buf.length, lo, hi);
    return np > head ? [I, np - head] : null;
  } catch (e) {
    if (e !== NO) throw e;
    return null;
  }
}

/** Translates the region at ram[phys..] (RIP (ripLo, ripHi)) into one function; null when it does not loop
 * (unless `any`), is too small, or has more in-block interpreter steps than translated instructions. `pages`: size of the shared
 * memory in 64 KiB pages.
 *
 * Control flow: every instruction a branch or a fall-through reaches from elsewhere starts a case of a dispatch
 * loop (`loop $d; block $e[m-1] ... block $e[0]; br_table pc; end; case 0; end; case 1 ...`); a transfer sets
 * the case number and branches to $d, a fall-through to the next instruction in list order just goes on.
 * Instruction counting: extra += k + 1 - t on a transfer from k to t, so that (extra + index) is always the count
 * of instructions retired; backward transfers leave once extra reaches LOOP_MAX (interrupts are polled between
 * dispatches). */
export function translateWasm(ram: Uint8Array, phys: number, ripLo: number, ripHi: number, pages: number, any = false, phys2 = -1): WasmTranslation | null {
  const { insns, fall, steps, cross } = decodeRegion(ram, phys, ripLo, ripHi, any || REGIONS, phys2);
  const n = insns.length;
  if (n === 0 || steps * 2 > n) return null;
  const at = new Map<number, number>();
  insns.forEach((I, k) => at.set(I.lo, k));
  /** Internal target index of a jcc/jmp, or -1. */
  const target = (I: Insn): number => (I.thi === ripHi ? at.get(I.tlo) ?? -1 : -1);
  const caseStarts = new Set<number>([0]);
  let loops = false;
  for (let k = 0; k < n; k++) {
    const I = insns[k]!;
    if (I.kind === K.Jcc || I.kind === K.Jmp) {
      const t = target(I);
      if (t >= 0) { caseStarts.add(t); if (t <= k) loops = true; }
    }
    const f = fall[k]!;
    if (f >= 0 && f !== k + 1) { caseStarts.add(f); if (f <= k) loops = true; }
  }
  if (!loops && (!(any || WASM_ALL) || n < MIN_INSNS)) return null;
  const cases = [...caseStarts].sort((a, b) => a - b);
  const caseOf = new Map<number, number>();
  cases.forEach((k, j) => caseOf.set(k, j));
  let used = 0, written = 0;
  for (const I of insns) { const [r, w] = regsOf(I); used |= r; written |= w; }
  const e = new Emitter(insns);
  e.rec = insns.some((I) => !FLAGLESS.has(I.kind));
  // Spills before a host call that may throw store the registers written so far: in a block without backward
  // transfers, those written by the instructions before it in list order (a superset of what ran; the others
  // still hold their values from the entry, which the scratch area has too). Loops and regions store them all.
  e.written = loops || any || REGIONS ? written : 0;
  const c = e.c;
  /** Continues at instruction t after instruction k (a taken branch or a fall-through elsewhere). */
  const transfer = (k: number, t: number): void => {
    if (t <= k) {
      c.get(L_EXTRA).i32(k + 1 - t).op(Op.I32Add).tee(L_EXTRA).i32(LOOP_MAX).op(Op.I32LtS).open(Op.If);
      c.i32(caseOf.get(t)!).set(L_PC).br(Op.Br, c.level - 2);
      c.op(Op.End);
      e.exit(insns[t]!.lo, insns[t]!.hi, t);
    } else {
      c.get(L_EXTRA).i32(t - k - 1).op(Op.I32Sub).set(L_EXTRA);
      c.i32(caseOf.get(t)!).set(L_PC).br(Op.Br, c.level - 2);
    }
  };
  // entry: registers, record; the shared exit's block (level 1), the dispatch loop (level 2) and one block per
  // case (case 0 innermost)
  e.reload(used);
  c.i32(0).set(L_PC);
  c.open(Op.Block);
  c.open(Op.Loop);
  for (let j = cases.length - 1; j >= 0; j--) c.open(Op.Block);
  c.get(L_PC).brTable(cases.map((_, j) => j), 0);
  for (let k = 0; k < n; k++) {
    if (caseOf.has(k)) { c.op(Op.End); e.prod = null; }
    const I = insns[k]!;
    if (I.kind === K.Step) {
      e.hostStep(I, k, used);
    } else if (I.kind === K.RepMovs || I.kind === K.RepStos) {
      e.repString(I, k, used);
    } else if (I.kind === K.Ret) {
      // pop the return address; #GP when it is not canonical (before RSP moves)
      c.get(L_REG + 4).set(L_EA);
      e.stackCanon(k);
      e.read(8, k);
      c.set(L_A);
      c.get(L_A).i64(16, 0).op(Op.I64Shl).i64(16, 0).op(Op.I64ShrS).get(L_A).op(Op.I64Ne).open(Op.If);
      e.spill(k);
      c.i32(13).call(F_FAULT).op(Op.Unreachable);
      c.op(Op.End);
      c.get(L_REG + 4).i64(8, 0).op(Op.I64Add).set(L_REG + 4);
      e.exitDyn(L_A, k + 1);
    } else if (I.kind === K.Call) {
      c.i64(I.nlo, I.nhi).set(L_R);
      e.push(L_R, I, k);
      e.exit(I.tlo, I.thi, k + 1);
    } else if (I.kind === K.CallInd || I.kind === K.JmpInd) {
      // the target (register or memory); #GP(0) when it is not canonical, before a call pushes
      e.readE(I, 8, k);
      c.set(L_A);
      c.get(L_A).i64(16, 0).op(Op.I64Shl).i64(16, 0).op(Op.I64ShrS).get(L_A).op(Op.I64Ne).open(Op.If);
      e.spill(k);
      c.i32(13).call(F_FAULT).op(Op.Unreachable);
      c.op(Op.End);
      if (I.kind === K.CallInd) { c.i64(I.nlo, I.nhi).set(L_R); e.push(L_R, I, k); }
      e.exitDyn(L_A, k + 1);
    } else if (I.kind === K.Jcc || I.kind === K.Jmp) {
      const t = target(I);
      if (I.kind === K.Jcc) { e.cond(I.cc, k); c.open(Op.If); }
      if (t >= 0) transfer(k, t); else e.exit(I.tlo, I.thi, k + 1);
      if (I.kind === K.Jcc) c.op(Op.End);
    } else emitInsn(e, I, k);
    const f = fall[k]!;
    if (f === FALL_EXIT) e.exit(I.nlo, I.nhi, k + 1);
    else if (f >= 0 && f !== k + 1) transfer(k, f);
  }
  // the end of the last case and of the loop are unreachable (every path branched or returned)
  c.op(Op.End);
  c.op(Op.Unreachable);
  c.op(Op.End);
  e.written |= written; // the shared exit stores every register the block writes
  e.exitTail();
  const lens = Uint8Array.from(insns, (I) => Math.min(15, ((I.nlo >>> 0) - (I.lo >>> 0)) >>> 0));
  const bytes = moduleBytes(pages, IMPORTS, [T.I32, T.I32, T.I32], [T.I32], LOCALS, c);
  const conts: number[] = [];
  for (let k = 0; k < n; k++) if (fall[k] === FALL_EXIT && insns[k]!.nhi === ripHi) conts.push(insns[k]!.nlo);
  return {
    bytes, ripsLo: Int32Array.from(insns.map((x) => x.lo)), ripsHi: Int32Array.from(insns.map((x) => x.hi)), lens,
    used, written, insns: n, steps: steps > 0, cross, conts,
  };
}
