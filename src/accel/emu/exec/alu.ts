// Integer ALU group: add/or/adc/sbb/and/sub/xor/cmp (00-3f, 80-83), test, inc/dec, neg/not (Intel SDM vol. 2).
// Results are computed on int32 halves and recorded for lazy flag evaluation.

import type { CoreBase } from "../decode/decoder.ts";
import { LF_ADC, LF_ADD, LF_DEC, LF_INC, LF_LOGIC, LF_SBB, LF_SUB } from "../flags.ts";

export const ALU_ADD = 0, ALU_OR = 1, ALU_ADC = 2, ALU_SBB = 3, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7;

export function sizeMask(os: number): number {
  return os === 1 ? 0xff : os === 2 ? 0xffff : -1;
}

/** a op b at size os. Returns the result low half (masked for 8/16 bits); high half in c.hi. Records flags. */
export function alu(c: CoreBase, op: number, os: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  let lo: number, hi = 0, kind: number;
  if (os === 8) {
    switch (op) {
      case ALU_ADD: {
        lo = (aLo + bLo) | 0;
        hi = (aHi + bHi + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
        kind = LF_ADD; break;
      }
      case ALU_OR: lo = aLo | bLo; hi = aHi | bHi; kind = LF_LOGIC; break;
      case ALU_ADC: {
        const cin = c.cf();
        const s = (aLo >>> 0) + (bLo >>> 0) + cin;
        lo = s | 0;
        hi = (aHi + bHi + (s > 0xffffffff ? 1 : 0)) | 0;
        c.lfAux = cin; kind = LF_ADC; break;
      }
      case ALU_SBB: {
        const cin = c.cf();
        const s = (aLo >>> 0) - (bLo >>> 0) - cin;
        lo = s | 0;
        hi = (aHi - bHi - (s < 0 ? 1 : 0)) | 0;
        c.lfAux = cin; kind = LF_SBB; break;
      }
      case ALU_AND: lo = aLo & bLo; hi = aHi & bHi; kind = LF_LOGIC; break;
      case ALU_XOR: lo = aLo ^ bLo; hi = aHi ^ bHi; kind = LF_LOGIC; break;
      default: { // SUB, CMP
        lo = (aLo - bLo) | 0;
        hi = (aHi - bHi - ((aLo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
        kind = LF_SUB; break;
      }
    }
  } else {
    const m = os === 4 ? -1 : os === 2 ? 0xffff : 0xff;
    aLo &= m; bLo &= m;
    switch (op) {
      case ALU_ADD: lo = (aLo + bLo) & m; kind = LF_ADD; break;
      case ALU_OR: lo = aLo | bLo; kind = LF_LOGIC; break;
      case ALU_ADC: { const cin = c.cf(); lo = (aLo + bLo + cin) & m; c.lfAux = cin; kind = LF_ADC; break; }
      case ALU_SBB: { const cin = c.cf(); lo = (aLo - bLo - cin) & m; c.lfAux = cin; kind = LF_SBB; break; }
      case ALU_AND: lo = aLo & bLo; kind = LF_LOGIC; break;
      case ALU_XOR: lo = aLo ^ bLo; kind = LF_LOGIC; break;
      default: lo = (aLo - bLo) & m; kind = LF_SUB; break;
    }
  }
  c.lfOp = kind; c.lfSize = os;
  c.lfResLo = lo; c.lfResHi = hi;
  c.lfS1Lo = aLo; c.lfS1Hi = aHi; c.lfS2Lo = bLo; c.lfS2Hi = bHi;
  c.hi = hi;
  return lo;
}

/** alu() at os = 4 (same results and lazy-flag record, high halves 0): small enough for TurboFan to inline. */
export function alu32(c: CoreBase, op: number, a: number, b: number): number {
  let lo: number, kind: number;
  switch (op) {
    case ALU_ADD: lo = (a + b) | 0; kind = LF_ADD; break;
    case ALU_OR: lo = a | b; kind = LF_LOGIC; break;
    case ALU_ADC: { const cin = c.cf(); lo = (a + b + cin) | 0; c.lfAux = cin; kind = LF_ADC; break; }
    case ALU_SBB: { const cin = c.cf(); lo = (a - b - cin) | 0; c.lfAux = cin; kind = LF_SBB; break; }
    case ALU_AND: lo = a & b; kind = LF_LOGIC; break;
    case ALU_XOR: lo = a ^ b; kind = LF_LOGIC; break;
    default: lo = (a - b) | 0; kind = LF_SUB; break;
  }
  c.lfOp = kind; c.lfSize = 4;
  c.lfResLo = lo; c.lfResHi = 0;
  c.lfS1Lo = a; c.lfS1Hi = 0; c.lfS2Lo = b; c.lfS2Hi = 0;
  c.hi = 0;
  return lo;
}

/** alu() at os = 8 (same results and lazy-flag record): small enough for TurboFan to inline. */
export function alu64(c: CoreBase, op: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  let lo: number, hi: number, kind: number;
  switch (op) {
    case ALU_ADD:
      lo = (aLo + bLo) | 0;
      hi = (aHi + bHi + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
      kind = LF_ADD; break;
    case ALU_OR: lo = aLo | bLo; hi = aHi | bHi; kind = LF_LOGIC; break;
    case ALU_AND: lo = aLo & bLo; hi = aHi & bHi; kind = LF_LOGIC; break;
    case ALU_XOR: lo = aLo ^ bLo; hi = aHi ^ bHi; kind = LF_LOGIC; break;
    case ALU_SUB: case ALU_CMP:
      lo = (aLo - bLo) | 0;
      hi = (aHi - bHi - ((aLo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
      kind = LF_SUB; break;
    default: return alu(c, op, 8, aLo, aHi, bLo, bHi); // adc, sbb
  }
  c.lfOp = kind; c.lfSize = 8;
  c.lfResLo = lo; c.lfResHi = hi;
  c.lfS1Lo = aLo; c.lfS1Hi = aHi; c.lfS2Lo = bLo; c.lfS2Hi = bHi;
  c.hi = hi;
  return lo;
}

/** alu() through the small 32/64-bit forms where they apply (alu itself is too big for TurboFan to inline). */
function aluSized(c: CoreBase, op: number, os: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  if (os === 4) return alu32(c, op, aLo, bLo);
  if (os === 8) return alu64(c, op, aLo, aHi, bLo, bHi);
  return alu(c, op, os, aLo, aHi, bLo, bHi);
}

/** Records a logic result (test, and friends) without computing anything else. */
export function setLogicFlags(c: CoreBase, os: number, lo: number, hi: number): void {
  c.lfOp = LF_LOGIC; c.lfSize = os; c.lfResLo = lo; c.lfResHi = os === 8 ? hi : 0;
}

/** inc (dec=false) / dec of (lo, hi): CF preserved. */
export function incDec(c: CoreBase, os: number, aLo: number, aHi: number, dec: boolean): number {
  const cf = c.cf();
  let lo: number, hi = 0;
  if (os === 8) {
    if (dec) { lo = (aLo - 1) | 0; hi = aLo === 0 ? (aHi - 1) | 0 : aHi; }
    else { lo = (aLo + 1) | 0; hi = lo === 0 ? (aHi + 1) | 0 : aHi; }
  } else {
    const m = sizeMask(os);
    aLo &= m; aHi = 0;
    lo = (dec ? aLo - 1 : aLo + 1) & m;
  }
  c.lfOp = dec ? LF_DEC : LF_INC; c.lfSize = os; c.lfAux = cf;
  c.lfResLo = lo; c.lfResHi = hi; c.lfS1Lo = aLo; c.lfS1Hi = aHi; c.lfS2Lo = 1; c.lfS2Hi = 0;
  c.hi = hi;
  return lo;
}

/** Checks write access to the os-byte memory operand at linear (lo, hi) before a read-modify-write reads it:
 * hardware reads such an operand with write intent, so a #PF on it reports W=1 (a read-only page faults with
 * P|W before anything is read). Uses EmuSystem.dataPage (systems without it skip the check). */
export function probeWrite(c: CoreBase, os: number, lo: number, hi: number): void {
  const sys = c.sys;
  if (sys.dataPage === undefined) return;
  sys.dataPage(lo, hi, true);
  if ((lo & 0xfff) + os > 4096) { const l2 = c.linAdd(lo | 0xfff, hi, 1); sys.dataPage(l2, c.hi, true); } // next page
}

/** readE for the destination of a read-modify-write instruction (after decodeModrm): see probeWrite. */
export function readRmw(c: CoreBase, os: number): number {
  if (c.mod === 3) return c.getReg(os, c.rm);
  probeWrite(c, os, c.eaLo, c.eaHi);
  return c.rdMem(os, c.eaLo, c.eaHi);
}

/** Opcodes 00-3f with (op & 7) < 6: the eight two-operand ALU ops in their six encodings. The ModRM forms
 * ((op & 7) < 4) expect the ModRM decoded (Interp.exec1 does it). */
export function execAluOp(c: CoreBase, opcode: number): void {
  const op = opcode >> 3;
  switch (opcode & 7) {
    case 0: { // Eb, Gb
      const a = op !== ALU_CMP ? readRmw(c, 1) : c.readE(1), b = c.getReg8(c.reg);
      const r = alu(c, op, 1, a, 0, b, 0);
      if (op !== ALU_CMP) c.writeE(1, r, 0);
      return;
    }
    case 1: { // Ev, Gv
      const os = c.os;
      if (c.mod === 3) {
        const rm = c.rm, rg = c.reg;
        if (os === 8) {
          const r = alu64(c, op, c.rlo[rm], c.rhi[rm], c.rlo[rg], c.rhi[rg]);
          if (op !== ALU_CMP) { c.rlo[rm] = r; c.rhi[rm] = c.hi; }
          return;
        }
        if (os === 4) {
          const r = alu32(c, op, c.rlo[rm], c.rlo[rg]);
          if (op !== ALU_CMP) { c.rlo[rm] = r; c.rhi[rm] = 0; }
          return;
        }
      }
      const a = op !== ALU_CMP ? readRmw(c, os) : c.readE(os), ah = c.hi;
      const b = c.getReg(os, c.reg), bh = c.hi;
      const r = aluSized(c, op, os, a, ah, b, bh);
      if (op !== ALU_CMP) c.writeE(os, r, c.hi);
      return;
    }
    case 2: { // Gb, Eb
      const b = c.readE(1), a = c.getReg8(c.reg);
      const r = alu(c, op, 1, a, 0, b, 0);
      if (op !== ALU_CMP) c.setReg8(c.reg, r);
      return;
    }
    case 3: { // Gv, Ev
      const os = c.os;
      if (os === 4) {
        const b = c.readE(4), rg = c.reg;
        const r = alu32(c, op, c.rlo[rg], b);
        if (op !== ALU_CMP) { c.rlo[rg] = r; c.rhi[rg] = 0; }
        return;
      }
      if (os === 8) {
        const b = c.readE(8), bh = c.hi, rg = c.reg;
        const r = alu64(c, op, c.rlo[rg], c.rhi[rg], b, bh);
        if (op !== ALU_CMP) { c.rlo[rg] = r; c.rhi[rg] = c.hi; }
        return;
      }
      const b = c.readE(os), bh = c.hi;
      const a = c.getReg(os, c.reg), ah = c.hi;
      const r = alu(c, op, os, a, ah, b, bh);
      if (op !== ALU_CMP) c.setReg(os, c.reg, r, c.hi);
      return;
    }
    case 4: { // AL, Ib
      const b = c.f8();
      const r = alu(c, op, 1, c.rlo[0] & 0xff, 0, b, 0);
      if (op !== ALU_CMP) c.rlo[0] = (c.rlo[0] & ~0xff) | r;
      return;
    }
    default: { // eAX, Iz
      const os = c.os;
      const b = c.fImm(os), bh = c.hi;
      const a = c.getReg(os, 0), ah = c.hi;
      const r = aluSized(c, op, os, a, ah, b, bh);
      if (op !== ALU_CMP) c.setReg(os, 0, r, c.hi);
      return;
    }
  }
}

/** 80, 81, 83 (82 = 80 outside long mode): group 1 with an immediate (ModRM decoded, with the immediate's size:
 * 1 byte, or 2/4 by operand size for 81). */
export function execGroup1(c: CoreBase, opcode: number): void {
  const os = opcode === 0x80 || opcode === 0x82 ? 1 : c.os;
  const op = (c.modrm >> 3) & 7;
  let b: number, bh: number;
  if (opcode === 0x81) { b = c.fImm(os); bh = c.hi; }
  else if (opcode === 0x83) { b = c.fs8(); bh = b >> 31; }
  else { b = c.f8(); bh = 0; }
  if (c.mod === 3 && os === 4) {
    const rm = c.rm;
    const r = alu32(c, op, c.rlo[rm], b);
    if (op !== ALU_CMP) { c.rlo[rm] = r; c.rhi[rm] = 0; }
    return;
  }
  if (c.mod === 3 && os === 8) {
    const rm = c.rm;
    const r = alu64(c, op, c.rlo[rm], c.rhi[rm], b, bh);
    if (op !== ALU_CMP) { c.rlo[rm] = r; c.rhi[rm] = os === 8 ? c.hi : 0; }
    return;
  }
  const a = op !== ALU_CMP ? readRmw(c, os) : c.readE(os), ah = c.hi;
  const r = aluSized(c, op, os, a, ah, b, bh);
  if (op !== ALU_CMP) c.writeE(os, r, c.hi);
}

/** 84/85 test E,G (ModRM decoded). */
export function execTestEG(c: CoreBase, os: number): void {
  const a = c.readE(os), ah = c.hi;
  const b = c.getReg(os, c.reg), bh = c.hi;
  setLogicFlags(c, os, a & b, ah & bh);
}

/** f6/f7 /2 not, /3 neg (modrm decoded). */
export function execNotNeg(c: CoreBase, os: number, neg: boolean): void {
  const a = readRmw(c, os), ah = c.hi;
  if (!neg) {
    c.writeE(os, ~a & sizeMask(os), ~ah);
    return;
  }
  const r = alu(c, ALU_SUB, os, 0, 0, a, ah);
  c.writeE(os, r, c.hi);
}
