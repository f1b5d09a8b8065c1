// x87 hook: d8-df escape opcodes and fwait (SDM vol. 1 ch. 8, vol. 2). The interpreter has already decoded
// ModRM (c.mod/c.reg/c.rm, memory operands in c.eaLo/c.eaHi as a linear address).
//
// Model: registers are doubles (CpuState.fpr, by physical index) with exact 80-bit images kept in FpExt.raw
// where a value came from memory as m80 / fxrstor / frstor / fild m64 / MMX (see sse_state.ts), so loads and
// stores of m80 and 64-bit integers are bit-exact. Arithmetic runs in double precision (as with precision
// control = double; the 15-bit exponent range is not modelled) and honours the rounding control (results
// re-rounded from the sign of the exact error, C1 = rounded away from zero). Stack overflow/underflow, IE/ZE/OE/PE status
// flags, masked responses (QNaN indefinite, integer indefinite) and unmasked exceptions (ES/B set, #MF on the
// next waiting x87 instruction when CR0.NE, nothing written) follow the SDM. Transcendentals use Math.*.
// fnstenv/fldenv/fnsave/frstor use the protected-mode layouts (also in real mode) for 16- and 32-bit operand
// size. DE only for denormal m32/m64 operands; UE only for fst m32 and fscale. fisttp (SSE3) is not advertised.

import type { CoreBase } from "../decode/decoder.ts";
import { dfrom, ensureRaw, FpExt, fpExt, nextUpDouble, prodErr, scale2, setFpr, setRaw80, SF64, SI32 } from "./sse_state.ts";

const IE = 1, DE = 2, ZE = 4, OE = 8, PE = 0x20, SF = 0x40, ES = 0x80, C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;
const B_BUSY = 0x8000;

/** Unmasked exception raised by the current instruction: results are not written. */
let unmasked = false;
let ext: FpExt = new FpExt();

/** Raises status flags; returns true when one of them is unmasked (then ES and B are set). */
function raise(c: CoreBase, f: number): boolean {
  const cpu = c.cpu;
  cpu.fpuStatus |= f;
  if ((f & ~cpu.fpuControl & 0x3f) !== 0) { cpu.fpuStatus |= ES | B_BUSY; unmasked = true; return true; }
  return false;
}

/** CR0.EM or CR0.TS -> #NM; for waiting instructions also a pending unmasked exception -> #MF (CR0.NE). */
function checkFpu(c: CoreBase, waiting: boolean): void {
  const cpu = c.cpu;
  if ((cpu.cr0 & 0xc) !== 0) c.fault(7, false, 0);
  if (waiting && (cpu.fpuStatus & ES) !== 0 && (cpu.cr0 & 0x20) !== 0) c.fault(16, false, 0);
}

function phys(c: CoreBase, i: number): number { return (c.cpu.fpuTop + i) & 7; }
function empty(c: CoreBase, p: number): boolean { return ((c.cpu.fpuTag >> (2 * p)) & 3) === 3; }
function setTop(c: CoreBase, t: number): void {
  const cpu = c.cpu;
  cpu.fpuTop = t & 7;
  cpu.fpuStatus = (cpu.fpuStatus & ~0x3800) | ((t & 7) << 11);
}
function setCC(c: CoreBase, cc: number): void {
  c.cpu.fpuStatus = (c.cpu.fpuStatus & ~(C0 | C1 | C2 | C3)) | cc;
}

const INDEF = dfrom(0, 0xfff80000 | 0);

/** ST(i) value; an empty register is a stack underflow (IE|SF, C1=0) and reads as the QNaN indefinite. */
function getSt(c: CoreBase, i: number): number {
  const p = phys(c, i);
  if (empty(c, p)) { c.cpu.fpuStatus &= ~C1; raise(c, IE | SF); return INDEF; }
  return c.cpu.fpr[p]!;
}
/** Writes ST(i) (tag valid) unless an unmasked exception happened. */
function putSt(c: CoreBase, i: number, v: number): void {
  if (unmasked) return;
  const p = phys(c, i), cpu = c.cpu;
  setFpr(cpu, ext, p, v);
  cpu.fpuTag &= ~(3 << (2 * p));
}
/** Pushes v (stack overflow when ST(7) is in use: IE|SF, C1=1, masked -> indefinite). */
function push(c: CoreBase, v: number): void {
  const cpu = c.cpu;
  const t = (cpu.fpuTop - 1) & 7;
  if (!empty(c, t)) {
    cpu.fpuStatus |= C1;
    if (raise(c, IE | SF)) return;
    v = INDEF;
  }
  if (unmasked) return;
  setTop(c, t);
  setFpr(cpu, ext, t, v);
  cpu.fpuTag &= ~(3 << (2 * t));
}
function pushRaw(c: CoreBase, w0: number, w1: number, w2: number, w3: number, w4: number): void {
  const cpu = c.cpu;
  const t = (cpu.fpuTop - 1) & 7;
  if (!empty(c, t)) { cpu.fpuStatus |= C1; if (raise(c, IE | SF)) return; push(c, INDEF); return; }
  if (unmasked) return;
  setTop(c, t);
  setRaw80(cpu, ext, t, w0, w1, w2, w3, w4);
  cpu.fpuTag &= ~(3 << (2 * t));
}
function pop(c: CoreBase): void {
  if (unmasked) return;
  const cpu = c.cpu;
  cpu.fpuTag |= 3 << (cpu.fpuTop * 2);
  setTop(c, cpu.fpuTop + 1);
}

// ------------------------------------------------------------------------------------------------ arithmetic

function isSnan(v: number): boolean {
  if (v === v) return false;
  SF64[0] = v;
  return (SI32[1]! & 0x80000) === 0;
}
function quiet(v: number): number {
  SF64[0] = v;
  SI32[1] = SI32[1]! | 0x80000;
  return SF64[0]!;
}

/** kind: 0 add, 1 mul, 4 sub (a-b), 5 subr (b-a), 6 div (a/b), 7 divr (b/a). */
function arith(c: CoreBase, kind: number, a: number, b: number): number {
  if (a !== a || b !== b) {
    if (isSnan(a) || isSnan(b)) raise(c, IE);
    return quiet(a !== a ? a : b);
  }
  let x = a, y = b;
  if (kind === 5 || kind === 7) { x = b; y = a; }
  let r: number;
  switch (kind) {
    case 0: r = x + y; break;
    case 1: r = x * y; break;
    case 4: case 5: r = x - y; break;
    default:
      if (y === 0 && x === x && x !== 0 && x - x === 0) { raise(c, ZE); return (x < 0) !== Object.is(y, -0) ? -Infinity : Infinity; }
      r = x / y;
  }
  return fin(c, r, x - x === 0 && y - y === 0, kind, x, y);
}

/** Result post-processing: invalid -> indefinite, overflow, precision (double-precision model). */
function fin(c: CoreBase, r: number, finiteIn: boolean, kind: number, x: number, y: number): number {
  if (r !== r) { raise(c, IE); return INDEF; }
  if (!finiteIn) return r;
  if (r - r !== 0) { raise(c, OE | PE); return r; }
  // err: exact result minus r (sign only matters); C1 = rounded away from zero
  let err = 0;
  switch (kind) {
    case 0: { const bv = r - x; err = (x - (r - bv)) + (y - bv); break; }
    case 4: case 5: { const yy = -y, bv = r - x; err = (x - (r - bv)) + (yy - bv); break; }
    case 1: err = r !== 0 ? prodErr(x, y, r) : 0; break;
    case 6: case 7: {
      if (y !== 0 && r !== 0) {
        const p = r * y, rem = (x - p) - prodErr(r, y, p);
        err = rem === 0 ? 0 : (rem < 0) !== (y < 0) ? -1 : 1;
      }
      break;
    }
    default: break;
  }
  if (err === 0 && r === 0 && kind !== 1 && kind < 6 && ((c.cpu.fpuControl >> 10) & 3) === 1) {
    const yy = kind === 0 ? y : -y; // exact zero sum rounds to -0 when rounding down (unless both +0)
    return Object.is(x, 0) && Object.is(yy, 0) ? 0 : -0;
  }
  return applyRc(c, r, err);
}

/** Given the nearest-even result r and err = sign(exact - r): sets PE, re-rounds by the control word's RC and
 * sets C1 when the final result was rounded away from zero. */
function applyRc(c: CoreBase, r: number, err: number): number {
  if (err === 0) return r;
  raise(c, PE);
  const rc = (c.cpu.fpuControl >> 10) & 3;
  let dir = 0;
  if (rc === 1) { if (err < 0) dir = -1; }
  else if (rc === 2) { if (err > 0) dir = 1; }
  else if (rc === 3) { if (r > 0 && err < 0) dir = -1; else if (r < 0 && err > 0) dir = 1; }
  if (dir !== 0) { r = dir > 0 ? nextUpDouble(r) : -nextUpDouble(-r); err = -err; }
  if (r !== 0 && (err < 0) !== (r < 0)) c.cpu.fpuStatus |= C1;
  return r;
}

/** fcom/fucom condition codes (C3 C2 C0) for a ? b; `quietOk` = unordered compare (only SNaN raises IE). */
function compare(c: CoreBase, a: number, b: number, quietOk: boolean): number {
  if (a !== a || b !== b) {
    if (!quietOk || isSnan(a) || isSnan(b)) raise(c, IE);
    return C3 | C2 | C0;
  }
  return a > b ? 0 : a < b ? C0 : C3;
}
/** fcomi/fucomi: ZF PF CF from the same comparison; OF SF AF cleared. */
function compareFlags(c: CoreBase, a: number, b: number, quietOk: boolean): void {
  const cc = compare(c, a, b, quietOk); // C1 kept (cleared on stack underflow only), as on AMD hardware
  if (unmasked) return;
  c.setArith(cc === (C3 | C2 | C0) ? 0x45 : cc === C0 ? 1 : cc === C3 ? 0x40 : 0);
}

/** Rounds by the control word's RC. */
function roundRc(c: CoreBase, v: number): number {
  switch ((c.cpu.fpuControl >> 10) & 3) {
    case 0: { const r = Math.round(v); return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; }
    case 1: return Math.floor(v);
    case 2: return Math.ceil(v);
    default: return Math.trunc(v);
  }
}

// ------------------------------------------------------------------------------------------------ integers

/** Exact value of physical register p as a rational mant * 2^exp (BigInt mantissa); null for NaN/inf. */
function exactOf(c: CoreBase, p: number): [bigint, number, boolean] | null {
  ensureRaw(c.cpu, ext, p);
  const r = ext.raw, o = p * 5;
  const se = r[o + 4]!, exp = se & 0x7fff;
  if (exp === 0x7fff) return null;
  const m = (BigInt(r[o + 3]!) << 48n) | (BigInt(r[o + 2]!) << 32n) | (BigInt(r[o + 1]!) << 16n) | BigInt(r[o]!);
  return [m, (exp === 0 ? 1 : exp) - 16383 - 63, (se & 0x8000) !== 0];
}

/** ST(0) converted to a signed integer of `bits` bits by RC; out of range / NaN -> indefinite with IE. */
function toInt(c: CoreBase, bits: number): bigint {
  const indef = -(1n << BigInt(bits - 1));
  const p = phys(c, 0);
  c.cpu.fpuStatus &= ~C1;
  if (empty(c, p)) { c.cpu.fpuStatus &= ~C1; raise(c, IE | SF); return indef; }
  const x = exactOf(c, p);
  if (x === null) { raise(c, IE); return indef; }
  const [m, e, neg] = x;
  let q: bigint;
  let inexact = false;
  if (e >= 0) q = m << BigInt(e);
  else {
    const sh = BigInt(-e);
    q = m >> sh;
    const rem = m - (q << sh);
    if (rem !== 0n) {
      inexact = true;
      const half = 1n << (sh - 1n);
      switch ((c.cpu.fpuControl >> 10) & 3) {
        case 0: if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n; break;
        case 1: if (neg) q += 1n; break; // toward -inf: magnitude up for negatives
        case 2: if (!neg) q += 1n; break;
        default: break;
      }
    }
  }
  const v = neg ? -q : q;
  if (v < indef || v > -indef - 1n) { raise(c, IE); return indef; }
  if (inexact) { raise(c, PE); if (q << BigInt(e >= 0 ? 0 : -e) > m) c.cpu.fpuStatus |= C1; }
  return v;
}

/** Pushes an integer exactly (80-bit image). */
function pushInt(c: CoreBase, v: bigint): void {
  c.cpu.fpuStatus &= ~C1; // fild / fbld: C1 = 0 unless the push overflows the stack
  if (v === 0n) { pushRaw(c, 0, 0, 0, 0, 0); return; }
  const neg = v < 0n;
  const mag = neg ? -v : v;
  const len = mag.toString(2).length;
  const m = mag << BigInt(64 - len);
  pushRaw(c, Number(m & 0xffffn), Number((m >> 16n) & 0xffffn), Number((m >> 32n) & 0xffffn), Number(m >> 48n),
    (neg ? 0x8000 : 0) | (16383 + len - 1));
}

// ------------------------------------------------------------------------------------------------ memory

const F32 = new Float32Array(1), F32I = new Int32Array(F32.buffer);
function f32of(b: number): number { F32I[0] = b; return F32[0]!; }
function rdF32(c: CoreBase): number {
  const b = c.rdMem(4, c.eaLo, c.eaHi);
  if ((b & 0x7fffffff) > 0x7f800000) {
    if ((b & 0x400000) === 0) raise(c, IE);
    return dfrom((b << 29) | 0, (b & 0x80000000) | 0x7ff80000 | ((b >>> 3) & 0x7ffff));
  }
  if ((b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0) raise(c, DE);
  return f32of(b);
}
function rdF64(c: CoreBase): number {
  const lo = c.rdMem(8, c.eaLo, c.eaHi), hi = c.hi;
  const v = dfrom(lo, hi);
  if (v !== v && (hi & 0x80000) === 0) { raise(c, IE); return quiet(v); }
  if ((hi & 0x7ff00000) === 0 && ((hi & 0xfffff) | lo) !== 0) raise(c, DE);
  return v;
}
function wrF32(c: CoreBase, v: number): void {
  let b: number;
  if (v !== v) {
    SF64[0] = v;
    const lo = SI32[0]!, hi = SI32[1]!;
    b = (hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29);
  } else {
    F32[0] = v;
    let r = F32[0]!;
    const ovf = r - r !== 0 && v - v === 0;
    let err = ovf ? (r > 0 ? -1 : 1) : v - v !== 0 ? 0 : v - r; // sign(exact - r)
    if (err !== 0) {
      const rc = (c.cpu.fpuControl >> 10) & 3;
      let dir = 0;
      if (rc === 1) { if (err < 0) dir = -1; }
      else if (rc === 2) { if (err > 0) dir = 1; }
      else if (rc === 3) { if (r > 0 && err < 0) dir = -1; else if (r < 0 && err > 0) dir = 1; }
      if (dir !== 0) { r = dir > 0 ? nextUpF(r) : -nextUpF(-r); err = -err; }
      const over = ovf || (r - r !== 0 && v - v === 0);
      raise(c, over ? OE | PE : Math.abs(v) < 2 ** -126 ? 0x10 | PE : PE);
      if (r !== 0 && (err < 0) !== (r < 0)) c.cpu.fpuStatus |= C1;
      F32[0] = r;
    }
    b = F32I[0]!;
  }
  if (!unmasked) c.wrMem(4, c.eaLo, c.eaHi, b, 0);
}
function nextUpF(r: number): number {
  if (r === Infinity) return r;
  if (r === 0) { F32I[0] = 1; return F32[0]!; }
  F32[0] = r;
  F32I[0] = r > 0 ? F32I[0]! + 1 : F32I[0]! - 1;
  return F32[0]!;
}
function wrF64(c: CoreBase, v: number): void {
  SF64[0] = v;
  const lo = SI32[0]!, hi = SI32[1]!;
  c.wrMem(8, c.eaLo, c.eaHi, lo, hi);
}
function rdInt(c: CoreBase, size: number): number {
  if (size === 2) return (c.rdMem(2, c.eaLo, c.eaHi) << 16) >> 16;
  return c.rdMem(4, c.eaLo, c.eaHi);
}

/** Memory operand of the d8/da/dc/de arithmetic groups as a double. */
function memOperand(c: CoreBase, op: number): number {
  switch (op) {
    case 0xd8: return rdF32(c);
    case 0xdc: return rdF64(c);
    case 0xda: return rdInt(c, 4);
    default: return rdInt(c, 2);
  }
}

/** Tag (0 valid, 1 zero, 2 special, 3 empty) of physical register p, from its contents. */
function tagOf(c: CoreBase, p: number): number {
  if (empty(c, p)) return 3;
  const v = c.cpu.fpr[p]!;
  if ((ext.rawValid & (1 << p)) !== 0) {
    const r = ext.raw, o = p * 5, exp = r[o + 4]! & 0x7fff;
    if (exp === 0x7fff) return 2;
    const any = (r[o]! | r[o + 1]! | r[o + 2]! | r[o + 3]!) !== 0;
    if (exp === 0) return any ? 2 : 1;
    return (r[o + 3]! & 0x8000) === 0 ? 2 : 0;
  }
  if (v === 0) return 1;
  return v - v !== 0 || v !== v ? 2 : 0;
}
function fullTag(c: CoreBase): number {
  let t = 0;
  for (let p = 0; p < 8; p++) t |= tagOf(c, p) << (2 * p);
  return t;
}

/** fnstenv / fnsave environment (protected-mode layout: 28 bytes, or 14 with 16-bit operand size). */
function storeEnv(c: CoreBase, lo: number, hi: number): number {
  const cpu = c.cpu;
  const fsw = (cpu.fpuStatus & ~0x3800) | (cpu.fpuTop << 11);
  const tag = fullTag(c);
  const at = (n: number): number => c.linAdd(lo, hi, n);
  if (c.os === 2) {
    c.wrMem(2, lo, hi, cpu.fpuControl, 0);
    c.wrMem(2, at(2), c.hi, fsw, 0);
    c.wrMem(2, at(4), c.hi, tag, 0);
    c.wrMem(2, at(6), c.hi, ext.fipLo, 0);
    c.wrMem(2, at(8), c.hi, ext.fcs, 0);
    c.wrMem(2, at(10), c.hi, ext.fdpLo, 0);
    c.wrMem(2, at(12), c.hi, ext.fds, 0);
    return 14;
  }
  c.wrMem(4, lo, hi, cpu.fpuControl & 0xffff, 0);
  c.wrMem(4, at(4), c.hi, fsw & 0xffff, 0);
  c.wrMem(4, at(8), c.hi, tag, 0);
  c.wrMem(4, at(12), c.hi, ext.fipLo, 0);
  c.wrMem(4, at(16), c.hi, (ext.fcs & 0xffff) | ((ext.fop & 0x7ff) << 16), 0);
  c.wrMem(4, at(20), c.hi, ext.fdpLo, 0);
  c.wrMem(4, at(24), c.hi, ext.fds & 0xffff, 0);
  return 28;
}
function loadEnv(c: CoreBase, lo: number, hi: number): number {
  const cpu = c.cpu;
  const at = (n: number): number => c.linAdd(lo, hi, n);
  let cw: number, sw: number, tw: number, ip: number, cs: number, dp: number, ds: number, n: number;
  if (c.os === 2) {
    cw = c.rdMem(2, lo, hi); sw = c.rdMem(2, at(2), c.hi); tw = c.rdMem(2, at(4), c.hi);
    ip = c.rdMem(2, at(6), c.hi); cs = c.rdMem(2, at(8), c.hi); dp = c.rdMem(2, at(10), c.hi); ds = c.rdMem(2, at(12), c.hi);
    n = 14;
  } else {
    cw = c.rdMem(2, lo, hi); sw = c.rdMem(2, at(4), c.hi); tw = c.rdMem(2, at(8), c.hi);
    ip = c.rdMem(4, at(12), c.hi); cs = c.rdMem(4, at(16), c.hi); dp = c.rdMem(4, at(20), c.hi); ds = c.rdMem(2, at(24), c.hi);
    n = 28;
  }
  cpu.fpuControl = cw;
  cpu.fpuStatus = sw;
  cpu.fpuTop = (sw >> 11) & 7;
  cpu.fpuTag = tw;
  ext.fipLo = ip; ext.fipHi = 0; ext.fcs = cs & 0xffff; ext.fop = (cs >>> 16) & 0x7ff;
  ext.fdpLo = dp; ext.fdpHi = 0; ext.fds = ds;
  return n;
}

function fninit(c: CoreBase): void {
  const cpu = c.cpu;
  cpu.fpuControl = 0x37f; cpu.fpuStatus = 0; cpu.fpuTag = 0xffff; cpu.fpuTop = 0;
  ext.fop = 0; ext.fipLo = 0; ext.fipHi = 0; ext.fcs = 0; ext.fdpLo = 0; ext.fdpHi = 0; ext.fds = 0;
}

// ------------------------------------------------------------------------------------------------ dispatch

/** Executes x87 opcode `op` (0xd8..0xdf). Returns false when not implemented (caller raises #UD). */
export function execX87(c: CoreBase, op: number): boolean {
  const cpu = c.cpu;
  ext = fpExt(cpu);
  unmasked = false;
  const reg = (c.modrm >> 3) & 7;
  const m = c.modrm;
  if (c.mod === 3) {
    // non-waiting control instructions
    if (op === 0xdb && (m === 0xe2 || m === 0xe3 || m === 0xe0 || m === 0xe1 || m === 0xe4)) {
      checkFpu(c, false);
      if (m === 0xe3) fninit(c);
      else if (m === 0xe2) cpu.fpuStatus &= ~(0xff | B_BUSY); // fnclex: exception flags, ES, SF, B
      return true;
    }
    if (op === 0xdf && m === 0xe0) { // fnstsw ax
      checkFpu(c, false);
      c.rlo[0] = (c.rlo[0]! & ~0xffff) | (((cpu.fpuStatus & ~0x3800) | (cpu.fpuTop << 11)) & 0xffff);
      return true;
    }
    checkFpu(c, true);
    if (!execReg(c, op, reg, m & 7)) return false;
  } else {
    // memory forms: control instructions first
    if (op === 0xd9 && reg >= 4) {
      checkFpu(c, reg === 5 || reg === 4);
      switch (reg) {
        case 4: loadEnv(c, c.eaLo, c.eaHi); return true; // fldenv
        case 5: cpu.fpuControl = c.rdMem(2, c.eaLo, c.eaHi); return true; // fldcw
        case 6: storeEnv(c, c.eaLo, c.eaHi); cpu.fpuControl |= 0x3f; return true; // fnstenv
        default: c.wrMem(2, c.eaLo, c.eaHi, cpu.fpuControl, 0); return true; // fnstcw
      }
    }
    if (op === 0xdd && (reg === 4 || reg === 6 || reg === 7)) {
      checkFpu(c, reg === 4);
      if (reg === 7) { c.wrMem(2, c.eaLo, c.eaHi, (cpu.fpuStatus & ~0x3800) | (cpu.fpuTop << 11), 0); return true; }
      if (reg === 6) { fnsave(c); return true; }
      frstor(c);
      return true;
    }
    checkFpu(c, true);
    if (!execMem(c, op, reg)) return false;
    ext.fdpLo = c.offLo; ext.fdpHi = c.offHi; ext.fds = cpu.segSel[c.eaSeg]! & 0xffff;
  }
  // last instruction pointer / opcode (non-control instructions)
  ext.fop = ((op & 7) << 8) | m;
  ext.fipLo = c.startLo; ext.fipHi = c.startHi; ext.fcs = cpu.segSel[1]! & 0xffff;
  return true;
}

function fnsave(c: CoreBase): void {
  const cpu = c.cpu, lo = c.eaLo, hi = c.eaHi;
  const n = storeEnv(c, lo, hi);
  for (let j = 0; j < 8; j++) {
    const p = phys(c, j);
    ensureRaw(cpu, ext, p);
    const r = ext.raw, o = p * 5;
    const a = c.linAdd(lo, hi, n + 10 * j), ah = c.hi;
    c.wrMem(8, a, ah, r[o]! | (r[o + 1]! << 16), r[o + 2]! | (r[o + 3]! << 16));
    const b = c.linAdd(lo, hi, n + 10 * j + 8);
    c.wrMem(2, b, c.hi, r[o + 4]!, 0);
  }
  fninit(c);
}

const rs = new Uint16Array(40);
function frstor(c: CoreBase): void {
  const cpu = c.cpu, lo = c.eaLo, hi = c.eaHi;
  const n = c.os === 2 ? 14 : 28;
  for (let j = 0; j < 8; j++) {
    const a = c.linAdd(lo, hi, n + 10 * j), ah = c.hi;
    const v = c.rdMem(8, a, ah), vh = c.hi;
    const b = c.linAdd(lo, hi, n + 10 * j + 8);
    const se = c.rdMem(2, b, c.hi);
    rs[j * 5] = v & 0xffff; rs[j * 5 + 1] = v >>> 16; rs[j * 5 + 2] = vh & 0xffff; rs[j * 5 + 3] = vh >>> 16; rs[j * 5 + 4] = se;
  }
  loadEnv(c, lo, hi);
  for (let j = 0; j < 8; j++) {
    const p = phys(c, j);
    setRaw80(cpu, ext, p, rs[j * 5]!, rs[j * 5 + 1]!, rs[j * 5 + 2]!, rs[j * 5 + 3]!, rs[j * 5 + 4]!);
  }
}

function execMem(c: CoreBase, op: number, reg: number): boolean {
  const cpu = c.cpu;
  switch (op) {
    case 0xd8: case 0xda: case 0xdc: case 0xde: {
      const v = memOperand(c, op);
      const a = getSt(c, 0);
      if (reg === 2 || reg === 3) { // fcom / fcomp / ficom / ficomp
        const cc = compare(c, a, v, false);
        if (!unmasked) setCC(c, cc);
        if (reg === 3) pop(c);
        return true;
      }
      cpu.fpuStatus &= ~C1;
      putSt(c, 0, arith(c, reg, a, v));
      return true;
    }
    case 0xd9:
      if (reg === 0) { const v = rdF32(c); cpu.fpuStatus &= ~C1; push(c, v); return true; } // fld m32
      if (reg === 2 || reg === 3) { // fst / fstp m32
        const v = getSt(c, 0);
        cpu.fpuStatus &= ~C1;
        wrF32(c, v);
        if (reg === 3) pop(c);
        return true;
      }
      return false;
    case 0xdd:
      if (reg === 0) { const v = rdF64(c); cpu.fpuStatus &= ~C1; push(c, v); return true; } // fld m64
      if (reg === 2 || reg === 3) {
        const v = getSt(c, 0);
        cpu.fpuStatus &= ~C1;
        if (!unmasked) wrF64(c, v);
        if (reg === 3) pop(c);
        return true;
      }
      return false;
    case 0xdb:
      switch (reg) {
        case 0: pushInt(c, BigInt(c.rdMem(4, c.eaLo, c.eaHi))); return true; // fild m32
        case 2: case 3: { // fist / fistp m32
          const v = toInt(c, 32);
          if (!unmasked) c.wrMem(4, c.eaLo, c.eaHi, Number(BigInt.asIntN(32, v)), 0);
          if (reg === 3) pop(c);
          return true;
        }
        case 5: { // fld m80
          const lo = c.eaLo, hi = c.eaHi;
          const a = c.rdMem(8, lo, hi), ah = c.hi;
          const l2 = c.linAdd(lo, hi, 8);
          const se = c.rdMem(2, l2, c.hi);
          cpu.fpuStatus &= ~C1;
          pushRaw(c, a & 0xffff, a >>> 16, ah & 0xffff, ah >>> 16, se);
          return true;
        }
        case 7: { // fstp m80
          const p = phys(c, 0);
          let w0 = 0, w1 = 0, w2 = 0, w3 = 0xc000, w4 = 0xffff; // indefinite
          if (empty(c, p)) { cpu.fpuStatus &= ~C1; raise(c, IE | SF); }
          else {
            ensureRaw(cpu, ext, p);
            const r = ext.raw, o = p * 5;
            w0 = r[o]!; w1 = r[o + 1]!; w2 = r[o + 2]!; w3 = r[o + 3]!; w4 = r[o + 4]!;
          }
          if (unmasked) return true;
          const lo = c.eaLo, hi = c.eaHi;
          const l2 = c.linAdd(lo, hi, 8), h2 = c.hi;
          c.wrMem(8, lo, hi, w0 | (w1 << 16), w2 | (w3 << 16));
          c.wrMem(2, l2, h2, w4, 0);
          pop(c);
          return true;
        }
        default: return false;
      }
    case 0xdf:
      switch (reg) {
        case 0: pushInt(c, BigInt(rdInt(c, 2))); return true; // fild m16
        case 2: case 3: { // fist / fistp m16
          const v = toInt(c, 16);
          if (!unmasked) c.wrMem(2, c.eaLo, c.eaHi, Number(BigInt.asIntN(16, v)) & 0xffff, 0);
          if (reg === 3) pop(c);
          return true;
        }
        case 4: { // fbld m80 (packed BCD)
          let v = 0n;
          for (let i = 8; i >= 0; i--) {
            const l = c.linAdd(c.eaLo, c.eaHi, i);
            const b = c.rdMem(1, l, c.hi);
            v = v * 100n + BigInt((b >> 4) * 10 + (b & 15));
          }
          const l9 = c.linAdd(c.eaLo, c.eaHi, 9);
          const negBcd = (c.rdMem(1, l9, c.hi) & 0x80) !== 0;
          if (negBcd && v === 0n) { cpu.fpuStatus &= ~C1; pushRaw(c, 0, 0, 0, 0, 0x8000); return true; } // -0
          pushInt(c, negBcd ? -v : v);
          return true;
        }
        case 5: { // fild m64
          const lo = c.rdMem(8, c.eaLo, c.eaHi), hi = c.hi;
          pushInt(c, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
          return true;
        }
        case 6: { // fbstp m80
          const p0 = phys(c, 0);
          let neg = false;
          if (!empty(c, p0)) { ensureRaw(cpu, ext, p0); neg = (ext.raw[p0 * 5 + 4]! & 0x8000) !== 0; } // -0 stays -0
          let v = toInt(c, 64);
          if (v < 0n) v = -v;
          if (v >= 10n ** 18n) { // invalid: store the packed BCD indefinite
            if (raise(c, IE)) return true;
            for (let i = 0; i < 7; i++) c.wrMem(1, c.linAdd(c.eaLo, c.eaHi, i), c.hi, 0, 0);
            c.wrMem(1, c.linAdd(c.eaLo, c.eaHi, 7), c.hi, 0xc0, 0);
            c.wrMem(2, c.linAdd(c.eaLo, c.eaHi, 8), c.hi, 0xffff, 0);
            pop(c);
            return true;
          }
          if (unmasked) return true;
          for (let i = 0; i < 9; i++) {
            const d = Number(v % 100n); v /= 100n;
            c.wrMem(1, c.linAdd(c.eaLo, c.eaHi, i), c.hi, ((d / 10) | 0) << 4 | (d % 10), 0);
          }
          c.wrMem(1, c.linAdd(c.eaLo, c.eaHi, 9), c.hi, neg ? 0x80 : 0, 0);
          pop(c);
          return true;
        }
        case 7: { // fistp m64
          const v = toInt(c, 64);
          if (!unmasked) c.wrMem(8, c.eaLo, c.eaHi, Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)));
          pop(c);
          return true;
        }
        default: return false;
      }
    default: return false;
  }
}

const CONSTS = [1, Math.log2(10), Math.LOG2E, Math.PI, Math.log10(2), Math.LN2, 0];

function execReg(c: CoreBase, op: number, reg: number, i: number): boolean {
  const cpu = c.cpu;
  switch (op) {
    case 0xd8: case 0xdc: case 0xde: {
      if (reg === 2 || reg === 3) { // fcom/fcomp st(i) (dc d0/d8, de d0 aliases); de d9 = fcompp
        if (op === 0xde && !(reg === 3 && i === 1)) return false;
        const cc = compare(c, getSt(c, 0), getSt(c, i), false);
        if (!unmasked) setCC(c, cc);
        if (reg === 3) pop(c);
        if (op === 0xde) pop(c);
        return true;
      }
      const a = getSt(c, 0), b = getSt(c, i);
      cpu.fpuStatus &= ~C1;
      if (op === 0xd8) putSt(c, 0, arith(c, reg, a, b));
      else {
        const kind = reg >= 4 ? reg ^ 1 : reg;
        putSt(c, i, arith(c, kind, b, a));
        if (op === 0xde) pop(c);
      }
      return true;
    }
    case 0xd9:
      switch (reg) {
        case 0: { const v = getSt(c, i); cpu.fpuStatus &= ~C1; push(c, v); return true; } // fld st(i)
        case 1: { // fxch
          const pa = phys(c, 0), pb = phys(c, i);
          if (empty(c, pa) || empty(c, pb)) {
            if (raise(c, IE | SF)) return true;
            if (empty(c, pa)) putSt(c, 0, INDEF);
            if (empty(c, pb)) putSt(c, i, INDEF);
          }
          swapPhys(c, pa, pb);
          cpu.fpuStatus &= ~C1;
          return true;
        }
        case 2: return i === 0; // fnop
        case 3: { const v = getSt(c, 0); cpu.fpuStatus &= ~C1; putSt(c, i, v); pop(c); return true; } // fstp1 alias
        case 4: return group4(c, i);
        case 5: // constants
          if (i === 7) return false;
          cpu.fpuStatus &= ~C1;
          push(c, CONSTS[i]!);
          return true;
        case 6: return group6(c, i);
        default: return group7(c, i);
      }
    case 0xda:
      if (reg <= 3) return fcmov(c, i, reg === 0 ? 2 : reg === 1 ? 4 : reg === 2 ? 6 : 0xa);
      if (reg === 5 && i === 1) { // fucompp
        const cc = compare(c, getSt(c, 0), getSt(c, 1), true);
        if (!unmasked) setCC(c, cc);
        pop(c); pop(c);
        return true;
      }
      return false;
    case 0xdb:
      if (reg <= 3) return fcmov(c, i, reg === 0 ? 3 : reg === 1 ? 5 : reg === 2 ? 7 : 0xb);
      if (reg === 5 || reg === 6) { compareFlags(c, getSt(c, 0), getSt(c, i), reg === 5); return true; } // fucomi / fcomi
      return false;
    case 0xdd:
      switch (reg) {
        case 0: cpu.fpuTag |= 3 << (2 * phys(c, i)); return true; // ffree
        case 1: return execReg(c, 0xd9, 1, i); // fxch alias
        case 2: case 3: { // fst / fstp st(i): exact, C1 = 0
          const v = getSt(c, 0);
          cpu.fpuStatus &= ~C1;
          putSt(c, i, v);
          if (reg === 3) pop(c);
          return true;
        }
        case 4: case 5: { // fucom / fucomp
          const cc = compare(c, getSt(c, 0), getSt(c, i), true);
          if (!unmasked) setCC(c, cc);
          if (reg === 5) pop(c);
          return true;
        }
        default: return false;
      }
    case 0xdf:
      if (reg === 0) { cpu.fpuTag |= 3 << (2 * phys(c, i)); pop(c); return true; } // ffreep
      if (reg === 1) return execReg(c, 0xd9, 1, i);
      if (reg === 2 || reg === 3) { const v = getSt(c, 0); cpu.fpuStatus &= ~C1; putSt(c, i, v); pop(c); return true; } // fstp aliases
      if (reg === 5 || reg === 6) { compareFlags(c, getSt(c, 0), getSt(c, i), reg === 5); pop(c); return true; } // fucomip / fcomip
      return false;
    default: return false;
  }
}

function swapPhys(c: CoreBase, pa: number, pb: number): void {
  if (unmasked || pa === pb) return;
  const cpu = c.cpu, e = ext;
  const va = cpu.fpr[pa]!, vb = cpu.fpr[pb]!;
  const ra = (e.rawValid >> pa) & 1, rb = (e.rawValid >> pb) & 1;
  for (let k = 0; k < 5; k++) { const t = e.raw[pa * 5 + k]!; e.raw[pa * 5 + k] = e.raw[pb * 5 + k]!; e.raw[pb * 5 + k] = t; }
  cpu.fpr[pa] = vb; cpu.fpr[pb] = va;
  e.rawValid = (e.rawValid & ~((1 << pa) | (1 << pb))) | (rb << pa) | (ra << pb);
  const ta = (cpu.fpuTag >> (2 * pa)) & 3, tb = (cpu.fpuTag >> (2 * pb)) & 3;
  cpu.fpuTag = (cpu.fpuTag & ~((3 << (2 * pa)) | (3 << (2 * pb)))) | (tb << (2 * pa)) | (ta << (2 * pb));
}

function fcmov(c: CoreBase, i: number, cc: number): boolean {
  const v = getSt(c, i);
  getSt(c, 0); // C1 kept (cleared on stack underflow only), as on AMD hardware
  if (c.cond(cc)) putSt(c, 0, v);
  return true;
}

/** d9 e0-e7: fchs fabs - - ftst fxam. */
function group4(c: CoreBase, i: number): boolean {
  const cpu = c.cpu;
  switch (i) {
    case 0: { const v = getSt(c, 0); cpu.fpuStatus &= ~C1; putSt(c, 0, negate(v)); return true; }
    case 1: { const v = getSt(c, 0); cpu.fpuStatus &= ~C1; putSt(c, 0, absval(v)); return true; }
    case 4: { const cc = compare(c, getSt(c, 0), 0, false); if (!unmasked) setCC(c, cc); return true; } // ftst
    case 5: { // fxam
      const p = phys(c, 0), v = cpu.fpr[p]!;
      SF64[0] = v;
      const sign = SI32[1]! < 0 ? C1 : 0;
      let cc: number;
      if (empty(c, p)) cc = C3 | C0;
      else if (v !== v) cc = C0;
      else if (v - v !== 0) cc = C2 | C0;
      else if (v === 0) cc = C3;
      else cc = C2;
      setCC(c, cc | sign);
      return true;
    }
    default: return false;
  }
}
function negate(v: number): number { SF64[0] = v; SI32[1] = SI32[1]! ^ 0x80000000; return SF64[0]!; }
function absval(v: number): number { SF64[0] = v; SI32[1] = SI32[1]! & 0x7fffffff; return SF64[0]!; }

/** d9 f0-f7: f2xm1 fyl2x fptan fpatan fxtract fprem1 fdecstp fincstp. */
function group6(c: CoreBase, i: number): boolean {
  const cpu = c.cpu;
  cpu.fpuStatus &= ~C1;
  switch (i) {
    case 0: { const x = getSt(c, 0); putSt(c, 0, nanIn(c, x) ? quiet(x) : fin(c, Math.pow(2, x) - 1, true, 9, 0, 0)); if (x !== 0 && x === x) raise(c, PE); return true; }
    case 1: { // fyl2x: st1 = st1 * log2(st0), pop
      const x = getSt(c, 0), y = getSt(c, 1);
      let r: number;
      if (nanIn(c, x) || nanIn(c, y)) r = quiet(x !== x ? x : y);
      else if (x < 0) { raise(c, IE); r = INDEF; }
      else if (x === 0 && y - y === 0 && y !== 0) { raise(c, ZE); r = y > 0 ? -Infinity : Infinity; }
      else r = fin(c, y * Math.log2(x), true, 9, 0, 0);
      putSt(c, 1, r); pop(c);
      return true;
    }
    case 2: { // fptan: st0 = tan(st0), push 1
      const x = getSt(c, 0);
      if (Math.abs(x) >= 2 ** 63) { cpu.fpuStatus |= C2; return true; }
      cpu.fpuStatus &= ~C2;
      putSt(c, 0, x - x !== 0 ? (raise(c, IE), INDEF) : Math.tan(x));
      push(c, 1);
      return true;
    }
    case 3: { const x = getSt(c, 0), y = getSt(c, 1); putSt(c, 1, Math.atan2(y, x)); pop(c); return true; } // fpatan
    case 4: { // fxtract: st0 = exponent, push significand
      const x = getSt(c, 0);
      if (x === 0) { raise(c, ZE); putSt(c, 0, -Infinity); push(c, x); return true; }
      if (x !== x || x - x !== 0) { putSt(c, 0, x !== x ? x : Infinity); push(c, x); return true; }
      const e = Math.floor(Math.log2(Math.abs(x)));
      let s = scale2(x, -e);
      let ee = e;
      if (Math.abs(s) >= 2) { s /= 2; ee++; } else if (Math.abs(s) < 1) { s *= 2; ee--; }
      putSt(c, 0, ee); push(c, s);
      return true;
    }
    case 5: return fprem(c, true);
    case 6: setTop(c, cpu.fpuTop - 1); return true; // fdecstp
    default: setTop(c, cpu.fpuTop + 1); return true; // fincstp
  }
}

/** d9 f8-ff: fprem fyl2xp1 fsqrt fsincos frndint fscale fsin fcos. */
function group7(c: CoreBase, i: number): boolean {
  const cpu = c.cpu;
  if (i === 0) return fprem(c, false);
  cpu.fpuStatus &= ~C1;
  const x = getSt(c, 0);
  switch (i) {
    case 1: { const y = getSt(c, 1); putSt(c, 1, nanIn(c, x) || nanIn(c, y) ? quiet(x !== x ? x : y) : y * Math.log2(1 + x)); pop(c); return true; }
    case 2: { // fsqrt
      let r: number;
      if (nanIn(c, x)) r = quiet(x);
      else if (x < 0) { raise(c, IE); r = INDEF; }
      else {
        r = Math.sqrt(x);
        const p = r * r, rem = (x - p) - prodErr(r, r, p);
        if (x - x === 0) r = applyRc(c, r, rem);
      }
      putSt(c, 0, r);
      return true;
    }
    case 3: { // fsincos
      if (Math.abs(x) >= 2 ** 63) { cpu.fpuStatus |= C2; return true; }
      cpu.fpuStatus &= ~C2;
      if (x - x !== 0 && x === x) { raise(c, IE); putSt(c, 0, INDEF); push(c, INDEF); return true; }
      putSt(c, 0, Math.sin(x)); push(c, Math.cos(x));
      return true;
    }
    case 4: { // frndint
      if (nanIn(c, x) || x - x !== 0) { putSt(c, 0, x === x ? x : quiet(x)); return true; }
      const r = roundRc(c, x);
      if (r !== x) { raise(c, PE); if (Math.abs(r) > Math.abs(x)) cpu.fpuStatus |= C1; }
      putSt(c, 0, r === 0 && x < 0 ? -0 : r);
      return true;
    }
    case 5: { // fscale: st0 * 2^trunc(st1)
      const y = getSt(c, 1);
      if (nanIn(c, x) || nanIn(c, y)) { putSt(c, 0, quiet(x !== x ? x : y)); return true; }
      const k = Math.trunc(y);
      let r: number;
      if (k - k !== 0) r = k > 0 ? (x === 0 ? (raise(c, IE), INDEF) : x * Infinity) : (x - x !== 0 ? (raise(c, IE), INDEF) : x * 0);
      else {
        const kk = Math.max(-100000, Math.min(100000, k));
        r = scale2(x, kk);
        if (x !== 0 && x - x === 0) {
          if (r - r !== 0) { raise(c, OE | PE); cpu.fpuStatus |= C1; }
          else if (Math.abs(r) < 2 ** -1022 && scale2(r, -kk) !== x) raise(c, 0x10 | PE);
        }
      }
      putSt(c, 0, r);
      return true;
    }
    default: { // fsin / fcos
      if (Math.abs(x) >= 2 ** 63) { cpu.fpuStatus |= C2; return true; }
      cpu.fpuStatus &= ~C2;
      if (nanIn(c, x)) { putSt(c, 0, quiet(x)); return true; }
      if (x - x !== 0) { raise(c, IE); putSt(c, 0, INDEF); return true; }
      putSt(c, 0, i === 6 ? Math.sin(x) : Math.cos(x));
      return true;
    }
  }
}

function nanIn(c: CoreBase, v: number): boolean {
  if (v === v) return false;
  if (isSnan(v)) raise(c, IE);
  return true;
}

/** fprem (truncating quotient) / fprem1 (IEEE, nearest-even quotient), exact on the 80-bit values;
 * C0 C3 C1 = quotient bits 2, 1, 0. An exponent difference D >= 64 gives a partial remainder (C2 = 1): the
 * reduction is by ST(1) * 2^(D - N) with N = 32 + (D - 32) mod 32 (this AMD host's choice in the SDM's 32..63). */
function fprem(c: CoreBase, ieee: boolean): boolean {
  const x = getSt(c, 0), y = getSt(c, 1);
  if (nanIn(c, x) || nanIn(c, y)) { putSt(c, 0, quiet(x !== x ? x : y)); return true; }
  if (y === 0 || x - x !== 0) { raise(c, IE); putSt(c, 0, INDEF); return true; }
  if (y - y !== 0 || x === 0) { setCC(c, 0); return true; }
  const ax = exactOf(c, phys(c, 0))!, ay = exactOf(c, phys(c, 1))!;
  const mx = ax[0], my = ay[0], neg = ax[2];
  const exX = ax[1] + mx.toString(2).length - 1, exY = ay[1] + my.toString(2).length - 1;
  const d = exX - exY;
  // |x| mod (|y| * 2^k) on integers scaled to the smaller exponent e.
  const k = d >= 64 ? Math.floor((d - 32) / 32) * 32 : 0;
  const eY = ay[1] + k, e = Math.min(ax[1], eY);
  const xi = mx << BigInt(ax[1] - e), yi = my << BigInt(eY - e);
  let q = xi / yi;
  let r = xi - q * yi;
  let rNeg = neg;
  if (d >= 64) setCC(c, C2);
  else {
    if (ieee && (r * 2n > yi || (r * 2n === yi && (q & 1n) === 1n))) { r = yi - r; q += 1n; rNeg = !neg; }
    const qa = Number(q & 7n);
    setCC(c, ((qa & 4) !== 0 ? C0 : 0) | ((qa & 2) !== 0 ? C3 : 0) | ((qa & 1) !== 0 ? C1 : 0));
  }
  if (unmasked) return true;
  const p = phys(c, 0), cpu = c.cpu;
  if (r === 0n) { setRaw80(cpu, ext, p, 0, 0, 0, 0, neg ? 0x8000 : 0); }
  else {
    const len = r.toString(2).length;
    const be = e + len - 1 + 16383;
    if (be <= 0) putSt(c, 0, (rNeg ? -1 : 1) * scale2(Number(r), e)); // denormal remainder: through the double
    else {
      const m = r << BigInt(64 - len);
      setRaw80(cpu, ext, p, Number(m & 0xffffn), Number((m >> 16n) & 0xffffn), Number((m >> 32n) & 0xffffn),
        Number(m >> 48n), (rNeg ? 0x8000 : 0) | be);
    }
  }
  cpu.fpuTag &= ~(3 << (2 * p));
  return true;
}

/** 9b fwait: #NM when CR0.MP and CR0.TS are both set; #MF for a pending unmasked exception (CR0.NE). */
export function execFwait(c: CoreBase): void {
  const cpu = c.cpu;
  if ((cpu.cr0 & 0xa) === 0xa) c.fault(7, false, 0);
  if ((cpu.fpuStatus & ES) !== 0 && (cpu.cr0 & 0x20) !== 0) c.fault(16, false, 0);
}
