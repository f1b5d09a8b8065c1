// LOCK prefix validity (Intel SDM vol. 2 LOCK; AMD APM vol. 3 §1.2.5): only ADD, ADC, AND, BTC, BTR, BTS, CMPXCHG,
// CMPXCHG8B/16B, DEC, INC, NEG, NOT, OR, SBB, SUB, XOR, XADD and XCHG with a memory destination may be locked;
// anything else (including those with a register destination) raises #UD.
//
// Atomicity (execLocked): guest RAM is a SharedArrayBuffer that other vCPU threads and the daemon's main thread
// (Xen event channels: Atomics.or/and/exchange on evtchn_pending / evtchn_mask / evtchn_pending_sel /
// evtchn_upcall_pending, hv/evtchn/event_2l.ts) change concurrently, so a locked read-modify-write, and xchg with
// memory (implicitly locked), must be one atomic step on the RAM word, as on hardware; a plain read then write
// loses whatever another thread stored in between. execLocked runs them as Atomics operations on views of the
// RAM buffer:
//  - naturally aligned 1/2/4-byte operands: an Atomics.load + Atomics.compareExchange loop on the Uint8/Uint16/
//    Int32 view (Atomics.exchange for xchg); the loop recomputes the result from the value the failed CAS saw;
//  - naturally aligned 8-byte operands: the same on a BigInt64Array view through a 16-byte scratch buffer (one
//    BigInt per value, no arithmetic on BigInts). Two 32-bit CASes would not do: add/xadd/inc/dec/neg/sbb carry
//    from one half into the other, cmpxchg and xchg must see and replace both halves at one instant, and even
//    or/and/xor would report flags from two different moments;
//  - bts/btr/btc (any operand size, any alignment inside one page): Atomics.or/and/xor on the one byte holding
//    the bit (the other bytes of the operand are rewritten unchanged on hardware: the same to any observer);
//  - cmpxchg whose comparison fails does not store (hardware writes the old value back, atomically: the same).
// Flags are recorded once, after the successful step, from the old value it replaced (alu/incDec as for the
// unlocked forms); a CAS retry never touches flags, so adc/sbb/inc/dec read the instruction's own CF.
// Everything else is declined (execLocked returns false before any side effect other than the page walk) and
// runs through the interpreter's ordinary read-then-write path: MMIO, misaligned or page-crossing operands
// (split locks: Linux never issues them), cmpxchg16b (no 128-bit Atomics; CX16 is not advertised), a RAM
// buffer whose views cannot be made (byteOffset not 8-aligned, big-endian host), and xchg with a register.
// Mixed sizes (a byte Atomics.or here, a 32-bit Atomics.or on the main thread) are atomic against each other on
// the hosts Node runs on (x86-64 lock-prefixed instructions, arm64 exclusives/LSE).

import type { CoreBase } from "../decode/decoder.ts";
import { LF_NONE } from "../flags.ts";
import { alu, ALU_ADC, ALU_ADD, ALU_SBB, ALU_SUB, incDec } from "./alu.ts";

/** Called with the opcode byte `b` of an instruction that has a LOCK prefix, before anything else is decoded:
 * raises #UD unless the instruction may be locked. Peeks the following bytes (0f map opcode, ModRM) without
 * consuming them. */
export function checkLock(c: CoreBase, b: number): void {
  const p = c.fPtr;
  let op = b;
  if (b === 0x0f) {
    op = 0x100 | c.f8();
    if (op !== 0x1ab && op !== 0x1b3 && op !== 0x1bb && op !== 0x1ba && op !== 0x1b0 && op !== 0x1b1 &&
      op !== 0x1c0 && op !== 0x1c1 && op !== 0x1c7) { c.fPtr = p; c.ud(); }
  } else if (!((b < 0x38 && (b & 6) === 0) || (b >= 0x80 && b <= 0x83) || b === 0x86 || b === 0x87 ||
    b === 0xf6 || b === 0xf7 || b === 0xfe || b === 0xff)) c.ud();
  const m = c.f8();
  c.fPtr = p;
  const reg = (m >> 3) & 7;
  let ok = (m >> 6) !== 3; // memory destination
  switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83: ok = ok && reg !== 7; break; // not cmp
    case 0xf6: case 0xf7: ok = ok && (reg === 2 || reg === 3); break; // not / neg
    case 0xfe: case 0xff: ok = ok && reg < 2; break; // inc / dec
    case 0x1ba: ok = ok && reg >= 5; break; // bts / btr / btc imm8
    case 0x1c7: ok = ok && reg === 1; break; // cmpxchg8b / cmpxchg16b
    default: break;
  }
  if (!ok) c.ud();
}

// ---------------------------------------------------------------------------------------------- RAM views

const ZF = 0x40;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const NO16 = new Uint16Array(0), NO32 = new Int32Array(0), NO64 = new BigInt64Array(0);

/** The RAM array the views below were made for (one guest per thread in practice; a change rebuilds them). */
let viewRam: Uint8Array | null = null;
let viewsOk = false;
let v16: Uint16Array = NO16;
let v32: Int32Array = NO32;
let v64: BigInt64Array = NO64;

function makeViews(ram: Uint8Array): void {
  viewRam = ram;
  viewsOk = LITTLE_ENDIAN && ram.byteOffset % 8 === 0;
  if (viewsOk) {
    v16 = new Uint16Array(ram.buffer, ram.byteOffset, Math.floor(ram.byteLength / 2));
    v32 = new Int32Array(ram.buffer, ram.byteOffset, Math.floor(ram.byteLength / 4));
    v64 = new BigInt64Array(ram.buffer, ram.byteOffset, Math.floor(ram.byteLength / 8));
  } else { v16 = NO16; v32 = NO32; v64 = NO64; }
}

/** 64-bit values cross into and out of BigInt64Array Atomics through this scratch: s32[0..1] = first value
 * (lo, hi), s32[2..3] = second. */
const scratch = new ArrayBuffer(16);
const s32 = new Int32Array(scratch);
const s64 = new BigInt64Array(scratch);

// ---------------------------------------------------------------------------------------------- operations

/** RMW kinds: 0-6 are the ALU ops (ALU_ADD ... ALU_XOR, no cmp), then these. */
const XCHG = 8, XADD = 9, CMPXCHG = 10, INC = 11, DEC = 12, NOT = 13, NEG = 14;

/** High half of the last calc() at size 8. */
let calcHi = 0;

/** New memory value for kind `op` at size os from old (a, ah) and source (b, bh) (normalized for the size:
 * 1/2 bytes unsigned, 4 bytes int32); cin = CF before the instruction (adc/sbb). Pure: records no flags. */
function calc(op: number, os: number, a: number, ah: number, b: number, bh: number, cin: number): number {
  if (os !== 8) {
    let r: number;
    switch (op) {
      case ALU_ADD: case XADD: r = a + b; break;
      case 1: r = a | b; break; // or
      case ALU_ADC: r = a + b + cin; break;
      case ALU_SBB: r = a - b - cin; break;
      case 4: r = a & b; break; // and
      case ALU_SUB: r = a - b; break;
      case 6: r = a ^ b; break; // xor
      case INC: r = a + 1; break;
      case DEC: r = a - 1; break;
      case NOT: r = ~a; break;
      case NEG: r = -a; break;
      default: r = b; break; // xchg, cmpxchg (the source when equal)
    }
    return os === 4 ? r | 0 : r & (os === 1 ? 0xff : 0xffff);
  }
  let lo: number, hi: number;
  switch (op) {
    case ALU_ADD: case XADD:
      lo = (a + b) | 0;
      hi = (ah + bh + ((lo >>> 0) < (a >>> 0) ? 1 : 0)) | 0;
      break;
    case 1: lo = a | b; hi = ah | bh; break;
    case ALU_ADC: {
      const s = (a >>> 0) + (b >>> 0) + cin;
      lo = s | 0; hi = (ah + bh + (s > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case ALU_SBB: {
      const s = (a >>> 0) - (b >>> 0) - cin;
      lo = s | 0; hi = (ah - bh - (s < 0 ? 1 : 0)) | 0;
      break;
    }
    case 4: lo = a & b; hi = ah & bh; break;
    case ALU_SUB:
      lo = (a - b) | 0;
      hi = (ah - bh - ((a >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
      break;
    case 6: lo = a ^ b; hi = ah ^ bh; break;
    case INC: lo = (a + 1) | 0; hi = lo === 0 ? (ah + 1) | 0 : ah; break;
    case DEC: lo = (a - 1) | 0; hi = a === 0 ? (ah - 1) | 0 : ah; break;
    case NOT: lo = ~a; hi = ~ah; break;
    case NEG: lo = (-a) | 0; hi = (-ah - (a !== 0 ? 1 : 0)) | 0; break;
    default: lo = b; hi = bh; break;
  }
  calcHi = hi;
  return lo;
}

/** Old value of the last atomicRmw (lo returned, hi here) and whether a cmpxchg stored. */
let oldHi = 0;
let stored = false;

/**
 * One atomic RMW of kind op on the naturally aligned os-byte operand at RAM byte offset p (views made).
 * For CMPXCHG, (b, bh) is the new value and (e, eh) the expected one. Returns the old value (hi in oldHi).
 */
function atomicRmw(op: number, os: number, p: number, b: number, bh: number, e: number, eh: number, cin: number): number {
  if (os === 8) {
    const idx = p / 8; // exact: aligned (division, not >>>: RAM may pass 4 GiB)
    if (op === XCHG) {
      s32[2] = b; s32[3] = bh;
      s64[0] = Atomics.exchange(v64, idx, s64[1]!);
      oldHi = s32[1]!;
      return s32[0]!;
    }
    s64[0] = Atomics.load(v64, idx);
    let lo = s32[0]!, hi = s32[1]!;
    for (;;) {
      if (op === CMPXCHG && (lo !== e || hi !== eh)) { stored = false; break; }
      const n = calc(op, 8, lo, hi, b, bh, cin);
      s32[0] = lo; s32[1] = hi; s32[2] = n; s32[3] = calcHi;
      s64[0] = Atomics.compareExchange(v64, idx, s64[0]!, s64[1]!);
      if (s32[0] === lo && s32[1] === hi) { stored = true; break; }
      lo = s32[0]!; hi = s32[1]!;
    }
    oldHi = hi;
    return lo;
  }
  oldHi = 0;
  if (os === 4) {
    const idx = p / 4;
    if (op === XCHG) return Atomics.exchange(v32, idx, b);
    let o = Atomics.load(v32, idx);
    for (;;) {
      if (op === CMPXCHG && o !== e) { stored = false; return o; }
      const r = Atomics.compareExchange(v32, idx, o, calc(op, 4, o, 0, b, 0, cin));
      if (r === o) { stored = true; return o; }
      o = r;
    }
  }
  if (os === 2) {
    const idx = p / 2;
    if (op === XCHG) return Atomics.exchange(v16, idx, b);
    let o = Atomics.load(v16, idx);
    for (;;) {
      if (op === CMPXCHG && o !== e) { stored = false; return o; }
      const r = Atomics.compareExchange(v16, idx, o, calc(op, 2, o, 0, b, 0, cin));
      if (r === o) { stored = true; return o; }
      o = r;
    }
  }
  const ram = viewRam!;
  if (op === XCHG) return Atomics.exchange(ram, p, b);
  let o = Atomics.load(ram, p);
  for (;;) {
    if (op === CMPXCHG && o !== e) { stored = false; return o; }
    const r = Atomics.compareExchange(ram, p, o, calc(op, 1, o, 0, b, 0, cin));
    if (r === o) { stored = true; return o; }
    o = r;
  }
}

/** RAM byte offset of the os-byte operand at linear (lo, hi) for a locked RMW, or -1 when it must take the
 * interpreter's ordinary path (no RAM fast path or views, misaligned, MMIO). Walks for write access (#PF with
 * W=1, A/D bits, code-page tracking), as the ordinary path's probeWrite does. */
function target(c: CoreBase, os: number, lo: number, hi: number, aligned: boolean): number {
  const sys = c.sys, ram = sys.ram;
  if (ram === undefined || sys.dataPage === undefined) return -1;
  if (ram !== viewRam) makeViews(ram);
  if (!viewsOk) return -1;
  if (aligned ? (lo & (os - 1)) !== 0 : (lo & 0xfff) + os > 4096) return -1;
  const page = sys.dataPage(lo, hi, true);
  return page < 0 ? -1 : page + (lo & 0xfff);
}

/** Normalizes a source value for size os (8/16-bit unsigned, 32-bit int32; the 64-bit low half as is). */
function norm(os: number, v: number): number {
  return os === 1 ? v & 0xff : os === 2 ? v & 0xffff : v | 0;
}

/**
 * Executes the instruction whose opcode byte `b` was just consumed (fPtr after it) atomically on guest RAM, if it
 * is a locked RMW (c.lock, already validated by checkLock) or an xchg with memory, and its operand allows it
 * (see the header). Returns true when it ran (RIP advanced); false when declined, with fPtr restored so the
 * interpreter's ordinary path decodes and runs it.
 */
export function execLocked(c: CoreBase, b: number): boolean {
  const p0 = c.fPtr;
  let op: number, os: number, src = 0, srcH = 0;
  if (b === 0x0f) return execLocked0f(c, c.f8(), p0);
  if (b < 0x38) { // add/or/adc/sbb/and/sub/xor Eb,Gb / Ev,Gv
    op = b >> 3; os = (b & 1) === 0 ? 1 : c.os;
    c.decodeModrm(0);
    src = c.getReg(os, c.reg); srcH = c.hi;
  } else if (b <= 0x83 && b >= 0x80) {
    if (b === 0x82 && c.is64) { c.fPtr = p0; return false; } // #UD on the ordinary path
    os = b === 0x80 || b === 0x82 ? 1 : c.os;
    c.decodeModrm(b === 0x81 ? (os === 2 ? 2 : 4) : 1);
    op = (c.modrm >> 3) & 7;
    if (b === 0x81) { src = c.fImm(os); srcH = c.hi; } else if (b === 0x83) { src = c.fs8(); srcH = src >> 31; } else src = c.f8();
  } else if (b === 0x86 || b === 0x87) {
    os = b === 0x86 ? 1 : c.os;
    if ((c.f8() >> 6) === 3) { c.fPtr = p0; return false; } // xchg with a register: nothing shared
    c.fPtr = p0;
    c.decodeModrm(0);
    op = XCHG; src = c.getReg(os, c.reg); srcH = c.hi;
  } else if (b === 0xf6 || b === 0xf7) {
    os = b === 0xf6 ? 1 : c.os;
    c.decodeModrm(0);
    op = ((c.modrm >> 3) & 7) === 2 ? NOT : NEG;
  } else if (b === 0xfe || b === 0xff) {
    os = b === 0xfe ? 1 : c.os;
    c.decodeModrm(0);
    op = ((c.modrm >> 3) & 7) === 0 ? INC : DEC;
  } else { c.fPtr = p0; return false; }
  if (c.mod === 3) { c.fPtr = p0; return false; }
  const p = target(c, os, c.eaLo, c.eaHi, true);
  if (p < 0) { c.fPtr = p0; return false; }
  src = norm(os, src);
  const cin = op === ALU_ADC || op === ALU_SBB ? c.cf() : 0;
  const old = atomicRmw(op, os, p, src, srcH, 0, 0, cin), oh = oldHi;
  if (op <= 6) alu(c, op, os, old, oh, src, srcH);
  else if (op === INC || op === DEC) incDec(c, os, old, oh, op === DEC);
  else if (op === NEG) alu(c, ALU_SUB, os, 0, 0, old, oh);
  else if (op === XCHG) c.setReg(os, c.reg, old, oh);
  c.advance();
  return true;
}

/** execLocked for the 0f map (opcode b2 consumed): bts/btr/btc, cmpxchg, xadd, cmpxchg8b. */
function execLocked0f(c: CoreBase, b2: number, p0: number): boolean {
  switch (b2) {
    case 0xab: case 0xb3: case 0xbb: c.decodeModrm(0); return lockedBt(c, b2 === 0xab ? 1 : b2 === 0xb3 ? 2 : 3, true, 0, p0);
    case 0xba: {
      c.decodeModrm(1);
      const kind = ((c.modrm >> 3) & 7) - 4;
      const imm = c.f8();
      if (kind < 1) { c.fPtr = p0; return false; } // bt (#UD when locked) and the undefined /0-/3
      return lockedBt(c, kind, false, imm, p0);
    }
    case 0xb0: case 0xb1: case 0xc0: case 0xc1: {
      const os = (b2 & 1) === 0 ? 1 : c.os;
      c.decodeModrm(0);
      if (c.mod === 3) { c.fPtr = p0; return false; }
      const p = target(c, os, c.eaLo, c.eaHi, true);
      if (p < 0) { c.fPtr = p0; return false; }
      const s = norm(os, c.getReg(os, c.reg)), sh = c.hi;
      if (b2 >= 0xc0) { // xadd
        const old = atomicRmw(XADD, os, p, s, sh, 0, 0, 0), oh = oldHi;
        alu(c, ALU_ADD, os, old, oh, s, sh);
        c.setReg(os, c.reg, old, oh);
      } else { // cmpxchg
        const a = c.getReg(os, 0), ah = c.hi;
        const old = atomicRmw(CMPXCHG, os, p, s, sh, a, ah, 0), oh = oldHi;
        alu(c, ALU_SUB, os, a, ah, old, oh);
        if (!stored) c.setReg(os, 0, old, oh);
      }
      c.advance();
      return true;
    }
    case 0xc7: { // cmpxchg8b (cmpxchg16b: declined)
      if (c.os === 8) { c.fPtr = p0; return false; }
      c.decodeModrm(0);
      if (c.mod === 3 || ((c.modrm >> 3) & 7) !== 1) { c.fPtr = p0; return false; }
      const p = target(c, 8, c.eaLo, c.eaHi, true);
      if (p < 0) { c.fPtr = p0; return false; }
      const rlo = c.rlo, rhi = c.rhi;
      const f = c.getArith() & ~ZF;
      const m = atomicRmw(CMPXCHG, 8, p, rlo[3]!, rlo[1]!, rlo[0]!, rlo[2]!, 0), mh = oldHi;
      c.lfOp = LF_NONE;
      if (stored) c.lfFlags = f | ZF;
      else { c.lfFlags = f; rlo[0] = m; rhi[0] = 0; rlo[2] = mh; rhi[2] = 0; }
      c.advance();
      return true;
    }
    default: c.fPtr = p0; return false;
  }
}

/** Locked bts (kind 1) / btr (2) / btc (3) on the decoded memory operand: the bit's byte, atomically. The bit
 * offset addressing is the one of exec/bits.ts execBt (a register offset moves the operand by whole operands). */
function lockedBt(c: CoreBase, kind: number, regOffset: boolean, imm: number, p0: number): boolean {
  if (c.mod === 3) { c.fPtr = p0; return false; }
  const os = c.os, w = os * 8;
  let bit: number, lo = c.eaLo, hi = c.eaHi;
  if (!regOffset) bit = imm & (w - 1);
  else {
    const v = c.getReg(os, c.reg);
    const off = os === 8 ? c.hi * 4294967296 + (v >>> 0) : os === 4 ? v | 0 : (v << 16) >> 16;
    const units = Math.floor(off / w);
    bit = off - units * w;
    const delta = units * os;
    if (delta !== 0) {
      if (c.is64) {
        const s = (lo >>> 0) + delta;
        const carry = Math.floor(s / 4294967296);
        lo = s | 0; hi = (hi + carry) | 0;
      } else lo = (lo + delta) | 0;
    }
  }
  const p = target(c, os, lo, hi, false);
  if (p < 0) { c.fPtr = p0; return false; }
  const i = p + (bit >>> 3), m = 1 << (bit & 7), ram = viewRam!;
  const old = kind === 1 ? Atomics.or(ram, i, m) : kind === 2 ? Atomics.and(ram, i, ~m & 0xff) : Atomics.xor(ram, i, m);
  c.setCF((old & m) !== 0 ? 1 : 0);
  c.advance();
  return true;
}
