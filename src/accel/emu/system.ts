// The system side of the emulated x86-64 CPU: the EmuSystem the core's interpreter calls (cpu_state.ts),
// composing paging/TLB (mmu.ts), descriptor loads and far transfers (segments.ts), exception delivery and
// iret (exceptions.ts), MSRs (msr.ts), CPUID (cpuid.ts) and the TSC (tsc.ts). Intel SDM vol. 2 and 3.
//
// Design: X86System extends Mmu so the core's memory accessors are direct methods of one monomorphic class.
// Conventions for the core: every method may throw FAULT after filling cpu.fault*; instruction-level
// methods (farCall, syscall, hypercall, int n through deliverInterrupt(kind "software")...) are called with
// cpu.rip already pointing at the next instruction. Methods that return tuples (readCr, rdmsr, cpuid,
// rdtsc) return the same array object each time: read it before the next call. Operand sizes (opSize) may be
// given in bytes (2/4/8, the core's convention) or bits (16/32/64). Runs on the vCPU's thread.

import type { CpuIo, GuestRam, GuestVirtualMemory, HypercallRequest } from "../../hv/ports.ts";
import { GuestFault } from "../../hv/hypercall/xen_error.ts";
import { type CpuState, type EmuSystem, Fl, Mode, Reg, Seg, SegAttr } from "./cpu_state.ts";
import { CpuidModel, type CpuidOptions } from "./cpuid.ts";
import { deliverInterrupt, iret, type InterruptKind } from "./exceptions.ts";
import { opBytes, raise, raiseGp, raiseUd, Vec } from "./fault.ts";
import {
  Access, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, Mmu,
} from "./mmu.ts";
import { eferWriteAllowed, type MsrDelegate, MsrFile, readMsr, writeMsr } from "./msr.ts";
import {
  farCall, farJump, farReturn, loadSegment, readDescriptor, setFlatSeg, setNullSeg, setSegFromDescriptor,
} from "./segments.ts";
import { Tsc } from "./tsc.ts";

const TWO32 = 4294967296;

/** The interrupt controller of this vCPU (devices/lapic Lapic matches it). */
export interface InterruptController {
  /** True when acknowledge() would return a vector now (the CPU checks RFLAGS.IF first). */
  hasPendingInterrupt(): boolean;
  /** Takes the highest-priority vector (moves it IRR → ISR). */
  acknowledge(): number;
}

/** Full EFLAGS access through the core's lazy flags (flags.ts LazyFlags matches it). */
export interface FlagsAccess {
  getEflags(): number;
  setEflags(v: number): void;
}

export interface X86SystemOptions {
  readonly ram: GuestRam;
  /** Port I/O, non-RAM physical addresses (LAPIC, IOAPIC...) and hypercalls. */
  readonly io: CpuIo;
  readonly interrupts: InterruptController;
  /** Emulated time in ns (monotonic): drives the TSC. */
  readonly clock: { nowNs(): number };
  readonly log: (line: string) => void;
  /** A fault while delivering #DF: the machine resets (reboot=t) or crashes the domain. The vCPU is left
   * halted with IF clear; the run loop should return to the machine. */
  readonly tripleFault: (why: string) => void;
  /** The core's flags (LazyFlags). Default: all flags in cpu.eflagsRest (tests). */
  readonly flags?: FlagsAccess;
  /** MSRs owned by a device (the LAPIC: APIC_BASE, TSC_DEADLINE), asked first. */
  readonly msrDelegate?: MsrDelegate;
  /** wrmsr 0x40000000 (Xen leaves on): fills the hypercall page; returns false for #GP. Default: vmcall stubs
   * (`mov $i,%eax; vmcall; ret` every 32 bytes) written straight into RAM. The Xen layer can pass
   * `(v) => installHypercallPage(ram.bytes, v)` from hv/hypercall/hypercall_page.ts. */
  readonly hypercallPage?: (msrValue: bigint) => boolean;
  /** CPUID model options except the vCPU id (taken from the CpuState). Default: Xen leaves on. */
  readonly cpuid?: Omit<CpuidOptions, "vcpuId">;
  /** Code-page marks shared by all vCPUs of the domain (Mmu.markCodePage). Default: private to this vCPU. */
  readonly codePages?: Uint8Array;
  /** Where the TLB lives (Mmu constructor); default: a private array. */
  readonly tlbStorage?: Int32Array;
  /** instructionBudget(): instructions between calls back to the machine (default 20000). */
  readonly budget?: () => number;
}

class DefaultFlags implements FlagsAccess {
  constructor(private readonly cpu: CpuState) {}
  getEflags(): number { return this.cpu.eflagsRest | 2; }
  setEflags(v: number): void { this.cpu.eflagsRest = (v & 0x3f7fd7) | 2; }
}

/** Hypercall buffers: guest-virtual, supervisor accesses through this vCPU's page tables. */
class VcpuVirtualMemory implements GuestVirtualMemory {
  constructor(private readonly sys: X86System) {}
  /** The paging registers now (vcpu_thread forwards owner hypercalls with them: PagingGuestMemory). */
  get paging(): { cr0: number; cr3: number; cr4: number; efer: number } {
    const c = this.sys.cpu;
    return { cr0: c.cr0 >>> 0, cr3: (c.cr3Lo >>> 0) + (c.cr3Hi >>> 0) * 2 ** 32, cr4: c.cr4 >>> 0, efer: c.efer >>> 0 };
  }
  read(va: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let k = 0; k < len;) {
      const a = va + BigInt(k);
      const p = this.translate(a, Access.Read);
      const n = Math.min(len - k, 4096 - (p & 0xfff));
      for (let j = 0; j < n; j++) out[k + j] = this.sys.physRead(p + j, 1);
      k += n;
    }
    return out;
  }
  write(va: bigint, data: Uint8Array): void {
    for (let k = 0; k < data.length;) {
      const a = va + BigInt(k);
      const p = this.translate(a, Access.Write);
      const n = Math.min(data.length - k, 4096 - (p & 0xfff));
      for (let j = 0; j < n; j++) this.sys.physWrite(p + j, 1, data[k + j]!, 0);
      k += n;
    }
  }
  private translate(va: bigint, access: Access): number {
    const lo = Number(va & 0xffffffffn) | 0;
    const hi = Number((va >> 32n) & 0xffffffffn) | 0;
    const p = this.sys.probe(lo, hi, access, false);
    // Xen's copy_from_guest fails with -EFAULT (the dispatcher turns GuestFault into it) for unmapped
    // buffers and for buffers that translate outside guest RAM (MMIO holes), as on kvm.
    if (p < 0) throw new GuestFault(va, "not mapped");
    if (p >= this.sys.ramEnd) throw new GuestFault(va, "outside guest RAM");
    return p;
  }
}

/** What X86System holds beyond CpuState (MSRs without a CpuState field, TSC offset), as a versioned record. */
export interface X86SystemState {
  readonly version: 1;
  readonly msrs: Readonly<Record<string, number | readonly number[]>>;
  readonly tsc: { readonly offset: number; readonly last: number };
  readonly tripleFaulted: boolean;
}

function u64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export class X86System extends Mmu implements EmuSystem {
  /** The core's flags (its Interp: getEflags/setEflags). The machine sets it after creating the EmuCpu when it
   * did not pass opts.flags (the system must exist before the core). */
  flags: FlagsAccess;
  readonly msrs = new MsrFile();
  readonly tsc: Tsc;
  readonly cpuidModel: CpuidModel;
  readonly msrDelegate: MsrDelegate | undefined;
  readonly log: (line: string) => void;
  private readonly interrupts: InterruptController;
  private readonly opts: X86SystemOptions;
  private readonly guestMemory: VcpuVirtualMemory;
  /** Set once a triple fault happened (the machine resets or destroys the vCPU). */
  tripleFaulted = false;
  private nmiPending = false;
  private nmiBlocked = false;

  // Scratch results (no allocation on the paths the core uses often).
  private readonly pair: [number, number] = [0, 0];
  /** High half of the last sysAddr / stackPop. */
  linHi = 0;
  msrLo = 0; msrHi = 0;
  descLo = 0; descHi = 0; descHi2 = 0; descAddrLo = 0; descAddrHi = 0;
  tssLo = 0; tssHi = 0;
  // Stack being built by stackBegin/stackPush/stackPop, committed to RSP by stackCommit.
  stackLo = 0; stackHi = 0;
  private stackWidth = 8;
  private stackBase = 0;
  private stackUser = false;

  constructor(cpu: CpuState, opts: X86SystemOptions) {
    super(cpu, opts.ram, opts.io, opts.codePages, opts.tlbStorage);
    this.opts = opts;
    this.flags = opts.flags ?? new DefaultFlags(cpu);
    this.interrupts = opts.interrupts;
    this.msrDelegate = opts.msrDelegate;
    this.log = opts.log;
    this.cpuidModel = new CpuidModel({ xen: true, ...opts.cpuid, vcpuId: cpu.vcpuId });
    this.tsc = new Tsc(opts.clock, this.cpuidModel.tscKhz);
    this.guestMemory = new VcpuVirtualMemory(this);
    this.updateMode();
  }

  // ---------------------------------------------------------------- state

  /** The system side's own state (CpuState is saved separately); the TLB is not state: restore flushes it. */
  saveState(): X86SystemState {
    const msrs: Record<string, number | number[]> = {};
    for (const [k, v] of Object.entries(this.msrs)) msrs[k] = v instanceof Int32Array ? [...v] : (v as number);
    return { version: 1, msrs, tsc: this.tsc.save(), tripleFaulted: this.tripleFaulted };
  }

  restoreState(s: X86SystemState): void {
    if (s.version !== 1) throw new Error(`Cannot restore emu system state version "${String(s.version)}"`);
    const target = this.msrs as unknown as Record<string, number | Int32Array>;
    for (const [k, v] of Object.entries(s.msrs)) {
      const cur = target[k];
      if (cur instanceof Int32Array && Array.isArray(v)) cur.set(v);
      else if (typeof cur === "number" && typeof v === "number") target[k] = v;
    }
    this.tsc.restore(s.tsc);
    this.tripleFaulted = s.tripleFaulted;
    this.flushTlb(false);
    this.updateMode();
  }

  // ---------------------------------------------------------------- mode

  /** Recomputes cpu.mode, default sizes and the TLB sets from CR0.PE, EFER.LMA, CS.L/D and cpl. */
  updateMode(): void {
    const cpu = this.cpu;
    const oldMode = cpu.mode;
    const attr = cpu.segAttr[Seg.CS];
    if ((cpu.cr0 & CR0_PE) === 0) {
      cpu.mode = Mode.Real;
      cpu.cpl = 0;
      cpu.defaultAddrSize = cpu.defaultOpSize = 16;
    } else if ((cpu.efer & EFER_LMA) !== 0 && (attr & SegAttr.L) !== 0) {
      cpu.mode = Mode.Long64;
      cpu.defaultAddrSize = 64;
      cpu.defaultOpSize = 32;
    } else {
      const big = (attr & SegAttr.DB) !== 0;
      const compat = (cpu.efer & EFER_LMA) !== 0;
      cpu.mode = compat ? (big ? Mode.Compat32 : Mode.Compat16) : (big ? Mode.Protected32 : Mode.Protected16);
      cpu.defaultAddrSize = cpu.defaultOpSize = big ? 32 : 16;
    }
    if (cpu.mode !== oldMode) { cpu.tlbGen++; cpu.globalGen++; }
    this.setUserMode(cpu.cpl === 3);
  }

  setCpl(cpl: number): void {
    this.cpu.cpl = cpl;
    this.updateMode();
  }

  raiseTripleFault(why: string): void {
    const cpu = this.cpu;
    this.tripleFaulted = true;
    cpu.tripleFault = true;
    cpu.halted = true;
    cpu.eflagsRest &= ~Fl.IF;
    this.log(`emu: vcpu${cpu.vcpuId} triple fault: ${why}`);
    this.opts.tripleFault(why);
  }

  // ---------------------------------------------------------------- system-structure helpers

  /** base + off for descriptor tables and the TSS: 64-bit arithmetic when EFER.LMA, else wraps at 4 GiB.
   * Returns lo, hi in linHi. */
  sysAddr(baseLo: number, baseHi: number, off: number): number {
    const sum = (baseLo >>> 0) + off;
    if ((this.cpu.efer & EFER_LMA) === 0) {
      this.linHi = 0;
      return sum | 0;
    }
    this.linHi = sum >= TWO32 ? (baseHi + 1) | 0 : baseHi;
    return sum | 0;
  }

  private checkTss(off: number, size: number): void {
    const cpu = this.cpu;
    if ((cpu.segAttr[Seg.TR] & SegAttr.Unusable) !== 0 || off + size - 1 > (cpu.segLimit[Seg.TR] >>> 0)) {
      raise(cpu, Vec.TS, true, cpu.segSel[Seg.TR] & 0xfffc);
    }
  }

  /** Reads 2 or 4 bytes of the current TSS (supervisor access). */
  readTss(off: number, size: number): number {
    this.checkTss(off, size);
    const lo = this.sysAddr(this.cpu.segBaseLo[Seg.TR], this.cpu.segBaseHi[Seg.TR], off);
    return size === 2 ? this.sysRead16(lo, this.linHi) : this.sysRead32(lo, this.linHi);
  }

  /** Reads a 64-bit TSS field (RSPn, ISTn) into tssLo/tssHi. */
  readTss64(off: number): void {
    this.checkTss(off, 8);
    const lo = this.sysAddr(this.cpu.segBaseLo[Seg.TR], this.cpu.segBaseHi[Seg.TR], off);
    this.tssLo = this.sysRead64(lo, this.linHi);
    this.tssHi = this.hiResult;
  }

  /** Starts a stack sequence on the current SS:RSP. */
  stackBegin(): void {
    const cpu = this.cpu;
    const width = cpu.mode === Mode.Long64 ? 8 : (cpu.segAttr[Seg.SS] & SegAttr.DB) !== 0 ? 4 : 2;
    this.stackBeginAt(cpu.rlo[Reg.RSP], cpu.rhi[Reg.RSP], width, width === 8 ? 0 : cpu.segBaseLo[Seg.SS], cpu.cpl === 3);
  }

  /** Starts a stack sequence on an explicit stack (interrupt stack switch). width: 2, 4 or 8 (64-bit). */
  stackBeginAt(spLo: number, spHi: number, width: number, base: number, user: boolean): void {
    this.stackLo = spLo;
    this.stackHi = width === 8 ? spHi : 0;
    this.stackWidth = width;
    this.stackBase = base;
    this.stackUser = user;
  }

  /** Linear address of stackLo/Hi + off (within the stack's width), hi in linHi. */
  private stackLinear(): number {
    if (this.stackWidth === 8) {
      this.linHi = this.stackHi;
      return this.stackLo;
    }
    this.linHi = 0;
    const sp = this.stackWidth === 4 ? this.stackLo >>> 0 : this.stackLo & 0xffff;
    return (this.stackBase + sp) | 0;
  }

  private stackAdd(n: number): void {
    if (this.stackWidth === 8) {
      const sum = (this.stackLo >>> 0) + n;
      this.stackLo = sum | 0;
      if (sum >= TWO32) this.stackHi = (this.stackHi + 1) | 0;
      else if (sum < 0) this.stackHi = (this.stackHi - 1) | 0;
    } else if (this.stackWidth === 4) {
      this.stackLo = (this.stackLo + n) | 0;
    } else {
      this.stackLo = (this.stackLo & ~0xffff) | ((this.stackLo + n) & 0xffff);
    }
  }

  stackPush(bytes: number, vlo: number, vhi: number): void {
    this.stackAdd(-bytes);
    const lo = this.stackLinear();
    const cpu = this.cpu;
    const prevSeg = cpu.accessSeg;
    cpu.accessSeg = Seg.SS;
    this.writeSlow(lo, this.linHi, bytes, bytes === 2 ? vlo & 0xffff : vlo, bytes === 8 ? vhi : 0, this.stackUser);
    cpu.accessSeg = prevSeg;
  }

  /** Pops `bytes`; returns the low half (zero-extended for 2), high half in linHi. */
  stackPop(bytes: number): number {
    const lo = this.stackLinear();
    const cpu = this.cpu;
    const prevSeg = cpu.accessSeg;
    cpu.accessSeg = Seg.SS;
    const v = this.readSlow(lo, this.linHi, bytes, this.stackUser);
    cpu.accessSeg = prevSeg;
    const vhi = bytes === 8 ? this.hiResult : 0;
    this.stackAdd(bytes);
    this.linHi = vhi;
    return v;
  }

  stackSkip(n: number): void {
    this.stackAdd(n);
  }

  /** Writes the stack pointer back to RSP (SP / ESP / RSP by the stack's width). */
  stackCommit(): void {
    const cpu = this.cpu;
    if (this.stackWidth === 8) {
      cpu.rlo[Reg.RSP] = this.stackLo;
      cpu.rhi[Reg.RSP] = this.stackHi;
    } else if (this.stackWidth === 4) {
      cpu.rlo[Reg.RSP] = this.stackLo;
      if (cpu.mode === Mode.Long64) cpu.rhi[Reg.RSP] = 0;
    } else {
      cpu.rlo[Reg.RSP] = (cpu.rlo[Reg.RSP] & ~0xffff) | (this.stackLo & 0xffff);
    }
  }

  // ---------------------------------------------------------------- EmuSystem: events and transfers

  deliverInterrupt(vector: number, kind: InterruptKind, hasError: boolean, errorCode: number): void {
    deliverInterrupt(this, vector, kind, hasError, errorCode);
  }

  loadSegment(seg: number, selector: number): void { loadSegment(this, seg, selector); }
  farJump(selector: number, offsetLo: number, offsetHi: number): void { farJump(this, selector, offsetLo, offsetHi); }
  farCall(selector: number, offsetLo: number, offsetHi: number, opSize: number): void {
    farCall(this, selector, offsetLo, offsetHi, opSize);
  }
  farReturn(opSize: number, popBytes: number): void { farReturn(this, opSize, popBytes); }
  iret(opSize: number): void {
    iret(this, opSize);
    this.nmiBlocked = false;
  }

  syscall(): void {
    const cpu = this.cpu;
    const m = this.msrs;
    if ((cpu.efer & EFER_SCE) === 0 || (cpu.cr0 & CR0_PE) === 0) raiseUd(cpu);
    const sel = m.starHi & 0xfffc;
    const flags = this.flags.getEflags();
    if ((cpu.efer & EFER_LMA) !== 0) {
      cpu.rlo[Reg.RCX] = cpu.ripLo;
      cpu.rhi[Reg.RCX] = cpu.ripHi;
      cpu.rlo[Reg.R11] = flags & ~Fl.RF;
      cpu.rhi[Reg.R11] = 0;
      const fromLong = cpu.mode === Mode.Long64;
      this.flags.setEflags(flags & ~m.sfmask & ~Fl.RF);
      setFlatSeg(cpu, Seg.CS, sel, 0xb, 0, true);
      setFlatSeg(cpu, Seg.SS, (sel + 8) & 0xffff, 0x3, 0, false);
      cpu.ripLo = fromLong ? m.lstarLo : m.cstarLo;
      cpu.ripHi = fromLong ? m.lstarHi : m.cstarHi;
    } else {
      cpu.rlo[Reg.RCX] = cpu.ripLo;
      this.flags.setEflags(flags & ~(Fl.IF | Fl.VM | Fl.RF));
      setFlatSeg(cpu, Seg.CS, sel, 0xb, 0, false);
      setFlatSeg(cpu, Seg.SS, (sel + 8) & 0xffff, 0x3, 0, false);
      cpu.ripLo = m.starLo;
      cpu.ripHi = 0;
    }
    this.setCpl(0);
  }

  sysret(opSize: number): void {
    const cpu = this.cpu;
    const m = this.msrs;
    if ((cpu.efer & EFER_SCE) === 0 || (cpu.cr0 & CR0_PE) === 0) raiseUd(cpu);
    if (cpu.cpl !== 0) raiseGp(cpu, 0);
    const sel = (m.starHi >>> 16) & 0xffff;
    const long = (cpu.efer & EFER_LMA) !== 0;
    if (opBytes(opSize) === 8) {
      const hi = cpu.rhi[Reg.RCX];
      if (((hi << 16) >> 16) !== hi) raiseGp(cpu, 0);
      setFlatSeg(cpu, Seg.CS, ((sel + 16) & 0xffff) | 3, 0xb, 3, true);
      cpu.ripLo = cpu.rlo[Reg.RCX];
      cpu.ripHi = hi;
    } else {
      setFlatSeg(cpu, Seg.CS, sel | 3, 0xb, 3, false);
      cpu.ripLo = cpu.rlo[Reg.RCX];
      cpu.ripHi = 0;
    }
    if (long) this.flags.setEflags((cpu.rlo[Reg.R11] & 0x3c7fd7) | 2);
    else cpu.eflagsRest |= Fl.IF;
    setFlatSeg(cpu, Seg.SS, ((sel + 8) & 0xffff) | 3, 0x3, 3, false);
    this.setCpl(3);
  }

  sysenter(): void {
    const cpu = this.cpu;
    const m = this.msrs;
    if ((cpu.cr0 & CR0_PE) === 0 || (m.sysenterCs & 0xfffc) === 0) raiseGp(cpu, 0);
    const long = (cpu.efer & EFER_LMA) !== 0;
    cpu.eflagsRest &= ~(Fl.VM | Fl.IF | Fl.RF);
    setFlatSeg(cpu, Seg.CS, m.sysenterCs & 0xfffc, 0xb, 0, long);
    setFlatSeg(cpu, Seg.SS, ((m.sysenterCs & 0xfffc) + 8) & 0xffff, 0x3, 0, false);
    cpu.rlo[Reg.RSP] = m.sysenterEspLo;
    cpu.rhi[Reg.RSP] = long ? m.sysenterEspHi : 0;
    cpu.ripLo = m.sysenterEipLo;
    cpu.ripHi = long ? m.sysenterEipHi : 0;
    this.setCpl(0);
  }

  sysexit(opSize: number): void {
    const cpu = this.cpu;
    const m = this.msrs;
    if ((cpu.cr0 & CR0_PE) === 0 || cpu.cpl !== 0 || (m.sysenterCs & 0xfffc) === 0) raiseGp(cpu, 0);
    const cs = m.sysenterCs & 0xfffc;
    if (opBytes(opSize) === 8) {
      setFlatSeg(cpu, Seg.CS, (cs + 32) | 3, 0xb, 3, true);
      setFlatSeg(cpu, Seg.SS, (cs + 40) | 3, 0x3, 3, false);
      cpu.ripLo = cpu.rlo[Reg.RDX]; cpu.ripHi = cpu.rhi[Reg.RDX];
      cpu.rlo[Reg.RSP] = cpu.rlo[Reg.RCX]; cpu.rhi[Reg.RSP] = cpu.rhi[Reg.RCX];
    } else {
      setFlatSeg(cpu, Seg.CS, (cs + 16) | 3, 0xb, 3, false);
      setFlatSeg(cpu, Seg.SS, (cs + 24) | 3, 0x3, 3, false);
      cpu.ripLo = cpu.rlo[Reg.RDX]; cpu.ripHi = 0;
      cpu.rlo[Reg.RSP] = cpu.rlo[Reg.RCX]; cpu.rhi[Reg.RSP] = 0;
    }
    this.setCpl(3);
  }

  swapgs(): void {
    const cpu = this.cpu;
    if (cpu.mode !== Mode.Long64) raiseUd(cpu);
    if (cpu.cpl !== 0) raiseGp(cpu, 0);
    const lo = cpu.segBaseLo[Seg.GS], hi = cpu.segBaseHi[Seg.GS];
    cpu.segBaseLo[Seg.GS] = cpu.kernelGsBaseLo;
    cpu.segBaseHi[Seg.GS] = cpu.kernelGsBaseHi;
    cpu.kernelGsBaseLo = lo;
    cpu.kernelGsBaseHi = hi;
  }

  // ---------------------------------------------------------------- control and debug registers

  private requireCpl0(): void {
    if (this.cpu.cpl !== 0) raiseGp(this.cpu, 0);
  }

  readCr(n: number): [number, number] {
    const cpu = this.cpu;
    this.requireCpl0();
    const r = this.pair;
    r[1] = 0;
    switch (n) {
      case 0: r[0] = cpu.cr0; break;
      case 2: r[0] = cpu.cr2Lo; r[1] = cpu.cr2Hi; break;
      case 3: r[0] = cpu.cr3Lo; r[1] = cpu.cr3Hi; break;
      case 4: r[0] = cpu.cr4; break;
      case 8: r[0] = cpu.cr8; break;
      default: raiseUd(cpu);
    }
    return r;
  }

  writeCr(n: number, lo: number, hi: number): void {
    const cpu = this.cpu;
    this.requireCpl0();
    switch (n) {
      case 0: return this.writeCr0(lo, hi);
      case 2: cpu.cr2Lo = lo; cpu.cr2Hi = cpu.mode === Mode.Long64 ? hi : 0; return;
      case 3: {
        if ((cpu.efer & EFER_LMA) !== 0) {
          if ((hi & ~0xff) !== 0) raiseGp(cpu, 0); // above MAXPHYADDR (no PCID no-flush bit)
          cpu.cr3Hi = hi;
        } else {
          cpu.cr3Hi = 0;
        }
        cpu.cr3Lo = lo;
        this.flushTlb((cpu.cr4 & CR4_PGE) !== 0);
        return;
      }
      case 4: return this.writeCr4(lo, hi);
      case 8:
        if (hi !== 0 || (lo & ~0xf) !== 0) raiseGp(cpu, 0);
        cpu.cr8 = lo;
        return;
      default: raiseUd(cpu);
    }
  }

  private writeCr0(lo: number, hi: number): void {
    const cpu = this.cpu;
    const CR0_NW = 1 << 29, CR0_CD = 1 << 30;
    // Defined bits: PE MP EM TS ET NE WP AM NW CD PG. Bits 63:32 must be 0; reserved low bits are ignored.
    if (hi !== 0) raiseGp(cpu, 0);
    lo &= 0xe005003f | 0;
    if ((lo & CR0_PG) !== 0 && (lo & CR0_PE) === 0) raiseGp(cpu, 0);
    if ((lo & CR0_NW) !== 0 && (lo & CR0_CD) === 0) raiseGp(cpu, 0);
    const old = cpu.cr0;
    const pgOn = (lo & CR0_PG) !== 0 && (old & CR0_PG) === 0;
    const pgOff = (lo & CR0_PG) === 0 && (old & CR0_PG) !== 0;
    if (pgOn && (cpu.efer & EFER_LME) !== 0) {
      if ((cpu.cr4 & CR4_PAE) === 0 || (cpu.segAttr[Seg.CS] & SegAttr.L) !== 0) raiseGp(cpu, 0);
      cpu.efer |= EFER_LMA;
    }
    if (pgOff && (cpu.efer & EFER_LMA) !== 0) {
      if (cpu.mode === Mode.Long64) raiseGp(cpu, 0);
      cpu.efer &= ~EFER_LMA;
    }
    cpu.cr0 = lo | 0x10; // ET is hardwired
    if (((old ^ lo) & (CR0_PG | CR0_WP | CR0_PE)) !== 0) this.flushTlb(false);
    this.updateMode();
  }

  private writeCr4(lo: number, hi: number): void {
    const cpu = this.cpu;
    // TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT; no VME/PVI/UMIP/LA57/VMXE/FSGSBASE/PCIDE/OSXSAVE/SMEP/SMAP/PKE.
    const allowed = 0x7fc;
    if (hi !== 0 || (lo & ~allowed) !== 0) raiseGp(cpu, 0);
    if ((cpu.efer & EFER_LMA) !== 0 && (lo & CR4_PAE) === 0) raiseGp(cpu, 0);
    const old = cpu.cr4;
    cpu.cr4 = lo;
    if (((old ^ lo) & (CR4_PSE | CR4_PAE | CR4_PGE)) !== 0) this.flushTlb(false);
  }

  /** wrmsr EFER (msr.ts). */
  writeEfer(lo: number, hi: number): boolean {
    const cpu = this.cpu;
    if (!eferWriteAllowed(cpu.cr0, cpu.efer, lo, hi)) return false;
    const old = cpu.efer;
    cpu.efer = (lo & ~EFER_LMA) | (old & EFER_LMA);
    if (((old ^ cpu.efer) & EFER_NXE) !== 0) this.flushTlb(false);
    return true;
  }

  readDr(n: number): number {
    const cpu = this.cpu;
    this.requireCpl0();
    if (n === 4 || n === 5) {
      if ((cpu.cr4 & (1 << 3)) !== 0) raiseUd(cpu);
      n += 2;
    }
    if (n === 6 && cpu.dr[6] === 0) return 0xffff0ff0;
    if (n === 7 && cpu.dr[7] === 0) return 0x400;
    return cpu.dr[n]!;
  }

  writeDr(n: number, v: number): void {
    const cpu = this.cpu;
    this.requireCpl0();
    if (n === 4 || n === 5) {
      if ((cpu.cr4 & (1 << 3)) !== 0) raiseUd(cpu);
      n += 2;
    }
    if (n === 6) v = (v | 0xffff0ff0) >>> 0;
    if (n === 7) v = ((v | 0x400) & ~0x1000) >>> 0; // hardware breakpoints are stored, never triggered
    cpu.dr[n] = v;
  }

  // ---------------------------------------------------------------- MSRs, CPUID, TSC

  rdmsr(index: number): [number, number] {
    this.requireCpl0();
    if (!readMsr(this, index)) raiseGp(this.cpu, 0);
    this.pair[0] = this.msrLo;
    this.pair[1] = this.msrHi;
    return this.pair;
  }

  wrmsr(index: number, lo: number, hi: number): void {
    this.requireCpl0();
    if (!writeMsr(this, index, lo | 0, hi | 0)) raiseGp(this.cpu, 0);
  }

  /** Fills the Xen hypercall page named by an MSR 0x40000000 write. */
  installHypercallPage(value: bigint): boolean {
    if (this.opts.hypercallPage !== undefined) return this.opts.hypercallPage(value);
    const index = Number(value & 0xfffn);
    const gpa = Number(value & ~0xfffn);
    if (index !== 0 || !this.isRam(gpa) || gpa + 4096 > this.ramEnd) return false;
    fillHypercallPage(this.bytes.subarray(gpa, gpa + 4096));
    const ppn = gpa / 4096;
    if (this.codePages[ppn] !== 0) this.codePageWritten(ppn, 0, 4096);
    return true;
  }

  cpuid(leaf: number, subleaf: number): [number, number, number, number] {
    return this.cpuidModel.query(leaf, subleaf);
  }

  rdtsc(): [number, number] {
    const cpu = this.cpu;
    if ((cpu.cr4 & (1 << 2)) !== 0 && cpu.cpl !== 0 && (cpu.cr0 & CR0_PE) !== 0) raiseGp(cpu, 0);
    this.tsc.read();
    this.pair[0] = this.tsc.lo;
    this.pair[1] = this.tsc.hi;
    return this.pair;
  }

  invlpg(lo: number, hi: number): void {
    this.requireCpl0();
    this.invalidatePage(lo, hi);
  }

  // ---------------------------------------------------------------- descriptor tables

  private readTableRegister(lo: number, hi: number, opSize: number): void {
    const cpu = this.cpu;
    const limit = this.readLin16(lo, hi);
    const bLo = this.sysAddrLinear(lo, hi, 2);
    const bHi = this.linHi;
    let baseLo: number, baseHi = 0;
    if (cpu.mode === Mode.Long64) {
      baseLo = this.readLin64(bLo, bHi);
      baseHi = this.hiResult;
    } else {
      baseLo = this.readLin32(bLo, bHi);
      if (opBytes(opSize) === 2) baseLo &= 0xffffff;
    }
    this.pair[0] = baseLo;
    this.pair[1] = baseHi;
    this.descLo = limit;
  }

  /** lo/hi + off as a linear address of the current mode (wraps at 4 GiB outside 64-bit mode). */
  private sysAddrLinear(lo: number, hi: number, off: number): number {
    const sum = (lo >>> 0) + off;
    if (this.cpu.mode !== Mode.Long64) {
      this.linHi = 0;
      return sum | 0;
    }
    this.linHi = sum >= TWO32 ? (hi + 1) | 0 : hi;
    return sum | 0;
  }

  lgdt(lo: number, hi: number, opSize: number): void {
    this.requireCpl0();
    this.readTableRegister(lo, hi, opSize);
    const cpu = this.cpu;
    cpu.gdtrLimit = this.descLo;
    cpu.gdtrBaseLo = this.pair[0];
    cpu.gdtrBaseHi = this.pair[1];
  }

  lidt(lo: number, hi: number, opSize: number): void {
    this.requireCpl0();
    this.readTableRegister(lo, hi, opSize);
    const cpu = this.cpu;
    cpu.idtrLimit = this.descLo;
    cpu.idtrBaseLo = this.pair[0];
    cpu.idtrBaseHi = this.pair[1];
  }

  private storeTableRegister(lo: number, hi: number, limit: number, baseLo: number, baseHi: number): void {
    this.writeLin16(lo, hi, limit);
    const bLo = this.sysAddrLinear(lo, hi, 2);
    if (this.cpu.mode === Mode.Long64) this.writeLin64(bLo, this.linHi, baseLo, baseHi);
    else this.writeLin32(bLo, this.linHi, baseLo);
  }

  sgdt(lo: number, hi: number): void {
    const cpu = this.cpu;
    this.storeTableRegister(lo, hi, cpu.gdtrLimit, cpu.gdtrBaseLo, cpu.gdtrBaseHi);
  }

  sidt(lo: number, hi: number): void {
    const cpu = this.cpu;
    this.storeTableRegister(lo, hi, cpu.idtrLimit, cpu.idtrBaseLo, cpu.idtrBaseHi);
  }

  lldt(selector: number): void {
    const cpu = this.cpu;
    if ((cpu.cr0 & CR0_PE) === 0) raiseUd(cpu);
    this.requireCpl0();
    if ((selector & 0xfffc) === 0) {
      setNullSeg(cpu, Seg.LDTR, 0);
      return;
    }
    if ((selector & 4) !== 0) raiseGp(cpu, selector & 0xfffc);
    const wide = (cpu.efer & EFER_LMA) !== 0;
    readDescriptor(this, selector, wide);
    const dhi = this.descHi;
    if (((dhi >>> 8) & 0x1f) !== 2) raiseGp(cpu, selector & 0xfffc);
    if ((dhi & 0x8000) === 0) raise(cpu, Vec.NP, true, selector & 0xfffc);
    setSegFromDescriptor(cpu, Seg.LDTR, selector, this.descLo, dhi);
    cpu.segBaseHi[Seg.LDTR] = wide ? this.descHi2 : 0;
  }

  ltr(selector: number): void {
    const cpu = this.cpu;
    if ((cpu.cr0 & CR0_PE) === 0) raiseUd(cpu);
    this.requireCpl0();
    if ((selector & 0xfffc) === 0 || (selector & 4) !== 0) raiseGp(cpu, selector & 0xfffc);
    const wide = (cpu.efer & EFER_LMA) !== 0;
    readDescriptor(this, selector, wide);
    const dhi = this.descHi;
    const type = (dhi >>> 8) & 0x1f;
    if (type !== 9 && !(type === 1 && !wide)) raiseGp(cpu, selector & 0xfffc);
    if ((dhi & 0x8000) === 0) raise(cpu, Vec.NP, true, selector & 0xfffc);
    this.descHi = dhi | 0x200; // busy
    this.sysWrite32(this.sysAddr(this.descAddrLo, this.descAddrHi, 4), this.linHi, this.descHi);
    setSegFromDescriptor(cpu, Seg.TR, selector, this.descLo, this.descHi);
    cpu.segBaseHi[Seg.TR] = wide ? this.descHi2 : 0;
  }

  // ---------------------------------------------------------------- I/O, hypercalls, halt, interrupts

  private checkIoPermission(port: number, size: number): void {
    const cpu = this.cpu;
    if ((cpu.cr0 & CR0_PE) === 0) return;
    const iopl = (cpu.eflagsRest >>> 12) & 3;
    if (cpu.cpl <= iopl && (cpu.eflagsRest & Fl.VM) === 0) return;
    // TSS I/O permission bitmap (32/64-bit TSS only).
    const type = cpu.segAttr[Seg.TR] & 0xf;
    if ((type & 8) === 0 || (cpu.segLimit[Seg.TR] >>> 0) < 0x67) raiseGp(cpu, 0);
    const mapBase = this.readTss(0x66, 2);
    const off = mapBase + (port >>> 3);
    if (off + 1 > (cpu.segLimit[Seg.TR] >>> 0)) raiseGp(cpu, 0);
    const bits = this.readTss(off, 2);
    if ((bits & (((1 << size) - 1) << (port & 7))) !== 0) raiseGp(cpu, 0);
  }

  portIn(port: number, size: 1 | 2 | 4): number {
    this.checkIoPermission(port & 0xffff, size);
    return this.io.pioRead(port & 0xffff, size);
  }

  portOut(port: number, size: 1 | 2 | 4, v: number): void {
    this.checkIoPermission(port & 0xffff, size);
    this.io.pioWrite(port & 0xffff, size, size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff));
  }

  /** vmcall/vmmcall: a Xen hypercall (rip already past the instruction). CPL > 0 gets -EPERM as in Xen. */
  hypercall(): void {
    const cpu = this.cpu;
    const r = cpu.rlo, h = cpu.rhi;
    if (cpu.cpl !== 0 || (cpu.cr0 & CR0_PE) === 0) {
      r[Reg.RAX] = -1;
      h[Reg.RAX] = cpu.mode === Mode.Long64 ? -1 : 0;
      return;
    }
    const long = cpu.mode === Mode.Long64;
    const args: [bigint, bigint, bigint, bigint, bigint] = long
      ? [u64(r[Reg.RDI], h[Reg.RDI]), u64(r[Reg.RSI], h[Reg.RSI]), u64(r[Reg.RDX], h[Reg.RDX]),
        u64(r[Reg.R10], h[Reg.R10]), u64(r[Reg.R8], h[Reg.R8])]
      : [BigInt(r[Reg.RBX] >>> 0), BigInt(r[Reg.RCX] >>> 0), BigInt(r[Reg.RDX] >>> 0), BigInt(r[Reg.RSI] >>> 0),
        BigInt(r[Reg.RDI] >>> 0)];
    const req: HypercallRequest = { vcpuId: cpu.vcpuId, nr: r[Reg.RAX] >>> 0, args, longMode: long };
    const ret = this.io.hypercall(req, this.guestMemory);
    r[Reg.RAX] = Number(BigInt.asIntN(32, ret));
    h[Reg.RAX] = long ? Number(BigInt.asIntN(32, ret >> 32n)) : 0;
  }

  hlt(): void {
    const cpu = this.cpu;
    if (cpu.cpl !== 0 && (cpu.cr0 & CR0_PE) !== 0) raiseGp(cpu, 0);
    cpu.halted = true;
  }

  /** Raises NMI (LAPIC delivery mode NMI): delivered through vector 2 at the next serviceInterrupts(), then
   * blocked until the next iret. (The core polls only while IF is set, so an NMI waits for IF=1 here.) */
  nmi(): void {
    this.nmiPending = true;
    this.cpu.halted = false;
  }

  serviceInterrupts(): boolean {
    const cpu = this.cpu;
    if (this.nmiPending && !this.nmiBlocked && !cpu.interruptShadow && !this.tripleFaulted) {
      this.nmiPending = false;
      this.nmiBlocked = true;
      cpu.halted = false;
      this.deliverInterrupt(Vec.NMI, "external", false, 0);
      return true;
    }
    if ((cpu.eflagsRest & Fl.IF) === 0 || cpu.interruptShadow || this.tripleFaulted) return false;
    if (!this.interrupts.hasPendingInterrupt()) return false;
    const vector = this.interrupts.acknowledge();
    cpu.halted = false;
    this.deliverInterrupt(vector, "external", false, 0);
    return true;
  }

  instructionBudget(): number {
    if (this.cpu.halted) return 0;
    return this.opts.budget !== undefined ? this.opts.budget() : 20000;
  }
}

/** Default hypercall page: stub i at i*32 = `mov $i,%eax; vmcall; ret`, int3 elsewhere. */
export function fillHypercallPage(page: Uint8Array): void {
  page.fill(0xcc);
  for (let i = 0; i < 128; i++) {
    const o = i * 32;
    page.set([0xb8, i & 0xff, (i >> 8) & 0xff, 0, 0, 0x0f, 0x01, 0xc1, 0xc3], o);
  }
}

export { Access };
