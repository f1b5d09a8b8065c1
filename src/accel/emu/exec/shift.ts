// Shifts and rotates: group 2 (c0 c1 d0-d3: rol ror rcl rcr shl shr sal sar), shld/shrd (Intel SDM vol. 2).
// Counts are masked to 5 bits (6 with 64-bit operands); a masked count of 0 changes neither the flags nor
// the operand (a 32-bit register destination is still zero-extended, as on hardware).

import type { CoreBase } from "../decode/decoder.ts";
import { LF_NONE, LF_RESAUX } from "../flags.ts";
import { readRmw, sizeMask } from "./alu.ts";

const CF = 1, OF = 0x800;

function bit64(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/** 64-bit shift left by n (0..63): lo returned, hi in c.hi. */
export function shl64(c: CoreBase, lo: number, hi: number, n: number): number {
  if (n === 0) { c.hi = hi; return lo; }
  if (n < 32) { c.hi = (hi << n) | (lo >>> (32 - n)); return lo << n; }
  c.hi = lo << (n - 32); return 0;
}
export function shr64(c: CoreBase, lo: number, hi: number, n: number): number {
  if (n === 0) { c.hi = hi; return lo; }
  if (n < 32) { c.hi = hi >>> n; return (lo >>> n) | (hi << (32 - n)); }
  c.hi = 0; return (hi >>> (n - 32)) | 0;
}
export function sar64(c: CoreBase, lo: number, hi: number, n: number): number {
  if (n === 0) { c.hi = hi; return lo; }
  if (n < 32) { c.hi = hi >> n; return (lo >>> n) | (hi << (32 - n)); }
  c.hi = hi >> 31; return hi >> (n - 32);
}

/** Values are stored | 0: one double (a uint32 from >>>) would make the field a boxed double for good. */
function setResAux(c: CoreBase, os: number, lo: number, hi: number, cf: number, of: number): void {
  c.lfOp = LF_RESAUX; c.lfSize = os; c.lfResLo = lo | 0; c.lfResHi = hi | 0; c.lfAux = (cf & 1) | ((of & 1) << 11);
}

function setCfOf(c: CoreBase, cf: number, of: number): void {
  const f = c.getArith();
  c.lfOp = LF_NONE;
  c.lfFlags = (f & ~(CF | OF)) | (cf & 1) | ((of & 1) << 11);
}

/** shl/sal/shr/sar (op 4..7) of a 32- or 64-bit value (lo, hi) by count (masked, non-zero): the common shifts,
 * small enough for TurboFan to inline (shiftOp is not). Returns lo, c.hi = hi. */
function shiftSimple(c: CoreBase, op: number, os: number, lo: number, hi: number, count: number): number {
  let r: number, rh: number, cf: number, of: number;
  if (os === 8) {
    if (op === 5) { r = shr64(c, lo, hi, count); rh = c.hi; cf = bit64(lo, hi, count - 1); of = hi >>> 31; }
    else if (op === 7) { r = sar64(c, lo, hi, count); rh = c.hi; cf = bit64(lo, hi, count - 1); of = 0; }
    else { r = shl64(c, lo, hi, count); rh = c.hi; cf = bit64(lo, hi, 64 - count); of = (rh >>> 31) ^ cf; }
  } else {
    rh = 0;
    if (op === 5) { r = lo >>> count; cf = (lo >>> (count - 1)) & 1; of = (lo >>> 31) & 1; }
    else if (op === 7) { r = lo >> count; cf = (lo >> (count - 1)) & 1; of = 0; }
    else { r = lo << count; cf = (lo >>> (32 - count)) & 1; of = ((r >>> 31) & 1) ^ cf; }
  }
  setResAux(c, os, r, rh, cf, of);
  c.hi = rh;
  return r | 0;
}

/** Shift/rotate `op` (0..7) of value (lo, hi) of size os by count (already masked, non-zero). */
export function shiftOp(c: CoreBase, op: number, os: number, lo: number, hi: number, count: number): number {
  const w = os * 8;
  if (os === 8) {
    switch (op) {
      case 0: { // rol
        const n = count & 63;
        const a = shl64(c, lo, hi, n), ah = c.hi;
        const b = shr64(c, lo, hi, (64 - n) & 63), bh = c.hi;
        const rl = n === 0 ? lo : a | b, rh = n === 0 ? hi : ah | bh;
        const cf = rl & 1;
        setCfOf(c, cf, (rh >>> 31) ^ cf);
        c.hi = rh; return rl;
      }
      case 1: { // ror
        const n = count & 63;
        const a = shr64(c, lo, hi, n), ah = c.hi;
        const b = shl64(c, lo, hi, (64 - n) & 63), bh = c.hi;
        const rl = n === 0 ? lo : a | b, rh = n === 0 ? hi : ah | bh;
        setCfOf(c, rh >>> 31, (rh >>> 31) ^ ((rh >>> 30) & 1));
        c.hi = rh; return rl;
      }
      case 2: case 3: return rcx(c, op === 3, os, lo, hi, count);
      case 4: case 6: {
        const r = shl64(c, lo, hi, count), rh = c.hi;
        const cf = bit64(lo, hi, 64 - count);
        setResAux(c, 8, r, rh, cf, (rh >>> 31) ^ cf);
        c.hi = rh; return r;
      }
      case 5: {
        const r = shr64(c, lo, hi, count), rh = c.hi;
        setResAux(c, 8, r, rh, bit64(lo, hi, count - 1), hi >>> 31);
        c.hi = rh; return r;
      }
      default: {
        const r = sar64(c, lo, hi, count), rh = c.hi;
        setResAux(c, 8, r, rh, bit64(lo, hi, count - 1), 0);
        c.hi = rh; return r;
      }
    }
  }
  const m = sizeMask(os);
  lo &= m;
  c.hi = 0;
  switch (op) {
    case 0: { // rol
      const n = count & (w - 1);
      const r = n === 0 ? lo : ((lo << n) | (lo >>> (w - n))) & m;
      const cf = r & 1;
      setCfOf(c, cf, ((r >>> (w - 1)) & 1) ^ cf);
      return r;
    }
    case 1: { // ror
      const n = count & (w - 1);
      const r = n === 0 ? lo : ((lo >>> n) | (lo << (w - n))) & m;
      const msb = (r >>> (w - 1)) & 1;
      setCfOf(c, msb, msb ^ ((r >>> (w - 2)) & 1));
      return r;
    }
    case 2: case 3: return rcx(c, op === 3, os, lo, 0, count);
    case 4: case 6: {
      const r = count >= 32 ? 0 : (lo << count) & m;
      const cf = count > w ? 0 : (lo >>> (w - count)) & 1;
      setResAux(c, os, r, 0, cf, ((r >>> (w - 1)) & 1) ^ cf);
      return r;
    }
    case 5: {
      const r = lo >>> count;
      setResAux(c, os, r & m, 0, (lo >>> (count - 1)) & 1, (lo >>> (w - 1)) & 1);
      return r & m;
    }
    default: {
      const s = (lo << (32 - w)) >> (32 - w); // sign-extended to 32 bits
      const r = (s >> (count > 31 ? 31 : count)) & m;
      setResAux(c, os, r, 0, (s >> (count - 1 > 31 ? 31 : count - 1)) & 1, 0);
      return r;
    }
  }
}

/** rcl / rcr, bit by bit (rare). */
function rcx(c: CoreBase, right: boolean, os: number, lo: number, hi: number, count: number): number {
  const w = os * 8;
  let n = os <= 2 ? count % (w + 1) : count;
  let cf = c.cf();
  if (n === 0) { c.hi = hi; return lo; }
  const m = sizeMask(os);
  while (n-- > 0) {
    if (right) {
      const out = lo & 1;
      if (os === 8) { lo = (lo >>> 1) | (hi << 31); hi = (hi >>> 1) | (cf << 31); }
      else lo = ((lo >>> 1) | (cf << (w - 1))) & m;
      cf = out;
    } else {
      const out = os === 8 ? hi >>> 31 : (lo >>> (w - 1)) & 1;
      if (os === 8) { hi = (hi << 1) | (lo >>> 31); lo = (lo << 1) | cf; }
      else lo = ((lo << 1) | cf) & m;
      cf = out;
    }
  }
  const msb = os === 8 ? hi >>> 31 : (lo >>> (w - 1)) & 1;
  const msb2 = os === 8 ? (hi >>> 30) & 1 : (lo >>> (w - 2)) & 1;
  setCfOf(c, cf, right ? msb ^ msb2 : msb ^ cf);
  c.hi = hi;
  return lo;
}

/** Group 2 on the decoded r/m operand: count source already fetched. */
export function execGroup2(c: CoreBase, os: number, count: number): void {
  count &= os === 8 ? 63 : 31;
  const op = (c.modrm >> 3) & 7;
  const lo = readRmw(c, os), hi = c.hi; // a write-intent access even for count 0
  if (count === 0) { if (c.mod === 3 && os === 4) c.writeE(4, lo, 0); return; }
  const r = op >= 4 && os >= 4 ? shiftSimple(c, op, os, lo, hi, count) : shiftOp(c, op, os, lo, hi, count);
  c.writeE(os, r, c.hi);
}

/** shld (left) / shrd of the decoded r/m operand with register c.reg. */
export function execShxd(c: CoreBase, os: number, count: number, left: boolean): void {
  count &= os === 8 ? 63 : 31;
  const lo = readRmw(c, os), hi = c.hi; // a write-intent access even for count 0
  if (count === 0) { if (c.mod === 3 && os === 4) c.writeE(4, lo, 0); return; }
  const s = c.getReg(os, c.reg), sh = c.hi;
  let rl: number, rh = 0, cf: number;
  if (os === 8) {
    if (left) {
      const a = shl64(c, lo, hi, count), ah = c.hi;
      const b = shr64(c, s, sh, 64 - count), bh = c.hi;
      rl = a | b; rh = ah | bh; cf = bit64(lo, hi, 64 - count);
    } else {
      const a = shr64(c, lo, hi, count), ah = c.hi;
      const b = shl64(c, s, sh, 64 - count), bh = c.hi;
      rl = a | b; rh = ah | bh; cf = bit64(lo, hi, count - 1);
    }
    setResAux(c, 8, rl, rh, cf, ((rh ^ hi) >>> 31) & 1);
  } else if (os === 4) {
    if (left) { rl = (lo << count) | (s >>> (32 - count)); cf = (lo >>> (32 - count)) & 1; }
    else { rl = (lo >>> count) | (s << (32 - count)); cf = (lo >>> (count - 1)) & 1; }
    setResAux(c, 4, rl, 0, cf, ((rl ^ lo) >>> 31) & 1);
  } else {
    // 16-bit: shift the 32-bit concatenation (counts > 16 are undefined on hardware).
    const lo16 = lo & 0xffff, s16 = s & 0xffff;
    if (left) {
      const cat = ((lo16 << 16) | s16) >>> 0;
      const x = count < 32 ? (cat << count) | (count > 16 ? (lo16 << (count - 16)) : 0) : 0;
      rl = (x >>> 16) & 0xffff; cf = (cat >>> (32 - count)) & 1;
    } else {
      const cat = ((s16 << 16) | lo16) >>> 0;
      rl = (cat >>> count) & 0xffff; cf = (cat >>> (count - 1)) & 1;
    }
    setResAux(c, 2, rl, 0, cf, ((rl ^ lo16) >>> 15) & 1);
  }
  c.writeE(os, rl, rh);
}
