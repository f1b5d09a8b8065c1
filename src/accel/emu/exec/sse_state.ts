// Shared x87/MMX/SSE helpers for exec/sse*.ts and exec/x87.ts: the per-vCPU extension state that CpuState
// does not hold (exact 80-bit register images, MMX aliasing, last-instruction pointers), double <-> 80-bit
// extended conversion (SDM vol. 1 §4.2.2, §8.1) and float bit views.
//
// MMX aliasing (SDM vol. 1 §9.5): mm<i> is the 64-bit mantissa of *physical* x87 register R<i>; an MMX write
// sets its exponent/sign word to 0xffff, TOP to 0 and all tags to valid; emms tags everything empty.
// CpuState.fpr holds the x87 registers as doubles. FpExt.raw keeps an exact 80-bit image per physical register
// that is authoritative while the matching bit of rawValid is set (after fxrstor/frstor/fld m80 or an MMX
// write); every x87 write of a register goes through setFpr(), which clears the bit. So MMX values and
// fxsave/fxrstor round trips are bit-exact, and x87 arithmetic runs in double precision.

import type { CpuState } from "../cpu_state.ts";

export class FpExt {
  /** Raw 80-bit images: 5 uint16 per physical register (mantissa words 0..3 little-endian, then sign|exponent). */
  readonly raw = new Uint16Array(40);
  /** Bit i: raw image of physical register i is authoritative. */
  rawValid = 0;
  /** Last x87 non-control instruction: opcode (11 bits), instruction pointer, data pointer, selectors. */
  fop = 0;
  fipLo = 0; fipHi = 0; fcs = 0;
  fdpLo = 0; fdpHi = 0; fds = 0;
}

const exts = new WeakMap<CpuState, FpExt>();
let lastCpu: CpuState | null = null;
let lastExt: FpExt = new FpExt();

/** The extension state of `cpu` (created on first use). */
export function fpExt(cpu: CpuState): FpExt {
  if (cpu === lastCpu) return lastExt;
  let e = exts.get(cpu);
  if (e === undefined) { e = new FpExt(); exts.set(cpu, e); }
  lastCpu = cpu; lastExt = e;
  return e;
}

// ---- bit views (module scratch: used within one instruction only) ----
const sb = new ArrayBuffer(8);
export const SF64 = new Float64Array(sb);
export const SF32 = new Float32Array(sb);
export const SI32 = new Int32Array(sb);

/** Double -> (lo, hi) bits; hi returned in bitsHi. */
export let bitsHi = 0;
export function dbits(d: number): number { SF64[0] = d; bitsHi = SI32[1]!; return SI32[0]!; }
export function dfrom(lo: number, hi: number): number { SI32[0] = lo; SI32[1] = hi; return SF64[0]!; }
export function fbits(f: number): number { SF32[0] = f; return SI32[0]!; }
export function ffrom(b: number): number { SI32[0] = b; return SF32[0]!; }

/** Writes the 80-bit image of double `d` into raw[5*i .. 5*i+4]. Exact (every double is representable). */
export function encode80(raw: Uint16Array, i: number, d: number): void {
  SF64[0] = d;
  const lo = SI32[0]!, hi = SI32[1]!;
  const sign = (hi >>> 31) << 15;
  const e = (hi >>> 20) & 0x7ff;
  let mHi = hi & 0xfffff, mLo = lo; // 52-bit fraction
  let exp: number, m1: number, m0: number; // m1/m0: 64-bit mantissa halves (uint32)
  if (e === 0x7ff) {
    exp = 0x7fff;
    m1 = (0x80000000 | (mHi << 11) | (mLo >>> 21)) >>> 0; m0 = (mLo << 11) >>> 0;
  } else if (e === 0) {
    if ((mHi | mLo) === 0) { exp = 0; m1 = 0; m0 = 0; } else {
      // double denormal: normalise (value = fraction * 2^-1074)
      let ex = 1 - 1023 + 16383;
      while ((mHi & 0x100000) === 0) { mHi = (mHi << 1) | (mLo >>> 31); mLo <<= 1; ex--; }
      mHi &= 0xfffff;
      exp = ex;
      m1 = (0x80000000 | (mHi << 11) | (mLo >>> 21)) >>> 0; m0 = (mLo << 11) >>> 0;
    }
  } else {
    exp = e - 1023 + 16383;
    m1 = (0x80000000 | (mHi << 11) | (mLo >>> 21)) >>> 0; m0 = (mLo << 11) >>> 0;
  }
  const o = i * 5;
  raw[o] = m0 & 0xffff; raw[o + 1] = m0 >>> 16; raw[o + 2] = m1 & 0xffff; raw[o + 3] = m1 >>> 16;
  raw[o + 4] = sign | exp;
}

/** Value of the 80-bit image raw[5*i..] as a double (rounded to nearest; NaN payloads keep their top bits). */
export function decode80(raw: Uint16Array, i: number): number {
  const o = i * 5;
  const m0 = (raw[o]! | (raw[o + 1]! << 16)) >>> 0, m1 = (raw[o + 2]! | (raw[o + 3]! << 16)) >>> 0;
  const se = raw[o + 4]!;
  const neg = (se & 0x8000) !== 0;
  const exp = se & 0x7fff;
  if (exp === 0x7fff) {
    if (((m1 & 0x7fffffff) | m0) === 0) return neg ? -Infinity : Infinity;
    // NaN: fraction bits 62..11 -> double fraction; keep it a NaN even if only low bits were set
    let fHi = (m1 >>> 11) & 0xfffff;
    const fLo = ((m1 << 21) | (m0 >>> 11)) | 0;
    if ((fHi | fLo) === 0) fHi = 0x80000;
    return dfrom(fLo, (neg ? 0x80000000 : 0) | 0x7ff00000 | fHi);
  }
  if ((m1 | m0) === 0) return neg ? -0 : 0;
  const mant = m1 * 4294967296 + m0; // one rounding to 53 bits
  const v = scale2(mant, (exp === 0 ? 1 : exp) - 16383 - 63);
  return neg ? -v : v;
}

/** x * 2^k for any integer k (done in steps so intermediate powers stay finite). */
export function scale2(x: number, k: number): number {
  while (k > 1000) { x *= 2 ** 1000; k -= 1000; }
  while (k < -1000) { x *= 2 ** -1000; k += 1000; }
  return x * 2 ** k;
}

/** x87 tag (0 valid, 1 zero, 2 special) of an 80-bit image. */
export function tagOf80(raw: Uint16Array, i: number): number {
  const o = i * 5;
  const exp = raw[o + 4]! & 0x7fff;
  const m1 = (raw[o + 2]! | (raw[o + 3]! << 16)) >>> 0;
  const m0 = (raw[o]! | (raw[o + 1]! << 16)) >>> 0;
  if (exp === 0x7fff) return 2;
  if (exp === 0) return (m1 | m0) === 0 ? 1 : 2;
  return (m1 & 0x80000000) === 0 ? 2 : 0;
}

/** Makes the raw image of physical register i authoritative (encodes fpr[i] if needed). */
export function ensureRaw(cpu: CpuState, e: FpExt, i: number): void {
  if ((e.rawValid & (1 << i)) === 0) {
    encode80(e.raw, i, cpu.fpr[i]!);
    e.rawValid |= 1 << i;
  }
}

/** x87 write of physical register i. */
export function setFpr(cpu: CpuState, e: FpExt, i: number, v: number): void {
  cpu.fpr[i] = v;
  e.rawValid &= ~(1 << i);
}

/** Loads an 80-bit image (words w0..w4) into physical register i. */
export function setRaw80(cpu: CpuState, e: FpExt, i: number, w0: number, w1: number, w2: number, w3: number, w4: number): void {
  const r = e.raw, o = i * 5;
  r[o] = w0; r[o + 1] = w1; r[o + 2] = w2; r[o + 3] = w3; r[o + 4] = w4;
  e.rawValid |= 1 << i;
  cpu.fpr[i] = decode80(r, i);
}

/** MMX register read: low dword returned, high dword in mmHi. */
export let mmHi = 0;
export function mmRead(cpu: CpuState, i: number): number {
  const e = fpExt(cpu);
  ensureRaw(cpu, e, i);
  const r = e.raw, o = i * 5;
  mmHi = r[o + 2]! | (r[o + 3]! << 16);
  return r[o]! | (r[o + 1]! << 16);
}

/** MMX register write (exponent word 0xffff as hardware does). */
export function mmWrite(cpu: CpuState, i: number, lo: number, hi: number): void {
  const e = fpExt(cpu);
  setRaw80(cpu, e, i, lo & 0xffff, lo >>> 16, hi & 0xffff, hi >>> 16, 0xffff);
}

/** State transition of every MMX instruction (except emms): TOP = 0, all registers tagged valid. */
export function mmxEnter(cpu: CpuState): void {
  cpu.fpuTop = 0;
  cpu.fpuStatus &= ~0x3800;
  cpu.fpuTag = 0;
}

/** The next double above r (towards +Infinity), by stepping its bit pattern. */
export function nextUpDouble(r: number): number {
  if (r === Infinity) return r;
  if (r === 0) return Number.MIN_VALUE;
  SF64[0] = r;
  let lo = SI32[0]!, hi = SI32[1]!;
  if (r > 0) { lo = (lo + 1) | 0; if (lo === 0) hi = (hi + 1) | 0; }
  else { if (lo === 0) hi = (hi - 1) | 0; lo = (lo - 1) | 0; }
  return dfrom(lo, hi);
}

/** Veltkamp splitter for doubles: 2^27 + 1. */
const SPLIT = 134217729;

/** Error of a * b (Dekker TwoProduct): 0 when the double product p is exact (no over/underflow). */
export function prodErr(a: number, b: number, p: number): number {
  let t = SPLIT * a; const ah = t - (t - a), al = a - ah;
  t = SPLIT * b; const bh = t - (t - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}
