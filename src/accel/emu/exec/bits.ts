// Bit instructions: bt/bts/btr/btc (register and immediate offsets, memory bit-string addressing),
// bsf/bsr (also tzcnt/lzcnt encodings when BMI1/ABM are not advertised), popcnt, bswap (Intel SDM vol. 2).

import type { CoreBase } from "../decode/decoder.ts";
import { LF_NONE } from "../flags.ts";
import { readRmw } from "./alu.ts";

const ZF = 0x40;

/** bt family on the decoded r/m operand. op: 0 bt, 1 bts, 2 btr, 3 btc. `regOffset`: the offset comes from
 * register c.reg (memory bit strings may then address outside the operand), else `imm`. */
export function execBt(c: CoreBase, os: number, op: number, regOffset: boolean, imm: number): void {
  const w = os * 8;
  let bit: number;
  if (c.mod === 3) {
    bit = (regOffset ? c.getReg(os, c.reg) : imm) & (w - 1);
  } else if (!regOffset) {
    bit = imm & (w - 1);
  } else {
    // Signed bit offset: move the address by whole operands.
    let off: number;
    const lo = c.getReg(os, c.reg);
    if (os === 8) off = c.hi * 4294967296 + (lo >>> 0);
    else if (os === 4) off = lo | 0;
    else off = (lo << 16) >> 16;
    const units = Math.floor(off / w);
    bit = off - units * w;
    const delta = units * os;
    if (delta !== 0) {
      // linear + delta (64-bit or 32-bit wrap)
      if (c.is64) {
        const s = (c.eaLo >>> 0) + delta;
        const carry = Math.floor(s / 4294967296);
        c.eaLo = s | 0; c.eaHi = (c.eaHi + carry) | 0;
      } else c.eaLo = (c.eaLo + delta) | 0;
    }
  }
  let lo = op !== 0 ? readRmw(c, os) : c.readE(os), hi = c.hi;
  let cf: number;
  if (os === 8 && bit >= 32) {
    const m = 1 << (bit - 32);
    cf = (hi & m) !== 0 ? 1 : 0;
    if (op === 1) hi |= m; else if (op === 2) hi &= ~m; else if (op === 3) hi ^= m;
  } else {
    const m = 1 << bit;
    cf = (lo & m) !== 0 ? 1 : 0;
    if (op === 1) lo |= m; else if (op === 2) lo &= ~m; else if (op === 3) lo ^= m;
  }
  c.setCF(cf);
  if (op !== 0) c.writeE(os, lo, hi);
}

function clz64(lo: number, hi: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** bsf (reverse=false) / bsr of the decoded r/m into c.reg; ZF=1 and the destination unchanged on zero. */
export function execBsx(c: CoreBase, os: number, reverse: boolean): void {
  let lo = c.readE(os), hi = c.hi;
  if (os < 8) hi = 0;
  if (os < 4) lo &= os === 2 ? 0xffff : 0xff;
  const f = c.getArith() & ~ZF;
  if ((lo | hi) === 0) {
    c.lfOp = LF_NONE; c.lfFlags = f | ZF;
    return;
  }
  let idx: number;
  if (reverse) idx = os === 8 ? 63 - clz64(lo, hi) : 31 - Math.clz32(lo);
  else idx = lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
  c.lfOp = LF_NONE; c.lfFlags = f;
  c.setReg(os, c.reg, idx, 0);
}

function popcnt32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** popcnt (when advertised): flags all cleared except ZF for a zero source. */
export function execPopcnt(c: CoreBase, os: number): void {
  let lo = c.readE(os), hi = c.hi;
  if (os < 8) hi = 0;
  if (os < 4) lo &= 0xffff;
  const n = popcnt32(lo) + popcnt32(hi);
  c.lfOp = LF_NONE; c.lfFlags = n === 0 ? ZF : 0;
  c.setReg(os, c.reg, n, 0);
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** 0f c8+r bswap. */
export function execBswap(c: CoreBase, r: number, os: number): void {
  const rlo = c.rlo, rhi = c.rhi;
  if (os === 8) { const lo = rlo[r]; rlo[r] = bswap32(rhi[r]); rhi[r] = bswap32(lo); }
  else if (os === 4) { rlo[r] = bswap32(rlo[r]); rhi[r] = 0; }
  else rlo[r] &= ~0xffff; // bswap r16 is undefined; hardware clears the low word
}

