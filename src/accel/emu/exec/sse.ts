// SSE/SSE2/MMX hook for 0f-map opcodes 10-17, 28-2f, 50-7f, c2-c6, d0-ff and group 15 (0f ae: fxsave,
// fxrstor, ldmxcsr, stmxcsr, fences, clflush). The interpreter decodes ModRM before calling: c.reg is the
// xmm/mmx register index (REX.R applied), c.mod === 3 selects register c.rm (REX.B applied), otherwise the
// memory operand is at linear address c.eaLo/c.eaHi. The mandatory prefix is c.ssePfx (0, 0x66, 0xf2, 0xf3).
//
// Files: sse.ts (dispatch, moves, shuffles, group 15 / fxsave), sse_int.ts (packed integer ops),
// sse_fp.ts (floating point), sse_io.ts (operands, checks), sse_state.ts (x87/MMX register images).
// MMX registers alias the x87 mantissas (see sse_state.ts). No SSE3+ opcodes (not advertised): #UD.

import type { CoreBase } from "../decode/decoder.ts";
import { DS } from "../decode/decoder.ts";
import { execFp } from "./sse_fp.ts";
import { byteShiftA, intOp, shiftA, unpack } from "./sse_int.ts";
import {
  A, A16, A8, B, B16, B8, T, checkMmx, checkSse, getMm, getXmm, loadMmRm, loadXmmRm, probeWrite, rd128, setMm,
  setXmm, wr128,
} from "./sse_io.ts";
import { ensureRaw, fpExt, mmxEnter, setRaw80, tagOf80 } from "./sse_state.ts";

/** MXCSR bits software may set (no DAZ): the value fxsave stores as MXCSR_MASK. */
export const MXCSR_MASK = 0xffbf;

/** Immediate bytes following ModRM for 0f-map SSE opcode `op` (for RIP-relative addressing). */
export function sseImmBytes(op: number): number {
  return op === 0x70 || op === 0x71 || op === 0x72 || op === 0x73 || op === 0xc2 || op === 0xc4 ||
    op === 0xc5 || op === 0xc6 ? 1 : 0;
}

/** Executes SSE/MMX opcode `op` of the 0f map. Returns false when not implemented (caller raises #UD). */
export function execSse(c: CoreBase, op: number): boolean {
  const p = c.ssePfx;
  // ---- packed integer: no prefix = MMX (mm, mm/m64), 66 = SSE2 (xmm, xmm/m128) ----
  if ((op >= 0x60 && op <= 0x6d) || (op >= 0x74 && op <= 0x76) || (op >= 0xd1 && op <= 0xfe && op !== 0xd6 &&
    op !== 0xd7 && op !== 0xe6 && op !== 0xe7 && op !== 0xf0 && op !== 0xf7)) {
    if (p === 0) {
      if (op === 0x6c || op === 0x6d) return false;
      checkMmx(c);
      getMm(c, c.reg, A); loadMmRm(c, B);
      if (!intOp(op, 8)) return false;
      mmxEnter(c.cpu);
      setMm(c, c.reg, A);
      return true;
    }
    if (p !== 0x66) return false;
    checkSse(c);
    getXmm(c, c.reg, A); loadXmmRm(c, B, true);
    if (!intOp(op, 16)) return false;
    setXmm(c, c.reg, A);
    return true;
  }
  switch (op) {
    case 0x10: case 0x11: return movUS(c, op, p);
    case 0x12: case 0x13: case 0x16: case 0x17: return movLH(c, op, p);
    case 0x14: case 0x15: // unpcklps/pd, unpckhps/pd
      if (p !== 0 && p !== 0x66) return false;
      checkSse(c);
      getXmm(c, c.reg, A); loadXmmRm(c, B, true);
      unpack(p === 0 ? 4 : 8, op === 0x15, 16);
      setXmm(c, c.reg, A);
      return true;
    case 0x28: // movaps / movapd
      if (p !== 0 && p !== 0x66) return false;
      checkSse(c);
      loadXmmRm(c, A, true); setXmm(c, c.reg, A);
      return true;
    case 0x29: case 0x2b: // movaps/movapd store, movntps/movntpd
      if (p !== 0 && p !== 0x66) return false;
      if (op === 0x2b && c.mod === 3) return false;
      checkSse(c);
      storeXmmRm(c, true);
      return true;
    case 0x2a: case 0x2c: case 0x2d: case 0x2e: case 0x2f:
      checkSse(c);
      return execFp(c, op);
    case 0x50: { // movmskps / movmskpd
      if (c.mod !== 3 || (p !== 0 && p !== 0x66)) return false;
      checkSse(c);
      const x = c.cpu.xmm, o = c.rm << 2;
      const m = p === 0 ? (x[o]! >>> 31) | ((x[o + 1]! >>> 31) << 1) | ((x[o + 2]! >>> 31) << 2) | ((x[o + 3]! >>> 31) << 3)
        : (x[o + 1]! >>> 31) | ((x[o + 3]! >>> 31) << 1);
      c.setReg(4, c.reg, m, 0);
      return true;
    }
    case 0x54: case 0x55: case 0x56: case 0x57: // and/andn/or/xor ps/pd
      if (p !== 0 && p !== 0x66) return false;
      checkSse(c);
      getXmm(c, c.reg, A); loadXmmRm(c, B, true);
      intOp(op === 0x54 ? 0xdb : op === 0x55 ? 0xdf : op === 0x56 ? 0xeb : 0xef, 16);
      setXmm(c, c.reg, A);
      return true;
    case 0x51: case 0x52: case 0x53: case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d:
    case 0x5e: case 0x5f: case 0xc2: case 0xe6:
      checkSse(c);
      return execFp(c, op);
    case 0x6e: { // movd/movq mm|xmm, r/m32|64
      const w = (c.rex & 8) !== 0;
      if (p !== 0 && p !== 0x66) return false;
      if (p === 0) checkMmx(c); else checkSse(c);
      const lo = c.readE(w ? 8 : 4), hi = w ? c.hi : 0;
      A[0] = lo; A[1] = hi; A[2] = 0; A[3] = 0;
      if (p === 0) { mmxEnter(c.cpu); setMm(c, c.reg, A); } else setXmm(c, c.reg, A);
      return true;
    }
    case 0x7e: { // movd/movq r/m32|64, mm|xmm; f3: movq xmm, xmm/m64
      if (p === 0xf3) {
        checkSse(c);
        if (c.mod === 3) getXmm(c, c.rm, A); else { A[0] = c.rdMem(8, c.eaLo, c.eaHi); A[1] = c.hi; }
        A[2] = 0; A[3] = 0;
        setXmm(c, c.reg, A);
        return true;
      }
      if (p !== 0 && p !== 0x66) return false;
      const w = (c.rex & 8) !== 0;
      if (p === 0) { checkMmx(c); getMm(c, c.reg, A); mmxEnter(c.cpu); } else { checkSse(c); getXmm(c, c.reg, A); }
      c.writeE(w ? 8 : 4, A[0]!, A[1]!);
      return true;
    }
    case 0x6f: // movq mm, mm/m64 / movdqa / movdqu
      if (p === 0) { checkMmx(c); loadMmRm(c, A); mmxEnter(c.cpu); setMm(c, c.reg, A); return true; }
      if (p === 0xf2) return false;
      checkSse(c);
      loadXmmRm(c, A, p === 0x66); setXmm(c, c.reg, A);
      return true;
    case 0x7f: // movq mm/m64, mm / movdqa / movdqu stores
      if (p === 0) {
        checkMmx(c);
        getMm(c, c.reg, A); mmxEnter(c.cpu);
        if (c.mod === 3) setMm(c, c.rm, A); else c.wrMem(8, c.eaLo, c.eaHi, A[0]!, A[1]!);
        return true;
      }
      if (p === 0xf2) return false;
      checkSse(c);
      storeXmmRm(c, p === 0x66);
      return true;
    case 0x70: return pshuf(c, p);
    case 0x71: case 0x72: case 0x73: return shiftImm(c, op, p);
    case 0x77: // emms
      if (p !== 0) return false;
      checkMmx(c);
      c.cpu.fpuTag = 0xffff;
      return true;
    case 0xc3: { // movnti m32/m64, r32/r64
      if (p !== 0 || c.mod === 3) return false;
      const os = (c.rex & 8) !== 0 ? 8 : 4;
      const v = c.getReg(os, c.reg);
      c.wrMem(os, c.eaLo, c.eaHi, v, os === 8 ? c.hi : 0);
      return true;
    }
    case 0xc4: { // pinsrw mm|xmm, r32/m16, imm8
      if (p !== 0 && p !== 0x66) return false;
      if (p === 0) checkMmx(c); else checkSse(c);
      const v = c.mod === 3 ? c.rlo[c.rm]! & 0xffff : c.rdMem(2, c.eaLo, c.eaHi);
      const imm = c.f8();
      if (p === 0) { getMm(c, c.reg, A); A16[imm & 3] = v; mmxEnter(c.cpu); setMm(c, c.reg, A); }
      else { getXmm(c, c.reg, A); A16[imm & 7] = v; setXmm(c, c.reg, A); }
      return true;
    }
    case 0xc5: { // pextrw r32, mm|xmm, imm8
      if (c.mod !== 3 || (p !== 0 && p !== 0x66)) return false;
      const imm = c.f8();
      if (p === 0) { checkMmx(c); getMm(c, c.rm, A); mmxEnter(c.cpu); c.setReg(4, c.reg, A16[imm & 3]!, 0); }
      else { checkSse(c); getXmm(c, c.rm, A); c.setReg(4, c.reg, A16[imm & 7]!, 0); }
      return true;
    }
    case 0xc6: { // shufps / shufpd
      if (p !== 0 && p !== 0x66) return false;
      checkSse(c);
      const imm = c.f8();
      getXmm(c, c.reg, A); loadXmmRm(c, B, true);
      if (p === 0) {
        T[0] = A[imm & 3]!; T[1] = A[(imm >> 2) & 3]!; T[2] = B[(imm >> 4) & 3]!; T[3] = B[(imm >> 6) & 3]!;
      } else {
        const i = (imm & 1) << 1, j = (imm & 2);
        T[0] = A[i]!; T[1] = A[i + 1]!; T[2] = B[j]!; T[3] = B[j + 1]!;
      }
      setXmm(c, c.reg, T);
      return true;
    }
    case 0xd6: // movq xmm/m64, xmm (66) / movq2dq (f3) / movdq2q (f2)
      if (p === 0x66) {
        checkSse(c);
        getXmm(c, c.reg, A);
        if (c.mod === 3) { A[2] = 0; A[3] = 0; setXmm(c, c.rm, A); } else c.wrMem(8, c.eaLo, c.eaHi, A[0]!, A[1]!);
        return true;
      }
      if (c.mod !== 3) return false;
      if (p === 0xf3) {
        checkSse(c); checkMmx(c);
        getMm(c, c.rm, A); A[2] = 0; A[3] = 0; mmxEnter(c.cpu); setXmm(c, c.reg, A);
        return true;
      }
      if (p === 0xf2) {
        checkSse(c); checkMmx(c);
        getXmm(c, c.rm, A); mmxEnter(c.cpu); setMm(c, c.reg, A);
        return true;
      }
      return false;
    case 0xd7: { // pmovmskb r32, mm|xmm
      if (c.mod !== 3 || (p !== 0 && p !== 0x66)) return false;
      let m = 0;
      if (p === 0) { checkMmx(c); getMm(c, c.rm, A); mmxEnter(c.cpu); for (let i = 0; i < 8; i++) m |= (A8[i]! >> 7) << i; }
      else { checkSse(c); getXmm(c, c.rm, A); for (let i = 0; i < 16; i++) m |= (A8[i]! >> 7) << i; }
      c.setReg(4, c.reg, m, 0);
      return true;
    }
    case 0xe7: // movntq m64, mm / movntdq m128, xmm
      if (c.mod === 3) return false;
      if (p === 0) { checkMmx(c); getMm(c, c.reg, A); mmxEnter(c.cpu); c.wrMem(8, c.eaLo, c.eaHi, A[0]!, A[1]!); return true; }
      if (p !== 0x66) return false;
      checkSse(c);
      getXmm(c, c.reg, A); wr128(c, c.eaLo, c.eaHi, A, 0, true);
      return true;
    case 0xf7: return maskmov(c, p);
    default: return false;
  }
}

/** Stores xmm[c.reg] to the xmm/m128 operand. */
function storeXmmRm(c: CoreBase, align: boolean): void {
  getXmm(c, c.reg, A);
  if (c.mod === 3) setXmm(c, c.rm, A); else wr128(c, c.eaLo, c.eaHi, A, 0, align);
}

/** 0f 10/11: movups/movupd/movss/movsd loads and stores. */
function movUS(c: CoreBase, op: number, p: number): boolean {
  checkSse(c);
  if (p === 0 || p === 0x66) {
    if (op === 0x10) { loadXmmRm(c, A, false); setXmm(c, c.reg, A); } else storeXmmRm(c, false);
    return true;
  }
  const x = c.cpu.xmm, r = c.reg << 2;
  if (op === 0x10) {
    if (c.mod === 3) {
      const s = c.rm << 2;
      x[r] = x[s]!;
      if (p === 0xf2) x[r + 1] = x[s + 1]!;
    } else if (p === 0xf3) {
      const v = c.rdMem(4, c.eaLo, c.eaHi);
      x[r] = v; x[r + 1] = 0; x[r + 2] = 0; x[r + 3] = 0;
    } else {
      const v = c.rdMem(8, c.eaLo, c.eaHi), h = c.hi;
      x[r] = v; x[r + 1] = h; x[r + 2] = 0; x[r + 3] = 0;
    }
  } else if (c.mod === 3) {
    const d = c.rm << 2;
    x[d] = x[r]!;
    if (p === 0xf2) x[d + 1] = x[r + 1]!;
  } else if (p === 0xf3) c.wrMem(4, c.eaLo, c.eaHi, x[r]!, 0);
  else c.wrMem(8, c.eaLo, c.eaHi, x[r]!, x[r + 1]!);
  return true;
}

/** 0f 12/13/16/17: movlps/movlpd/movhlps, movhps/movhpd/movlhps. */
function movLH(c: CoreBase, op: number, p: number): boolean {
  if (p !== 0 && p !== 0x66) return false;
  if (c.mod === 3 && (p === 0x66 || op === 0x13 || op === 0x17)) return false;
  checkSse(c);
  const x = c.cpu.xmm, r = c.reg << 2;
  const hiHalf = op >= 0x16 ? 2 : 0;
  if (op === 0x13 || op === 0x17) { c.wrMem(8, c.eaLo, c.eaHi, x[r + hiHalf]!, x[r + hiHalf + 1]!); return true; }
  if (c.mod === 3) {
    const s = c.rm << 2;
    if (op === 0x12) { x[r] = x[s + 2]!; x[r + 1] = x[s + 3]!; } // movhlps
    else { x[r + 2] = x[s]!; x[r + 3] = x[s + 1]!; } // movlhps
    return true;
  }
  const v = c.rdMem(8, c.eaLo, c.eaHi), h = c.hi;
  x[r + hiHalf] = v; x[r + hiHalf + 1] = h;
  return true;
}

/** 0f 70: pshufw (mm) / pshufd (66) / pshufhw (f3) / pshuflw (f2). */
function pshuf(c: CoreBase, p: number): boolean {
  const imm = c.f8();
  if (p === 0) {
    checkMmx(c);
    loadMmRm(c, B);
    for (let i = 0; i < 4; i++) A16[i] = B16[(imm >> (2 * i)) & 3]!;
    mmxEnter(c.cpu);
    setMm(c, c.reg, A);
    return true;
  }
  checkSse(c);
  loadXmmRm(c, B, true);
  if (p === 0x66) for (let i = 0; i < 4; i++) A[i] = B[(imm >> (2 * i)) & 3]!;
  else if (p === 0xf3) {
    A[0] = B[0]!; A[1] = B[1]!;
    for (let i = 0; i < 4; i++) A16[4 + i] = B16[4 + ((imm >> (2 * i)) & 3)]!;
  } else {
    A[2] = B[2]!; A[3] = B[3]!;
    for (let i = 0; i < 4; i++) A16[i] = B16[(imm >> (2 * i)) & 3]!;
  }
  setXmm(c, c.reg, A);
  return true;
}

/** 0f 71/72/73: shifts by immediate (groups 12-14). */
function shiftImm(c: CoreBase, op: number, p: number): boolean {
  if (c.mod !== 3 || (p !== 0 && p !== 0x66)) return false;
  const sub = (c.modrm >> 3) & 7;
  const imm = c.f8();
  const mmx = p === 0;
  if (mmx) { checkMmx(c); getMm(c, c.rm, A); } else { checkSse(c); getXmm(c, c.rm, A); }
  const n = mmx ? 8 : 16;
  if (op === 0x73) {
    if (sub === 2) shiftA(0, 8, imm, n);
    else if (sub === 6) shiftA(2, 8, imm, n);
    else if (!mmx && (sub === 3 || sub === 7)) byteShiftA(sub === 7, imm);
    else return false;
  } else {
    const s = op === 0x71 ? 2 : 4;
    if (sub === 2) shiftA(0, s, imm, n);
    else if (sub === 4) shiftA(1, s, imm, n);
    else if (sub === 6) shiftA(2, s, imm, n);
    else return false;
  }
  if (mmx) { mmxEnter(c.cpu); setMm(c, c.rm, A); } else setXmm(c, c.rm, A);
  return true;
}

/** 0f f7: maskmovq / maskmovdqu: byte-masked store of reg to DS:rDI (segment override allowed). */
function maskmov(c: CoreBase, p: number): boolean {
  if (c.mod !== 3 || (p !== 0 && p !== 0x66)) return false;
  const n = p === 0 ? 8 : 16;
  if (p === 0) { checkMmx(c); getMm(c, c.reg, A); getMm(c, c.rm, B); mmxEnter(c.cpu); }
  else { checkSse(c); getXmm(c, c.reg, A); getXmm(c, c.rm, B); }
  let offLo: number, offHi = 0;
  if (c.as === 8) { offLo = c.rlo[7]!; offHi = c.rhi[7]!; } else offLo = c.as === 4 ? c.rlo[7]! : c.rlo[7]! & 0xffff;
  const lo = c.linear(c.segOvr >= 0 ? c.segOvr : DS, offLo, offHi), hi = c.hi;
  for (let i = 0; i < n; i++) {
    if ((B8[i]! & 0x80) !== 0) {
      const l = c.linAdd(lo, hi, i);
      c.wrMem(1, l, c.hi, A8[i]!, 0);
    }
  }
  return true;
}

// ------------------------------------------------------------------------------------------------ group 15

/** 0f ae group 15. Returns false when not implemented. */
export function execGroup15(c: CoreBase): boolean {
  const reg = (c.modrm >> 3) & 7;
  const p = c.ssePfx;
  if (c.mod === 3) {
    if (p === 0xf3 || p === 0xf2) return false; // rd/wr fs/gs base: FSGSBASE not advertised
    return reg >= 5; // lfence / mfence / sfence
  }
  if (p === 0xf3 || p === 0xf2) return false;
  switch (reg) {
    case 0: fxsave(c); return true;
    case 1: fxrstor(c); return true;
    case 2: { // ldmxcsr
      checkSse(c);
      const v = c.rdMem(4, c.eaLo, c.eaHi);
      if ((v & ~MXCSR_MASK) !== 0) c.gp0();
      c.cpu.mxcsr = v;
      return true;
    }
    case 3: checkSse(c); c.wrMem(4, c.eaLo, c.eaHi, c.cpu.mxcsr, 0); return true; // stmxcsr
    case 7: return true; // clflush (no caches modelled)
    default: return false; // xsave family: not advertised
  }
}

function checkFx(c: CoreBase): void {
  const cpu = c.cpu;
  if (c.lock) c.ud();
  if ((cpu.cr0 & 0xc) !== 0) c.fault(7, false, 0);
  if ((c.eaLo & 15) !== 0) c.gp0();
}

/** Full 16-bit tag word -> abridged (1 bit per register, 1 = not empty). */
function abridged(tag: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) if (((tag >> (2 * i)) & 3) !== 3) r |= 1 << i;
  return r;
}

/** fxsave / fxsave64 (REX.W): 512-byte legacy area, SDM vol. 2 table 3-53/3-56. Bytes 10-15 of each ST slot
 * and 288-511 (416-511 in 64-bit mode) are not written. */
function fxsave(c: CoreBase): void {
  checkFx(c);
  const cpu = c.cpu, e = fpExt(cpu);
  const lo = c.eaLo, hi = c.eaHi;
  probeWrite(c, lo, hi, 512);
  const at = (off: number): number => c.linAdd(lo, hi, off);
  const w64 = (c.rex & 8) !== 0;
  const fsw = (cpu.fpuStatus & ~0x3800) | ((cpu.fpuTop & 7) << 11);
  c.wrMem(4, lo, hi, (cpu.fpuControl & 0xffff) | (fsw << 16), 0);
  c.wrMem(4, at(4), c.hi, abridged(cpu.fpuTag) | ((e.fop & 0x7ff) << 16), 0);
  if (w64) {
    c.wrMem(8, at(8), c.hi, e.fipLo, e.fipHi);
    c.wrMem(8, at(16), c.hi, e.fdpLo, e.fdpHi);
  } else {
    c.wrMem(8, at(8), c.hi, e.fipLo, e.fcs & 0xffff);
    c.wrMem(8, at(16), c.hi, e.fdpLo, e.fds & 0xffff);
  }
  c.wrMem(8, at(24), c.hi, cpu.mxcsr, MXCSR_MASK);
  const raw = e.raw;
  for (let j = 0; j < 8; j++) {
    const i = (cpu.fpuTop + j) & 7;
    ensureRaw(cpu, e, i);
    const o = i * 5;
    c.wrMem(8, at(32 + 16 * j), c.hi, raw[o]! | (raw[o + 1]! << 16), raw[o + 2]! | (raw[o + 3]! << 16));
    c.wrMem(2, at(40 + 16 * j), c.hi, raw[o + 4]!, 0);
  }
  const nx = c.is64 ? 16 : 8, x = cpu.xmm;
  for (let r = 0; r < nx; r++) {
    const o = r << 2;
    c.wrMem(8, at(160 + 16 * r), c.hi, x[o]!, x[o + 1]!);
    c.wrMem(8, at(168 + 16 * r), c.hi, x[o + 2]!, x[o + 3]!);
  }
}

const fxRaw = new Uint16Array(40);
const fxXmm = new Int32Array(64);

/** fxrstor / fxrstor64: #GP(0) when the image's MXCSR sets bits outside MXCSR_MASK. */
function fxrstor(c: CoreBase): void {
  checkFx(c);
  const cpu = c.cpu, e = fpExt(cpu);
  const lo = c.eaLo, hi = c.eaHi;
  const at = (off: number): number => c.linAdd(lo, hi, off);
  const w64 = (c.rex & 8) !== 0;
  const mxcsr = c.rdMem(4, at(24), c.hi);
  if ((mxcsr & ~MXCSR_MASK) !== 0) c.gp0();
  const cw = c.rdMem(4, lo, hi);
  const tw = c.rdMem(4, at(4), c.hi);
  const ip = c.rdMem(8, at(8), c.hi), iph = c.hi;
  const dp = c.rdMem(8, at(16), c.hi), dph = c.hi;
  for (let j = 0; j < 8; j++) {
    const a = c.rdMem(8, at(32 + 16 * j), c.hi), ah = c.hi;
    const se = c.rdMem(2, at(40 + 16 * j), c.hi);
    const o = j * 5;
    fxRaw[o] = a & 0xffff; fxRaw[o + 1] = a >>> 16; fxRaw[o + 2] = ah & 0xffff; fxRaw[o + 3] = ah >>> 16; fxRaw[o + 4] = se;
  }
  const nx = c.is64 ? 16 : 8;
  for (let r = 0; r < nx; r++) {
    const o = r << 2;
    fxXmm[o] = c.rdMem(8, at(160 + 16 * r), c.hi); fxXmm[o + 1] = c.hi;
    fxXmm[o + 2] = c.rdMem(8, at(168 + 16 * r), c.hi); fxXmm[o + 3] = c.hi;
  }
  // commit
  cpu.fpuControl = cw & 0xffff;
  const fsw = (cw >>> 16) & 0xffff;
  cpu.fpuStatus = fsw;
  cpu.fpuTop = (fsw >> 11) & 7;
  for (let j = 0; j < 8; j++) {
    const i = (cpu.fpuTop + j) & 7, o = j * 5;
    setRaw80(cpu, e, i, fxRaw[o]!, fxRaw[o + 1]!, fxRaw[o + 2]!, fxRaw[o + 3]!, fxRaw[o + 4]!);
  }
  let tag = 0;
  for (let i = 0; i < 8; i++) tag |= ((tw >> i) & 1) !== 0 ? tagOf80(e.raw, i) << (2 * i) : 3 << (2 * i);
  cpu.fpuTag = tag;
  e.fop = (tw >>> 16) & 0x7ff;
  e.fipLo = ip; e.fdpLo = dp;
  if (w64) { e.fipHi = iph; e.fdpHi = dph; e.fcs = 0; e.fds = 0; }
  else { e.fipHi = 0; e.fdpHi = 0; e.fcs = iph & 0xffff; e.fds = dph & 0xffff; }
  cpu.mxcsr = mxcsr;
  cpu.xmm.set(nx === 16 ? fxXmm : fxXmm.subarray(0, 32));
}

export { rd128 };
