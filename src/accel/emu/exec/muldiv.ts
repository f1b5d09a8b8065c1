// mul/imul (1, 2 and 3 operands) and div/idiv with #DE (Intel SDM vol. 2). Products are built from 16-bit
// limbs (exact in doubles); 128/64 division falls back to BigInt only when the dividend exceeds 2^53.

import type { CoreBase } from "../decode/decoder.ts";
import { LF_IMUL64, LF_RESAUX } from "../flags.ts";

const CF_OF = 1 | 0x800;

/** Unsigned 32x32 -> 64. Returns lo, c.hi = hi. */
export function umul32(c: CoreBase, a: number, b: number): number {
  a >>>= 0; b >>>= 0;
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, lh = al * bh, hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  c.hi = (ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) | 0;
  return Math.imul(a, b);
}

/** Result limbs of the last 64x64 multiply: [lo0, lo1, hi0, hi1] as int32. */
const prod = new Int32Array(4);

/** Unsigned 64x64 -> 128 into `prod`. */
function umul64(c: CoreBase, aLo: number, aHi: number, bLo: number, bHi: number): void {
  // (aH*2^32 + aL)(bH*2^32 + bL) = aL*bL + (aL*bH + aH*bL)*2^32 + aH*bH*2^64
  const p0 = umul32(c, aLo, bLo), p0h = c.hi >>> 0;
  const p1 = umul32(c, aLo, bHi) >>> 0, p1h = c.hi >>> 0;
  const p2 = umul32(c, aHi, bLo) >>> 0, p2h = c.hi >>> 0;
  const p3 = umul32(c, aHi, bHi) >>> 0, p3h = c.hi >>> 0;
  const w1 = p0h + p1 + p2; // < 3*2^32
  const c1 = Math.floor(w1 / 4294967296);
  const w2 = p1h + p2h + p3 + c1;
  const c2 = Math.floor(w2 / 4294967296);
  prod[0] = p0; prod[1] = w1 | 0; prod[2] = w2 | 0; prod[3] = (p3h + c2) | 0;
}

/** Signed 64x64 -> 128 into `prod`. */
function smul64(c: CoreBase, aLo: number, aHi: number, bLo: number, bHi: number): void {
  umul64(c, aLo, aHi, bLo, bHi);
  // high 64 -= (a < 0 ? b : 0) + (b < 0 ? a : 0)
  if (aHi < 0) sub128hi(bLo, bHi);
  if (bHi < 0) sub128hi(aLo, aHi);
}
function sub128hi(lo: number, hi: number): void {
  const s = (prod[2] >>> 0) - (lo >>> 0);
  prod[2] = s | 0;
  prod[3] = (prod[3] - hi - (s < 0 ? 1 : 0)) | 0;
}

function setMulFlags(c: CoreBase, os: number, lo: number, hi: number, overflow: boolean): void {
  c.lfOp = LF_RESAUX; c.lfSize = os; c.lfResLo = lo | 0; c.lfResHi = hi | 0; c.lfAux = overflow ? CF_OF : 0;
}

/** Signed multiply a*b truncated to os (2- and 3-operand imul): returns lo, c.hi = hi; sets CF=OF. */
export function imulTrunc(c: CoreBase, os: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  if (os === 8) {
    // Low 64 bits only; CF/OF are derived lazily from the operands (LF_IMUL64).
    const lo = umul32(c, aLo, bLo);
    const hi = (c.hi + Math.imul(aLo, bHi) + Math.imul(aHi, bLo)) | 0;
    c.lfOp = LF_IMUL64; c.lfSize = 8; c.lfResLo = lo; c.lfResHi = hi;
    c.lfS1Lo = aLo; c.lfS1Hi = aHi; c.lfS2Lo = bLo; c.lfS2Hi = bHi;
    c.hi = hi;
    return lo;
  }
  if (os === 4) {
    const lo = Math.imul(aLo, bLo);
    const exact = (aLo | 0) * (bLo | 0);
    setMulFlags(c, 4, lo, 0, exact !== lo);
    c.hi = 0;
    return lo;
  }
  const a = (aLo << 16) >> 16, b = (bLo << 16) >> 16;
  const p = a * b;
  const r = p & 0xffff;
  setMulFlags(c, 2, r, 0, ((r << 16) >> 16) !== p);
  c.hi = 0;
  return r;
}

/** f6/f7 /4 mul, /5 imul (one operand): src operand already read. */
export function execMul1(c: CoreBase, os: number, sLo: number, sHi: number, signed: boolean): void {
  const rlo = c.rlo, rhi = c.rhi;
  switch (os) {
    case 1: {
      const al = rlo[0] & 0xff;
      let p: number, ovf: boolean;
      if (signed) { p = ((al << 24) >> 24) * ((sLo << 24) >> 24); ovf = ((p << 24) >> 24) !== p; }
      else { p = al * (sLo & 0xff); ovf = p > 0xff; }
      rlo[0] = (rlo[0] & ~0xffff) | (p & 0xffff);
      setMulFlags(c, 1, p & 0xff, 0, ovf);
      return;
    }
    case 2: {
      const ax = rlo[0] & 0xffff;
      let p: number, ovf: boolean;
      if (signed) { p = ((ax << 16) >> 16) * ((sLo << 16) >> 16); ovf = ((p << 16) >> 16) !== p; }
      else { p = ax * (sLo & 0xffff); ovf = p > 0xffff; }
      rlo[0] = (rlo[0] & ~0xffff) | (p & 0xffff);
      rlo[2] = (rlo[2] & ~0xffff) | ((p >>> 16) & 0xffff);
      setMulFlags(c, 2, p & 0xffff, 0, ovf);
      return;
    }
    case 4: {
      const a = rlo[0];
      let lo = umul32(c, a, sLo), hi = c.hi;
      let ovf: boolean;
      if (signed) {
        if (a < 0) hi = (hi - sLo) | 0;
        if (sLo < 0) hi = (hi - a) | 0;
        ovf = hi !== (lo >> 31);
      } else ovf = hi !== 0;
      rlo[0] = lo; rhi[0] = 0; rlo[2] = hi; rhi[2] = 0;
      setMulFlags(c, 4, lo, 0, ovf);
      lo = 0;
      return;
    }
    default: {
      if (signed) smul64(c, rlo[0], rhi[0], sLo, sHi); else umul64(c, rlo[0], rhi[0], sLo, sHi);
      rlo[0] = prod[0]; rhi[0] = prod[1]; rlo[2] = prod[2]; rhi[2] = prod[3];
      const ovf = signed ? prod[2] !== (prod[1] >> 31) || prod[3] !== (prod[1] >> 31) : (prod[2] | prod[3]) !== 0;
      setMulFlags(c, 8, prod[0], prod[1], ovf);
    }
  }
}

function de(c: CoreBase): never { return c.fault(0, false, 0); }

const TWO32 = 4294967296;

let fq = 0, fr = 0;
/** Truncating division of exact integers |n| < 2^53 with a correction step for the rounded quotient. */
function fdiv(n: number, d: number): void {
  let q = Math.trunc(n / d), r = n - q * d;
  const ad = Math.abs(d), sd = d > 0 ? 1 : -1;
  if (n >= 0) { while (r < 0) { q -= sd; r += ad; } while (r >= ad) { q += sd; r -= ad; } }
  else { while (r > 0) { q += sd; r -= ad; } while (r <= -ad) { q -= sd; r += ad; } }
  fq = q; fr = r;
}

/** f6/f7 /6 div, /7 idiv: divisor already read. Flags are left unchanged (architecturally undefined). */
export function execDiv(c: CoreBase, os: number, dLo: number, dHi: number, signed: boolean): void {
  const rlo = c.rlo, rhi = c.rhi;
  switch (os) {
    case 1: {
      const ax = rlo[0] & 0xffff;
      let q: number, r: number;
      if (signed) {
        const n = (ax << 16) >> 16, d = (dLo << 24) >> 24;
        if (d === 0) de(c);
        q = Math.trunc(n / d); r = n - q * d;
        if (q > 127 || q < -128) de(c);
      } else {
        const d = dLo & 0xff;
        if (d === 0) de(c);
        q = Math.floor(ax / d); r = ax - q * d;
        if (q > 0xff) de(c);
      }
      rlo[0] = (rlo[0] & ~0xffff) | (q & 0xff) | ((r & 0xff) << 8);
      return;
    }
    case 2: {
      const n0 = ((rlo[2] & 0xffff) << 16 | (rlo[0] & 0xffff)) >>> 0;
      let q: number, r: number;
      if (signed) {
        const n = n0 | 0, d = (dLo << 16) >> 16;
        if (d === 0) de(c);
        q = Math.trunc(n / d); r = n - q * d;
        if (q > 32767 || q < -32768) de(c);
      } else {
        const d = dLo & 0xffff;
        if (d === 0) de(c);
        q = Math.floor(n0 / d); r = n0 - q * d;
        if (q > 0xffff) de(c);
      }
      rlo[0] = (rlo[0] & ~0xffff) | (q & 0xffff);
      rlo[2] = (rlo[2] & ~0xffff) | (r & 0xffff);
      return;
    }
    case 4: {
      const nl = rlo[0], nh = rlo[2];
      if (dLo === 0) de(c);
      let q: number, r: number;
      if (!signed) {
        const d = dLo >>> 0;
        if ((nh >>> 0) >= d) de(c);
        if ((nh >>> 0) < 0x200000) {
          fdiv((nh >>> 0) * TWO32 + (nl >>> 0), d); q = fq; r = fr;
        } else {
          const n = (BigInt(nh >>> 0) << 32n) | BigInt(nl >>> 0), bd = BigInt(d);
          q = Number(n / bd); r = Number(n % bd);
        }
      } else {
        const d = dLo | 0;
        if (nh === (nl >> 31) || (nh >= -0x200000 && nh < 0x200000)) {
          fdiv(nh * TWO32 + (nl >>> 0), d); q = fq; r = fr;
        } else {
          const n = (BigInt(nh) << 32n) | BigInt(nl >>> 0), bd = BigInt(d);
          q = Number(n / bd); r = Number(n % bd);
        }
        if (q > 0x7fffffff || q < -0x80000000) de(c);
      }
      rlo[0] = q | 0; rhi[0] = 0; rlo[2] = r | 0; rhi[2] = 0;
      return;
    }
    default: div64(c, dLo, dHi, signed);
  }
}

const M64 = (1n << 64n) - 1n;

function div64(c: CoreBase, dLo: number, dHi: number, signed: boolean): void {
  const rlo = c.rlo, rhi = c.rhi;
  if ((dLo | dHi) === 0) de(c);
  const aLo = rlo[0], aHi = rhi[0], nLo = rlo[2], nHi = rhi[2];
  // Fast path: both dividend and divisor fit in 53 bits, unsigned or non-negative.
  if ((nLo | nHi) === 0 && (aHi >>> 0) < 0x200000 && (dHi >>> 0) < 0x200000) {
    const n = (aHi >>> 0) * TWO32 + (aLo >>> 0), d = (dHi >>> 0) * TWO32 + (dLo >>> 0);
    fdiv(n, d);
    const q = fq, r = fr;
    rlo[0] = q | 0; rhi[0] = Math.floor(q / TWO32) | 0; rlo[2] = r | 0; rhi[2] = Math.floor(r / TWO32) | 0;
    return;
  }
  let n = (BigInt(nHi >>> 0) << 96n) | (BigInt(nLo >>> 0) << 64n) | (BigInt(aHi >>> 0) << 32n) | BigInt(aLo >>> 0);
  let d = (BigInt(dHi >>> 0) << 32n) | BigInt(dLo >>> 0);
  if (signed) {
    if (nHi < 0) n -= 1n << 128n;
    if (dHi < 0) d -= 1n << 64n;
  }
  const q = n / d, r = n % d;
  if (signed ? q > 0x7fffffffffffffffn || q < -0x8000000000000000n : q > M64) de(c);
  const qu = q & M64, ru = r & M64;
  rlo[0] = Number(qu & 0xffffffffn) | 0; rhi[0] = Number(qu >> 32n) | 0;
  rlo[2] = Number(ru & 0xffffffffn) | 0; rhi[2] = Number(ru >> 32n) | 0;
}
