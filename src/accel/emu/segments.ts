// Segment-register loads and far control transfers (Intel SDM vol. 3 ch. 3 and 5; vol. 2 MOV/POP sreg,
// JMP/CALL/RET far): descriptor fetch from the GDT/LDT, the protected-mode checks, real-mode loads.
//
// Design: descriptors are read as two dwords (lo, hi) into sys.descLo/descHi (16-byte system descriptors
// in long mode also fill descHi2 = base 63:32). Checks raise #GP/#NP/#SS/#TS(selector) through FAULT.
// Far transfers read everything they pop and check the target before committing any register, so a fault
// leaves the state as it was at the instruction start. The caller (core) has already advanced RIP to the
// next instruction when it calls farCall (the pushed return address).
// Not supported (raise #GP(selector)): call gates, task gates, TSS targets (task switches), virtual-8086.

import { Mode, Reg, Seg, SegAttr, type CpuState } from "./cpu_state.ts";
import { opBytes, raise, raiseGp, raiseUd, Vec } from "./fault.ts";
import { CR0_PE, EFER_LMA } from "./mmu.ts";
import type { X86System } from "./system.ts";

const TWO32 = 4294967296;

/** Descriptor type field values (S=0 system descriptors). */
export const enum SysType { Tss16Avail = 1, Ldt = 2, Tss16Busy = 3, Tss32Avail = 9, Tss32Busy = 0xb, CallGate32 = 0xc, IntGate32 = 0xe, TrapGate32 = 0xf }

/** Fills the cached part of a segment register from a descriptor. */
export function setSegFromDescriptor(cpu: CpuState, seg: number, sel: number, dlo: number, dhi: number): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBaseLo[seg] = ((dlo >>> 16) & 0xffff) | ((dhi & 0xff) << 16) | (dhi & 0xff000000);
  cpu.segBaseHi[seg] = 0;
  let limit = (dlo & 0xffff) | (dhi & 0xf0000);
  if ((dhi & (1 << 23)) !== 0) limit = (limit << 12) | 0xfff;
  cpu.segLimit[seg] = limit;
  cpu.segAttr[seg] = (dhi >>> 8) & 0xf0ff;
}

/** A flat 4 GiB segment cache entry (syscall/sysret/sysenter targets). */
export function setFlatSeg(cpu: CpuState, seg: number, sel: number, type: number, dpl: number, long: boolean): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBaseLo[seg] = 0;
  cpu.segBaseHi[seg] = 0;
  cpu.segLimit[seg] = -1;
  cpu.segAttr[seg] = type | SegAttr.S | (dpl << SegAttr.DplShift) | SegAttr.P | SegAttr.G |
    (long ? SegAttr.L : SegAttr.DB);
}

export function setNullSeg(cpu: CpuState, seg: number, sel: number): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBaseLo[seg] = 0;
  cpu.segBaseHi[seg] = 0;
  cpu.segLimit[seg] = 0;
  cpu.segAttr[seg] = SegAttr.Unusable | ((sel & 3) << SegAttr.DplShift);
}

/** Reads the descriptor a selector names into sys.descLo/descHi (and descAddrLo/Hi). Faults with
 * #GP(selector) when it lies outside the table. `wide`: a 16-byte system descriptor (long mode). */
export function readDescriptor(sys: X86System, sel: number, wide: boolean, faultVector = Vec.GP): void {
  const cpu = sys.cpu;
  let baseLo: number, baseHi: number, limit: number;
  if ((sel & 4) !== 0) {
    if ((cpu.segAttr[Seg.LDTR] & SegAttr.Unusable) !== 0 || (cpu.segSel[Seg.LDTR] & 0xfffc) === 0) {
      raise(cpu, faultVector, true, sel & 0xfffc);
    }
    baseLo = cpu.segBaseLo[Seg.LDTR]; baseHi = cpu.segBaseHi[Seg.LDTR]; limit = cpu.segLimit[Seg.LDTR] >>> 0;
  } else {
    baseLo = cpu.gdtrBaseLo; baseHi = cpu.gdtrBaseHi; limit = cpu.gdtrLimit >>> 0;
  }
  const off = sel & 0xfff8;
  if (off + (wide ? 15 : 7) > limit) raise(cpu, faultVector, true, sel & 0xfffc);
  const lo = sys.sysAddr(baseLo, baseHi, off);
  const hi = sys.linHi;
  sys.descAddrLo = lo;
  sys.descAddrHi = hi;
  sys.descLo = sys.sysRead32(lo, hi);
  sys.descHi = sys.sysRead32(sys.sysAddr(lo, hi, 4), sys.linHi);
  sys.descHi2 = wide ? sys.sysRead32(sys.sysAddr(lo, hi, 8), sys.linHi) : 0;
}

/** Sets the accessed bit of the descriptor last read (only when clear: Linux maps its GDT read-only and
 * pre-sets the bit). */
function markAccessed(sys: X86System): void {
  if ((sys.descHi & 0x100) === 0) {
    sys.descHi |= 0x100;
    sys.sysWrite32(sys.sysAddr(sys.descAddrLo, sys.descAddrHi, 4), sys.linHi, sys.descHi);
  }
}

function isProtected(cpu: CpuState): boolean {
  return (cpu.cr0 & CR0_PE) !== 0;
}

/** mov/pop sreg, lds/les/lfs/lgs/lss: load DS, ES, FS, GS or SS with the protected-mode checks. */
export function loadSegment(sys: X86System, seg: number, sel: number): void {
  const cpu = sys.cpu;
  sel &= 0xffff;
  if (seg === Seg.CS || seg > Seg.GS) raiseUd(cpu);
  if (!isProtected(cpu) || cpu.mode === Mode.Real) {
    cpu.segSel[seg] = sel;
    cpu.segBaseLo[seg] = sel << 4;
    cpu.segBaseHi[seg] = 0;
    cpu.segAttr[seg] = (cpu.segAttr[seg] & ~SegAttr.Unusable) | SegAttr.P | SegAttr.S;
    return;
  }
  const rpl = sel & 3;
  const cpl = cpu.cpl;
  if ((sel & 0xfffc) === 0) {
    if (seg === Seg.SS && (cpu.mode !== Mode.Long64 || cpl === 3 || rpl !== cpl)) raiseGp(cpu, 0);
    setNullSeg(cpu, seg, sel);
    return;
  }
  readDescriptor(sys, sel, false);
  const dhi = sys.descHi;
  const s = (dhi >>> 12) & 1, type = (dhi >>> 8) & 0xf, dpl = (dhi >>> 13) & 3, present = (dhi & 0x8000) !== 0;
  if (seg === Seg.SS) {
    if (rpl !== cpl || s === 0 || (type & 0xa) !== 2 || dpl !== cpl) raiseGp(cpu, sel & 0xfffc);
    if (!present) raise(cpu, Vec.SS, true, sel & 0xfffc);
  } else {
    if (s === 0 || (type & 0xa) === 8) raiseGp(cpu, sel & 0xfffc); // system, or execute-only code
    const conformingCode = (type & 0xc) === 0xc;
    if (!conformingCode && (dpl < cpl || dpl < rpl)) raiseGp(cpu, sel & 0xfffc);
    if (!present) raise(cpu, Vec.NP, true, sel & 0xfffc);
  }
  markAccessed(sys);
  setSegFromDescriptor(cpu, seg, sel, sys.descLo, sys.descHi);
}

/** Checks a code-segment descriptor (already in sys.desc*) as a far jmp/call target at the current CPL.
 * Returns the new CPL. */
function checkCodeTarget(sys: X86System, sel: number): number {
  const cpu = sys.cpu;
  const dhi = sys.descHi;
  const s = (dhi >>> 12) & 1, type = (dhi >>> 8) & 0xf, dpl = (dhi >>> 13) & 3;
  if (s === 0 || (type & 8) === 0) raiseGp(cpu, sel & 0xfffc); // gates / TSS / data: unsupported or invalid
  if ((type & 4) !== 0) {
    if (dpl > cpu.cpl) raiseGp(cpu, sel & 0xfffc);
  } else if ((sel & 3) > cpu.cpl || dpl !== cpu.cpl) {
    raiseGp(cpu, sel & 0xfffc);
  }
  if ((cpu.efer & EFER_LMA) !== 0 && (dhi & (1 << 21)) !== 0 && (dhi & (1 << 22)) !== 0) raiseGp(cpu, sel & 0xfffc);
  if ((dhi & 0x8000) === 0) raise(cpu, Vec.NP, true, sel & 0xfffc);
  return cpu.cpl;
}

/** Commits CS from sys.desc* with RPL = cpl, sets RIP and recomputes the mode; checks the limit / canonical
 * form of the new RIP first. */
function commitCode(sys: X86System, sel: number, cpl: number, ripLo: number, ripHi: number): void {
  const cpu = sys.cpu;
  const dhi = sys.descHi;
  const long = (cpu.efer & EFER_LMA) !== 0 && (dhi & (1 << 21)) !== 0;
  if (long) {
    if (((ripHi << 16) >> 16) !== ripHi) raiseGp(cpu, 0);
  } else {
    let limit = (sys.descLo & 0xffff) | (dhi & 0xf0000);
    if ((dhi & (1 << 23)) !== 0) limit = (limit << 12) | 0xfff;
    if ((ripLo >>> 0) > (limit >>> 0)) raiseGp(cpu, 0);
    ripHi = 0;
  }
  markAccessed(sys);
  setSegFromDescriptor(cpu, Seg.CS, (sel & 0xfffc) | cpl, sys.descLo, sys.descHi);
  cpu.ripLo = ripLo;
  cpu.ripHi = ripHi;
  sys.setCpl(cpl);
}

function realModeCs(sys: X86System, sel: number, ripLo: number): void {
  const cpu = sys.cpu;
  cpu.segSel[Seg.CS] = sel & 0xffff;
  cpu.segBaseLo[Seg.CS] = (sel & 0xffff) << 4;
  cpu.segBaseHi[Seg.CS] = 0;
  cpu.segAttr[Seg.CS] = (cpu.segAttr[Seg.CS] & ~(SegAttr.L | SegAttr.Unusable)) | SegAttr.P | SegAttr.S | 8;
  cpu.ripLo = ripLo;
  cpu.ripHi = 0;
  sys.updateMode();
}

export function farJump(sys: X86System, sel: number, offLo: number, offHi: number): void {
  const cpu = sys.cpu;
  if (!isProtected(cpu)) return realModeCs(sys, sel, offLo & 0xffff);
  if ((sel & 0xfffc) === 0) raiseGp(cpu, 0);
  readDescriptor(sys, sel, false);
  const cpl = checkCodeTarget(sys, sel);
  commitCode(sys, sel, cpl, offLo, offHi);
}

export function farCall(sys: X86System, sel: number, offLo: number, offHi: number, opSize: number): void {
  const cpu = sys.cpu;
  const bytes = opBytes(opSize);
  sys.stackBegin();
  if (!isProtected(cpu)) {
    sys.stackPush(bytes, cpu.segSel[Seg.CS], 0);
    sys.stackPush(bytes, cpu.ripLo, 0);
    sys.stackCommit();
    return realModeCs(sys, sel, offLo & 0xffff);
  }
  if ((sel & 0xfffc) === 0) raiseGp(cpu, 0);
  readDescriptor(sys, sel, false);
  const cpl = checkCodeTarget(sys, sel);
  sys.stackPush(bytes, cpu.segSel[Seg.CS], 0);
  sys.stackPush(bytes, cpu.ripLo, cpu.ripHi);
  commitCode(sys, sel, cpl, offLo, offHi);
  sys.stackCommit();
  sys.updateMode();
}

/** Data segments whose DPL is below the new (outer) CPL become null on a return to an outer level. */
export function nullifyInaccessibleDataSegments(cpu: CpuState): void {
  for (const seg of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
    const attr = cpu.segAttr[seg];
    if ((attr & SegAttr.Unusable) !== 0) continue;
    const dpl = (attr >>> SegAttr.DplShift) & 3;
    const conformingCode = (attr & 0xc) === 0xc && (attr & SegAttr.S) !== 0;
    if (dpl < cpu.cpl && !conformingCode) {
      cpu.segSel[seg] = 0;
      cpu.segAttr[seg] = SegAttr.Unusable;
    }
  }
}

/** Validates a return-to CS (in sys.desc*) for ret far / iret: RPL >= CPL, type, privilege, present. */
export function checkReturnCs(sys: X86System, sel: number): void {
  const cpu = sys.cpu;
  const dhi = sys.descHi;
  const rpl = sel & 3;
  const s = (dhi >>> 12) & 1, type = (dhi >>> 8) & 0xf, dpl = (dhi >>> 13) & 3;
  if (rpl < cpu.cpl || s === 0 || (type & 8) === 0) raiseGp(cpu, sel & 0xfffc);
  if ((type & 4) !== 0 ? dpl > rpl : dpl !== rpl) raiseGp(cpu, sel & 0xfffc);
  if ((dhi & 0x8000) === 0) raise(cpu, Vec.NP, true, sel & 0xfffc);
}

/** Loads SS for a return/interrupt to privilege level `cpl` (selector checks per RET/IRET): null only in
 * 64-bit mode at CPL < 3. */
export function loadStackSegmentFor(sys: X86System, sel: number, cpl: number, toLong64: boolean, faultVector = Vec.GP): void {
  const cpu = sys.cpu;
  if ((sel & 0xfffc) === 0) {
    if (!toLong64 || cpl === 3 || (sel & 3) !== cpl) raise(cpu, faultVector, true, 0);
    setNullSeg(cpu, Seg.SS, sel);
    return;
  }
  readDescriptor(sys, sel, false, faultVector);
  const dhi = sys.descHi;
  const s = (dhi >>> 12) & 1, type = (dhi >>> 8) & 0xf, dpl = (dhi >>> 13) & 3;
  if ((sel & 3) !== cpl || s === 0 || (type & 0xa) !== 2 || dpl !== cpl) raise(cpu, faultVector, true, sel & 0xfffc);
  if ((dhi & 0x8000) === 0) raise(cpu, faultVector === Vec.GP ? Vec.SS : faultVector, true, sel & 0xfffc);
  markAccessed(sys);
  setSegFromDescriptor(cpu, Seg.SS, sel, sys.descLo, sys.descHi);
}

export function farReturn(sys: X86System, opSize: number, popBytes: number): void {
  const cpu = sys.cpu;
  const bytes = opBytes(opSize);
  sys.stackBegin();
  const ripLo = sys.stackPop(bytes);
  const ripHi = bytes === 8 ? sys.linHi : 0;
  const sel = sys.stackPop(bytes) & 0xffff;
  if (!isProtected(cpu)) {
    sys.stackSkip(popBytes);
    sys.stackCommit();
    return realModeCs(sys, sel, ripLo & 0xffff);
  }
  if ((sel & 0xfffc) === 0) raiseGp(cpu, 0);
  readDescriptor(sys, sel, false);
  checkReturnCs(sys, sel);
  const rpl = sel & 3;
  if (rpl === cpu.cpl) {
    sys.stackSkip(popBytes);
    commitCode(sys, sel, rpl, ripLo, ripHi);
    sys.stackCommit();
    sys.updateMode();
    return;
  }
  // Return to an outer privilege level: pop SS:RSP too.
  const csLo = sys.descLo, csHi = sys.descHi;
  sys.stackSkip(popBytes);
  const spLo = sys.stackPop(bytes);
  const spHi = bytes === 8 ? sys.linHi : 0;
  const ssSel = sys.stackPop(bytes) & 0xffff;
  const toLong64 = (cpu.efer & EFER_LMA) !== 0 && (csHi & (1 << 21)) !== 0;
  loadStackSegmentFor(sys, ssSel, rpl, toLong64);
  sys.descLo = csLo;
  sys.descHi = csHi;
  commitCode(sys, sel, rpl, ripLo, ripHi);
  setStackPointer(cpu, spLo, spHi, bytes);
  addToStackPointer(sys, popBytes);
  nullifyInaccessibleDataSegments(cpu);
  sys.updateMode();
}

/** Writes RSP after a pop of SS:RSP: 8-byte slots set all of it, 4-byte slots ESP (zero-extended in
 * 64-bit mode), 2-byte SP. */
export function setStackPointer(cpu: CpuState, lo: number, hi: number, bytes: number): void {
  if (bytes === 2) {
    cpu.rlo[Reg.RSP] = (cpu.rlo[Reg.RSP] & ~0xffff) | (lo & 0xffff);
  } else {
    cpu.rlo[Reg.RSP] = lo;
    cpu.rhi[Reg.RSP] = bytes === 8 ? hi : 0;
  }
}

function addToStackPointer(sys: X86System, n: number): void {
  if (n === 0) return;
  const cpu = sys.cpu;
  if (cpu.mode === Mode.Long64) {
    const lo = cpu.rlo[Reg.RSP] >>> 0;
    const sum = lo + n;
    cpu.rlo[Reg.RSP] = sum | 0;
    if (sum >= TWO32) cpu.rhi[Reg.RSP] = (cpu.rhi[Reg.RSP] + 1) | 0;
  } else if ((cpu.segAttr[Seg.SS] & SegAttr.DB) !== 0) {
    cpu.rlo[Reg.RSP] = (cpu.rlo[Reg.RSP] + n) | 0;
  } else {
    cpu.rlo[Reg.RSP] = (cpu.rlo[Reg.RSP] & ~0xffff) | ((cpu.rlo[Reg.RSP] + n) & 0xffff);
  }
}
