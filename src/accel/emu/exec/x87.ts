// x87 hook: d8-df escape opcodes and fwait. The interpreter has already decoded ModRM (c.mod/c.reg/c.rm,
// memory operands in c.eaLo/c.eaHi as a linear address). Implemented: what the Linux kernel executes on the
// boot path (fninit, fnclex, fildl, fstp to a register, fnstcw/fldcw/fnstsw, ffree, fwait); everything else
// raises #UD through the unknown-opcode path (another engineer extends this file).

import type { CoreBase } from "../decode/decoder.ts";

/** CR0.EM -> #NM, CR0.TS -> #NM for x87 instructions. */
function checkFpu(c: CoreBase): void {
  if ((c.cpu.cr0 & 0xc) !== 0) c.fault(7, false, 0);
}

function push(c: CoreBase, v: number): void {
  const cpu = c.cpu;
  const top = (cpu.fpuTop - 1) & 7;
  cpu.fpuTop = top;
  cpu.fpr[top] = v;
  cpu.fpuTag &= ~(3 << (top * 2));
  cpu.fpuStatus = (cpu.fpuStatus & ~0x3800) | (top << 11);
}
function pop(c: CoreBase): void {
  const cpu = c.cpu;
  cpu.fpuTag |= 3 << (cpu.fpuTop * 2);
  cpu.fpuTop = (cpu.fpuTop + 1) & 7;
  cpu.fpuStatus = (cpu.fpuStatus & ~0x3800) | (cpu.fpuTop << 11);
}

/** Executes x87 opcode `op` (0xd8..0xdf). Returns false when not implemented (caller raises #UD). */
export function execX87(c: CoreBase, op: number): boolean {
  checkFpu(c);
  const cpu = c.cpu;
  const reg = c.reg & 7;
  if (c.mod === 3) {
    const m = c.modrm;
    if (op === 0xdb && m === 0xe3) { // fninit
      cpu.fpuControl = 0x37f; cpu.fpuStatus = 0; cpu.fpuTag = 0xffff; cpu.fpuTop = 0;
      return true;
    }
    if (op === 0xdb && m === 0xe2) { cpu.fpuStatus &= 0x7f00; return true; } // fnclex
    if (op === 0xdd && reg === 0) { cpu.fpuTag |= 3 << (((cpu.fpuTop + (m & 7)) & 7) * 2); return true; } // ffree
    if (op === 0xdd && reg === 3) { // fstp st(i)
      cpu.fpr[(cpu.fpuTop + (m & 7)) & 7] = cpu.fpr[cpu.fpuTop];
      pop(c);
      return true;
    }
    if (op === 0xdf && m === 0xe0) { // fnstsw ax
      c.rlo[0] = (c.rlo[0] & ~0xffff) | (cpu.fpuStatus & 0xffff);
      return true;
    }
    if (op === 0xd9 && m === 0xd0) return true; // fnop
    if (op === 0xd9 && m === 0xee) { push(c, 0); return true; } // fldz
    if (op === 0xd9 && m === 0xe8) { push(c, 1); return true; } // fld1
    return false;
  }
  const lo = c.eaLo, hi = c.eaHi;
  switch (op) {
    case 0xdb:
      if (reg === 0) { push(c, c.rdMem(4, lo, hi) | 0); return true; } // fild m32
      return false;
    case 0xdf:
      if (reg === 0) { push(c, (c.rdMem(2, lo, hi) << 16) >> 16); return true; } // fild m16
      return false;
    case 0xd9:
      if (reg === 5) { cpu.fpuControl = c.rdMem(2, lo, hi); return true; } // fldcw
      if (reg === 7) { c.wrMem(2, lo, hi, cpu.fpuControl, 0); return true; } // fnstcw
      return false;
    case 0xdd:
      if (reg === 7) { c.wrMem(2, lo, hi, cpu.fpuStatus, 0); return true; } // fnstsw m16
      return false;
    default:
      return false;
  }
}

/** 9b fwait: #NM when CR0.MP and CR0.TS are both set; no pending-exception model. */
export function execFwait(c: CoreBase): void {
  if ((c.cpu.cr0 & 0xa) === 0xa) c.fault(7, false, 0);
}
