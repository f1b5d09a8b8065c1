// Exception and interrupt delivery and IRET (Intel SDM vol. 3 ch. 6: real-mode IVT, protected-mode
// 32/16-bit gates with a stack switch through the TSS, IA-32e 64-bit gates with IST; §6.15 table 6-5
// double-fault conditions).
//
// Design: deliver() reads the gate and target, pushes the frame onto the (possibly new) stack, then commits
// CS/SS/RSP/RIP/RFLAGS. A FAULT thrown while delivering is classified (benign / contributory / page fault):
// contributory+contributory or #PF+(#PF|contributory) become #DF, any fault while delivering #DF is a
// triple fault (the tripleFault callback; the vCPU is left halted); a fault while delivering a software
// interrupt is thrown back to the core as a fault of the INT instruction. RIP pushed is cpu.rip as it stands:
// the faulting instruction for faults (the run loop restored it), the next instruction for traps,
// software interrupts and external interrupts (the core has advanced it).
// Not supported: task gates, hardware task switches, virtual-8086 mode (raise #GP / crash the domain).

import { Fl, FAULT, Mode, Reg, Seg, SegAttr, type CpuState } from "./cpu_state.ts";
import { opBytes, raise, raiseGp, Vec } from "./fault.ts";
import { CR0_PE, EFER_LMA } from "./mmu.ts";
import {
  checkReturnCs, loadStackSegmentFor, nullifyInaccessibleDataSegments, readDescriptor, setNullSeg,
  setSegFromDescriptor, setStackPointer,
} from "./segments.ts";
import type { X86System } from "./system.ts";

export type InterruptKind = "exception" | "external" | "software";

function isContributory(v: number): boolean {
  return v === Vec.DE || v === Vec.TS || v === Vec.NP || v === Vec.SS || v === Vec.GP;
}

/** Delivers with double/triple-fault handling. */
export function deliverInterrupt(sys: X86System, vector: number, kind: InterruptKind, hasError: boolean, errorCode: number): void {
  const cpu = sys.cpu;
  try {
    deliverOnce(sys, vector, kind, hasError, errorCode);
  } catch (e) {
    if (e !== FAULT) throw e;
    // A fault while delivering int n / int3 / into is a fault of that instruction (SDM vol. 2 INT n: #GP for a
    // vector beyond the IDT limit or a gate DPL < CPL; vol. 3 §6.5: a fault reports the RIP of the faulting
    // instruction): it goes back to the core, which restores RIP to the INT and delivers it like any fault.
    if (kind === "software") throw e;
    const second = cpu.faultVector;
    if (kind === "exception" && vector === Vec.DF) {
      sys.raiseTripleFault(`fault ${second} while delivering #DF`);
      return;
    }
    const first = kind === "exception" ? vector : -1;
    const double = (isContributory(first) && isContributory(second)) ||
      (first === Vec.PF && (second === Vec.PF || isContributory(second)));
    if (double) deliverInterrupt(sys, Vec.DF, "exception", true, 0);
    else deliverInterrupt(sys, second, "exception", cpu.faultHasError, cpu.faultErrorCode);
  }
}

/** EXT bit of error codes raised during delivery of an event not caused by software. */
function extBit(kind: InterruptKind): number {
  return kind === "software" ? 0 : 1;
}

function deliverOnce(sys: X86System, vector: number, kind: InterruptKind, hasError: boolean, errorCode: number): void {
  const cpu = sys.cpu;
  vector &= 0xff;
  if ((cpu.cr0 & CR0_PE) === 0) return deliverReal(sys, vector);
  if ((cpu.eflagsRest & Fl.VM) !== 0) {
    sys.log(`emu: interrupt ${vector} in virtual-8086 mode is not supported`);
    raiseGp(cpu, 0);
  }
  const long = (cpu.efer & EFER_LMA) !== 0;
  const ext = extBit(kind);
  const gateSize = long ? 16 : 8;
  const gateErr = vector * 8 + 2 + ext;
  if (vector * gateSize + gateSize - 1 > (cpu.idtrLimit >>> 0)) raiseGp(cpu, gateErr);
  const gLo = sys.sysAddr(cpu.idtrBaseLo, cpu.idtrBaseHi, vector * gateSize);
  const gHi = sys.linHi;
  const w0 = sys.sysRead32(gLo, gHi);
  const w1 = sys.sysRead32(sys.sysAddr(gLo, gHi, 4), sys.linHi);
  const w2 = long ? sys.sysRead32(sys.sysAddr(gLo, gHi, 8), sys.linHi) : 0;
  const gateType = (w1 >>> 8) & 0x1f; // S bit + type
  const gateDpl = (w1 >>> 13) & 3;
  let is32: boolean;
  if (long) {
    if (gateType !== 0xe && gateType !== 0xf) raiseGp(cpu, gateErr);
    is32 = true;
  } else if (gateType === 0xe || gateType === 0xf) {
    is32 = true;
  } else if (gateType === 0x6 || gateType === 0x7) {
    is32 = false;
  } else {
    if (gateType === 0x5) sys.log(`emu: task gate for vector ${vector} is not supported`);
    raiseGp(cpu, gateErr);
  }
  if (kind === "software" && gateDpl < cpu.cpl) raiseGp(cpu, vector * 8 + 2);
  if ((w1 & 0x8000) === 0) raise(cpu, Vec.NP, true, gateErr);
  const trapGate = (gateType & 1) !== 0;
  const csSel = (w0 >>> 16) & 0xffff;
  let offLo = (w0 & 0xffff) | (w1 & 0xffff0000);
  const offHi = long ? w2 : 0;
  if (!is32) offLo &= 0xffff;
  const ist = long ? w1 & 7 : 0;

  // Target code segment.
  if ((csSel & 0xfffc) === 0) raiseGp(cpu, ext);
  readDescriptor(sys, csSel, false);
  const csLo = sys.descLo, csHi = sys.descHi;
  const csType = (csHi >>> 8) & 0xf, csDpl = (csHi >>> 13) & 3;
  if (((csHi >>> 12) & 1) === 0 || (csType & 8) === 0 || csDpl > cpu.cpl) raiseGp(cpu, (csSel & 0xfffc) + ext);
  if (long && ((csHi & (1 << 21)) === 0 || (csHi & (1 << 22)) !== 0)) raiseGp(cpu, (csSel & 0xfffc) + ext);
  if ((csHi & 0x8000) === 0) raise(cpu, Vec.NP, true, (csSel & 0xfffc) + ext);
  const oldCpl = cpu.cpl;
  const newCpl = (csType & 4) !== 0 ? oldCpl : csDpl;
  if (long && ((offHi << 16) >> 16) !== offHi) raiseGp(cpu, ext);

  const flags = sys.flags.getEflags();
  const oldSs = cpu.segSel[Seg.SS];
  const oldSpLo = cpu.rlo[Reg.RSP], oldSpHi = cpu.rhi[Reg.RSP];
  const oldCs = cpu.segSel[Seg.CS];
  const ripLo = cpu.ripLo, ripHi = cpu.ripHi;

  if (long) {
    let spLo: number, spHi: number;
    if (ist !== 0 || newCpl < oldCpl) {
      const off = ist !== 0 ? 0x24 + 8 * (ist - 1) : 4 + 8 * newCpl;
      sys.readTss64(off);
      spLo = sys.tssLo; spHi = sys.tssHi;
    } else {
      spLo = oldSpLo; spHi = oldSpHi;
    }
    spLo &= ~0xf;
    sys.stackBeginAt(spLo, spHi, 8, 0, newCpl === 3);
    sys.stackPush(8, oldSs, 0);
    sys.stackPush(8, oldSpLo, oldSpHi);
    sys.stackPush(8, flags, 0);
    sys.stackPush(8, oldCs, 0);
    sys.stackPush(8, ripLo, ripHi);
    if (hasError) sys.stackPush(8, errorCode, 0);
    // Commit.
    if (newCpl !== oldCpl) setNullSeg(cpu, Seg.SS, newCpl);
    setSegFromDescriptor(cpu, Seg.CS, (csSel & 0xfffc) | newCpl, csLo, csHi);
    cpu.rlo[Reg.RSP] = sys.stackLo;
    cpu.rhi[Reg.RSP] = sys.stackHi;
  } else {
    const slot = is32 ? 4 : 2;
    if (newCpl < oldCpl) {
      // Stack switch through the TSS (32-bit: ESPn at 4+8n, SSn at 8+8n; 16-bit: SPn at 2+4n, SSn at 4+4n).
      const tss32 = ((cpu.segAttr[Seg.TR] & 0xf) & 8) !== 0;
      let newSp: number, newSs: number;
      if (tss32) {
        newSp = sys.readTss(4 + 8 * newCpl, 4);
        newSs = sys.readTss(8 + 8 * newCpl, 2);
      } else {
        newSp = sys.readTss(2 + 4 * newCpl, 2);
        newSs = sys.readTss(4 + 4 * newCpl, 2);
      }
      loadStackSegmentFor(sys, newSs, newCpl, false, Vec.TS);
      const ssBig = (cpu.segAttr[Seg.SS] & SegAttr.DB) !== 0;
      sys.stackBeginAt(newSp, 0, ssBig ? 4 : 2, cpu.segBaseLo[Seg.SS], newCpl === 3);
      sys.stackPush(slot, oldSs, 0);
      sys.stackPush(slot, oldSpLo, 0);
    } else {
      sys.stackBegin();
    }
    sys.stackPush(slot, flags, 0);
    sys.stackPush(slot, oldCs, 0);
    sys.stackPush(slot, ripLo, 0);
    if (hasError) sys.stackPush(slot, errorCode, 0);
    setSegFromDescriptor(cpu, Seg.CS, (csSel & 0xfffc) | newCpl, csLo, csHi);
    sys.stackCommit();
  }
  cpu.ripLo = offLo;
  cpu.ripHi = offHi;
  let rest = cpu.eflagsRest & ~(Fl.TF | Fl.NT | Fl.RF | Fl.VM);
  if (!trapGate) rest &= ~Fl.IF;
  cpu.eflagsRest = rest;
  cpu.interruptShadow = false;
  sys.setCpl(newCpl);
}

function deliverReal(sys: X86System, vector: number): void {
  const cpu = sys.cpu;
  if (vector * 4 + 3 > (cpu.idtrLimit >>> 0)) raiseGp(cpu, 0);
  const a = sys.sysAddr(cpu.idtrBaseLo, 0, vector * 4);
  const ip = sys.sysRead16(a, 0);
  const cs = sys.sysRead16((a + 2) | 0, 0);
  const flags = sys.flags.getEflags();
  sys.stackBegin();
  sys.stackPush(2, flags, 0);
  sys.stackPush(2, cpu.segSel[Seg.CS], 0);
  sys.stackPush(2, cpu.ripLo, 0);
  sys.stackCommit();
  cpu.segSel[Seg.CS] = cs;
  cpu.segBaseLo[Seg.CS] = cs << 4;
  cpu.segBaseHi[Seg.CS] = 0;
  cpu.ripLo = ip;
  cpu.ripHi = 0;
  cpu.eflagsRest &= ~(Fl.IF | Fl.TF | Fl.AC | Fl.RF);
  cpu.interruptShadow = false;
}

/** EFLAGS bits iret/popf may change at a privilege level (SDM IRET operation). */
function iretFlagMask(cpu: CpuState, cpl: number, slot: number): number {
  let mask = Fl.CF | Fl.PF | Fl.AF | Fl.ZF | Fl.SF | Fl.TF | Fl.DF | Fl.OF | Fl.NT;
  if (slot > 2) mask |= Fl.RF | Fl.AC | Fl.ID | Fl.VIF | Fl.VIP;
  const iopl = (cpu.eflagsRest >>> 12) & 3;
  if (cpl <= iopl) mask |= Fl.IF;
  if (cpl === 0) mask |= Fl.IOPL;
  return mask;
}

export function iret(sys: X86System, opSize: number): void {
  const cpu = sys.cpu;
  const slot = opBytes(opSize);
  const oldFlags = sys.flags.getEflags();
  sys.stackBegin();
  const ripLo = sys.stackPop(slot);
  const ripHi = slot === 8 ? sys.linHi : 0;
  const csSel = sys.stackPop(slot) & 0xffff;
  const popped = sys.stackPop(slot);

  if ((cpu.cr0 & CR0_PE) === 0) {
    // Real mode: everything may change (CPL 0); 16-bit iret keeps the upper half.
    sys.stackCommit();
    cpu.segSel[Seg.CS] = csSel;
    cpu.segBaseLo[Seg.CS] = csSel << 4;
    cpu.segBaseHi[Seg.CS] = 0;
    cpu.ripLo = slot === 2 ? ripLo & 0xffff : ripLo;
    cpu.ripHi = 0;
    const newFlags = slot === 2 ? (oldFlags & ~0xffff) | (popped & 0xffff) : (popped & ~(Fl.VM | Fl.VIF | Fl.VIP)) | (oldFlags & (Fl.VM | Fl.VIF | Fl.VIP));
    sys.flags.setEflags(newFlags | 2);
    return;
  }
  if ((oldFlags & Fl.NT) !== 0 && (cpu.efer & EFER_LMA) === 0) {
    sys.log("emu: iret with EFLAGS.NT (task return) is not supported");
    raiseGp(cpu, cpu.segSel[Seg.TR] & 0xfffc);
  }
  if ((cpu.efer & EFER_LMA) === 0 && cpu.cpl === 0 && slot === 4 && (popped & Fl.VM) !== 0) {
    sys.log("emu: iret to virtual-8086 mode is not supported");
    raiseGp(cpu, 0);
  }
  if ((csSel & 0xfffc) === 0) raiseGp(cpu, 0);
  readDescriptor(sys, csSel, false);
  checkReturnCs(sys, csSel);
  const csLo = sys.descLo, csHi = sys.descHi;
  const rpl = csSel & 3;
  const oldCpl = cpu.cpl;
  const toLong64 = (cpu.efer & EFER_LMA) !== 0 && (csHi & (1 << 21)) !== 0;
  const popStack = cpu.mode === Mode.Long64 || rpl > oldCpl;

  let spLo = 0, spHi = 0, ssSel = 0;
  if (popStack) {
    spLo = sys.stackPop(slot);
    spHi = slot === 8 ? sys.linHi : 0;
    ssSel = sys.stackPop(slot) & 0xffff;
  }
  // Checks on the new RIP before anything is committed.
  if (toLong64) {
    if (((ripHi << 16) >> 16) !== ripHi) raiseGp(cpu, 0);
  } else {
    let limit = (csLo & 0xffff) | (csHi & 0xf0000);
    if ((csHi & (1 << 23)) !== 0) limit = (limit << 12) | 0xfff;
    if (((slot === 2 ? ripLo & 0xffff : ripLo) >>> 0) > (limit >>> 0)) raiseGp(cpu, 0);
  }
  if (popStack) loadStackSegmentFor(sys, ssSel, rpl, toLong64);
  else sys.stackCommit();

  const mask = iretFlagMask(cpu, oldCpl, slot);
  let newFlags = (oldFlags & ~mask) | (popped & mask) | 2;
  if (slot === 2) newFlags = (oldFlags & ~0xffff) | (newFlags & 0xffff);
  setSegFromDescriptor(cpu, Seg.CS, csSel, csLo, csHi);
  cpu.ripLo = slot === 2 ? ripLo & 0xffff : ripLo;
  cpu.ripHi = toLong64 ? ripHi : 0;
  sys.flags.setEflags(newFlags);
  sys.setCpl(rpl);
  if (popStack) {
    if (cpu.mode === Mode.Long64 || slot !== 2) setStackPointer(cpu, spLo, spHi, slot);
    else setStackPointer(cpu, spLo, 0, 2);
    if (slot === 4 && cpu.mode !== Mode.Long64 && (cpu.segAttr[Seg.SS] & SegAttr.DB) === 0) {
      cpu.rlo[Reg.RSP] = (cpu.rlo[Reg.RSP] & ~0xffff) | (spLo & 0xffff);
    }
  }
  if (rpl > oldCpl) nullifyInaccessibleDataSegments(cpu);
}
