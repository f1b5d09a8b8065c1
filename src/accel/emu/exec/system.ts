// System instructions executed by delegating to the EmuSystem: CR/DR moves, MSRs, CPUID, port I/O,
// descriptor-table loads, group 6/7 (0f 00, 0f 01), flags with privilege rules (cli/sti/pushf/popf),
// segment moves, far transfers, software interrupts (Intel SDM vol. 2 and vol. 3).

import { CS, SS, type CoreBase } from "../decode/decoder.ts";
import { LF_NONE } from "../flags.ts";

const IF = 1 << 9, IOPL_SHIFT = 12, ZF = 0x40;

/** Privileged instruction at CPL > 0: #GP(0). Real mode is CPL 0. */
export function needCpl0(c: CoreBase): void {
  if (c.cpu.cpl !== 0) c.gp0();
}

function iopl(c: CoreBase): number { return (c.cpu.eflagsRest >> IOPL_SHIFT) & 3; }
function isReal(c: CoreBase): boolean { return (c.cpu.cr0 & 1) === 0; }

/** cli (fa) / sti (fb). sti sets the interrupt shadow when it enables interrupts. */
export function execCliSti(c: CoreBase, set: boolean): void {
  const cpu = c.cpu;
  if (!isReal(c) && cpu.cpl > iopl(c)) c.gp0();
  if (set) {
    if ((cpu.eflagsRest & IF) === 0) cpu.interruptShadow = true;
    cpu.eflagsRest |= IF;
  } else cpu.eflagsRest &= ~IF;
}

/** 9c pushf: pushes EFLAGS with VM and RF cleared. */
export function execPushf(c: CoreBase): void {
  const os = c.is64 ? (c.os === 2 ? 2 : 8) : c.os;
  const f = c.getEflags() & ~(0x30000);
  c.push(os, os === 2 ? f & 0xffff : f, 0);
}

/** 9d popf with the IOPL/IF rules of SDM vol. 2 POPF (VM86 not modelled). */
export function execPopf(c: CoreBase): void {
  const cpu = c.cpu;
  const os = c.is64 ? (c.os === 2 ? 2 : 8) : c.os;
  const v = c.pop(os);
  const old = c.getEflags();
  // Bits a POPF may change at CPL 0: everything but VM, VIP, VIF (and RF is cleared).
  let mask = 0x3f7fd5 & ~(0x20000 | 0x100000 | 0x80000 | 0x10000);
  if (!isReal(c)) {
    if (cpu.cpl > 0) mask &= ~(3 << IOPL_SHIFT);
    if (cpu.cpl > iopl(c)) mask &= ~IF;
  }
  if (os === 2) mask &= 0xffff;
  const nv = (old & ~mask) | (v & mask);
  c.setEflags(nv & ~0x10000);
}

/** Reads a GDT/LDT descriptor for lar/lsl/verr/verw: returns the low dword, high dword in c.hi, or sets
 * c.hi = -1 and returns 0 if the selector is null or outside the table. */
function readDesc(c: CoreBase, sel: number): number {
  const cpu = c.cpu;
  if ((sel & ~3) === 0) { c.hi = -1; return 0; }
  const ldt = (sel & 4) !== 0;
  const baseLo = ldt ? cpu.segBaseLo[6] : cpu.gdtrBaseLo, baseHi = ldt ? cpu.segBaseHi[6] : cpu.gdtrBaseHi;
  const limit = ldt ? cpu.segLimit[6] >>> 0 : cpu.gdtrLimit >>> 0;
  const off = sel & ~7;
  if (off + 7 > limit) { c.hi = -1; return 0; }
  const lo = c.linAdd(baseLo, baseHi, off), hi = c.hi;
  const d = c.rdMem(8, lo, hi);
  return d;
}

/** 0f 02 lar / 0f 03 lsl (modrm decoded): ZF=1 and the result when the descriptor is valid for the instruction
 * and visible at max(CPL, RPL); otherwise ZF=0 and the destination is unchanged (SDM vol. 2 LAR, LSL). */
export function execLarLsl(c: CoreBase, lsl: boolean): void {
  if (isReal(c)) c.ud();
  const cpu = c.cpu;
  const sel = c.readE(2);
  const dlo = readDesc(c, sel), dhi = c.hi;
  const f = c.getArith() & ~ZF;
  const type = (dhi >> 8) & 0x1f;
  // System descriptors valid for lar/lsl: LDT (2), available/busy TSS (1, 3, 9, 11); lar also call gates
  // (4, 12). In IA-32e mode (EFER.LMA) only the 64-bit forms: LDT, 64-bit TSS, lar 64-bit call gate.
  const lma = (cpu.efer & (1 << 10)) !== 0;
  const sysOk = lma ? type === 2 || type === 9 || type === 11 || (!lsl && type === 12)
    : type === 1 || type === 2 || type === 3 || type === 9 || type === 11 || (!lsl && (type === 4 || type === 12));
  let ok = !(dhi === -1 && dlo === 0) && ((type & 0x10) !== 0 || sysOk);
  if (ok) {
    // Privilege: everything but a conforming code segment needs DPL >= max(CPL, RPL).
    const conforming = (type & 0x1c) === 0x1c;
    const dpl = (dhi >> 13) & 3;
    if (!conforming && (dpl < cpu.cpl || dpl < (sel & 3))) ok = false;
  }
  if (!ok) {
    c.lfOp = LF_NONE; c.lfFlags = f;
    return;
  }
  c.lfOp = LF_NONE; c.lfFlags = f | ZF;
  let r: number;
  if (lsl) {
    let lim = (dlo & 0xffff) | (dhi & 0xf0000);
    if ((dhi & (1 << 23)) !== 0) lim = ((lim << 12) | 0xfff) >>> 0;
    r = lim | 0;
  } else r = dhi & 0x00ffff00; // AMD APM: limit 19:16 included (Intel leaves bits 19:16 undefined)
  c.setReg(c.os === 8 ? 4 : c.os, c.reg, r, 0);
}

/** 0f 00: sldt, str, lldt, ltr, verr, verw (modrm decoded). */
export function execGroup6(c: CoreBase): void {
  const op = (c.modrm >> 3) & 7;
  const cpu = c.cpu;
  if (isReal(c)) c.ud();
  switch (op) {
    case 0: case 1: {
      const sel = cpu.segSel[op === 0 ? 6 : 7] & 0xffff;
      if (c.mod === 3) c.setReg(c.os, c.rm, sel, 0); else c.writeE(2, sel, 0);
      return;
    }
    case 2: needCpl0(c); c.sys.lldt(c.readE(2)); return;
    case 3: needCpl0(c); c.sys.ltr(c.readE(2)); return;
    case 4: case 5: {
      const sel = c.readE(2);
      const dlo = readDesc(c, sel), dhi = c.hi;
      const f = c.getArith() & ~ZF;
      let ok = !(dhi === -1 && dlo === 0) && (dhi & (1 << 12)) !== 0; // code/data segment
      if (ok) {
        const code = (dhi & (1 << 11)) !== 0, rw = (dhi & (1 << 9)) !== 0, conforming = code && (dhi & (1 << 10)) !== 0;
        const dpl = (dhi >> 13) & 3;
        if (!conforming && (dpl < cpu.cpl || dpl < (sel & 3))) ok = false;
        if (op === 4) ok = ok && (!code || rw); else ok = ok && !code && rw;
      }
      c.lfOp = LF_NONE; c.lfFlags = ok ? f | ZF : f;
      return;
    }
    default: c.ud();
  }
}

export interface Features { rdtscp: boolean; popcnt: boolean; cx16: boolean }

/** 0f 01 (modrm decoded). Returns 1 when RIP has already been set (hypercall), 2 for an unimplemented
 * encoding (the caller logs it and raises #UD), 0 otherwise. */
export function execGroup7(c: CoreBase, feat: Features): number {
  const op = (c.modrm >> 3) & 7;
  const sys = c.sys, cpu = c.cpu;
  if (c.mod === 3) {
    const m = c.modrm;
    switch (m) {
      case 0xc1: case 0xd9: // vmcall / vmmcall: a Xen hypercall, returns to the next instruction
        c.advance();
        sys.hypercall();
        return 1;
      case 0xf8: // swapgs
        if (!c.is64) c.ud();
        needCpl0(c);
        sys.swapgs();
        return 0;
      case 0xf9: { // rdtscp
        if (!feat.rdtscp) return 2;
        const [lo, hi] = sys.rdtsc();
        const [aux] = sys.rdmsr(0xc0000103);
        c.rlo[0] = lo; c.rhi[0] = 0; c.rlo[2] = hi; c.rhi[2] = 0; c.rlo[1] = aux; c.rhi[1] = 0;
        return 0;
      }
    }
    if (op === 4) { // smsw reg
      c.setReg(c.os, c.rm, c.os === 2 ? cpu.cr0 & 0xffff : cpu.cr0, 0);
      return 0;
    }
    if (op === 6) { lmsw(c, c.getReg(2, c.rm)); return 0; }
    return 2;
  }
  switch (op) {
    case 0: sys.sgdt(c.eaLo, c.eaHi); return 0;
    case 1: sys.sidt(c.eaLo, c.eaHi); return 0;
    case 2: needCpl0(c); sys.lgdt(c.eaLo, c.eaHi, c.os); return 0;
    case 3: needCpl0(c); sys.lidt(c.eaLo, c.eaHi, c.os); return 0;
    case 4: c.wrMem(2, c.eaLo, c.eaHi, cpu.cr0 & 0xffff, 0); return 0;
    case 6: lmsw(c, c.rdMem(2, c.eaLo, c.eaHi)); return 0;
    case 7: needCpl0(c); sys.invlpg(c.eaLo, c.eaHi); c.flushFetch(); return 0;
    default: return 2;
  }
}

function lmsw(c: CoreBase, v: number): void {
  needCpl0(c);
  const cr0 = c.cpu.cr0;
  // LMSW loads PE MP EM TS; it can set PE but not clear it.
  const n = (cr0 & ~0xe) | (v & 0xf) | (cr0 & 1);
  c.sys.writeCr(0, n, 0);
  c.flushFetch();
}

/** 0f 20-23: mov r, crN / mov crN, r / mov r, drN / mov drN, r. The r/m is always a register. */
export function execMovCrDr(c: CoreBase, op: number): void {
  const m = c.f8();
  const n = ((m >> 3) & 7) | c.rexR;
  const r = (m & 7) | c.rexB;
  needCpl0(c);
  const sys = c.sys;
  switch (op) {
    case 0x20: {
      if (n === 1 || (n > 4 && n !== 8)) c.ud();
      const [lo, hi] = sys.readCr(n);
      c.rlo[r] = lo; c.rhi[r] = c.is64 ? hi : 0;
      return;
    }
    case 0x22: {
      if (n === 1 || (n > 4 && n !== 8)) c.ud();
      sys.writeCr(n, c.rlo[r], c.is64 ? c.rhi[r] : 0);
      c.flushFetch();
      return;
    }
    case 0x21: {
      if (n > 7) c.ud();
      c.rlo[r] = sys.readDr(n); c.rhi[r] = 0;
      return;
    }
    default: {
      if (n > 7) c.ud();
      sys.writeDr(n, c.rlo[r]);
      return;
    }
  }
}

/** in (e4 e5 ec ed) / out (e6 e7 ee ef). */
export function execInOut(c: CoreBase, op: number): void {
  const size = (op & 1) === 0 ? 1 : c.os === 2 ? 2 : 4;
  const port = (op & 8) !== 0 ? c.rlo[2] & 0xffff : c.f8();
  const sys = c.sys;
  if ((op & 2) === 0) {
    const v = sys.portIn(port, size as 1 | 2 | 4);
    if (size === 4) { c.rlo[0] = v; c.rhi[0] = 0; } else c.setReg(size, 0, v, 0);
  } else {
    sys.portOut(port, size as 1 | 2 | 4, size === 4 ? c.rlo[0] : c.rlo[0] & (size === 1 ? 0xff : 0xffff));
  }
}

/** mov sreg, r/m (8e) and pop sreg: loads through the system side; SS loads set the interrupt shadow. */
export function loadSeg(c: CoreBase, seg: number, sel: number): void {
  if (seg === CS || seg > 5) c.ud();
  c.sys.loadSegment(seg, sel & 0xffff);
  if (seg === SS) c.cpu.interruptShadow = true;
}

/** lds/les/lss/lfs/lgs (modrm decoded, memory form): offset then selector. */
export function execLoadFar(c: CoreBase, seg: number): void {
  if (c.mod === 3) c.ud();
  const os = c.os;
  const off = c.rdMem(os, c.eaLo, c.eaHi), offHi = c.hi;
  const lo = c.linAdd(c.eaLo, c.eaHi, os), hi = c.hi;
  const sel = c.rdMem(2, lo, hi);
  loadSeg(c, seg, sel);
  c.setReg(os, c.reg, off, offHi);
}

/** Far pointer operand m16:16/32/64 for ff /3 and ff /5: returns the offset, c.hi its high half; the
 * selector in farSel. */
export let farSel = 0;
export function readFarPtr(c: CoreBase): number {
  if (c.mod === 3) c.ud();
  const os = c.os;
  const off = c.rdMem(os, c.eaLo, c.eaHi), offHi = os === 8 ? c.hi : 0;
  const lo = c.linAdd(c.eaLo, c.eaHi, os), hi = c.hi;
  farSel = c.rdMem(2, lo, hi);
  c.hi = offHi;
  return off;
}

