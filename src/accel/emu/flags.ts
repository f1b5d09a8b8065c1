// Lazy arithmetic flags (CF PF AF ZF SF OF) for the emu interpreter.
//
// An ALU instruction records what it did (op kind, operand size, operands and result as int32 halves) and
// the flags are materialised only when something reads them (jcc/setcc/cmovcc/adc/pushf...). Values of 8- and
// 16-bit operations are stored masked (unsigned); 32-bit values as int32; 64-bit values as (lo, hi) halves.
// The core's hot classes extend LazyFlags so that the fields live on the same object as the registers.

import { type CpuState, ARITH_FLAGS } from "./cpu_state.ts";

/** Lazy flag op kinds. */
export const LF_NONE = 0; // all arithmetic flags are in lfFlags
export const LF_ADD = 1;
export const LF_ADC = 2; // lfAux = carry in
export const LF_SUB = 3;
export const LF_SBB = 4; // lfAux = carry in
export const LF_LOGIC = 5; // CF=OF=AF=0
export const LF_INC = 6; // lfAux = CF before
export const LF_DEC = 7; // lfAux = CF before
/** SZP from the result, CF/OF from lfAux (bits Fl.CF / Fl.OF), AF=0: shifts, mul, imul. */
export const LF_RESAUX = 8;
/** 64-bit 2/3-operand imul: result = low 64 bits; CF = OF = the signed 128-bit product does not fit,
 * computed from the operands only when read (it rarely is). SZP from the result, AF = 0. */
export const LF_IMUL64 = 9;

/** True when the signed 64x64 product of (aLo,aHi)*(bLo,bHi) does not fit in 64 bits (resHi = high half of
 * the low 64 bits of the product). */
export function imul64Overflows(aLo: number, aHi: number, bLo: number, bHi: number, resHi: number): boolean {
  // High 64 bits of the unsigned product from 16-bit limbs... via 32-bit partial products in doubles.
  const mul = (x: number, y: number): [number, number] => {
    x >>>= 0; y >>>= 0;
    const xl = x & 0xffff, xh = x >>> 16, yl = y & 0xffff, yh = y >>> 16;
    const ll = xl * yl, lh = xl * yh, hl = xh * yl;
    const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
    return [(((mid & 0xffff) << 16) | (ll & 0xffff)) >>> 0, xh * yh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)];
  };
  const [, p0h] = mul(aLo, bLo);
  const [p1, p1h] = mul(aLo, bHi);
  const [p2, p2h] = mul(aHi, bLo);
  const [p3, p3h] = mul(aHi, bHi);
  const w1 = p0h + p1 + p2;
  const c1 = Math.floor(w1 / 4294967296);
  let w2 = p1h + p2h + p3 + c1;
  const c2 = Math.floor(w2 / 4294967296);
  let w3 = p3h + c2;
  w2 = w2 - c2 * 4294967296;
  // Signed adjustment of the high 64 bits: minus b if a < 0, minus a if b < 0.
  let hl = w2, hh = w3;
  const sub = (lo: number, hi: number): void => {
    let t = hl - (lo >>> 0);
    let borrow = 0;
    if (t < 0) { t += 4294967296; borrow = 1; }
    hl = t; hh = hh - (hi >>> 0) - borrow;
  };
  if (aHi < 0) sub(bLo, bHi);
  if (bHi < 0) sub(aLo, aHi);
  const ext = resHi < 0 ? -1 : 0;
  w3 = hh | 0;
  return (hl | 0) !== ext || w3 !== ext;
}

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;

/** Parity-flag table: PF bit (4) set when the byte has an even number of one bits. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i, n = 0;
  while (b) { n += b & 1; b >>= 1; }
  PARITY[i] = (n & 1) === 0 ? PF : 0;
}

export class LazyFlags {
  lfOp = LF_NONE;
  /** Operand size in bytes: 1, 2, 4, 8. */
  lfSize = 4;
  lfResLo = 0;
  lfResHi = 0;
  lfS1Lo = 0;
  lfS1Hi = 0;
  lfS2Lo = 0;
  lfS2Hi = 0;
  lfAux = 0;
  /** Materialised arithmetic flags when lfOp === LF_NONE. */
  lfFlags = 0;

  constructor(readonly cpu: CpuState) {}

  /** Records an operation for lazy evaluation (64-bit form). */
  setLazy64(op: number, resLo: number, resHi: number, s1Lo: number, s1Hi: number, s2Lo: number, s2Hi: number): void {
    this.lfOp = op; this.lfSize = 8;
    this.lfResLo = resLo; this.lfResHi = resHi;
    this.lfS1Lo = s1Lo; this.lfS1Hi = s1Hi; this.lfS2Lo = s2Lo; this.lfS2Hi = s2Hi;
  }

  /** Top bit of a value of the current size (for size 8 pass the high half). */
  private top(lo: number, hi: number): number {
    const s = this.lfSize;
    return s === 8 ? hi >>> 31 : s === 4 ? lo >>> 31 : s === 2 ? (lo >>> 15) & 1 : (lo >>> 7) & 1;
  }

  /** Unsigned a < b (or <= when orEq) at the current size. */
  private ltu(aLo: number, aHi: number, bLo: number, bHi: number, orEq: number): number {
    if (this.lfSize === 8) {
      if (aHi !== bHi) return (aHi >>> 0) < (bHi >>> 0) ? 1 : 0;
    }
    const a = aLo >>> 0, b = bLo >>> 0;
    return a < b || (orEq !== 0 && a === b) ? 1 : 0;
  }

  cf(): number {
    switch (this.lfOp) {
      case LF_NONE: return this.lfFlags & CF;
      case LF_ADD: return this.ltu(this.lfResLo, this.lfResHi, this.lfS1Lo, this.lfS1Hi, 0);
      case LF_ADC: return this.ltu(this.lfResLo, this.lfResHi, this.lfS1Lo, this.lfS1Hi, this.lfAux);
      case LF_SUB: return this.ltu(this.lfS1Lo, this.lfS1Hi, this.lfS2Lo, this.lfS2Hi, 0);
      case LF_SBB: return this.ltu(this.lfS1Lo, this.lfS1Hi, this.lfS2Lo, this.lfS2Hi, this.lfAux);
      case LF_LOGIC: return 0;
      case LF_IMUL64: return imul64Overflows(this.lfS1Lo, this.lfS1Hi, this.lfS2Lo, this.lfS2Hi, this.lfResHi) ? 1 : 0;
      default: return this.lfAux & CF; // INC, DEC, RESAUX
    }
  }

  zf(): number {
    if (this.lfOp === LF_NONE) return (this.lfFlags >> 6) & 1;
    if (this.lfSize === 8) return (this.lfResLo | this.lfResHi) === 0 ? 1 : 0;
    return this.lfResLo === 0 ? 1 : 0;
  }

  sf(): number {
    if (this.lfOp === LF_NONE) return (this.lfFlags >> 7) & 1;
    return this.top(this.lfResLo, this.lfResHi);
  }

  pf(): number {
    if (this.lfOp === LF_NONE) return (this.lfFlags >> 2) & 1;
    return PARITY[this.lfResLo & 0xff] >> 2;
  }

  of(): number {
    switch (this.lfOp) {
      case LF_NONE: return (this.lfFlags >> 11) & 1;
      case LF_ADD: case LF_ADC: case LF_INC:
        return this.top((this.lfS1Lo ^ this.lfResLo) & (this.lfS2Lo ^ this.lfResLo),
          (this.lfS1Hi ^ this.lfResHi) & (this.lfS2Hi ^ this.lfResHi));
      case LF_SUB: case LF_SBB: case LF_DEC:
        return this.top((this.lfS1Lo ^ this.lfS2Lo) & (this.lfS1Lo ^ this.lfResLo),
          (this.lfS1Hi ^ this.lfS2Hi) & (this.lfS1Hi ^ this.lfResHi));
      case LF_LOGIC: return 0;
      case LF_IMUL64: return imul64Overflows(this.lfS1Lo, this.lfS1Hi, this.lfS2Lo, this.lfS2Hi, this.lfResHi) ? 1 : 0;
      default: return (this.lfAux >> 11) & 1;
    }
  }

  af(): number {
    switch (this.lfOp) {
      case LF_NONE: return (this.lfFlags >> 4) & 1;
      case LF_LOGIC: case LF_RESAUX: case LF_IMUL64: return 0;
      default: return ((this.lfS1Lo ^ this.lfS2Lo ^ this.lfResLo) >> 4) & 1;
    }
  }

  /** All six arithmetic flags as EFLAGS bits. */
  getArith(): number {
    if (this.lfOp === LF_NONE) return this.lfFlags;
    return this.cf() | (this.pf() << 2) | (this.af() << 4) | (this.zf() << 6) | (this.sf() << 7) | (this.of() << 11);
  }

  /** Replaces the arithmetic flags by explicit values (bits outside ARITH_FLAGS ignored). */
  setArith(v: number): void {
    this.lfOp = LF_NONE;
    this.lfFlags = v & ARITH_FLAGS;
  }

  /** Materialises and then sets/clears CF only. */
  setCF(c: number): void {
    const f = this.getArith();
    this.lfOp = LF_NONE;
    this.lfFlags = (f & ~CF) | (c & 1);
  }

  getEflags(): number {
    return (this.cpu.eflagsRest & ~ARITH_FLAGS) | 2 | this.getArith();
  }

  /** Sets the whole EFLAGS value (no privilege checks: callers apply IOPL/IF/VM rules). */
  setEflags(v: number): void {
    this.cpu.eflagsRest = (v & ~ARITH_FLAGS & 0x3f7fd7) | 2;
    this.lfOp = LF_NONE;
    this.lfFlags = v & ARITH_FLAGS;
  }

  /** Condition code cc (0..15, the low nibble of jcc/setcc/cmovcc) evaluated on the current flags. */
  cond(cc: number): boolean {
    const op = this.lfOp;
    if (op === LF_SUB) return this.condSub(cc);
    if (op === LF_LOGIC) {
      // CF = OF = 0: b/be/l/le reduce to ZF/SF tests.
      const s = this.lfSize;
      const zero = s === 8 ? (this.lfResLo | this.lfResHi) === 0 : this.lfResLo === 0;
      switch (cc) {
        case 4: return zero;
        case 5: return !zero;
        case 8: case 12: return this.sf() !== 0; // s, l (SF != OF with OF = 0)
        case 9: case 13: return this.sf() === 0;
        case 14: return zero || this.sf() !== 0; // le
        case 15: return !zero && this.sf() === 0; // g
      }
    }
    return this.condSlow(cc);
  }

  /** Conditions after cmp/sub computed directly from the operands (unsigned/signed compares). */
  private condSub(cc: number): boolean {
    const s = this.lfSize;
    let a = this.lfS1Lo, b = this.lfS2Lo;
    switch (cc) {
      case 4: return s === 8 ? (this.lfResLo | this.lfResHi) === 0 : this.lfResLo === 0;
      case 5: return s === 8 ? (this.lfResLo | this.lfResHi) !== 0 : this.lfResLo !== 0;
      case 2: case 3: case 6: case 7: { // b, ae, be, a (unsigned)
        let lt: boolean, eq: boolean;
        if (s === 8 && this.lfS1Hi !== this.lfS2Hi) { lt = (this.lfS1Hi >>> 0) < (this.lfS2Hi >>> 0); eq = false; }
        else { lt = (a >>> 0) < (b >>> 0); eq = a === b; }
        if (cc === 2) return lt;
        if (cc === 3) return !lt;
        return cc === 6 ? lt || eq : !lt && !eq;
      }
      case 12: case 13: case 14: case 15: { // l, ge, le, g (signed)
        let lt: boolean, eq: boolean;
        if (s === 8) {
          const ah = this.lfS1Hi, bh = this.lfS2Hi;
          if (ah !== bh) { lt = ah < bh; eq = false; }
          else { lt = (a >>> 0) < (b >>> 0); eq = a === b; }
        } else {
          if (s === 1) { a = (a << 24) >> 24; b = (b << 24) >> 24; }
          else if (s === 2) { a = (a << 16) >> 16; b = (b << 16) >> 16; }
          lt = a < b; eq = a === b;
        }
        if (cc === 12) return lt;
        if (cc === 13) return !lt;
        return cc === 14 ? lt || eq : !lt && !eq;
      }
      default: return this.condSlow(cc);
    }
  }

  private condSlow(cc: number): boolean {
    let r: number;
    switch (cc >> 1) {
      case 0: r = this.of(); break;
      case 1: r = this.cf(); break;
      case 2: r = this.zf(); break;
      case 3: r = this.cf() | this.zf(); break;
      case 4: r = this.sf(); break;
      case 5: r = this.pf(); break;
      case 6: r = this.sf() ^ this.of(); break;
      default: r = this.zf() | (this.sf() ^ this.of()); break;
    }
    return (r ^ (cc & 1)) !== 0;
  }
}

export const FLAG_BITS = { CF, PF, AF, ZF, SF, OF } as const;
