// Random user-mode instruction sequences (AT&T syntax for binutils `as`), with a start state, and for every
// instruction the set of flags that is architecturally undefined afterwards (Intel SDM vol. 2 "Flags
// Affected"; AMD APM vol. 3 agrees for everything generated here). Generated code never faults: memory goes
// through r15 (scratch middle, never written) and r14 (index 0..15, never written) or absolute scratch
// addresses; divisors are set up non-zero with a dividend that cannot overflow; string ops get rsi/rdi/rcx/DF
// set up to stay inside the scratch area. rsp is never an operand except as a lea base.
import * as L from "./layout.ts";
import type { Item, Sequence, StartState } from "./program.ts";

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400;
export const ARITH = CF | PF | AF | ZF | SF | OF;

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x;
  }
  int(n: number): number { return this.u32() % n; }
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  bool(p = 0.5): boolean { return this.u32() / 4294967296 < p; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]!; }
  u64(): bigint { return (BigInt(this.u32()) << 32n) | BigInt(this.u32()); }
}

type Size = 8 | 16 | 32 | 64;
const SUF: Record<Size, string> = { 8: "b", 16: "w", 32: "l", 64: "q" };
const MASK: Record<Size, bigint> = { 8: 0xffn, 16: 0xffffn, 32: 0xffffffffn, 64: 0xffffffffffffffffn };

// Registers by number (0..15) and size; 4 = rsp, 14/15 = the memory base/index: never destinations.
const R64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const R32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"];
const R16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"];
const R8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"];
const HIGH8 = ["ah", "ch", "dh", "bh"];
const DEST = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const SRC = [...DEST, 14, 15];
function reg(n: number, size: Size): string {
  return "%" + (size === 64 ? R64 : size === 32 ? R32 : size === 16 ? R16 : R8)[n]!;
}

const CONDS: [string, number][] = [
  ["o", OF], ["no", OF], ["b", CF], ["ae", CF], ["e", ZF], ["ne", ZF], ["be", CF | ZF], ["a", CF | ZF],
  ["s", SF], ["ns", SF], ["p", PF], ["np", PF], ["l", SF | OF], ["ge", SF | OF], ["le", ZF | SF | OF], ["g", ZF | SF | OF],
];

const SSE_RR = [
  "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddsb", "paddsw", "paddusb", "paddusw",
  "psubsb", "psubsw", "psubusb", "psubusw", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "pavgb", "pavgw",
  "pminub", "pmaxub", "pminsw", "pmaxsw", "psadbw", "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd",
  "pand", "pandn", "por", "pxor", "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd",
  "punpckhdq", "punpckhqdq", "packsswb", "packssdw", "packuswb", "psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq",
  "psraw", "psrad", "movdqa", "movdqu", "movaps", "movups", "movapd", "movupd", "andps", "andnps", "orps", "xorps",
  "andpd", "orpd", "xorpd", "unpcklps", "unpckhps", "unpcklpd", "unpckhpd",
];
const SSE_SHIFT_IMM = ["psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"];

export interface GenOptions {
  /** Instructions (items) per sequence. */
  length: number;
  /** Only these generator families (names of FAMILIES); default all. */
  families?: readonly string[];
  /** Families never generated. */
  exclude?: readonly string[];
  /** End about 5 % of the sequences with a faulting instruction (default true). */
  faults?: boolean;
  /** Known-failing instruction classes (KNOWN_FAILING keys) the generator steers around. */
  avoid?: readonly string[];
}

/** Per-sequence generator state. */
class Ctx {
  undef = 0;
  lines: string[] = [];
  /** x87 stack depth the generator knows of (fninit in the prologue empties it). */
  x87depth = 0;
  /** An x87 item was generated (its control word is set up). */
  x87used = false;
  /** FSW condition codes undefined now. */
  fswUndef = 0;
  constructor(readonly r: Rng, readonly known: ReadonlySet<string>) {}
  /** Flags `reads` must all be defined now. */
  canRead(flags: number): boolean { return (this.undef & flags) === 0; }
  /** An instruction that sets `defined` flags and leaves `undefined` flags undefined. */
  flags(defined: number, undefinedOut = 0): void { this.undef = (this.undef & ~(defined | undefinedOut)) | undefinedOut; }
  emit(...l: string[]): void { this.lines.push(...l); }

  size(allow8 = true): Size { return this.r.pick(allow8 ? [8, 16, 32, 64, 64, 32] as Size[] : [16, 32, 64, 64, 32] as Size[]); }
  dst(size: Size): string { return reg(this.r.pick(DEST), size); }
  src(size: Size): string { return reg(this.r.pick(SRC), size); }
  /** Two registers usable together in one instruction (legacy high-byte registers only without REX). */
  pair(size: Size, srcAny = true): [string, string] {
    if (size === 8 && this.r.bool(0.3)) {
      const legacy = ["%al", "%cl", "%dl", "%bl", "%ah", "%ch", "%dh", "%bh"];
      return [this.r.pick(legacy), this.r.pick(legacy)];
    }
    return [this.dst(size), srcAny ? this.src(size) : this.dst(size)];
  }
  /** A memory operand of `bytes` inside the scratch area (16-byte aligned when `align16`). */
  mem(bytes: number, align16 = false): string {
    if (align16) return `${this.r.range(-16, 15) * 16}(%r15)`;
    const k = this.r.int(10);
    const disp = this.r.range(-240, 112);
    if (k < 4) return `${disp}(%r15)`;
    if (k < 7) return `${disp}(%r15,%r14,${this.r.pick([1, 2, 4, 8])})`;
    if (k < 8) return `${disp}(%r15d,%r14d,${this.r.pick([1, 2, 4, 8])})`;
    if (k < 9) return `0x${(L.SCRATCH + this.r.int(L.SCRATCH_BYTES - bytes)).toString(16)}`;
    return `(%r15)`;
  }
  imm(size: Size): bigint {
    const r = this.r;
    const k = r.int(6);
    let v: bigint;
    if (k === 0) v = BigInt(r.range(-2, 2));
    else if (k === 1) v = BigInt(r.range(-128, 127));
    else if (k === 2) v = size === 8 ? 0x80n : size === 16 ? 0x8000n : 0x80000000n;
    else v = BigInt(r.u32() | 0);
    if (size === 64 && (v > 0x7fffffffn || v < -0x80000000n)) v = BigInt.asIntN(32, v);
    return BigInt.asIntN(size === 64 ? 32 : size, v);
  }
}

function val(r: Rng, size: Size): bigint {
  const k = r.int(9);
  let v: bigint;
  switch (k) {
    case 0: v = 0n; break;
    case 1: v = BigInt(r.range(1, 3)); break;
    case 2: v = -BigInt(r.range(1, 3)); break;
    case 3: v = 1n << BigInt(r.int(size)); break;
    case 4: v = (1n << BigInt(size - 1)) - BigInt(r.int(2)); break;
    case 5: v = BigInt(r.u32()); break;
    case 6: v = BigInt(r.int(256)); break;
    default: v = r.u64();
  }
  return v & MASK[size];
}

type Family = (c: Ctx) => boolean;

const alu: Family = (c) => {
  const r = c.r;
  const op = r.pick(["add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test"]);
  if ((op === "adc" || op === "sbb") && !c.canRead(CF)) return false;
  const size = c.size();
  const s = SUF[size];
  const form = r.int(5);
  const lock = op !== "cmp" && op !== "test" && r.bool(0.3) ? "lock " : "";
  if (form === 0) { const [d, x] = c.pair(size); c.emit(`${op}${s} ${x}, ${d}`); }
  else if (form === 1) c.emit(`${op}${s} ${c.mem(size / 8)}, ${c.dst(size)}`);
  else if (form === 2) c.emit(`${lock}${op}${s} ${c.src(size)}, ${c.mem(size / 8)}`);
  else if (form === 3) c.emit(`${op}${s} $${c.imm(size)}, ${c.dst(size)}`);
  else c.emit(`${lock}${op}${s} $${c.imm(size)}, ${c.mem(size / 8)}`);
  if (op === "and" || op === "or" || op === "xor" || op === "test") c.flags(ARITH & ~AF, AF);
  else c.flags(ARITH);
  return true;
};

const unary: Family = (c) => {
  const r = c.r;
  const op = r.pick(["inc", "dec", "neg", "not"]);
  const size = c.size();
  const target = r.bool(0.3) ? c.mem(size / 8) : c.dst(size);
  c.emit(`${target.startsWith("%") || !r.bool(0.3) ? "" : "lock "}${op}${SUF[size]} ${target}`);
  if (op === "inc" || op === "dec") c.flags(ARITH & ~CF);
  else if (op === "neg") c.flags(ARITH);
  return true;
};

const shift: Family = (c) => {
  const r = c.r;
  const op = r.pick(["shl", "shr", "sar", "sal", "rol", "ror", "rcl", "rcr"]);
  if ((op === "rcl" || op === "rcr") && !c.canRead(CF)) return false;
  const size = c.size();
  const target = r.bool(0.25) ? c.mem(size / 8) : c.dst(size);
  const how = r.int(3);
  let count: number;
  if (how === 0) { count = 1; c.emit(`${op}${SUF[size]} ${target}`); }
  else if (how === 1) { count = r.range(0, 70); c.emit(`${op}${SUF[size]} $${count}, ${target}`); }
  else {
    if (target === "%cl" || target === "%ch") return false;
    count = r.range(0, 70);
    c.emit(`movb $${count}, %cl`, `${op}${SUF[size]} %cl, ${target}`);
  }
  const mc = count & (size === 64 ? 63 : 31);
  if (mc === 0) return true;
  const of = mc === 1 ? OF : 0;
  if (op === "rol" || op === "ror" || op === "rcl" || op === "rcr") c.flags(CF | of, OF & ~of);
  else {
    const cfUndef = (op === "shl" || op === "shr" || op === "sal") && mc >= size ? CF : 0;
    c.flags((CF & ~cfUndef) | SF | ZF | PF | of, AF | (OF & ~of) | cfUndef);
  }
  return true;
};

const shiftd: Family = (c) => {
  const r = c.r;
  const op = r.pick(["shld", "shrd"]);
  const size = r.pick([16, 32, 64] as Size[]);
  const lim = size === 64 ? 63 : 31;
  let count = r.range(0, 70);
  if (size === 16 && (count & 31) > 16) count = r.range(0, 16);
  const target = r.bool(0.25) ? c.mem(size / 8) : c.dst(size);
  const src = c.src(size);
  if (r.bool()) c.emit(`${op}${SUF[size]} $${count}, ${src}, ${target}`);
  else {
    if (target === "%cl" || src === reg(1, size) || target === reg(1, size)) {
      c.emit(`${op}${SUF[size]} $${count}, ${src}, ${target}`);
    } else c.emit(`movb $${count}, %cl`, `${op}${SUF[size]} %cl, ${src}, ${target}`);
  }
  const mc = count & lim;
  if (mc === 0) return true;
  const of = mc === 1 ? OF : 0;
  c.flags(CF | SF | ZF | PF | of, AF | (OF & ~of));
  return true;
};

const muls: Family = (c) => {
  const r = c.r;
  const k = r.int(4);
  if (k <= 1) {
    const size = c.size();
    const op = k === 0 ? "mul" : "imul";
    c.emit(`${op}${SUF[size]} ${r.bool(0.3) ? c.mem(size / 8) : size === 8 && r.bool(0.3) ? r.pick(["%ah", "%bh", "%ch", "%dh"]) : c.src(size)}`);
  } else if (k === 2) {
    const size = c.size(false);
    c.emit(`imul${SUF[size]} ${r.bool(0.3) ? c.mem(size / 8) : c.src(size)}, ${c.dst(size)}`);
  } else {
    const size = c.size(false);
    c.emit(`imul${SUF[size]} $${c.imm(size)}, ${r.bool(0.3) ? c.mem(size / 8) : c.src(size)}, ${c.dst(size)}`);
  }
  c.flags(CF | OF, SF | ZF | AF | PF);
  return true;
};

function movImm(size: Size, v: bigint, dst: string): string {
  const sv = BigInt.asIntN(size, v);
  if (size === 64 && (sv > 0x7fffffffn || sv < -0x80000000n)) return `movabsq $${sv}, ${dst}`;
  return `mov${SUF[size]} $${sv}, ${dst}`;
}

const divs: Family = (c) => {
  const r = c.r;
  const size = c.size();
  const signed = r.bool();
  // divisor: a register other than rax/rdx (and their bytes), or memory
  const dn = r.pick([1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  const useMem = r.bool(0.3);
  const divisorOp = useMem ? c.mem(size / 8) : size === 8 && dn <= 3 && r.bool(0.3) ? (dn === 1 ? "%ch" : "%bh") : reg(dn, size);
  let d = val(r, size);
  if (useMem && size === 64) d = BigInt.asUintN(64, BigInt.asIntN(32, d & 0xffffffffn));
  if (d === 0n) d = 7n;
  if (signed && BigInt.asIntN(size, d) === -1n) d = 3n;
  c.emit(movImm(size, d, divisorOp));
  if (signed) {
    c.emit(size === 8 ? "cbtw" : size === 16 ? "cwtd" : size === 32 ? "cltd" : "cqto");
  } else {
    const hi = size === 64 ? (r.u64() % d) : BigInt(r.u32()) % d;
    c.emit(movImm(size, hi, size === 8 ? "%ah" : reg(2, size)));
  }
  c.emit(`${signed ? "idiv" : "div"}${SUF[size]} ${divisorOp}`);
  c.flags(0, ARITH);
  return true;
};

const bits: Family = (c) => {
  const r = c.r;
  const k = r.int(3);
  const size = c.size(false);
  if (k === 0 || k === 1) {
    const op = r.pick(["bt", "bts", "btr", "btc"]);
    if (k === 0) {
      const [d, s] = c.pair(size);
      c.emit(`${op}${SUF[size]} ${s}, ${d}`);
    } else {
      const lock = op !== "bt" && r.bool(0.3) ? "lock " : "";
      const m = r.bool() ? c.mem(size / 8) : c.dst(size);
      c.emit(`${m.startsWith("%") ? "" : lock}${op}${SUF[size]} $${r.int(256)}, ${m}`);
    }
    c.flags(CF, OF | SF | AF | PF);
  } else {
    const op = r.pick(["bsf", "bsr"]);
    c.emit(`${op}${SUF[size]} ${r.bool(0.3) ? c.mem(size / 8) : c.src(size)}, ${c.dst(size)}`);
    c.flags(ZF, CF | OF | SF | AF | PF);
  }
  return true;
};

const condOps: Family = (c) => {
  const r = c.r;
  const ok = CONDS.filter(([, f]) => c.canRead(f));
  if (ok.length === 0) return false;
  const [cc] = r.pick(ok);
  if (r.bool()) c.emit(`set${cc} ${r.bool(0.3) ? c.mem(1) : r.bool(0.2) ? r.pick(["%ah", "%bh", "%ch", "%dh"]) : c.dst(8)}`);
  else {
    const size = c.size(false);
    c.emit(`cmov${cc}${SUF[size]} ${r.bool(0.3) ? c.mem(size / 8) : c.src(size)}, ${c.dst(size)}`);
  }
  return true;
};

const flagOps: Family = (c) => {
  const r = c.r;
  const k = r.int(5);
  if (k === 0) { c.emit("clc"); c.flags(CF); }
  else if (k === 1) { c.emit("stc"); c.flags(CF); }
  else if (k === 2) { if (!c.canRead(CF)) return false; c.emit("cmc"); }
  else if (k === 3) { if (!c.canRead(SF | ZF | AF | PF | CF)) return false; c.emit("lahf"); }
  else { c.emit("sahf"); c.flags(SF | ZF | AF | PF | CF); }
  return true;
};

const leas: Family = (c) => {
  const r = c.r;
  const size = r.pick([16, 32, 64, 64] as Size[]);
  const a32 = r.bool(0.2);
  const rs = (n: number): string => (a32 ? "%" + R32[n] : "%" + R64[n]);
  const base = r.int(17); // 16 = no base
  let idx = r.int(17);
  if (idx === 4) idx = 16;
  const disp = r.pick([0, r.range(-128, 127), r.u32() | 0]);
  let ea: string;
  if (r.bool(0.05) && !a32) ea = `${disp}(%rip)`;
  else if (base === 16 && idx === 16) ea = `${disp}`;
  else ea = `${disp === 0 ? "" : disp}(${base === 16 ? "" : rs(base)}${idx === 16 ? "" : `,${rs(idx)},${r.pick([1, 2, 4, 8])}`})`;
  c.emit(`lea${SUF[size]} ${ea}, ${c.dst(size)}`);
  return true;
};

const moves: Family = (c) => {
  const r = c.r;
  const k = r.int(8);
  if (k === 0) {
    const [op, from, to] = r.pick([
      ["movzbw", 8, 16], ["movzbl", 8, 32], ["movzbq", 8, 64], ["movzwl", 16, 32], ["movzwq", 16, 64],
      ["movsbw", 8, 16], ["movsbl", 8, 32], ["movsbq", 8, 64], ["movswl", 16, 32], ["movswq", 16, 64], ["movslq", 32, 64],
    ] as [string, Size, Size][]);
    const high = from === 8 && to !== 64 && r.bool(0.2);
    const src = high ? r.pick(["%ah", "%bh", "%ch", "%dh"]) : r.bool(0.3) ? c.mem(from / 8) : c.src(from);
    const dst = high ? reg(r.pick([0, 1, 2, 3, 5, 6, 7]), to) : c.dst(to);
    c.emit(`${op} ${src}, ${dst}`);
  } else if (k === 1) {
    const size = c.size();
    const [a, b] = c.pair(size, false);
    c.emit(r.bool() ? `xchg${SUF[size]} ${a}, ${b}` : `xchg${SUF[size]} ${c.dst(size)}, ${c.mem(size / 8)}`);
  } else if (k === 2) {
    const size = c.size();
    const lock = r.bool(0.5) ? "lock " : "";
    if (r.bool()) { const [a, b] = c.pair(size, false); c.emit(`xadd${SUF[size]} ${a}, ${b}`); }
    else c.emit(`${lock}xadd${SUF[size]} ${c.dst(size)}, ${c.mem(size / 8)}`);
    c.flags(ARITH);
  } else if (k === 3) {
    const size = c.size();
    const lock = r.bool(0.5) ? "lock " : "";
    if (r.bool()) { const [a, b] = c.pair(size, false); c.emit(`cmpxchg${SUF[size]} ${a}, ${b}`); }
    else c.emit(`${lock}cmpxchg${SUF[size]} ${c.src(size)}, ${c.mem(size / 8)}`);
    c.flags(ARITH);
  } else if (k === 4) {
    const size = r.pick([32, 64] as Size[]);
    c.emit(`bswap${SUF[size]} ${c.dst(size)}`);
  } else if (k === 5) {
    c.emit(r.pick(["cbtw", "cwtl", "cltq", "cwtd", "cltd", "cqto"]));
  } else {
    const size = c.size();
    const f = r.int(4);
    if (f === 0) { const [a, b] = c.pair(size); c.emit(`mov${SUF[size]} ${b}, ${a}`); }
    else if (f === 1) c.emit(`mov${SUF[size]} ${c.mem(size / 8)}, ${c.dst(size)}`);
    else if (f === 2) c.emit(`mov${SUF[size]} ${c.src(size)}, ${c.mem(size / 8)}`);
    else c.emit(movImm(size, val(r, size), c.dst(size)));
  }
  return true;
};

const strings: Family = (c) => {
  const r = c.r;
  const op = r.pick(["movs", "stos", "lods", "cmps", "scas"]);
  const size = c.size();
  const n = r.range(0, 16);
  const down = r.bool(0.4);
  const off = (): number => (down ? r.range(0, 120) : r.range(-240, -8));
  const si = off();
  // Sometimes overlap source and destination closely (memmove-like and pattern-propagating copies).
  let di = op === "movs" && r.bool(0.3) ? si + r.range(-9, 9) : off();
  if (c.known.has("movs-overlap") && op === "movs" && !down && size > 8 && di > si && di - si < size / 8) di = si;
  c.emit(`lea ${si}(%r15), %rsi`, `lea ${di}(%r15), %rdi`, `mov $${n}, %ecx`, down ? "std" : "cld");
  const rep = r.bool(0.85);
  const prefix = !rep ? "" : op === "cmps" || op === "scas" ? r.pick(["repe ", "repne "]) : "rep ";
  if (r.bool(0.2)) {
    // 32-bit addressing: esi/edi/ecx only (set garbage in the upper halves)
    c.emit("bts $40, %rsi", "bts $33, %rdi", "bts $35, %rcx", ".byte 0x67");
    c.flags(CF, OF | SF | AF | PF);
  }
  c.emit(`${prefix}${op}${SUF[size]}`);
  if ((op === "cmps" || op === "scas") && (!rep || n > 0)) c.flags(ARITH);
  return true;
};

const sse: Family = (c) => {
  const r = c.r;
  const x = (): string => `%xmm${r.int(16)}`;
  const k = r.int(13);
  if (k < 5) {
    const op = r.pick(SSE_RR);
    if (r.bool(0.25)) {
      if ((op === "movdqa" || op === "movdqu" || op.startsWith("mova") || op.startsWith("movu")) && r.bool()) {
        c.emit(`${op} ${x()}, ${c.mem(16, !op.startsWith("movu") && op !== "movdqu")}`);
      } else c.emit(`${op} ${c.mem(16, !op.startsWith("movu") && op !== "movdqu")}, ${x()}`);
    } else c.emit(`${op} ${x()}, ${x()}`);
  } else if (k === 5) {
    c.emit(`${r.pick(["pshufd", "pshuflw", "pshufhw", "shufps", "shufpd"])} $${r.int(256)}, ${r.bool(0.2) ? c.mem(16, true) : x()}, ${x()}`);
  } else if (k === 6) {
    c.emit(`${r.pick(["psrldq", "pslldq"])} $${r.range(0, 20)}, ${x()}`);
  } else if (k === 7) {
    c.emit(`${r.pick(SSE_SHIFT_IMM)} $${r.range(0, 70)}, ${x()}`);
  } else if (k === 8) {
    c.emit(`pmovmskb ${x()}, ${reg(r.pick(DEST), r.pick([32, 64] as Size[]))}`);
  } else if (k === 9) {
    const f = r.int(6);
    if (f === 0) c.emit(`movd ${c.src(32)}, ${x()}`);
    else if (f === 1) c.emit(`movd ${x()}, ${c.dst(32)}`);
    else if (f === 2) c.emit(`movq ${c.src(64)}, ${x()}`);
    else if (f === 3) c.emit(`movq ${x()}, ${c.dst(64)}`);
    else if (f === 4) c.emit(r.bool() ? `movd ${c.mem(4)}, ${x()}` : `movd ${x()}, ${c.mem(4)}`);
    else c.emit(r.bool() ? `movq ${c.mem(8)}, ${x()}` : `movq ${x()}, ${c.mem(8)}`);
  } else if (k === 10) {
    if (r.bool()) c.emit(`pextrw $${r.int(256)}, ${x()}, ${c.dst(32)}`);
    else c.emit(`pinsrw $${r.int(256)}, ${r.bool(0.3) ? c.mem(2) : c.src(32)}, ${x()}`);
  } else if (k === 11) {
    c.emit(`${r.pick(["movq", "movhlps", "movlhps", "movss", "movsd"])} ${x()}, ${x()}`);
  } else {
    const op = r.pick(["movlps", "movhps", "movlpd", "movhpd", "movss", "movsd", "movq"]);
    const bytes = op === "movss" ? 4 : 8;
    c.emit(r.bool() ? `${op} ${c.mem(bytes)}, ${x()}` : `${op} ${x()}, ${c.mem(bytes)}`);
  }
  return true;
};

function fpVal(r: Rng): number {
  const k = r.int(8);
  if (k === 0) return r.pick([0, -0, 1, -1, 0.5, Infinity, -Infinity, NaN, 2 ** 31, -(2 ** 31), 2 ** 63, 1e-40, -1e-310, 1.5, 2.5, -2.5]);
  if (k === 1) return r.range(-1000, 1000);
  if (k === 2) return r.range(-1000, 1000) / r.range(1, 64);
  if (k === 3) return (r.u32() / 4294967296) * 2 ** r.range(-150, 150) * (r.bool() ? 1 : -1);
  return (r.u32() - 2147483648) / r.range(1, 100000);
}

const MMX_RR = [
  "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddsb", "paddsw", "paddusb", "paddusw",
  "psubsb", "psubsw", "psubusb", "psubusw", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "pavgb", "pavgw",
  "pminub", "pmaxub", "pminsw", "pmaxsw", "psadbw", "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd",
  "pand", "pandn", "por", "pxor", "punpcklbw", "punpcklwd", "punpckldq", "punpckhbw", "punpckhwd", "punpckhdq",
  "packsswb", "packssdw", "packuswb", "psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad", "movq",
];

const mmx: Family = (c) => {
  const r = c.r;
  const m = (): string => `%mm${r.int(8)}`;
  const k = r.int(8);
  if (k < 4) c.emit(`${r.pick(MMX_RR)} ${r.bool(0.25) ? c.mem(8) : m()}, ${m()}`);
  else if (k === 4) c.emit(`${r.pick(SSE_SHIFT_IMM.filter((x) => x !== "psllq" || true))} $${r.range(0, 70)}, ${m()}`);
  else if (k === 5) {
    const f = r.int(6);
    if (f === 0) c.emit(`movd ${c.src(32)}, ${m()}`);
    else if (f === 1) c.emit(`movd ${m()}, ${c.dst(32)}`);
    else if (f === 2) c.emit(`movq ${c.src(64)}, ${m()}`);
    else if (f === 3) c.emit(`movq ${m()}, ${c.dst(64)}`);
    else if (f === 4) c.emit(`movq ${m()}, ${c.mem(8)}`);
    else c.emit(r.bool() ? `movd ${c.mem(4)}, ${m()}` : `movd ${m()}, ${c.mem(4)}`);
  } else if (k === 6) {
    const f = r.int(5);
    if (f === 0) c.emit(`pshufw $${r.int(256)}, ${r.bool(0.3) ? c.mem(8) : m()}, ${m()}`);
    else if (f === 1) c.emit(`pextrw $${r.int(256)}, ${m()}, ${c.dst(32)}`);
    else if (f === 2) c.emit(`pinsrw $${r.int(256)}, ${r.bool(0.3) ? c.mem(2) : c.src(32)}, ${m()}`);
    else if (f === 3) c.emit(`pmovmskb ${m()}, ${c.dst(32)}`);
    else c.emit(r.bool() ? `movq2dq ${m()}, %xmm${r.int(16)}` : `movdq2q %xmm${r.int(16)}, ${m()}`);
  } else if (r.bool()) c.emit(`movntq ${m()}, ${c.mem(8)}`);
  else {
    // MMX <-> XMM conversions (cvtps2pi and friends round with MXCSR.RC)
    const op = r.pick(["cvtpi2ps", "cvtpi2pd", "cvtps2pi", "cvttps2pi", "cvtpd2pi", "cvttpd2pi"]);
    if (op.startsWith("cvtpi")) c.emit(`${op} ${r.bool(0.3) ? c.mem(8) : m()}, %xmm${r.int(16)}`);
    else c.emit(`${op} ${r.bool(0.3) ? c.mem(op.includes("pd") ? 16 : 8, op.includes("pd")) : `%xmm${r.int(16)}`}, ${m()}`);
  }
  return true;
};

const FP_ARITH = ["add", "sub", "mul", "div", "min", "max", "sqrt"];
const FP_CMP = ["eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord"];

const ssefp: Family = (c) => {
  const r = c.r;
  const x = (): string => `%xmm${r.int(16)}`;
  const k = r.int(10);
  if (k < 4) {
    const sfx = r.pick(["ps", "pd", "ss", "sd"]);
    const op = r.pick(FP_ARITH) + sfx;
    const src = r.bool(0.25) ? c.mem(sfx === "ss" ? 4 : sfx === "sd" ? 8 : 16, sfx.startsWith("p")) : x();
    c.emit(`${op} ${src}, ${x()}`);
  } else if (k === 4) {
    const sfx = r.pick(["ps", "pd", "ss", "sd"]);
    c.emit(`cmp${r.pick(FP_CMP)}${sfx} ${r.bool(0.25) ? c.mem(sfx === "ss" ? 4 : sfx === "sd" ? 8 : 16, sfx.startsWith("p")) : x()}, ${x()}`);
  } else if (k === 5) {
    const op = r.pick(["comiss", "ucomiss", "comisd", "ucomisd"]);
    c.emit(`${op} ${r.bool(0.25) ? c.mem(op.endsWith("ss") ? 4 : 8) : x()}, ${x()}`);
    c.flags(ARITH);
  } else if (k === 6) {
    const op = r.pick(["cvtdq2ps", "cvtps2dq", "cvttps2dq", "cvtdq2pd", "cvtpd2dq", "cvttpd2dq", "cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss"]);
    c.emit(`${op} ${x()}, ${x()}`);
  } else if (k === 7) {
    const op = r.pick(["cvtss2si", "cvttss2si", "cvtsd2si", "cvttsd2si"]);
    const size = r.pick([32, 64] as Size[]);
    c.emit(`${op}${SUF[size]} ${r.bool(0.25) ? c.mem(op.includes("ss") ? 4 : 8) : x()}, ${c.dst(size)}`);
  } else if (k === 8) {
    const size = r.pick([32, 64] as Size[]);
    c.emit(`${r.pick(["cvtsi2ss", "cvtsi2sd"])}${SUF[size]} ${r.bool(0.25) ? c.mem(size / 8) : c.src(size)}, ${x()}`);
  } else {
    c.emit(`${r.pick(["movmskps", "movmskpd"])} ${x()}, ${c.dst(32)}`);
  }
  return true;
};

const misc: Family = (c) => {
  const r = c.r;
  const k = r.int(8);
  if (k === 0) {
    // cmpxchg8b: edx:eax vs m64, ecx:ebx
    c.emit(`${r.bool() ? "lock " : ""}cmpxchg8b ${c.mem(8)}`);
    c.flags(ZF);
  } else if (k === 1) {
    const size = r.pick([32, 64] as Size[]);
    c.emit(`movnti ${c.src(size)}, ${c.mem(size / 8)}`);
  } else if (k === 2) {
    c.emit(`lea ${r.range(-240, 0)}(%r15), %rbx`, "xlatb");
  } else if (k === 3) {
    c.emit(r.pick(["nop", "nopw 0(%rax,%rax,1)", "nopl 0(%rax)", "nopl 0(%rax,%rax,1)", "nopw %cs:0(%rax,%rax,1)", "pause", "lfence", "mfence", "sfence", "prefetcht0 (%r15)", "prefetchnta 8(%r15)", "prefetcht2 16(%r15)", "clflush 8(%r15)", "clflush (%r15,%r14,8)"]));
  } else if (k === 4) {
    // bt with a register bit offset into memory: offset bounded by a setup mov
    const size = r.pick([16, 32, 64] as Size[]);
    const op = r.pick(["bt", "bts", "btr", "btc"]);
    const off = r.range(-1000, 1000);
    const oreg = r.pick([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    c.emit(movImm(size, BigInt(off), reg(oreg, size)), `${op !== "bt" && r.bool(0.3) ? "lock " : ""}${op}${SUF[size]} ${reg(oreg, size)}, ${r.range(-100, 100)}(%r15)`);
    c.flags(CF, OF | SF | AF | PF);
  } else if (k === 5) {
    // maskmovdqu stores through rdi
    c.emit(`lea ${r.range(-240, 224)}(%r15), %rdi`, `maskmovdqu %xmm${r.int(16)}, %xmm${r.int(16)}`);
  } else if (k === 6) {
    c.emit(`movntdq %xmm${r.int(16)}, ${c.mem(16, true)}`);
  } else {
    const size = c.size(false);
    // cmov from memory (the load happens, and may fault, whatever the condition); xchg when ZF is undefined
    const op = c.canRead(ZF) ? r.pick(["cmovz", "cmovnz"]) : "xchg";
    c.emit(`${op}${SUF[size]} ${c.mem(size / 8)}, ${c.dst(size)}`);
  }
  return true;
};

/** A filler instruction that never faults; returns the flags it writes and leaves undefined (or null). */
function filler(c: Ctx, avoidRcx = false): void {
  const r = c.r;
  const d = (size: Size): string => reg(r.pick(avoidRcx ? DEST.filter((n) => n !== 1) : DEST), size);
  const k = r.int(5);
  if (k === 0) c.emit(`add${SUF[64]} $${r.range(-100, 100)}, ${d(64)}`);
  else if (k === 1) c.emit(`lea ${r.range(-100, 100)}(%r15,%r14,2), ${d(64)}`);
  else if (k === 2) c.emit(`xor${SUF[32]} ${c.src(32)}, ${d(32)}`);
  else if (k === 3) c.emit(`not${SUF[16]} ${d(16)}`);
  else c.emit(`imul${SUF[32]} $${r.range(-100, 100)}, ${c.src(32)}, ${d(32)}`);
}
/** Flags a filler line may write (all of them, conservatively) and leave undefined. */
function fillerFlags(lines: readonly string[]): { written: number; undef: number } {
  let written = 0, undef = 0;
  for (const l of lines) {
    if (/^(add|xor)/.test(l)) { written |= ARITH; if (l.startsWith("xor")) undef |= AF; }
    if (l.startsWith("imul")) { written |= ARITH; undef |= SF | ZF | AF | PF; }
  }
  return { written, undef };
}

/** Control flow and the stack: forward jcc (short and near), jrcxz, loop/loope/loopne, call/ret, push/pop,
 * pushf/popf, enter/leave. The stack is the sequence's own IN block (rsp = IN+0x90), at most 0x80 deep. */
const flow: Family = (c) => {
  const r = c.r;
  const k = r.int(10);
  if (k <= 1) {
    const ok = CONDS.filter(([, f]) => c.canRead(f));
    if (ok.length === 0) return false;
    const [cc] = r.pick(ok);
    const before = c.lines.length;
    c.emit(`j${cc} 1f`);
    if (r.bool(0.2)) c.emit(".fill 130, 1, 0x90");
    filler(c);
    c.emit("1:");
    const f = fillerFlags(c.lines.slice(before));
    c.undef |= f.undef; // path-dependent: only the union stays defined
  } else if (k === 2) {
    const a32 = r.bool(0.3);
    c.emit(`mov $${r.bool(0.5) ? 0 : r.range(1, 3)}, %ecx`);
    if (r.bool(0.3)) { c.emit("bts $40, %rcx"); c.flags(CF, OF | SF | AF | PF); }
    const before = c.lines.length;
    c.emit(a32 ? "jecxz 1f" : "jrcxz 1f");
    filler(c);
    c.emit("1:");
    c.undef |= fillerFlags(c.lines.slice(before)).undef;
  } else if (k === 3) {
    const op = r.pick(["loop", "loope", "loopne"]);
    const n = r.range(1, 5);
    c.emit(`mov $${n}, %ecx`);
    const a32 = r.bool(0.3);
    if (a32 && r.bool()) { c.emit("bts $36, %rcx"); c.flags(CF, OF | SF | AF | PF); }
    const before = c.lines.length;
    c.emit("1:");
    filler(c, true);
    const f = fillerFlags(c.lines.slice(before));
    if (op !== "loop" && !c.canRead(ZF) && (f.written & ZF) === 0) return false;
    if (op !== "loop" && (f.undef & ZF) !== 0) return false;
    c.emit(`${a32 ? ".byte 0x67\n" : ""}${op} 1b`);
    c.flags(f.written & ~f.undef, f.undef);
  } else if (k === 4) {
    const viaReg = r.bool(0.4);
    if (viaReg) c.emit(`lea 2f(%rip), %rax`, "call *%rax", "jmp 3f", "2:");
    else c.emit("call 2f", "jmp 3f", "2:");
    const before = c.lines.length;
    filler(c);
    c.emit("ret", "3:");
    const f = fillerFlags(c.lines.slice(before));
    c.flags(f.written & ~f.undef, f.undef);
  } else if (k === 5) {
    const f = r.int(5);
    if (f === 0) c.emit(`push ${c.src(64)}`, `pop ${c.dst(64)}`);
    else if (f === 1) c.emit(`pushq $${c.imm(32)}`, `pop ${c.dst(64)}`);
    else if (f === 2) c.emit(`pushq ${c.mem(8)}`, `popq ${c.mem(8)}`);
    else if (f === 3) c.emit(`pushw ${c.src(16)}`, `popw ${c.dst(16)}`);
    else c.emit(`push ${c.src(64)}`, `push ${c.src(64)}`, `pop ${c.dst(64)}`, `pop ${c.dst(64)}`);
  } else if (k === 6) {
    // pushf: IF and IOPL are PVM's on the native side, and undefined flags are masked out.
    const mask = (ARITH | DF) & ~c.undef;
    const d = c.dst(64);
    c.emit("pushfq", `pop ${d}`, `andq $${mask}, ${d}`);
    c.flags(ARITH & ~AF, AF);
  } else if (k === 7) {
    let v = 0x202;
    for (const f of [CF, PF, AF, ZF, SF, OF, DF]) if (r.bool()) v |= f;
    c.emit(`pushq $${v}`, "popfq");
    c.flags(ARITH);
  } else if (k === 8) {
    const n = r.range(0, 6) * 8;
    // nesting levels > 1 copy frame pointers from [rbp-8], [rbp-16]...: point rbp into the scratch area first
    const level = r.bool(0.5) ? r.int(2) : r.range(2, 7);
    if (level > 1) c.emit(`lea ${r.range(-100, 200)}(%r15), %rbp`);
    c.emit(`enter $${n}, $${level}`, `mov ${c.src(64)}, -8(%rbp)`, `mov -8(%rbp), ${reg(r.pick(DEST.filter((x) => x !== 5)), 64)}`, "leave");
  } else {
    const f = r.int(6);
    const d = reg(r.pick(DEST), 64);
    if (f === 0) c.emit(`push ${c.src(64)}`, `push ${c.src(64)}`, "popq (%rsp)", `pop ${d}`); // address after the increment
    else if (f === 1) c.emit(`push ${c.src(64)}`, `push ${c.src(64)}`, `pushq ${r.pick([8, 16, 0])}(%rsp)`, `pop ${d}`, "pop %rax", "pop %rax");
    else if (f === 2) c.emit("push %rsp", `pop ${d}`);
    else if (f === 3) c.emit("push %rsp", "pop %rsp");
    else if (f === 4) c.emit("lea 2f(%rip), %rax", "mov %rax, 8(%r15)", "call *8(%r15)", "jmp 3f", "2:", "ret", "3:");
    else c.emit("call 2f", "jmp 3f", "2:", `ret $${r.pick([0, 8, 16])}`, "3:");
  }
  return true;
};

/** x87 with exactly representable values: control word with double precision (PC=10) and a random rounding
 * mode, small integers and short floats loaded from memory, + - * / sqrt, compares (FSW and EFLAGS forms),
 * fcmov, fxch, fchs/fabs, frndint, fist(p)/fst(p) to memory, fnstsw/fnstcw. The stack never over/underflows. */
const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, CC = C0 | C1 | C2 | C3;
const x87: Family = (c) => {
  const r = c.r;
  // C1 reports rounding/stack faults, C0 C2 C3 are undefined after most instructions (SDM "FPU Flags Affected").
  const c1 = c.known.has("x87-c1") ? C1 : 0;
  const cc = (defined: number, undef: number): void => { c.fswUndef = (c.fswUndef & ~(defined | undef)) | undef | (c1 & (defined | undef)); };
  const st = (): string => `%st(${r.int(c.x87depth)})`;
  const slot = (): number => 8 * r.range(-30, 29);
  const pushes = (): void => {
    const k = r.int(6);
    const o = slot();
    if (k === 0) c.emit(r.pick(["fld1", "fldz"]));
    else if (k === 1) c.emit(`movw $${r.range(-30000, 30000)}, ${o}(%r15)`, `filds ${o}(%r15)`);
    else if (k === 2) c.emit(`movl $${r.range(-(2 ** 31), 2 ** 31 - 1)}, ${o}(%r15)`, `fildl ${o}(%r15)`);
    else if (k === 3) c.emit(`movq $${r.range(-(2 ** 31), 2 ** 31 - 1)}, ${o}(%r15)`, `fildll ${o}(%r15)`);
    else if (k === 4) {
      const f = new DataView(new ArrayBuffer(4));
      f.setFloat32(0, r.range(-4096, 4096) / r.pick([1, 2, 4, 8, 1024]));
      c.emit(`movl $${f.getUint32(0) | 0}, ${o}(%r15)`, `flds ${o}(%r15)`);
    } else {
      if (c.x87depth === 0) { c.emit("fld1"); } else c.emit(`fld ${st()}`);
    }
    c.x87depth++;
    cc(C1, C0 | C2 | C3);
  };
  if (!c.x87used || r.bool(0.05)) {
    // precision control = double, all exceptions masked, random rounding
    const cw = 0x27f | (r.int(4) << 10);
    const o = slot();
    c.emit(`movw $${cw}, ${o}(%r15)`, `fldcw ${o}(%r15)`);
    c.x87used = true;
    cc(0, CC);
  }
  if (c.x87depth < 2) { pushes(); if (c.x87depth < 2) pushes(); return true; }
  const k = r.int(14);
  if (k === 0 && c.x87depth < 7) pushes();
  else if (k <= 2) {
    const op = r.pick(["fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr"]);
    const f = r.int(3);
    if (f === 0) c.emit(`${op} ${st()}, %st`);
    else if (f === 1) c.emit(`${op} %st, ${st()}`);
    else { c.emit(`${op}p %st, %st(1)`); c.x87depth--; }
    cc(C1, C0 | C2 | C3);
  } else if (k === 3) {
    const op = r.pick(["fchs", "fabs", "frndint", "fsqrt", "ftst", "fxam"]);
    c.emit(op);
    if (op === "ftst" || op === "fxam") cc(CC, 0);
    else cc(C1, C0 | C2 | C3);
  } else if (k === 4) { c.emit(`fxch ${st()}`); cc(C1, C0 | C2 | C3); }
  else if (k === 5) {
    const op = r.pick(["fcomi", "fucomi", "fcomip", "fucomip"]);
    c.emit(`${op} ${st()}, %st`);
    if (op.endsWith("p")) c.x87depth--;
    c.flags(ARITH);
    cc(C1, 0);
  } else if (k === 6) {
    const op = r.pick(["fcom", "fucom", "fcomp", "fucomp", "fcompp"]);
    if (op === "fcompp") { c.emit("fcompp"); c.x87depth -= 2; }
    else { c.emit(`${op} ${st()}`); if (op.endsWith("p")) c.x87depth--; }
    cc(CC, 0);
  } else if (k === 7) {
    if (c.fswUndef !== 0) return false;
    c.emit(r.bool() ? "fnstsw %ax" : `fnstsw ${slot()}(%r15)`);
  } else if (k === 8) {
    const cnd = r.pick([["b", CF], ["e", ZF], ["be", CF | ZF], ["u", PF], ["nb", CF], ["ne", ZF], ["nbe", CF | ZF], ["nu", PF]] as [string, number][]);
    if (!c.canRead(cnd[1])) return false;
    c.emit(`fcmov${cnd[0]} ${st()}, %st`);
    cc(0, C0 | C2 | C3);
  } else if (k === 9) {
    const o = slot();
    const op = r.pick(["fists", "fistl", "fistps", "fistpl", "fistpll", "fsts", "fstl", "fstps", "fstpl"]);
    c.emit(`${op} ${o}(%r15)`);
    if (op.includes("p")) c.x87depth--;
    cc(C1, C0 | C2 | C3);
  } else if (k === 10) {
    c.emit(`fstp ${st()}`);
    c.x87depth--;
    cc(C1, C0 | C2 | C3);
  } else if (k === 11) {
    const f = r.int(6);
    if (f === 0) { c.emit(`fnstcw ${slot()}(%r15)`); cc(0, CC); }
    // C0 C3 C1 quotient bits, C2 incomplete; with a NaN operand (sqrt of a negative earlier) emu sets C2 where
    // this host clears it, an edge the SDM leaves vague: condition codes not compared after fprem
    else if (f === 1) { c.emit(r.pick(["fprem", "fprem1"])); cc(0, CC); }
    else if (f === 2 && c.x87depth < 7) {
      // scale by a small integer only: the extended exponent range is not modelled (results beyond a double's
      // range differ by design)
      const o = slot();
      c.emit(`movl $${r.range(-30, 30)}, ${o}(%r15)`, `fildl ${o}(%r15)`, "fxch %st(1)", "fscale", "fstp %st(1)");
      cc(C1, C0 | C2 | C3);
    }
    else if (f === 3 && c.x87depth < 7) { c.emit("fxtract"); c.x87depth++; cc(C1, C0 | C2 | C3); }
    else if (f === 4 && !c.known.has("fbstp-neg-zero")) {
      // packed BCD: store st(0) (rounded per RC) and load it back
      const o = slot();
      c.emit(`fbstp ${o}(%r15)`, `fbld ${o}(%r15)`);
      cc(C1, C0 | C2 | C3);
    } else { c.emit("fnclex"); cc(0, CC); }
  } else {
    const op = r.pick(["fadd", "fmul", "fsub", "fdiv", "fsubr", "fdivr", "fcom", "fcomp"]);
    const o = slot();
    if (r.bool()) c.emit(`movl $${r.range(-1000, 1000)}, ${o}(%r15)`, `fi${op.replace(/^f/, "")}l ${o}(%r15)`);
    else {
      const f = new DataView(new ArrayBuffer(4));
      f.setFloat32(0, r.range(-4096, 4096) / r.pick([1, 2, 4, 8, 1024]));
      c.emit(`movl $${f.getUint32(0) | 0}, ${o}(%r15)`, `${op}s ${o}(%r15)`);
    }
    if (op === "fcomp") c.x87depth--;
    if (op.startsWith("fcom")) cc(CC, 0);
    else cc(C1, C0 | C2 | C3);
  }
  return true;
};

/** Segment registers and descriptor queries. Only what this host answers reliably: CS and SS (PVM runs guest
 * ring 3 with the host's 0x33/0x2b, which the guest GDT mirrors), and LAR/LSL/VERR/VERW on selectors whose
 * descriptors agree (null, 0x2b, 0x33; 0x10/0x18 are DPL-0 on both sides, so they must fail from CPL 3).
 * DS/ES/FS/GS are left alone: PVM does not keep the guest's data selectors. */
const segs: Family = (c) => {
  const r = c.r;
  const sel = (): number => r.pick([0, 0x10 | r.int(4), 0x18 | r.int(4), 0x2b, 0x33, 0x2b | r.int(4), 0x33 | r.int(4)]);
  const k = r.int(3);
  if (k === 0) {
    const sreg = r.pick(["%cs", "%ss"]);
    if (r.bool(0.7)) c.emit(`mov ${sreg}, ${c.dst(r.pick([16, 32, 64] as Size[]))}`);
    else c.emit(`mov ${sreg}, ${c.mem(2)}`);
  } else {
    const op = r.pick(["lsl", "verr", "verw", ...(c.known.has("lar-limit-bits") ? [] : ["lar"])]);
    const n = reg(r.pick([0, 2, 3, 5, 6, 7]), 16);
    let v = sel();
    if (c.known.has("lar-lsl-dpl") && (op === "lar" || op === "lsl") && (v & ~3) !== 0x2b && (v & ~3) !== 0x33) v = 0;
    c.emit(`mov $${v}, ${n}`);
    if (op.startsWith("ver")) c.emit(`${op} ${n}`);
    else c.emit(`${op} ${n}, ${c.dst(r.pick([16, 32, 64] as Size[]))}`);
    c.flags(ZF);
  }
  return true;
};

/** Self-modifying code: ring-3 stores into the instruction stream just ahead (and into an instruction that
 * already ran in a loop), which the emu's decoded-instruction cache must notice. The code pages are writable. */
const smc: Family = (c) => {
  const r = c.r;
  const k = r.int(4);
  // Registers without REX, so the patched byte offsets below hold.
  const d = (): number => r.pick([0, 2, 3, 5, 6, 7]);
  if (k === 0) {
    c.emit(`movl $${r.u32() | 0}, 2f+1(%rip)`, "2:", `mov $0x11111111, ${reg(d(), 32)}`);
  } else if (k === 1) {
    const a = d(), b = d();
    c.emit(`mov $${r.range(1, 4)}, %ecx`, "1:", `mov $0x${(r.u32() >>> 4).toString(16)}, ${reg(a, 32)}`, `add ${reg(a, 64)}, ${reg(b, 64)}`,
      `addl $${r.u32() | 0}, 1b+1(%rip)`, "loop 1b");
    c.flags(ARITH);
  } else if (k === 2) {
    // turn `add %src,%dst` (01 /r) into sub/xor/and/or/cmp/test by rewriting the opcode byte
    const op = r.pick([0x29, 0x31, 0x21, 0x09, 0x39, 0x85]);
    c.emit(`movb $${op}, 2f(%rip)`, "2:", `addl ${reg(d(), 32)}, ${reg(d(), 32)}`);
    c.flags(ARITH & ~AF, AF);
  } else {
    // patch the rel8 of `jmp 3f` (over a 3-byte inc %r16): 0 runs the inc, 3 skips it
    const run = r.bool();
    c.emit(`movb $${run ? 0 : 3}, 2f+1(%rip)`, "2:", "jmp 3f", `inc ${reg(d(), 16)}`, "3:");
    if (run) c.flags(ARITH & ~CF);
  }
  return true;
};

/** A faulting instruction (only ever the last item of a sequence): vector and RIP (plus error code and CR2)
 * are compared. Not generated: int n beyond the IDT limit and int1 (PVM answers #UD / reports #DB at the
 * instruction, so this host is no reference for them). */
const fault: Family = (c) => {
  const r = c.r;
  const k = r.int(13);
  if (k === 0) c.emit("ud2");
  else if (k === 1) {
    const size = c.size();
    const n = r.pick([1, 3, 5, 6, 7, 8]);
    c.emit(`xor ${reg(n, 32)}, ${reg(n, 32)}`, `${r.pick(["div", "idiv"])}${SUF[size]} ${reg(n, size)}`);
  } else if (k === 2) {
    const size = r.pick([16, 32, 64] as Size[]);
    c.emit(movImm(size, BigInt(r.range(1, 5)), reg(2, size)), movImm(size, BigInt(r.range(1, 5)), reg(1, size)), `div${SUF[size]} ${reg(1, size)}`);
  }
  else if (k === 3) c.emit(`mov $0x${(0x2000000 + r.int(0x100000)).toString(16)}, %eax`, r.pick(["movl $1, (%rax)", "mov (%rax), %ebx", "addq $1, -4(%rax)", "movdqu (%rax), %xmm3"]));
  else if (k === 4) c.emit(`movabs $0x${(0x800000000000n + BigInt(r.u32())).toString(16)}, %rax`, r.pick(["mov (%rax), %ebx", "movl $1, (%rax)", "jmp *%rax", "call *%rax"]));
  // Misaligned SSE operands: only the moves. For other SSE instructions PVM hands the ring-3 #GP to KVM's
  // instruction emulator, which does not know them and injects #UD instead.
  else if (k === 5) c.emit(`${r.pick(["movdqa", "movaps", "movapd"])} ${r.range(-15, 14) * 16 + r.range(1, 15)}(%r15), %xmm${r.int(16)}`);
  else if (k === 6) c.emit(r.pick(["int3", "hlt", "rdmsr", "wrmsr", "mov %cr0, %rax", "mov %rax, %cr3", "rdpmc", "wbinvd", "invd", "lgdt (%r15)", "clts", "swapgs", "sysret", "ltr %ax", "lidt (%r15)"]));
  else if (k === 7) c.emit(r.pick([".byte 0xce", ".byte 0x06", ".byte 0x07", ".byte 0x0e", ".byte 0x16", ".byte 0x17", ".byte 0x1e", ".byte 0x1f", ".byte 0x27", ".byte 0x2f", ".byte 0x37", ".byte 0x3f", ".byte 0x60", ".byte 0x61", ".byte 0xd4, 0x0a", ".byte 0xd5, 0x0a", ".byte 0x0f, 0x0b", ".byte 0x0f, 0xff", ".byte 0xd6", ".byte 0x0f, 0xb9"]));
  else if (k === 8 && !c.known.has("lock-ud")) c.emit(".byte 0xf0", r.pick(["add %eax, %ebx", "mov %eax, 8(%r15)", "nop", "cmp %eax, 8(%r15)", "test %eax, 8(%r15)", "lea 8(%r15), %rax", "movdqa %xmm0, %xmm1"]));
  else if (k === 9) c.emit("mov $-1, %ecx", "mov $0x7fffffff, %edx", "mov $-1, %eax", "idiv %ecx");
  else if (k === 10) c.emit(`mov $${r.range(2, 100)}, %ecx`, "mov %ecx, %edx", "div %ecx");
  else if (r.bool()) c.emit(`mov $0x${(0x2000000 - r.range(1, 8)).toString(16)}, %eax`, r.pick(["movq $1, (%rax)", "mov (%rax), %rbx", "movdqu (%rax), %xmm3", "lock xadd %rcx, (%rax)", "cmpxchg8b (%rax)"]));
  else {
    // a rep string op that runs into the unmapped end of RAM after some iterations (partial progress)
    const size = c.size();
    const op = r.pick(["movs", "stos", "lods", "cmps", "scas"]);
    const end = `0x${(0x2000000 - r.range(0, 40)).toString(16)}`;
    c.emit(`mov $${end}, ${r.pick(["%edi", "%esi"])}`, `mov $${r.range(1, 20)}, %ecx`, "cld", "lea 0x10(%r15), %rax");
    c.emit(c.lines[c.lines.length - 4]!.endsWith("%edi") ? "mov %rax, %rsi" : "mov %rax, %rdi");
    c.emit(`${op === "cmps" || op === "scas" ? r.pick(["repe", "repne"]) : "rep"} ${op}${SUF[size]}`);
  }
  return true;
};

export const FAMILIES: Record<string, { weight: number; gen: Family }> = {
  alu: { weight: 14, gen: alu },
  unary: { weight: 5, gen: unary },
  shift: { weight: 10, gen: shift },
  shiftd: { weight: 4, gen: shiftd },
  mul: { weight: 5, gen: muls },
  div: { weight: 4, gen: divs },
  bits: { weight: 6, gen: bits },
  cond: { weight: 6, gen: condOps },
  flag: { weight: 3, gen: flagOps },
  lea: { weight: 5, gen: leas },
  move: { weight: 10, gen: moves },
  string: { weight: 5, gen: strings },
  sse: { weight: 14, gen: sse },
  mmx: { weight: 6, gen: mmx },
  ssefp: { weight: 8, gen: ssefp },
  misc: { weight: 5, gen: misc },
  flow: { weight: 8, gen: flow },
  x87: { weight: 6, gen: x87 },
  smc: { weight: 3, gen: smc },
  segs: { weight: 3, gen: segs },
};

export function genStart(r: Rng, known: ReadonlySet<string> = new Set()): StartState {
  const regs = Array.from({ length: 16 }, () => val(r, 64));
  // KVM order: rax rbx rcx rdx rsi rdi rsp rbp r8..r15
  regs[6] = 0n;
  regs[14] = BigInt(r.int(16));
  regs[15] = BigInt(L.SCRATCH_BASE_REG_VALUE);
  let rflags = 0x202;
  for (const f of [CF, PF, AF, ZF, SF, OF]) if (r.bool()) rflags |= f;
  if (r.bool(0.3)) rflags |= DF;
  const xmm = new Uint8Array(256);
  for (let i = 0; i < 16; i++) {
    const k = r.int(5);
    for (let b = 0; b < 16; b++) {
      xmm[i * 16 + b] = k === 0 ? 0 : k === 1 ? (b < 8 ? r.int(20) * (b === 0 ? 1 : 0) : 0) : k === 2 ? r.pick([0, 0xff, 0x80, 0x7f]) : r.int(256);
    }
  }
  const dv = new DataView(xmm.buffer);
  for (let i = 0; i < 16; i++) {
    // Some registers hold ordinary floating-point numbers (random bytes are mostly NaNs and huge values).
    const k = r.int(6);
    if (k === 0) for (let l = 0; l < 4; l++) dv.setFloat32(16 * i + 4 * l, fpVal(r), true);
    else if (k === 1) for (let l = 0; l < 2; l++) dv.setFloat64(16 * i + 8 * l, fpVal(r), true);
  }
  const data = new Uint8Array(L.SCRATCH_BYTES);
  for (let i = 0; i < data.length; i++) data[i] = r.bool(0.2) ? r.pick([0, 0xff, 0x80, 0x7f]) : r.int(256);
  const ddv = new DataView(data.buffer);
  for (let i = 0; i < 8; i++) {
    const o = 16 * r.int(L.SCRATCH_BYTES / 16);
    if (r.bool()) for (let l = 0; l < 4; l++) ddv.setFloat32(o + 4 * l, fpVal(r), true);
    else for (let l = 0; l < 2; l++) ddv.setFloat64(o + 8 * l, fpVal(r), true);
  }
  // MXCSR: all exceptions masked; random rounding mode, FTZ and sticky status bits. Never DAZ: emu's
  // MXCSR_MASK (0xffbf, what its fxsave reports) leaves it out by design, so ldmxcsr with DAZ is #GP there.
  let mxcsr = 0x1f80 | (r.int(4) << 13);
  if (r.bool(0.15)) mxcsr |= 0x8000;
  if (r.bool(0.3)) mxcsr |= r.int(64);
  const mm = new Uint8Array(64);
  for (let i = 0; i < 8; i++) {
    const v = val(r, 64);
    for (let b = 0; b < 8; b++) mm[8 * i + b] = Number((v >> BigInt(8 * b)) & 0xffn);
  }
  return { regs, rflags, xmm, data, mxcsr, mm };
}

export function genSequence(r: Rng, opts: GenOptions): Sequence {
  const names = Object.keys(FAMILIES).filter((n) => (!opts.families || opts.families.includes(n)) && !(opts.exclude ?? []).includes(n));
  const total = names.reduce((a, n) => a + FAMILIES[n]!.weight, 0);
  const known = new Set(opts.avoid ?? []);
  const c = new Ctx(r, known);
  if (known.has("x87-c1")) c.fswUndef = 0x200;
  const items: Item[] = [];
  while (items.length < opts.length) {
    let x = r.int(total);
    let name = names[0]!;
    for (const n of names) { x -= FAMILIES[n]!.weight; if (x < 0) { name = n; break; } }
    // MMX and x87 share registers: one sequence uses at most one of them.
    if ((name === "mmx" && c.x87used) || (name === "x87" && items.some((it) => (it as { family?: string }).family === "mmx"))) continue;
    c.lines = [];
    const before = c.undef, depth = c.x87depth;
    if (!FAMILIES[name]!.gen(c)) { c.undef = before; c.x87depth = depth; continue; }
    // Redundant segment-override prefixes (no effect in 64-bit mode; fs/gs bases are 0 here) on the last line.
    const last = c.lines[c.lines.length - 1] ?? "";
    if (r.bool(0.08) && name !== "smc" && !/^(\d+:|\.)/.test(last)) c.lines.splice(c.lines.length - 1, 0, `.byte 0x${r.pick(["2e", "3e", "26", "36", "64", "65"])}`);
    items.push({ lines: c.lines, undefAfter: c.undef, fswUndefAfter: c.fswUndef, family: name });
  }
  if (opts.faults !== false && r.bool(0.05) && items.length > 0) {
    c.lines = [];
    fault(c);
    items[items.length - 1] = { lines: c.lines.filter(Boolean), undefAfter: ARITH, fswUndefAfter: 0xffff, family: "fault" };
  }
  return { items, start: genStart(r, known) };
}
