// Emu runner: the same batch program and memory image on the emu core, 64-bit mode at CPL 3 with IOPL 3.
// Two system sides:
//  - "paged" (default): the real X86System — the page tables, GDT, TSS and IDT of the image, user-mode
//    paging checks, exceptions delivered through the IDT to the ring-0 stubs exactly as on KVM;
//  - "flat": the FlatEmuSystem test double (linear = physical, exceptions recorded, no paging).
// Exceptions are recorded per sequence and the run restarts at the next sequence, as the native runner does.
import { CpuState, Seg } from "../../src/accel/emu/cpu_state.ts";
import { EmuCpu } from "../../src/accel/emu/cpu.ts";
import { setSegFromDescriptor } from "../../src/accel/emu/segments.ts";
import { X86System } from "../../src/accel/emu/system.ts";
import type { EmuSystem } from "../../src/accel/emu/cpu_state.ts";
import { FlatEmuSystem, setFlat64 } from "../../src/testing/emu_flat_system.ts";
import * as L from "./layout.ts";
import { readFaultInfo, type AssembledBatch } from "./program.ts";
import type { BatchRun, SeqFault } from "./kvm_runner.ts";

export type EmuSystemKind = "paged" | "flat";

class FlatDiffSystem extends FlatEmuSystem {
  exited = false;
  override portOut(port: number, size: 1 | 2 | 4, v: number): void {
    super.portOut(port, size, v);
    if (port === L.EXIT_PORT) {
      this.exited = true;
      this.cpu.stopRequest = true;
    }
  }
}

export class EmuRunner {
  readonly state = new CpuState(0);
  readonly ram: Uint8Array;
  readonly cpu: EmuCpu;
  readonly sys: EmuSystem;
  /** Unimplemented opcodes the core reported. */
  readonly unknownOpcodes: string[] = [];
  private lastPort = -1;
  private lastValue = 0;

  constructor(readonly kind: EmuSystemKind = "paged") {
    const onUnknownOpcode = (bytes: string, rip: string): void => { this.unknownOpcodes.push(`${bytes} at ${rip}`); };
    if (kind === "flat") {
      const sys = new FlatDiffSystem(this.state, L.RAM_BYTES);
      this.sys = sys;
      this.ram = sys.ram;
    } else {
      this.ram = new Uint8Array(L.RAM_BYTES);
      let cpu: EmuCpu | undefined;
      const state = this.state;
      this.sys = new X86System(state, {
        ram: { bytes: this.ram, sizeBytes: L.RAM_BYTES },
        io: {
          pioRead: () => 0xff,
          pioWrite: (port, _size, v) => {
            this.lastPort = port;
            this.lastValue = v;
            if (port === L.EXIT_PORT || port === L.FAULT_PORT) state.stopRequest = true;
          },
          mmioRead: () => 0xff,
          mmioWrite: () => {},
          hypercall: () => -38n,
        },
        interrupts: { hasPendingInterrupt: () => false, acknowledge: () => 0xff },
        clock: { nowNs: () => performance.now() * 1e6 },
        log: () => {},
        tripleFault: () => {},
        flags: { getEflags: () => cpu!.getEflags(), setEflags: (v) => cpu!.setEflags(v) },
        cpuid: { xen: false },
      });
      this.cpu = cpu = new EmuCpu(state, this.sys, { onUnknownOpcode });
      return;
    }
    this.cpu = new EmuCpu(this.state, this.sys, { onUnknownOpcode });
  }

  private enterRing3(rip: number): void {
    const c = this.state;
    c.rlo.fill(0); c.rhi.fill(0);
    c.halted = false;
    c.tripleFault = false;
    if (this.kind === "flat") {
      setFlat64(c);
      c.cpl = 3;
      c.segSel[Seg.CS] = L.SEL.UCODE; c.segSel[Seg.SS] = L.SEL.UDATA;
      c.segAttr[Seg.CS] |= 3 << 5;
      c.segAttr[Seg.SS] |= 3 << 5;
      c.cr0 = 0x80010033; c.cr4 = 0x620; c.efer = 0x501;
      (this.sys as FlatDiffSystem).exited = false;
      (this.sys as FlatDiffSystem).events.length = 0;
    } else {
      const sys = this.sys as X86System;
      c.gdtrBaseLo = L.GDT; c.gdtrBaseHi = 0; c.gdtrLimit = L.GDT_LIMIT;
      c.idtrBaseLo = L.IDT; c.idtrBaseHi = 0; c.idtrLimit = 32 * 16 - 1;
      c.cr3Lo = L.PML4; c.cr3Hi = 0;
      c.cr4 = 0x620;
      c.efer = 0x501;
      c.cr0 = 0x80010033 | 0;
      const dv = new DataView(this.ram.buffer);
      const d = L.GDT + (L.SEL.UCODE & ~7);
      setSegFromDescriptor(c, Seg.CS, L.SEL.UCODE, dv.getUint32(d, true), dv.getUint32(d + 4, true));
      c.cpl = 0;
      sys.updateMode();
      sys.flushTlb(false);
      // ltr marks the descriptor busy: start from an available one each time.
      this.ram[L.GDT + L.SEL.TSS + 5] = 0x89;
      sys.ltr(L.SEL.TSS);
      sys.setCpl(3);
      sys.loadSegment(Seg.SS, L.SEL.UDATA);
      for (const s of [Seg.DS, Seg.ES, Seg.FS, Seg.GS]) sys.loadSegment(s, 0);
      this.lastPort = -1;
    }
    c.ripLo = rip; c.ripHi = 0;
    c.rlo[4] = L.SCRATCH;
    this.cpu.setEflags(0x3002);
    c.tlbGen++;
    this.cpu.flushCodeCache();
  }

  /** After run() returned: "exit", a fault (vector, rip) or null to keep running. */
  private stopReason(): { exit: true } | { vector: number; rip: bigint; errorCode?: number; cr2?: bigint; regs?: bigint[] } | null {
    if (this.kind === "flat") {
      const sys = this.sys as FlatDiffSystem;
      if (sys.exited) return { exit: true };
      const ev = sys.events[0];
      if (ev) {
        return {
          vector: ev.vector, rip: BigInt(this.state.ripLo >>> 0), errorCode: ev.hasError ? ev.errorCode : undefined,
          cr2: ev.vector === 14 ? BigInt(this.state.cr2Lo >>> 0) + (BigInt(this.state.cr2Hi >>> 0) << 32n) : undefined,
        };
      }
      return null;
    }
    if (this.lastPort === L.EXIT_PORT) return { exit: true };
    if (this.lastPort === L.FAULT_PORT) return { vector: this.lastValue, ...readFaultInfo(this.ram, this.lastValue) };
    if (this.state.tripleFault) return { vector: 8, rip: BigInt(this.state.ripLo >>> 0) };
    return null;
  }

  run(batch: AssembledBatch, maxInstructions = 50_000_000): BatchRun {
    const faults: SeqFault[] = [];
    let start = batch.seqs.length > 0 ? batch.seqs[0]!.prologue : batch.exitAddr;
    let total = 0;
    for (;;) {
      this.enterRing3(start);
      let why = this.stopReason();
      while (why === null) {
        const n = this.cpu.run(1_000_000);
        total += n;
        why = this.stopReason();
        if (why !== null) break;
        if (total > maxInstructions) throw new Error(`emu ran more than ${maxInstructions} instructions without reaching the exit`);
        if (n === 0 || this.state.halted) throw new Error(`emu stopped at rip 0x${(this.state.ripLo >>> 0).toString(16)}`);
      }
      if ("exit" in why) return { faults, entries: 0 };
      const { vector, rip, errorCode, cr2, regs } = why;
      const seq = batch.seqs.findIndex((s, i) => BigInt(s.prologue) <= rip && rip < BigInt(batch.seqs[i + 1]?.prologue ?? batch.exitAddr));
      faults.push({ seq, vector, rip, errorCode, cr2, regs, where: "emu" });
      if (seq < 0) throw new Error(`emu fault ${vector} outside any sequence at rip 0x${rip.toString(16)}`);
      start = batch.seqs[seq + 1]?.prologue ?? batch.exitAddr;
    }
  }
}
