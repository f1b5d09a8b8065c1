// SSE/SSE2 hook for 0f-map opcodes 10-17, 28-2f, 50-7f, c2-c6, d0-ff and group 15 (0f ae: fxsave,
// fxrstor, ldmxcsr, stmxcsr, fences, clflush). The interpreter decodes ModRM before calling: c.reg is the
// xmm register index (REX.R applied), c.mod === 3 selects register c.rm (REX.B applied), otherwise the
// memory operand is at linear address c.eaLo/c.eaHi. The mandatory prefix is c.ssePfx (0, 0x66, 0xf2, 0xf3).
//
// Implemented: the integer/bitwise SSE2 subset glibc's baseline string functions and the kernel use (moves,
// logic, compares, pmovmskb, add/sub, min/max, unpacks, shuffles, shifts, movd/movq, movmsk, emms) and
// fxsave/fxrstor/ldmxcsr/stmxcsr. MMX (no-prefix integer forms) and floating-point arithmetic are not
// implemented (#UD via the unknown-opcode path); the third engineer extends this file.

import type { CoreBase } from "../decode/decoder.ts";

/** Immediate bytes following ModRM for 0f-map SSE opcode `op` (for RIP-relative addressing). */
export function sseImmBytes(op: number): number {
  return op === 0x70 || op === 0x71 || op === 0x72 || op === 0x73 || op === 0xc2 || op === 0xc4 ||
    op === 0xc5 || op === 0xc6 ? 1 : 0;
}

// Source operand scratch (16 bytes) with typed views.
const T32 = new Int32Array(4);
const T8 = new Uint8Array(T32.buffer);
const T16 = new Uint16Array(T32.buffer);
const TS8 = new Int8Array(T32.buffer);
const TS16 = new Int16Array(T32.buffer);
// Result scratch.
const R32 = new Int32Array(4);
const R8 = new Uint8Array(R32.buffer);
const R16 = new Uint16Array(R32.buffer);

let views: { cpuXmm: Int32Array; x8: Uint8Array; x16: Uint16Array; xs8: Int8Array; xs16: Int16Array } | null = null;
function xv(c: CoreBase): NonNullable<typeof views> {
  const x = c.cpu.xmm;
  if (views === null || views.cpuXmm !== x) {
    views = {
      cpuXmm: x, x8: new Uint8Array(x.buffer, x.byteOffset, 256), x16: new Uint16Array(x.buffer, x.byteOffset, 128),
      xs8: new Int8Array(x.buffer, x.byteOffset, 256), xs16: new Int16Array(x.buffer, x.byteOffset, 128),
    };
  }
  return views;
}

/** #UD / #NM checks for SSE instructions (CR0.EM, CR4.OSFXSR, CR0.TS). */
function checkSse(c: CoreBase): void {
  const cpu = c.cpu;
  if ((cpu.cr0 & 4) !== 0 || (cpu.cr4 & 0x200) === 0) c.ud();
  if ((cpu.cr0 & 8) !== 0) c.fault(7, false, 0);
}

function read128(c: CoreBase, lo: number, hi: number, dst: Int32Array, off: number): void {
  dst[off] = c.rdMem(8, lo, hi); dst[off + 1] = c.hi;
  const l2 = c.linAdd(lo, hi, 8), h2 = c.hi;
  dst[off + 2] = c.rdMem(8, l2, h2); dst[off + 3] = c.hi;
}
function write128(c: CoreBase, lo: number, hi: number, src: Int32Array, off: number): void {
  const l2 = c.linAdd(lo, hi, 8), h2 = c.hi;
  // Probe the second half first so a fault leaves memory untouched when the halves are on different pages.
  c.wrMem(8, l2, h2, src[off + 2]!, src[off + 3]!);
  c.wrMem(8, lo, hi, src[off]!, src[off + 1]!);
}

/** Loads the 128-bit source operand (xmm c.rm or memory) into T32. */
function src128(c: CoreBase, aligned: boolean): void {
  if (c.mod === 3) {
    const x = c.cpu.xmm, o = c.rm * 4;
    T32[0] = x[o]!; T32[1] = x[o + 1]!; T32[2] = x[o + 2]!; T32[3] = x[o + 3]!;
  } else {
    if (aligned && (c.eaLo & 15) !== 0) c.gp0();
    read128(c, c.eaLo, c.eaHi, T32, 0);
  }
}

function setDst(c: CoreBase, r: Int32Array): void {
  const x = c.cpu.xmm, o = c.reg * 4;
  x[o] = r[0]!; x[o + 1] = r[1]!; x[o + 2] = r[2]!; x[o + 3] = r[3]!;
}

/** Executes SSE opcode `op` of the 0f map. Returns false when not implemented (caller raises #UD). */
export function execSse(c: CoreBase, op: number): boolean {
  const p = c.ssePfx;
  if (op === 0x77 && p === 0) { // emms
    if ((c.cpu.cr0 & 4) !== 0) c.ud();
    if ((c.cpu.cr0 & 8) !== 0) c.fault(7, false, 0);
    c.cpu.fpuTag = 0xffff;
    return true;
  }
  checkSse(c);
  const x = c.cpu.xmm;
  const d = c.reg * 4;
  switch (op) {
    case 0x10: case 0x11: { // movups/movupd/movss/movsd
      if (p === 0 || p === 0x66) {
        if (op === 0x10) { src128(c, false); setDst(c, T32); }
        else if (c.mod === 3) { const s = c.rm * 4; x[s] = x[d]!; x[s + 1] = x[d + 1]!; x[s + 2] = x[d + 2]!; x[s + 3] = x[d + 3]!; }
        else write128(c, c.eaLo, c.eaHi, x, d);
        return true;
      }
      const n = p === 0xf3 ? 1 : 2; // dwords
      if (op === 0x10) {
        if (c.mod === 3) { const s = c.rm * 4; x[d] = x[s]!; if (n === 2) x[d + 1] = x[s + 1]!; }
        else {
          if (n === 1) x[d] = c.rdMem(4, c.eaLo, c.eaHi);
          else { x[d] = c.rdMem(8, c.eaLo, c.eaHi); x[d + 1] = c.hi; }
          if (n === 1) x[d + 1] = 0;
          x[d + 2] = 0; x[d + 3] = 0;
        }
      } else if (c.mod === 3) { const s = c.rm * 4; x[s] = x[d]!; if (n === 2) x[s + 1] = x[d + 1]!; }
      else if (n === 1) c.wrMem(4, c.eaLo, c.eaHi, x[d]!, 0);
      else c.wrMem(8, c.eaLo, c.eaHi, x[d]!, x[d + 1]!);
      return true;
    }
    case 0x12: case 0x13: case 0x16: case 0x17: { // movlps/movlpd/movhlps, movhps/movhpd/movlhps
      if (p !== 0 && p !== 0x66) return false;
      const high = op >= 0x16;
      if ((op & 1) === 0) {
        if (c.mod === 3) {
          if (p !== 0) return false;
          const s = c.rm * 4;
          if (high) { x[d + 2] = x[s]!; x[d + 3] = x[s + 1]!; } // movlhps
          else { x[d] = x[s + 2]!; x[d + 1] = x[s + 3]!; } // movhlps
        } else {
          const lo = c.rdMem(8, c.eaLo, c.eaHi), hi = c.hi;
          if (high) { x[d + 2] = lo; x[d + 3] = hi; } else { x[d] = lo; x[d + 1] = hi; }
        }
      } else {
        if (c.mod === 3) return false;
        if (high) c.wrMem(8, c.eaLo, c.eaHi, x[d + 2]!, x[d + 3]!); else c.wrMem(8, c.eaLo, c.eaHi, x[d]!, x[d + 1]!);
      }
      return true;
    }
    case 0x14: case 0x15: { // unpcklps/pd, unpckhps/pd
      src128(c, true);
      if (p === 0) {
        const b = op === 0x14 ? 0 : 2;
        R32[0] = x[d + b]!; R32[1] = T32[b]!; R32[2] = x[d + b + 1]!; R32[3] = T32[b + 1]!;
      } else if (p === 0x66) {
        const b = op === 0x14 ? 0 : 2;
        R32[0] = x[d + b]!; R32[1] = x[d + b + 1]!; R32[2] = T32[b]!; R32[3] = T32[b + 1]!;
      } else return false;
      setDst(c, R32);
      return true;
    }
    case 0x28: case 0x29: case 0x2b: { // movaps/movapd, movntps/movntpd
      if (p !== 0 && p !== 0x66) return false;
      if (op === 0x28) { src128(c, true); setDst(c, T32); return true; }
      if (c.mod === 3) {
        if (op === 0x2b) return false;
        const s = c.rm * 4; x[s] = x[d]!; x[s + 1] = x[d + 1]!; x[s + 2] = x[d + 2]!; x[s + 3] = x[d + 3]!;
        return true;
      }
      if ((c.eaLo & 15) !== 0) c.gp0();
      write128(c, c.eaLo, c.eaHi, x, d);
      return true;
    }
    case 0x50: { // movmskps/pd
      if (c.mod !== 3 || (p !== 0 && p !== 0x66)) return false;
      const s = c.rm * 4;
      const m = p === 0
        ? (x[s]! >>> 31) | ((x[s + 1]! >>> 31) << 1) | ((x[s + 2]! >>> 31) << 2) | ((x[s + 3]! >>> 31) << 3)
        : (x[s + 1]! >>> 31) | ((x[s + 3]! >>> 31) << 1);
      c.setReg(c.os === 8 ? 8 : 4, c.reg, m, 0);
      return true;
    }
    case 0x54: case 0x55: case 0x56: case 0x57: // andps andnps orps xorps (and pd)
      if (p !== 0 && p !== 0x66) return false;
      src128(c, true);
      for (let i = 0; i < 4; i++) {
        const a = x[d + i]!, b = T32[i]!;
        x[d + i] = op === 0x54 ? a & b : op === 0x55 ? ~a & b : op === 0x56 ? a | b : a ^ b;
      }
      return true;
    case 0x6e: { // movd/movq xmm, r/m
      if (p !== 0x66) return false;
      const os = c.os === 8 ? 8 : 4;
      const v = c.readE(os), h = os === 8 ? c.hi : 0;
      x[d] = v; x[d + 1] = h; x[d + 2] = 0; x[d + 3] = 0;
      return true;
    }
    case 0x7e: {
      if (p === 0x66) { // movd/movq r/m, xmm
        const os = c.os === 8 ? 8 : 4;
        c.writeE(os, x[d]!, x[d + 1]!);
        return true;
      }
      if (p === 0xf3) { // movq xmm, xmm/m64
        if (c.mod === 3) { const s = c.rm * 4; x[d] = x[s]!; x[d + 1] = x[s + 1]!; }
        else { x[d] = c.rdMem(8, c.eaLo, c.eaHi); x[d + 1] = c.hi; }
        x[d + 2] = 0; x[d + 3] = 0;
        return true;
      }
      return false;
    }
    case 0xd6: { // movq xmm/m64, xmm
      if (p !== 0x66) return false;
      if (c.mod === 3) { const s = c.rm * 4; x[s] = x[d]!; x[s + 1] = x[d + 1]!; x[s + 2] = 0; x[s + 3] = 0; }
      else c.wrMem(8, c.eaLo, c.eaHi, x[d]!, x[d + 1]!);
      return true;
    }
    case 0x6f: // movdqa / movdqu
      if (p !== 0x66 && p !== 0xf3) return false;
      src128(c, p === 0x66); setDst(c, T32);
      return true;
    case 0x7f: case 0xe7: // movdqa/movdqu store, movntdq
      if (op === 0x7f ? p !== 0x66 && p !== 0xf3 : p !== 0x66) return false;
      if (c.mod === 3) {
        if (op === 0xe7) return false;
        const s = c.rm * 4; x[s] = x[d]!; x[s + 1] = x[d + 1]!; x[s + 2] = x[d + 2]!; x[s + 3] = x[d + 3]!;
        return true;
      }
      if ((op === 0xe7 || p === 0x66) && (c.eaLo & 15) !== 0) c.gp0();
      write128(c, c.eaLo, c.eaHi, x, d);
      return true;
    case 0x70: { // pshufd / pshufhw / pshuflw
      src128(c, p === 0x66);
      const imm = c.f8();
      if (p === 0x66) {
        for (let i = 0; i < 4; i++) R32[i] = T32[(imm >> (i * 2)) & 3]!;
      } else if (p === 0xf2 || p === 0xf3) {
        R32[0] = T32[0]!; R32[1] = T32[1]!; R32[2] = T32[2]!; R32[3] = T32[3]!;
        const base = p === 0xf2 ? 0 : 4;
        for (let i = 0; i < 4; i++) R16[base + i] = T16[base + ((imm >> (i * 2)) & 3)]!;
      } else return false;
      setDst(c, R32);
      return true;
    }
    case 0x71: case 0x72: case 0x73: { // shifts by immediate
      if (p !== 0x66 || c.mod !== 3) return false;
      const n = c.f8();
      const sub = (c.modrm >> 3) & 7;
      const r = c.rm * 4;
      const v = xv(c);
      if (op === 0x73 && (sub === 3 || sub === 7)) { // psrldq / pslldq (bytes)
        const s = n > 16 ? 16 : n;
        for (let i = 0; i < 16; i++) T8[i] = v.x8[r * 4 + i]!;
        for (let i = 0; i < 16; i++) {
          const j = sub === 3 ? i + s : i - s;
          v.x8[r * 4 + i] = j >= 0 && j < 16 ? T8[j]! : 0;
        }
        return true;
      }
      const w = op === 0x71 ? 16 : op === 0x72 ? 32 : 64;
      return shiftLanes(c, r, w, sub === 2 ? 0 : sub === 4 ? 1 : sub === 6 ? 2 : -1, n);
    }
    case 0xd1: case 0xd2: case 0xd3: case 0xe1: case 0xe2: case 0xf1: case 0xf2: case 0xf3: {
      if (p !== 0x66) return false;
      src128(c, true);
      const cnt = T32[1] !== 0 ? 255 : (T32[0]! >>> 0) > 255 ? 255 : T32[0]!;
      const w = (op & 3) === 1 ? 16 : (op & 3) === 2 ? 32 : 64;
      const kind = op >= 0xf0 ? 2 : op >= 0xe0 ? 1 : 0;
      return shiftLanes(c, c.reg * 4, w, kind, cnt);
    }
    case 0xc4: { // pinsrw
      if (p !== 0x66) return false;
      const v = c.mod === 3 ? c.rlo[c.rm]! : c.rdMem(2, c.eaLo, c.eaHi);
      const imm = c.f8();
      xv(c).x16[c.reg * 8 + (imm & 7)] = v & 0xffff;
      return true;
    }
    case 0xc5: { // pextrw
      if (p !== 0x66 || c.mod !== 3) return false;
      const imm = c.f8();
      c.setReg(4, c.reg, xv(c).x16[c.rm * 8 + (imm & 7)]!, 0);
      return true;
    }
    case 0xc6: { // shufps / shufpd
      src128(c, true);
      const imm = c.f8();
      if (p === 0) {
        R32[0] = x[d + (imm & 3)]!; R32[1] = x[d + ((imm >> 2) & 3)]!;
        R32[2] = T32[(imm >> 4) & 3]!; R32[3] = T32[(imm >> 6) & 3]!;
      } else if (p === 0x66) {
        const a = imm & 1, b = (imm >> 1) & 1;
        R32[0] = x[d + a * 2]!; R32[1] = x[d + a * 2 + 1]!; R32[2] = T32[b * 2]!; R32[3] = T32[b * 2 + 1]!;
      } else return false;
      setDst(c, R32);
      return true;
    }
    case 0xd7: { // pmovmskb
      if (p !== 0x66 || c.mod !== 3) return false;
      const b = xv(c).x8, s = c.rm * 16;
      let m = 0;
      for (let i = 0; i < 16; i++) m |= (b[s + i]! >> 7) << i;
      c.setReg(4, c.reg, m, 0);
      return true;
    }
    default:
      if (p !== 0x66) return false;
      return intOp(c, op);
  }
}

/** Lane shifts: kind 0 = logical right, 1 = arithmetic right, 2 = left; w = lane width in bits. */
function shiftLanes(c: CoreBase, r: number, w: number, kind: number, n: number): boolean {
  if (kind < 0) return false;
  const x = c.cpu.xmm;
  if (w === 64) {
    if (kind === 1) return false;
    for (let q = 0; q < 2; q++) {
      const lo = x[r + q * 2]!, hi = x[r + q * 2 + 1]!;
      let nl = 0, nh = 0;
      if (n < 64) {
        if (kind === 0) {
          if (n === 0) { nl = lo; nh = hi; } else if (n < 32) { nl = (lo >>> n) | (hi << (32 - n)); nh = hi >>> n; } else { nl = hi >>> (n - 32); nh = 0; }
        } else if (n === 0) { nl = lo; nh = hi; } else if (n < 32) { nh = (hi << n) | (lo >>> (32 - n)); nl = lo << n; } else { nh = lo << (n - 32); nl = 0; }
      }
      x[r + q * 2] = nl; x[r + q * 2 + 1] = nh;
    }
    return true;
  }
  if (w === 32) {
    for (let i = 0; i < 4; i++) {
      const v = x[r + i]!;
      x[r + i] = kind === 0 ? (n > 31 ? 0 : v >>> n) : kind === 1 ? v >> (n > 31 ? 31 : n) : n > 31 ? 0 : v << n;
    }
    return true;
  }
  const v = xv(c);
  for (let i = 0; i < 8; i++) {
    const k = r * 2 + i;
    if (kind === 0) v.x16[k] = n > 15 ? 0 : v.x16[k]! >>> n;
    else if (kind === 1) v.xs16[k] = v.xs16[k]! >> (n > 15 ? 15 : n);
    else v.x16[k] = n > 15 ? 0 : (v.x16[k]! << n) & 0xffff;
  }
  return true;
}

/** 66-prefixed integer ops with an xmm/m128 source. */
function intOp(c: CoreBase, op: number): boolean {
  const v = xv(c);
  const x = c.cpu.xmm, d = c.reg * 4, d8 = c.reg * 16, d16 = c.reg * 8;
  switch (op) {
    case 0x60: case 0x61: case 0x62: case 0x6c: case 0x68: case 0x69: case 0x6a: case 0x6d: {
      src128(c, true);
      const high = op >= 0x68 && op !== 0x6c;
      const w = op === 0x60 || op === 0x68 ? 1 : op === 0x61 || op === 0x69 ? 2 : op === 0x62 || op === 0x6a ? 4 : 8;
      const half = high ? 8 : 0;
      for (let i = 0; i < 16; i++) R8[i] = 0;
      const n = 8 / w; // elements per half
      for (let i = 0; i < n; i++) {
        for (let b = 0; b < w; b++) {
          R8[i * 2 * w + b] = v.x8[d8 + half + i * w + b]!;
          R8[i * 2 * w + w + b] = T8[half + i * w + b]!;
        }
      }
      setDst(c, R32);
      return true;
    }
    case 0x63: case 0x67: case 0x6b: { // packsswb / packuswb / packssdw
      src128(c, true);
      if (op === 0x6b) {
        for (let i = 0; i < 4; i++) { R16[i] = sat16(x[d + i]!); R16[4 + i] = sat16(T32[i]!); }
      } else {
        for (let i = 0; i < 8; i++) {
          R8[i] = op === 0x63 ? sat8s(v.xs16[d16 + i]!) : sat8u(v.xs16[d16 + i]!);
          R8[8 + i] = op === 0x63 ? sat8s(TS16[i]!) : sat8u(TS16[i]!);
        }
      }
      setDst(c, R32);
      return true;
    }
    case 0x64: case 0x65: case 0x66: case 0x74: case 0x75: case 0x76: { // pcmpgt / pcmpeq
      src128(c, true);
      const eq = op >= 0x74, w = op & 3; // 0 byte, 1 word, 2 dword
      if (w === 0) for (let i = 0; i < 16; i++) v.x8[d8 + i] = (eq ? v.x8[d8 + i] === T8[i] : v.xs8[d8 + i]! > TS8[i]!) ? 0xff : 0;
      else if (w === 1) for (let i = 0; i < 8; i++) v.x16[d16 + i] = (eq ? v.x16[d16 + i] === T16[i] : v.xs16[d16 + i]! > TS16[i]!) ? 0xffff : 0;
      else for (let i = 0; i < 4; i++) x[d + i] = (eq ? x[d + i] === T32[i] : x[d + i]! > T32[i]!) ? -1 : 0;
      return true;
    }
    case 0xdb: case 0xdf: case 0xeb: case 0xef: // pand pandn por pxor
      src128(c, true);
      for (let i = 0; i < 4; i++) {
        const a = x[d + i]!, b = T32[i]!;
        x[d + i] = op === 0xdb ? a & b : op === 0xdf ? ~a & b : op === 0xeb ? a | b : a ^ b;
      }
      return true;
    case 0xf8: case 0xfc: // psubb / paddb
      src128(c, true);
      for (let i = 0; i < 16; i++) v.x8[d8 + i] = op === 0xfc ? v.x8[d8 + i]! + T8[i]! : v.x8[d8 + i]! - T8[i]!;
      return true;
    case 0xf9: case 0xfd: // psubw / paddw
      src128(c, true);
      for (let i = 0; i < 8; i++) v.x16[d16 + i] = op === 0xfd ? v.x16[d16 + i]! + T16[i]! : v.x16[d16 + i]! - T16[i]!;
      return true;
    case 0xfa: case 0xfe: // psubd / paddd
      src128(c, true);
      for (let i = 0; i < 4; i++) x[d + i] = op === 0xfe ? (x[d + i]! + T32[i]!) | 0 : (x[d + i]! - T32[i]!) | 0;
      return true;
    case 0xd4: case 0xfb: { // paddq / psubq
      src128(c, true);
      for (let q = 0; q < 2; q++) {
        const al = x[d + q * 2]!, ah = x[d + q * 2 + 1]!, bl = T32[q * 2]!, bh = T32[q * 2 + 1]!;
        if (op === 0xd4) {
          const s = (al >>> 0) + (bl >>> 0);
          x[d + q * 2] = s | 0; x[d + q * 2 + 1] = (ah + bh + (s > 0xffffffff ? 1 : 0)) | 0;
        } else {
          const s = (al >>> 0) - (bl >>> 0);
          x[d + q * 2] = s | 0; x[d + q * 2 + 1] = (ah - bh - (s < 0 ? 1 : 0)) | 0;
        }
      }
      return true;
    }
    case 0xd8: case 0xdc: // psubusb / paddusb
      src128(c, true);
      for (let i = 0; i < 16; i++) {
        const r = op === 0xdc ? v.x8[d8 + i]! + T8[i]! : v.x8[d8 + i]! - T8[i]!;
        v.x8[d8 + i] = r < 0 ? 0 : r > 255 ? 255 : r;
      }
      return true;
    case 0xd9: case 0xdd: // psubusw / paddusw
      src128(c, true);
      for (let i = 0; i < 8; i++) {
        const r = op === 0xdd ? v.x16[d16 + i]! + T16[i]! : v.x16[d16 + i]! - T16[i]!;
        v.x16[d16 + i] = r < 0 ? 0 : r > 0xffff ? 0xffff : r;
      }
      return true;
    case 0xda: case 0xde: // pminub / pmaxub
      src128(c, true);
      for (let i = 0; i < 16; i++) {
        const a = v.x8[d8 + i]!, b = T8[i]!;
        v.x8[d8 + i] = op === 0xda ? (a < b ? a : b) : a > b ? a : b;
      }
      return true;
    case 0xea: case 0xee: // pminsw / pmaxsw
      src128(c, true);
      for (let i = 0; i < 8; i++) {
        const a = v.xs16[d16 + i]!, b = TS16[i]!;
        v.xs16[d16 + i] = op === 0xea ? (a < b ? a : b) : a > b ? a : b;
      }
      return true;
    case 0xe0: case 0xe3: // pavgb / pavgw
      src128(c, true);
      if (op === 0xe0) for (let i = 0; i < 16; i++) v.x8[d8 + i] = (v.x8[d8 + i]! + T8[i]! + 1) >> 1;
      else for (let i = 0; i < 8; i++) v.x16[d16 + i] = (v.x16[d16 + i]! + T16[i]! + 1) >> 1;
      return true;
    case 0xd5: case 0xe5: // pmullw / pmulhw
      src128(c, true);
      for (let i = 0; i < 8; i++) {
        const p = v.xs16[d16 + i]! * TS16[i]!;
        v.x16[d16 + i] = op === 0xd5 ? p & 0xffff : (p >> 16) & 0xffff;
      }
      return true;
    case 0xf4: { // pmuludq
      src128(c, true);
      for (let q = 0; q < 2; q++) {
        const lo = umul(x[d + q * 2]!, T32[q * 2]!);
        x[d + q * 2] = lo; x[d + q * 2 + 1] = mulHi;
      }
      return true;
    }
    case 0xf6: { // psadbw
      src128(c, true);
      for (let q = 0; q < 2; q++) {
        let s = 0;
        for (let i = 0; i < 8; i++) s += Math.abs(v.x8[d8 + q * 8 + i]! - T8[q * 8 + i]!);
        x[d + q * 2] = s; x[d + q * 2 + 1] = 0;
      }
      return true;
    }
    default:
      return false;
  }
}

let mulHi = 0;
function umul(a: number, b: number): number {
  a >>>= 0; b >>>= 0;
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, lh = al * bh, hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mulHi = (ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) | 0;
  return Math.imul(a, b);
}
function sat16(v: number): number { return v > 32767 ? 0x7fff : v < -32768 ? 0x8000 : v & 0xffff; }
function sat8s(v: number): number { return v > 127 ? 0x7f : v < -128 ? 0x80 : v & 0xff; }
function sat8u(v: number): number { return v > 255 ? 255 : v < 0 ? 0 : v; }

// ------------------------------------------------------------------------------------------------ group 15

const F64 = new Float64Array(1);
const F64W = new Int32Array(F64.buffer);

/** Writes st value `v` as an 80-bit extended real at linear (lo, hi). */
function writeExt80(c: CoreBase, lo: number, hi: number, v: number): void {
  F64[0] = v;
  const dl = F64W[0]!, dh = F64W[1]!;
  const sign = dh >>> 31, e = (dh >>> 20) & 0x7ff;
  let mLo = 0, mHi = 0, e80 = 0;
  if (e === 0 && ((dh & 0xfffff) | dl) === 0) { e80 = 0; }
  else if (e === 0x7ff) { e80 = 0x7fff; mHi = 0x80000000 | ((dh & 0xfffff) << 11) | (dl >>> 21); mLo = dl << 11; }
  else if (e === 0) { e80 = 0; } // double denormals: flushed (not produced by the kernel's x87 use)
  else { e80 = e - 1023 + 16383; mHi = 0x80000000 | ((dh & 0xfffff) << 11) | (dl >>> 21); mLo = dl << 11; }
  c.wrMem(8, lo, hi, mLo, mHi);
  const l2 = c.linAdd(lo, hi, 8), h2 = c.hi;
  c.wrMem(2, l2, h2, e80 | (sign << 15), 0);
}
function readExt80(c: CoreBase, lo: number, hi: number): number {
  const mLo = c.rdMem(8, lo, hi), mHi = c.hi;
  const l2 = c.linAdd(lo, hi, 8), h2 = c.hi;
  const se = c.rdMem(2, l2, h2);
  const sign = se >> 15, e80 = se & 0x7fff;
  if (e80 === 0 && (mLo | mHi) === 0) return sign ? -0 : 0;
  const mant = (mHi >>> 0) * 4294967296 + (mLo >>> 0);
  if (e80 === 0x7fff) return (mHi & 0x7fffffff) === 0 && mLo === 0 ? (sign ? -Infinity : Infinity) : NaN;
  const v = mant * Math.pow(2, e80 - 16383 - 63);
  return sign ? -v : v;
}

function fxsave(c: CoreBase): void {
  const cpu = c.cpu, lo = c.eaLo, hi = c.eaHi;
  if ((lo & 15) !== 0) c.gp0();
  // Probe the last byte first so a page fault leaves the area untouched.
  { const l = c.linAdd(lo, hi, 511), h = c.hi; c.wrMem(1, l, h, 0, 0); }
  let ftw = 0;
  for (let i = 0; i < 8; i++) if (((cpu.fpuTag >> (i * 2)) & 3) !== 3) ftw |= 1 << i;
  const fsw = (cpu.fpuStatus & ~0x3800) | ((cpu.fpuTop & 7) << 11);
  c.wrMem(4, lo, hi, (cpu.fpuControl & 0xffff) | (fsw << 16), 0);
  const at = (n: number): number => { const l = c.linAdd(lo, hi, n); return l; };
  c.wrMem(4, at(4), c.hi, ftw, 0);
  c.wrMem(8, at(8), c.hi, 0, 0);
  c.wrMem(8, at(16), c.hi, 0, 0);
  c.wrMem(4, at(24), c.hi, cpu.mxcsr, 0);
  c.wrMem(4, at(28), c.hi, 0xffff, 0);
  for (let i = 0; i < 8; i++) {
    const l = at(32 + i * 16), h = c.hi;
    writeExt80(c, l, h, cpu.fpr[(cpu.fpuTop + i) & 7]!);
    const l2 = at(32 + i * 16 + 10), h2 = c.hi;
    c.wrMem(2, l2, h2, 0, 0); c.wrMem(4, at(32 + i * 16 + 12), c.hi, 0, 0);
  }
  const nx = c.is64 ? 16 : 8;
  for (let i = 0; i < nx; i++) { const l = at(160 + i * 16), h = c.hi; write128(c, l, h, cpu.xmm, i * 4); }
}

function fxrstor(c: CoreBase): void {
  const cpu = c.cpu, lo = c.eaLo, hi = c.eaHi;
  if ((lo & 15) !== 0) c.gp0();
  const at = (n: number): number => c.linAdd(lo, hi, n);
  const mx = c.rdMem(4, at(24), c.hi);
  if ((mx & ~0xffff) !== 0) c.gp0();
  const w0 = c.rdMem(4, lo, hi);
  const ftw = c.rdMem(1, at(4), c.hi);
  const fpr = new Float64Array(8);
  for (let i = 0; i < 8; i++) { const l = at(32 + i * 16), h = c.hi; fpr[i] = readExt80(c, l, h); }
  const nx = c.is64 ? 16 : 8;
  const xmm = new Int32Array(nx * 4);
  for (let i = 0; i < nx; i++) { const l = at(160 + i * 16), h = c.hi; read128(c, l, h, xmm, i * 4); }
  // Commit only after every read succeeded.
  cpu.fpuControl = w0 & 0xffff;
  const fsw = (w0 >>> 16) & 0xffff;
  cpu.fpuStatus = fsw;
  cpu.fpuTop = (fsw >> 11) & 7;
  let tag = 0;
  for (let i = 0; i < 8; i++) tag |= ((ftw >> i) & 1 ? 0 : 3) << (i * 2);
  cpu.fpuTag = tag;
  for (let i = 0; i < 8; i++) cpu.fpr[(cpu.fpuTop + i) & 7] = fpr[i]!;
  cpu.mxcsr = mx;
  cpu.xmm.set(xmm, 0);
}

/** 0f ae group 15. Returns false when not implemented. */
export function execGroup15(c: CoreBase): boolean {
  const reg = (c.modrm >> 3) & 7;
  if (c.mod === 3) return reg >= 5 && c.ssePfx === 0; // lfence / mfence / sfence
  switch (reg) {
    case 0: case 1: {
      const cpu = c.cpu;
      if ((cpu.cr0 & 4) !== 0) c.ud();
      if ((cpu.cr0 & 8) !== 0) c.fault(7, false, 0);
      if (reg === 0) fxsave(c); else fxrstor(c);
      return true;
    }
    case 2: {
      checkSse(c);
      const v = c.rdMem(4, c.eaLo, c.eaHi);
      if ((v & ~0xffff) !== 0) c.gp0();
      c.cpu.mxcsr = v;
      return true;
    }
    case 3: checkSse(c); c.wrMem(4, c.eaLo, c.eaHi, c.cpu.mxcsr, 0); return true;
    case 7: return c.ssePfx === 0; // clflush (66: clflushopt, not advertised)
    default: return false; // xsave family: not advertised
  }
}
