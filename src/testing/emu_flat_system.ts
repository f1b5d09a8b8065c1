// Test double for the emu core: a flat EmuSystem (linear = physical) over one Uint8Array. Out-of-range
// accesses raise #PF (with CR2 and a not-present error code). Ports, MSRs and CPUID are simple tables;
// interrupts/exceptions are recorded (and optionally delivered through a real-mode IVT or a 64-bit IDT
// by the hooks given); far transfers and descriptor loads only cover flat segments.

import { type CpuState, type EmuSystem, FAULT } from "../accel/emu/cpu_state.ts";

export interface DeliveredEvent { vector: number; kind: "exception" | "external" | "software"; hasError: boolean; errorCode: number; ripLo: number }

export class FlatEmuSystem implements EmuSystem {
  readonly ram: Uint8Array;
  private readonly dv: DataView;
  hiResult = 0;
  readonly events: DeliveredEvent[] = [];
  readonly portWrites: Array<[number, number, number]> = [];
  portInValue = 0xff;
  msrs = new Map<number, [number, number]>();
  tsc = 0;
  hypercalls = 0;
  /** Pending external interrupt vector (-1 none), delivered by serviceInterrupts. */
  pendingIrq = -1;
  /** When set, deliverInterrupt also stops the CPU (tests inspect state right at the fault). */
  stopOnEvent = true;

  constructor(readonly cpu: CpuState, size: number) {
    this.ram = new Uint8Array(size);
    this.dv = new DataView(this.ram.buffer);
  }

  private pf(lo: number, hi: number, write: boolean): never {
    const c = this.cpu;
    c.cr2Lo = lo; c.cr2Hi = hi;
    c.faultVector = 14; c.faultHasError = true; c.faultErrorCode = write ? 2 : 0;
    throw FAULT;
  }
  private addr(lo: number, hi: number, n: number, write: boolean): number {
    const a = lo >>> 0;
    if (hi !== 0 || a + n > this.ram.length) this.pf(lo, hi, write);
    return a;
  }

  readLin8(lo: number, hi: number): number { return this.ram[this.addr(lo, hi, 1, false)]; }
  readLin16(lo: number, hi: number): number { return this.dv.getUint16(this.addr(lo, hi, 2, false), true); }
  readLin32(lo: number, hi: number): number { return this.dv.getInt32(this.addr(lo, hi, 4, false), true); }
  readLin64(lo: number, hi: number): number {
    const a = this.addr(lo, hi, 8, false);
    this.hiResult = this.dv.getInt32(a + 4, true);
    return this.dv.getInt32(a, true);
  }
  writeLin8(lo: number, hi: number, v: number): void { this.ram[this.addr(lo, hi, 1, true)] = v; }
  writeLin16(lo: number, hi: number, v: number): void { this.dv.setUint16(this.addr(lo, hi, 2, true), v, true); }
  writeLin32(lo: number, hi: number, v: number): void { this.dv.setInt32(this.addr(lo, hi, 4, true), v, true); }
  writeLin64(lo: number, hi: number, vLo: number, vHi: number): void {
    const a = this.addr(lo, hi, 8, true);
    this.dv.setInt32(a, vLo, true);
    this.dv.setInt32(a + 4, vHi, true);
  }
  fetch8(lo: number, hi: number): number { return this.ram[this.addr(lo, hi, 1, false)]; }
  fetchPage(lo: number, hi: number): number {
    const a = lo >>> 0;
    if (hi !== 0 || a >= this.ram.length) this.pf(lo, hi, false);
    return a & ~0xfff;
  }
  dataPage(lo: number, hi: number, write: boolean): number {
    const a = lo >>> 0;
    if (hi !== 0 || a >= this.ram.length) this.pf(lo, hi, write);
    return a & ~0xfff;
  }

  deliverInterrupt(vector: number, kind: "exception" | "external" | "software", hasError: boolean, errorCode: number): void {
    this.events.push({ vector, kind, hasError, errorCode, ripLo: this.cpu.ripLo });
    if (this.stopOnEvent) this.cpu.stopRequest = true;
  }

  loadSegment(seg: number, selector: number): void {
    const c = this.cpu;
    c.segSel[seg] = selector;
    if ((c.cr0 & 1) === 0) { c.segBaseLo[seg] = selector << 4; c.segBaseHi[seg] = 0; }
  }
  farJump(selector: number, offsetLo: number, offsetHi: number): void {
    const c = this.cpu;
    c.segSel[1] = selector;
    if ((c.cr0 & 1) === 0) c.segBaseLo[1] = selector << 4;
    c.ripLo = offsetLo; c.ripHi = offsetHi;
  }
  farCall(): void { throw new Error("farCall not modelled by FlatEmuSystem"); }
  farReturn(): void { throw new Error("farReturn not modelled by FlatEmuSystem"); }
  iret(): void { throw new Error("iret not modelled by FlatEmuSystem"); }
  syscall(): void { throw new Error("syscall not modelled by FlatEmuSystem"); }
  sysret(): void { throw new Error("sysret not modelled by FlatEmuSystem"); }
  sysenter(): void { throw new Error("sysenter not modelled"); }
  sysexit(): void { throw new Error("sysexit not modelled"); }
  swapgs(): void {
    const c = this.cpu;
    const lo = c.segBaseLo[5], hi = c.segBaseHi[5];
    c.segBaseLo[5] = c.kernelGsBaseLo; c.segBaseHi[5] = c.kernelGsBaseHi;
    c.kernelGsBaseLo = lo; c.kernelGsBaseHi = hi;
  }
  readCr(n: number): [number, number] {
    const c = this.cpu;
    switch (n) {
      case 0: return [c.cr0, 0];
      case 2: return [c.cr2Lo, c.cr2Hi];
      case 3: return [c.cr3Lo, c.cr3Hi];
      case 4: return [c.cr4, 0];
      default: return [c.cr8, 0];
    }
  }
  writeCr(n: number, lo: number, hi: number): void {
    const c = this.cpu;
    switch (n) {
      case 0: c.cr0 = lo; break;
      case 2: c.cr2Lo = lo; c.cr2Hi = hi; break;
      case 3: c.cr3Lo = lo; c.cr3Hi = hi; break;
      case 4: c.cr4 = lo; break;
      default: c.cr8 = lo & 15;
    }
    c.tlbGen++;
  }
  readDr(n: number): number { return this.cpu.dr[n]; }
  writeDr(n: number, v: number): void { this.cpu.dr[n] = v; }
  rdmsr(index: number): [number, number] { return this.msrs.get(index >>> 0) ?? [0, 0]; }
  wrmsr(index: number, lo: number, hi: number): void { this.msrs.set(index >>> 0, [lo, hi]); }
  cpuid(leaf: number, subleaf: number): [number, number, number, number] {
    if (leaf === 0) return [1, 0x68747541, 0x444d4163, 0x69746e65]; // AuthenticAMD
    return [leaf, subleaf, 0, 0];
  }
  rdtsc(): [number, number] { this.tsc += 1000; return [this.tsc | 0, Math.floor(this.tsc / 4294967296)]; }
  invlpg(): void { this.cpu.tlbGen++; }
  lgdt(lo: number, hi: number, opSize: number): void {
    const c = this.cpu;
    c.gdtrLimit = this.readLin16(lo, hi);
    c.gdtrBaseLo = this.readLin32(lo + 2, hi);
    c.gdtrBaseHi = opSize === 8 || c.mode === 5 ? this.readLin32(lo + 6, hi) : 0;
  }
  lidt(lo: number, hi: number, opSize: number): void {
    const c = this.cpu;
    c.idtrLimit = this.readLin16(lo, hi);
    c.idtrBaseLo = this.readLin32(lo + 2, hi);
    c.idtrBaseHi = opSize === 8 || c.mode === 5 ? this.readLin32(lo + 6, hi) : 0;
  }
  sgdt(lo: number, hi: number): void {
    const c = this.cpu;
    this.writeLin16(lo, hi, c.gdtrLimit); this.writeLin32(lo + 2, hi, c.gdtrBaseLo); this.writeLin32(lo + 6, hi, c.gdtrBaseHi);
  }
  sidt(lo: number, hi: number): void {
    const c = this.cpu;
    this.writeLin16(lo, hi, c.idtrLimit); this.writeLin32(lo + 2, hi, c.idtrBaseLo); this.writeLin32(lo + 6, hi, c.idtrBaseHi);
  }
  lldt(selector: number): void { this.cpu.segSel[6] = selector; }
  ltr(selector: number): void { this.cpu.segSel[7] = selector; }
  portIn(): number { return this.portInValue; }
  portOut(port: number, size: 1 | 2 | 4, v: number): void { this.portWrites.push([port, size, v]); }
  hypercall(): void { this.hypercalls++; }
  hlt(): void { this.cpu.halted = true; }
  serviceInterrupts(): boolean {
    if (this.pendingIrq < 0) return false;
    const v = this.pendingIrq;
    this.pendingIrq = -1;
    this.deliverInterrupt(v, "external", false, 0);
    return true;
  }
  instructionBudget(): number { return 1_000_000; }
}

/** Puts the CPU state in flat 64-bit long mode, CPL 0 (what the system side's mode switch would do). */
export function setFlat64(c: CpuState): void {
  c.mode = 5; c.cpl = 0; c.defaultAddrSize = 64; c.defaultOpSize = 32;
  c.cr0 = 0x80000011; c.cr4 = 0x20 | 0x200; c.efer = 0x500;
  for (let s = 0; s < 6; s++) { c.segBaseLo[s] = 0; c.segBaseHi[s] = 0; c.segLimit[s] = -1; }
  c.segAttr[1] = (1 << 13) | 0x9b | (1 << 15);
  c.segAttr[2] = 0x93 | (1 << 14) | (1 << 15);
  c.ripLo = 0; c.ripHi = 0;
}

/** Flat 32-bit protected mode, CPL 0. */
export function setFlat32(c: CpuState): void {
  c.mode = 2; c.cpl = 0; c.defaultAddrSize = 32; c.defaultOpSize = 32;
  c.cr0 = 0x11;
  for (let s = 0; s < 6; s++) { c.segBaseLo[s] = 0; c.segBaseHi[s] = 0; c.segLimit[s] = -1; }
  c.segAttr[1] = 0x9b | (1 << 14) | (1 << 15);
  c.segAttr[2] = 0x93 | (1 << 14) | (1 << 15);
}

/** Real mode with all segment selectors 0 (bases 0, limits 0xffff). */
export function setReal(c: CpuState): void {
  c.mode = 0; c.cpl = 0; c.defaultAddrSize = 16; c.defaultOpSize = 16;
  c.cr0 = 0x60000010;
  for (let s = 0; s < 6; s++) { c.segSel[s] = 0; c.segBaseLo[s] = 0; c.segBaseHi[s] = 0; c.segLimit[s] = 0xffff; }
  c.segAttr[2] = 0x93;
}
