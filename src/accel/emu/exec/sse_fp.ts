// SSE/SSE2 floating point (SDM vol. 2; vol. 1 §4.8.3 NaN rules, §11.5 SIMD FP exceptions): arithmetic,
// min/max, compares, comis/ucomis, conversions. Values are handled as bit patterns (int32 halves) so NaN
// payloads follow the SDM (first source NaN wins, SNaN quieted, invalid -> QNaN indefinite) instead of the JS
// engine. Arithmetic uses host doubles: single precision via Math.fround (double rounding is exact for
// + - * / sqrt of floats); precision (PE) is detected with error-free transformations.
// Rounding: results are computed round-to-nearest-even and re-rounded for MXCSR.RC from the sign of the exact
// error (directed rounding is exact for + - * / sqrt and all conversions). Limits: DAZ is not supported
// (MXCSR_MASK = 0xffbf); FTZ is honoured; rcp/rsqrt return the correctly rounded value (within the
// architectural 1.5*2^-12 error bound, but not bit-identical to Intel/AMD tables).

import type { CoreBase } from "../decode/decoder.ts";
import { A, B, checkMmx, getMm, getXmm, loadMmRm, loadXmmRm, loadXmmRm32, loadXmmRm64, setMm, setXmm } from "./sse_io.ts";
import { dfrom, fbits, ffrom, nextUpDouble, prodErr, SF64, SI32 } from "./sse_state.ts";
import { mmxEnter } from "./sse_state.ts";

const IE = 1, DE = 2, ZE = 4, OE = 8, UE = 0x10, PE = 0x20;
/** Exception flags raised by the current instruction. */
let fx = 0;
/** MXCSR of the current instruction (rounding control, FTZ). */
let mx = 0x1f80;
/** High half of a double result. */
let rHi = 0;

const TWO32 = 4294967296;

// ------------------------------------------------------------------------------------------- classification

function nanS(b: number): boolean { return (b & 0x7fffffff) > 0x7f800000; }
function snanS(b: number): boolean { return nanS(b) && (b & 0x400000) === 0; }
function denS(b: number): boolean { return (b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0; }
function nanD(lo: number, hi: number): boolean {
  const h = hi & 0x7fffffff;
  return h > 0x7ff00000 || (h === 0x7ff00000 && lo !== 0);
}
function snanD(lo: number, hi: number): boolean { return nanD(lo, hi) && (hi & 0x80000) === 0; }
function denD(lo: number, hi: number): boolean { return (hi & 0x7ff00000) === 0 && ((hi & 0xfffff) | lo) !== 0; }

/** Error of a + b (TwoSum): 0 when the double sum is exact. */
function sumErr(a: number, b: number, s: number): number {
  const bv = s - a, av = s - bv;
  return (a - av) + (b - bv);
}

/** Below this magnitude the double error-free transformations may underflow: use the exact slow path. */
const TINY = 2 ** -960;
/** Above this magnitude Veltkamp splitting may overflow: use the exact slow path. */
const HUGE = 2 ** 990;

/** Slow path (tiny/denormal values only): sign of z - x * y, exact integer arithmetic. */
function exactCmp(x: number, y: number, z: number): number {
  const [mx, ex] = decomp(x), [my, ey] = decomp(y), [mz, ez] = decomp(z);
  let a = mx * my, b = mz;
  const e1 = ex + ey;
  if (e1 > ez) a <<= BigInt(e1 - ez); else b <<= BigInt(ez - e1);
  if ((x < 0) !== (y < 0)) a = -a;
  if (z < 0) b = -b;
  return b > a ? 1 : b < a ? -1 : 0;
}
/** |d| = m * 2^e with integer m (BigInt). */
function decomp(d: number): [bigint, number] {
  SF64[0] = Math.abs(d);
  const hi = SI32[1]!, lo = SI32[0]!;
  const e = (hi >>> 20) & 0x7ff;
  const m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo >>> 0);
  return e === 0 ? [m, -1074] : [m | (1n << 52n), e - 1075];
}

const MIN_NORM_S = 1.1754943508222875e-38; // 2^-126
const MIN_NORM_D = 2.2250738585072014e-308; // 2^-1022

function nextUpS(r: number): number {
  if (r === Infinity) return r;
  if (r === 0) return ffrom(1);
  const b = fbits(r);
  return ffrom(r > 0 ? b + 1 : b - 1);
}
/** Re-rounds the nearest-even result r by MXCSR.RC given dir = sign(exact - r). */
function directed(r: number, dir: number, single: boolean): number {
  const rc = (mx >> 13) & 3;
  let up: boolean;
  if (rc === 1) { if (dir >= 0) return r; up = false; }
  else if (rc === 2) { if (dir <= 0) return r; up = true; }
  else if (r > 0 && dir < 0) up = false;
  else if (r < 0 && dir > 0) up = true;
  else return r;
  if (up) return single ? nextUpS(r) : nextUpDouble(r);
  return single ? -nextUpS(-r) : -nextUpDouble(-r);
}

/** Post-processing of a single-precision result: r = nearest-even result (a double holding a float value),
 * dir = sign(exact - r), finiteIn = all inputs finite. Applies RC, FTZ and sets OE/UE/PE. */
function finS(r: number, dir: number, finiteIn: boolean): number {
  if (r !== r) { fx |= IE; return 0xffc00000 | 0; }
  let ovf = false;
  if (finiteIn && r - r !== 0) { ovf = true; dir = r > 0 ? -1 : 1; }
  if (dir !== 0 && (mx & 0x6000) !== 0) r = directed(r, dir, true);
  if (ovf || (finiteIn && r - r !== 0)) { fx |= OE | PE; return fbits(r); }
  const ar = Math.abs(r);
  if (ar < MIN_NORM_S && (dir !== 0 || ar !== 0)) {
    if ((mx & 0x8000) !== 0 && (mx & 0x800) !== 0) { fx |= UE | PE; return r < 0 || Object.is(r, -0) ? 0x80000000 | 0 : 0; }
    if (dir !== 0) fx |= UE;
  }
  if (dir !== 0) fx |= PE;
  return fbits(r);
}

function finD(r: number, dir: number, finiteIn: boolean): number {
  if (r !== r) { fx |= IE; rHi = 0xfff80000 | 0; return 0; }
  let ovf = false;
  if (finiteIn && r - r !== 0) { ovf = true; dir = r > 0 ? -1 : 1; }
  if (dir !== 0 && (mx & 0x6000) !== 0) r = directed(r, dir, false);
  if (ovf || (finiteIn && r - r !== 0)) fx |= OE | PE;
  else {
    const ar = Math.abs(r);
    if (ar < MIN_NORM_D && (dir !== 0 || ar !== 0)) {
      if ((mx & 0x8000) !== 0 && (mx & 0x800) !== 0) { fx |= UE | PE; rHi = r < 0 || Object.is(r, -0) ? 0x80000000 | 0 : 0; return 0; }
      if (dir !== 0) fx |= UE;
    }
    if (dir !== 0) fx |= PE;
  }
  SF64[0] = r; rHi = SI32[1]!; return SI32[0]!;
}

/** Exact-zero sum sign under RC (x + y == 0 exactly): -0 when rounding down unless both are +0. */
function zeroSum(x: number, y: number, d: number): number {
  if ((mx & 0x6000) === 0x2000) return Object.is(x, 0) && Object.is(y, 0) ? 0 : -0;
  return d;
}

// ------------------------------------------------------------------------------------------- arithmetic

/** Single-precision op (opcode 51 sqrt, 58 add, 59 mul, 5c sub, 5d min, 5e div, 5f max) on bit patterns. */
export function opS(op: number, a: number, b: number): number {
  if (op === 0x51) { // sqrt b
    if (nanS(b)) { if (snanS(b)) fx |= IE; return b | 0x400000; }
    const x = ffrom(b);
    if (x < 0) { fx |= IE; return 0xffc00000 | 0; }
    if (denS(b)) fx |= DE;
    const r = Math.fround(Math.sqrt(x));
    return finS(r, x === Infinity ? 0 : x - r * r, x !== Infinity);
  }
  if (op === 0x5d || op === 0x5f) { // min / max: source on NaN or equal zeros
    if (nanS(a) || nanS(b)) { fx |= IE; return b; }
    if (denS(a) || denS(b)) fx |= DE;
    const x = ffrom(a), y = ffrom(b);
    return (op === 0x5d ? x < y : x > y) ? a : b;
  }
  if (nanS(a) || nanS(b)) {
    if (snanS(a) || snanS(b)) fx |= IE;
    return (nanS(a) ? a : b) | 0x400000;
  }
  const x = ffrom(a), y = ffrom(b);
  const fin = x - x === 0 && y - y === 0;
  // divide-by-zero takes precedence over the denormal-operand exception
  if (op !== 0x5e || y !== 0 || x !== x || x === 0 || !fin) { if (denS(a) || denS(b)) fx |= DE; }
  switch (op) {
    case 0x58: case 0x5c: {
      const yy = op === 0x58 ? y : -y;
      const d = x + yy;
      let r = Math.fround(d);
      if (!fin || r - r !== 0) return finS(r, 0, fin);
      const dir = d - r !== 0 ? d - r : sumErr(x, yy, d);
      if (d === 0 && dir === 0) r = zeroSum(x, yy, r);
      return finS(r, dir, true);
    }
    case 0x59: { const d = x * y, r = Math.fround(d); return finS(r, fin && r - r === 0 ? d - r : 0, fin); }
    default: { // 0x5e div
      if (y === 0 && x === x && x !== 0 && x - x === 0) {
        fx |= ZE;
        return (a ^ b) < 0 ? 0xff800000 | 0 : 0x7f800000;
      }
      const d = x / y, r = Math.fround(d);
      const fin2 = fin && y !== 0;
      const dir = fin2 && r - r === 0 ? (x - r * y) * (y < 0 ? -1 : 1) : 0;
      return finS(r, dir, fin2);
    }
  }
}

/** Double-precision op on (lo, hi) pairs; result lo returned, hi in rHi. */
export function opD(op: number, al: number, ah: number, bl: number, bh: number): number {
  if (op === 0x51) {
    if (nanD(bl, bh)) { if (snanD(bl, bh)) fx |= IE; rHi = bh | 0x80000; return bl; }
    const x = dfrom(bl, bh);
    if (x < 0) { fx |= IE; rHi = 0xfff80000 | 0; return 0; }
    if (denD(bl, bh)) fx |= DE;
    const r = Math.sqrt(x);
    let dir = 0;
    if (x !== Infinity && x !== 0) {
      if (x < TINY || x > HUGE) dir = exactCmp(r, r, x);
      else { const p = r * r; dir = (x - p) - prodErr(r, r, p); }
    }
    return finD(r, dir, x !== Infinity);
  }
  if (op === 0x5d || op === 0x5f) {
    if (nanD(al, ah) || nanD(bl, bh)) { fx |= IE; rHi = bh; return bl; }
    if (denD(al, ah) || denD(bl, bh)) fx |= DE;
    const x = dfrom(al, ah), y = dfrom(bl, bh);
    if (op === 0x5d ? x < y : x > y) { rHi = ah; return al; }
    rHi = bh; return bl;
  }
  if (nanD(al, ah) || nanD(bl, bh)) {
    if (snanD(al, ah) || snanD(bl, bh)) fx |= IE;
    if (nanD(al, ah)) { rHi = ah | 0x80000; return al; }
    rHi = bh | 0x80000; return bl;
  }
  const x = dfrom(al, ah), y = dfrom(bl, bh);
  const fin = x - x === 0 && y - y === 0;
  if (op !== 0x5e || y !== 0 || x === 0 || !fin) { if (denD(al, ah) || denD(bl, bh)) fx |= DE; }
  switch (op) {
    case 0x58: case 0x5c: {
      const yy = op === 0x58 ? y : -y;
      let d = x + yy;
      if (!fin || d - d !== 0) return finD(d, 0, fin);
      const dir = sumErr(x, yy, d);
      if (d === 0 && dir === 0) d = zeroSum(x, yy, d);
      return finD(d, dir, true);
    }
    case 0x59: {
      const d = x * y;
      let dir = 0;
      if (fin && d - d === 0 && x !== 0 && y !== 0) {
        const slow = Math.abs(d) < TINY || Math.abs(x) > HUGE || Math.abs(y) > HUGE || Math.abs(d) > HUGE;
        dir = slow ? -exactCmp(x, y, d) : prodErr(x, y, d);
      }
      return finD(d, dir, fin);
    }
    default: {
      if (y === 0 && x === x && x !== 0 && x - x === 0) {
        fx |= ZE;
        rHi = ((ah ^ bh) < 0 ? 0xfff00000 : 0x7ff00000) | 0; return 0;
      }
      const d = x / y;
      let dir = 0;
      if (fin && y !== 0 && d - d === 0 && x !== 0) {
        if (Math.abs(d) < TINY || Math.abs(x) < TINY || Math.abs(y) < TINY || Math.abs(d) > HUGE || Math.abs(x) > HUGE || Math.abs(y) > HUGE) {
          dir = exactCmp(d, y, x);
        }
        else { const p = d * y; dir = (x - p) - prodErr(d, y, p); }
        if (y < 0) dir = -dir;
      }
      return finD(d, dir, fin && y !== 0);
    }
  }
}

/** cmpps predicate (imm & 7) on singles. */
function cmpS(pred: number, a: number, b: number): boolean {
  const un = nanS(a) || nanS(b);
  if (un) { if (snanS(a) || snanS(b) || pred === 1 || pred === 2 || pred === 5 || pred === 6) fx |= IE; }
  else if (denS(a) || denS(b)) fx |= DE;
  return cmpPred(pred, un, ffrom(a), ffrom(b));
}
function cmpD(pred: number, al: number, ah: number, bl: number, bh: number): boolean {
  const un = nanD(al, ah) || nanD(bl, bh);
  if (un) { if (snanD(al, ah) || snanD(bl, bh) || pred === 1 || pred === 2 || pred === 5 || pred === 6) fx |= IE; }
  else if (denD(al, ah) || denD(bl, bh)) fx |= DE;
  return cmpPred(pred, un, dfrom(al, ah), dfrom(bl, bh));
}
function cmpPred(pred: number, un: boolean, x: number, y: number): boolean {
  switch (pred) {
    case 0: return !un && x === y;
    case 1: return !un && x < y;
    case 2: return !un && x <= y;
    case 3: return un;
    case 4: return un || x !== y;
    case 5: return un || !(x < y);
    case 6: return un || !(x <= y);
    default: return !un;
  }
}

// ------------------------------------------------------------------------------------------- conversions

function roundRc(v: number): number {
  switch ((mx >> 13) & 3) {
    case 0: {
      const r = Math.round(v);
      return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
    }
    case 1: return Math.floor(v);
    case 2: return Math.ceil(v);
    default: return Math.trunc(v);
  }
}

/** double -> int32 (truncating or by MXCSR.RC); NaN/out of range -> 0x80000000 with IE. */
function toI32(v: number, trunc: boolean): number {
  if (v !== v) { fx |= IE; return 0x80000000 | 0; }
  const r = trunc ? Math.trunc(v) : roundRc(v);
  if (r < -2147483648 || r > 2147483647) { fx |= IE; return 0x80000000 | 0; }
  if (r !== v) fx |= PE;
  return r | 0;
}
/** double -> int64 (lo returned, hi in rHi). */
function toI64(v: number, trunc: boolean): number {
  if (v !== v) { fx |= IE; rHi = 0x80000000 | 0; return 0; }
  const r = trunc ? Math.trunc(v) : roundRc(v);
  if (r < -9223372036854775808 || r >= 9223372036854775808) { fx |= IE; rHi = 0x80000000 | 0; return 0; }
  if (r !== v) fx |= PE;
  const m = Math.abs(r);
  let hi = Math.floor(m / TWO32), lo = m - hi * TWO32;
  lo = lo | 0; hi = hi | 0;
  if (r < 0) { lo = (-lo) | 0; hi = (~hi + (lo === 0 ? 1 : 0)) | 0; }
  rHi = hi;
  return lo;
}
/** int64 (lo, hi) -> double bits, correctly rounded by RC: lo returned, hi in rHi. */
function i64ToD(lo: number, hi: number): number {
  const a = hi * TWO32, b = lo >>> 0, d = a + b;
  return finD(d, sumErr(a, b, d), true);
}
/** int64 -> float bits, correctly rounded (sticky reduction to 53 bits, then one float rounding). */
function i64ToS(lo: number, hi: number): number {
  const neg = hi < 0;
  let ml = lo >>> 0, mh = hi >>> 0;
  if (neg) { ml = (-lo) >>> 0; mh = (~hi + (ml === 0 ? 1 : 0)) >>> 0; }
  let d: number;
  if (mh < 0x200000) d = mh * TWO32 + ml;
  else {
    const p = 63 - Math.clz32(mh); // top bit index within the 64-bit magnitude
    const shift = p - 52;
    const dropped = ml & ((1 << shift) - 1);
    const kh = mh >>> shift, kl = ((ml >>> shift) | (mh << (32 - shift))) >>> 0;
    d = (kh * TWO32 + ((kl | (dropped !== 0 ? 1 : 0)) >>> 0)) * 2 ** shift;
  }
  const r = Math.fround(d);
  return neg ? finS(-r, r - d, true) : finS(r, d - r, true);
}
function i32ToS(v: number): number {
  const r = Math.fround(v);
  return finS(r, v - r, true);
}
/** float bits -> double (lo returned, hi in rHi). */
function s2d(b: number): number {
  if (nanS(b)) {
    if (snanS(b)) fx |= IE;
    rHi = (b & 0x80000000) | 0x7ff80000 | ((b >>> 3) & 0x7ffff);
    return (b << 29) | 0;
  }
  if (denS(b)) fx |= DE;
  SF64[0] = ffrom(b); rHi = SI32[1]!; return SI32[0]!;
}
/** double -> float bits. */
function d2s(lo: number, hi: number): number {
  if (nanD(lo, hi)) {
    if (snanD(lo, hi)) fx |= IE;
    return (hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29);
  }
  if (denD(lo, hi)) fx |= DE;
  const x = dfrom(lo, hi), r = Math.fround(x);
  return finS(r, x - x === 0 && r - r === 0 ? x - r : 0, x - x === 0);
}

// ------------------------------------------------------------------------------------------- commit

function begin(c: CoreBase): void { fx = 0; mx = c.cpu.mxcsr; }
/** Sets the sticky MXCSR flags; unmasked exceptions raise #XM (or #UD without CR4.OSXMMEXCPT) before any
 * destination write. */
function commit(c: CoreBase): void {
  if (fx === 0) return;
  const cpu = c.cpu;
  cpu.mxcsr |= fx;
  if ((fx & ~(cpu.mxcsr >> 7) & 0x3f) !== 0) {
    if ((cpu.cr4 & 0x400) !== 0) c.fault(19, false, 0);
    c.ud();
  }
}

/** Executes an SSE/SSE2 floating-point opcode (checks already done). Returns false if not one. */
export function execFp(c: CoreBase, op: number): boolean {
  const p = c.ssePfx, cpu = c.cpu;
  switch (op) {
    case 0x51: case 0x58: case 0x59: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      begin(c);
      getXmm(c, c.reg, A);
      if (p === 0) { loadXmmRm(c, B, true); for (let i = 0; i < 4; i++) A[i] = opS(op, A[i]!, B[i]!); }
      else if (p === 0x66) {
        loadXmmRm(c, B, true);
        for (let i = 0; i < 4; i += 2) { A[i] = opD(op, A[i]!, A[i + 1]!, B[i]!, B[i + 1]!); A[i + 1] = rHi; }
      } else if (p === 0xf3) { loadXmmRm32(c, B); A[0] = opS(op, A[0]!, B[0]!); }
      else { loadXmmRm64(c, B); A[0] = opD(op, A[0]!, A[1]!, B[0]!, B[1]!); A[1] = rHi; }
      commit(c);
      setXmm(c, c.reg, A);
      return true;
    }
    case 0x52: case 0x53: { // rsqrtps/ss, rcpps/ss (no exceptions)
      if (p !== 0 && p !== 0xf3) return false;
      getXmm(c, c.reg, A);
      if (p === 0) loadXmmRm(c, B, true); else loadXmmRm32(c, B);
      const n = p === 0 ? 4 : 1;
      for (let i = 0; i < n; i++) {
        const b = B[i]!;
        if (nanS(b)) { A[i] = b | 0x400000; continue; }
        const x = ffrom(b);
        if (op === 0x52) A[i] = x < 0 ? 0xffc00000 | 0 : fbits(Math.fround(1 / Math.sqrt(x)));
        else A[i] = fbits(Math.fround(1 / x));
      }
      setXmm(c, c.reg, A);
      return true;
    }
    case 0xc2: { // cmpps/pd/ss/sd
      const imm = c.f8() & 7;
      begin(c);
      getXmm(c, c.reg, A);
      if (p === 0) { loadXmmRm(c, B, true); for (let i = 0; i < 4; i++) A[i] = cmpS(imm, A[i]!, B[i]!) ? -1 : 0; }
      else if (p === 0x66) {
        loadXmmRm(c, B, true);
        for (let i = 0; i < 4; i += 2) { const r = cmpD(imm, A[i]!, A[i + 1]!, B[i]!, B[i + 1]!) ? -1 : 0; A[i] = r; A[i + 1] = r; }
      } else if (p === 0xf3) { loadXmmRm32(c, B); A[0] = cmpS(imm, A[0]!, B[0]!) ? -1 : 0; }
      else { loadXmmRm64(c, B); const r = cmpD(imm, A[0]!, A[1]!, B[0]!, B[1]!) ? -1 : 0; A[0] = r; A[1] = r; }
      commit(c);
      setXmm(c, c.reg, A);
      return true;
    }
    case 0x2e: case 0x2f: { // ucomis / comis: ZF PF CF, OF SF AF cleared
      if (p !== 0 && p !== 0x66) return false;
      begin(c);
      getXmm(c, c.reg, A);
      let un: boolean, lt = false, eq = false;
      if (p === 0) {
        loadXmmRm32(c, B);
        const a = A[0]!, b = B[0]!;
        un = nanS(a) || nanS(b);
        if (un) { if (op === 0x2f || snanS(a) || snanS(b)) fx |= IE; }
        else { if (denS(a) || denS(b)) fx |= DE; const x = ffrom(a), y = ffrom(b); lt = x < y; eq = x === y; }
      } else {
        loadXmmRm64(c, B);
        const al = A[0]!, ah = A[1]!, bl = B[0]!, bh = B[1]!;
        un = nanD(al, ah) || nanD(bl, bh);
        if (un) { if (op === 0x2f || snanD(al, ah) || snanD(bl, bh)) fx |= IE; }
        else { if (denD(al, ah) || denD(bl, bh)) fx |= DE; const x = dfrom(al, ah), y = dfrom(bl, bh); lt = x < y; eq = x === y; }
      }
      commit(c);
      c.setArith(un ? 0x45 : lt ? 1 : eq ? 0x40 : 0);
      return true;
    }
    case 0x2a: { // cvtpi2ps / cvtpi2pd / cvtsi2ss / cvtsi2sd
      begin(c);
      getXmm(c, c.reg, A);
      if (p === 0 || p === 0x66) {
        if (c.mod === 3) { checkMmx(c); getMm(c, c.rm, B); mmxEnter(cpu); } else loadMmRm(c, B);
        if (p === 0) { A[0] = i32ToS(B[0]!); A[1] = i32ToS(B[1]!); }
        else { A[0] = dbLo(B[0]!); A[1] = rHi; A[2] = dbLo(B[1]!); A[3] = rHi; }
      } else {
        let lo: number, hi: number;
        if ((c.rex & 8) !== 0) { lo = c.readE(8); hi = c.hi; } else { lo = c.readE(4); hi = lo >> 31; }
        if (p === 0xf3) A[0] = (c.rex & 8) !== 0 ? i64ToS(lo, hi) : i32ToS(lo);
        else if ((c.rex & 8) !== 0) { A[0] = i64ToD(lo, hi); A[1] = rHi; }
        else { SF64[0] = lo; A[0] = SI32[0]!; A[1] = SI32[1]!; }
      }
      commit(c);
      setXmm(c, c.reg, A);
      return true;
    }
    case 0x2c: case 0x2d: { // cvtt/cvt ps2pi pd2pi ss2si sd2si
      const trunc = op === 0x2c;
      begin(c);
      if (p === 0 || p === 0x66) {
        checkMmx(c);
        if (p === 0) { loadXmmRm64(c, B); A[0] = toI32(ffrom(B[0]!), trunc); A[1] = toI32(ffrom(B[1]!), trunc); }
        else { loadXmmRm(c, B, true); A[0] = toI32(dfrom(B[0]!, B[1]!), trunc); A[1] = toI32(dfrom(B[2]!, B[3]!), trunc); }
        commit(c);
        mmxEnter(cpu);
        setMm(c, c.reg, A);
        return true;
      }
      let v: number;
      if (p === 0xf3) { loadXmmRm32(c, B); v = ffrom(B[0]!); }
      else { loadXmmRm64(c, B); v = dfrom(B[0]!, B[1]!); }
      if ((c.rex & 8) !== 0) { const lo = toI64(v, trunc); const hi = rHi; commit(c); c.setReg(8, c.reg, lo, hi); }
      else { const r = toI32(v, trunc); commit(c); c.setReg(4, c.reg, r, 0); }
      return true;
    }
    case 0x5a: { // cvtps2pd / cvtpd2ps / cvtss2sd / cvtsd2ss
      begin(c);
      getXmm(c, c.reg, A);
      if (p === 0) { loadXmmRm64(c, B); A[0] = s2d(B[0]!); A[1] = rHi; A[2] = s2d(B[1]!); A[3] = rHi; }
      else if (p === 0x66) { loadXmmRm(c, B, true); A[0] = d2s(B[0]!, B[1]!); A[1] = d2s(B[2]!, B[3]!); A[2] = 0; A[3] = 0; }
      else if (p === 0xf3) { loadXmmRm32(c, B); A[0] = s2d(B[0]!); A[1] = rHi; }
      else { loadXmmRm64(c, B); A[0] = d2s(B[0]!, B[1]!); }
      commit(c);
      setXmm(c, c.reg, A);
      return true;
    }
    case 0x5b: { // cvtdq2ps / cvtps2dq (66) / cvttps2dq (f3)
      if (p === 0xf2) return false;
      begin(c);
      loadXmmRm(c, B, true);
      for (let i = 0; i < 4; i++) {
        if (p === 0) A[i] = i32ToS(B[i]!);
        else A[i] = toI32(ffrom(B[i]!), p === 0xf3);
      }
      commit(c);
      setXmm(c, c.reg, A);
      return true;
    }
    case 0xe6: { // cvttpd2dq (66) / cvtdq2pd (f3) / cvtpd2dq (f2)
      if (p === 0) return false;
      begin(c);
      if (p === 0xf3) {
        loadXmmRm64(c, B);
        A[0] = dbLo(B[0]!); A[1] = rHi; A[2] = dbLo(B[1]!); A[3] = rHi;
      } else {
        loadXmmRm(c, B, true);
        for (let i = 0; i < 2; i++) A[i] = toI32(dfrom(B[2 * i]!, B[2 * i + 1]!), p === 0x66);
        A[2] = 0; A[3] = 0;
      }
      commit(c);
      setXmm(c, c.reg, A);
      return true;
    }
    default: return false;
  }
}

/** int32 -> double bits (exact): lo returned, hi in rHi. */
function dbLo(v: number): number { SF64[0] = v; rHi = SI32[1]!; return SI32[0]!; }

/** Test hook: the flags raised by the last executed FP operation helper calls. */
export function fpTestReset(mxcsr: number): void { fx = 0; mx = mxcsr; }
export function fpTestFlags(): number { return fx; }
export function fpTestHi(): number { return rHi; }
