// Test-only: a small x86-64 machine for the system side's unit tests (not used by production code).
// Golden structures built by hand: Linux-like GDT (SDM vol. 3 §3.4.5 descriptor format, §7.7 64-bit TSS),
// 64-bit IDT gates (§6.14.1), identity-mapped 2 MiB pages plus a high kernel mapping.

import type { CpuIo, GuestRam, GuestVirtualMemory, HypercallRequest } from "../../hv/ports.ts";
import { CpuState, Reg, Seg } from "./cpu_state.ts";
import { setSegFromDescriptor } from "./segments.ts";
import { type InterruptController, X86System, type X86SystemOptions } from "./system.ts";

export const GDT = 0x1000, IDT = 0x2000, TSS = 0x3000, PML4 = 0x10000;
export const KSTACK = 0x8000, RSP0 = 0x9000, IST1 = 0xa000;
export const SEL = { KCODE32: 0x08, KCODE: 0x10, KDATA: 0x18, UCODE32: 0x23, UDATA: 0x2b, UCODE: 0x33, TSS: 0x40, CODE16: 0x50, DATA16: 0x58 };

export class FakeIo implements CpuIo {
  readonly log: string[] = [];
  hypercalls: HypercallRequest[] = [];
  hypercallResult = 0n;
  lastMem: GuestVirtualMemory | undefined;
  pioRead(port: number, size: number): number { this.log.push(`in${size} ${port.toString(16)}`); return 0x5a; }
  pioWrite(port: number, size: number, v: number): void { this.log.push(`out${size} ${port.toString(16)}=${v.toString(16)}`); }
  mmioRead(gpa: number, size: number): number { this.log.push(`mr${size} ${gpa.toString(16)}`); return 0; }
  mmioWrite(gpa: number, size: number, v: number): void { this.log.push(`mw${size} ${gpa.toString(16)}=${v.toString(16)}`); }
  hypercall(req: HypercallRequest, mem: GuestVirtualMemory): bigint {
    this.hypercalls.push(req);
    this.lastMem = mem;
    return this.hypercallResult;
  }
}

export class FakeInterrupts implements InterruptController {
  pending: number[] = [];
  hasPendingInterrupt(): boolean { return this.pending.length > 0; }
  acknowledge(): number { return this.pending.shift() ?? 0xff; }
}

export interface Machine {
  cpu: CpuState;
  sys: X86System;
  ram: GuestRam;
  dv: DataView;
  io: FakeIo;
  irq: FakeInterrupts;
  clock: { t: number; nowNs(): number };
  tripleFaults: string[];
  logs: string[];
}

/** regs: storage for the GPRs (CpuState's constructor). */
export function makeMachine(extra: Partial<X86SystemOptions> = {}, regs?: Int32Array): Machine {
  const cpu = new CpuState(0, regs);
  const ram: GuestRam = extra.ram ?? { bytes: new Uint8Array(32 << 20), sizeBytes: 32 << 20 };
  const io = new FakeIo();
  const irq = new FakeInterrupts();
  const clock = { t: 1_000_000, nowNs() { return this.t; } };
  const tripleFaults: string[] = [];
  const logs: string[] = [];
  const sys = new X86System(cpu, {
    ram, io, interrupts: irq, clock, log: (l) => logs.push(l), tripleFault: (w) => tripleFaults.push(w), ...extra,
  });
  return { cpu, sys, ram, dv: new DataView(ram.bytes.buffer), io, irq, clock, tripleFaults, logs };
}

export function put64(dv: DataView, addr: number, lo: number, hi = 0): void {
  dv.setUint32(addr, lo >>> 0, true);
  dv.setUint32(addr + 4, hi >>> 0, true);
}

/** Segment descriptor (dword pair) from base, limit (20 bits), access byte and flags nibble (G D/B L AVL). */
export function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo | 0, hi | 0];
}

export function writeGdt(dv: DataView): void {
  const set = (sel: number, d: [number, number]) => put64(dv, GDT + (sel & ~7), d[0], d[1]);
  set(SEL.KCODE32, descriptor(0, 0xfffff, 0x9b, 0xc));
  set(SEL.KCODE, descriptor(0, 0xfffff, 0x9b, 0xa));
  set(SEL.KDATA, descriptor(0, 0xfffff, 0x93, 0xc));
  set(SEL.UCODE32, descriptor(0, 0xfffff, 0xfb, 0xc));
  set(SEL.UDATA, descriptor(0, 0xfffff, 0xf3, 0xc));
  set(SEL.UCODE, descriptor(0, 0xfffff, 0xfb, 0xa));
  set(SEL.TSS, descriptor(TSS, 0x67, 0x89, 0));
  put64(dv, GDT + SEL.TSS + 8, 0, 0); // base 63:32
  set(SEL.CODE16, descriptor(0, 0xffff, 0x9b, 0));
  set(SEL.DATA16, descriptor(0, 0xffff, 0x93, 0));
}

/** 64-bit interrupt/trap gate. */
export function writeGate64(dv: DataView, vector: number, offLo: number, offHi: number, opts: { sel?: number; ist?: number; dpl?: number; trap?: boolean; present?: boolean } = {}): void {
  const a = IDT + vector * 16;
  const sel = opts.sel ?? SEL.KCODE;
  dv.setUint32(a, ((sel << 16) | (offLo & 0xffff)) >>> 0, true);
  const type = opts.trap ? 0xf : 0xe;
  dv.setUint32(a + 4, ((offLo & 0xffff0000) | ((opts.present ?? true) ? 0x8000 : 0) | ((opts.dpl ?? 0) << 13) | (type << 8) | (opts.ist ?? 0)) >>> 0, true);
  dv.setUint32(a + 8, offHi >>> 0, true);
  dv.setUint32(a + 12, 0, true);
}

/** Identity map of the first 32 MiB (2 MiB user pages) and 0xffffffff80000000 -> 0 (supervisor, global). */
export function writePageTables(dv: DataView): void {
  put64(dv, PML4, 0x11000 | 7);
  put64(dv, 0x11000, 0x12000 | 7);
  for (let i = 0; i < 16; i++) put64(dv, 0x12000 + i * 8, (i << 21) | 0x87);
  put64(dv, PML4 + 511 * 8, 0x13000 | 3);
  put64(dv, 0x13000 + 510 * 8, 0x14000 | 3);
  for (let i = 0; i < 16; i++) put64(dv, 0x14000 + i * 8, (i << 21) | 0x183);
}

/** Puts the machine straight into 64-bit mode at CPL 0 (GDT, IDT, TSS with RSP0/IST1, paging). */
export function enterLongMode(m: Machine): void {
  const { cpu, sys, dv } = m;
  writeGdt(dv);
  writePageTables(dv);
  put64(dv, TSS + 4, RSP0);  // rsp0
  put64(dv, TSS + 0x24, IST1); // ist1
  dv.setUint16(TSS + 0x66, 0x68, true); // I/O map base = limit + 1: no bitmap
  cpu.gdtrBaseLo = GDT; cpu.gdtrLimit = 0x5f;
  cpu.idtrBaseLo = IDT; cpu.idtrLimit = 256 * 16 - 1;
  cpu.cr3Lo = PML4;
  cpu.cr4 = 0x20 | 0x80 | 0x200 | 0x400;
  cpu.efer = 0xd01;
  cpu.cr0 = 0x80050033 | 0;
  const [clo, chi] = descriptor(0, 0xfffff, 0x9b, 0xa);
  setSegFromDescriptor(cpu, Seg.CS, SEL.KCODE, clo, chi);
  cpu.cpl = 0;
  sys.updateMode();
  sys.flushTlb(false);
  sys.loadSegment(Seg.SS, SEL.KDATA);
  sys.loadSegment(Seg.DS, SEL.KDATA);
  sys.loadSegment(Seg.ES, SEL.KDATA);
  sys.ltr(SEL.TSS);
  cpu.rlo[Reg.RSP] = KSTACK;
  cpu.rhi[Reg.RSP] = 0;
}

/** Reads qwords from a physical address (tests). */
export function qwords(dv: DataView, addr: number, n: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(dv.getBigUint64(addr + 8 * i, true));
  return out;
}
