// EmuMachine: one domain on the emu backend — every vCPU (CpuState + interpreter + system side) and the PC
// platform (platform/pc_machine.ts), driven by one thread. vCPUs are interleaved deterministically in
// round-robin slices on that thread (parallel execution comes with the scheduler).
//
// Design: the caller (the domain worker, or a test) calls runSlice() in a loop. A slice gives every runnable
// vCPU a bounded instruction budget, then fires due device timers. When every vCPU is halted (hlt with
// nothing pending) runSlice() reports how long the caller may sleep before the next timer; an interrupt
// raised by a device or by another thread's command ends the sleep. Time is host time (performance.now)
// minus the time spent paused, so `date` in the guest advances with the wall clock.
import type { BootEntry, CpuIo, GuestRam, HypercallRequest, GuestVirtualMemory, ShutdownReason } from "../../hv/ports.ts";
import { PcMachine } from "../../platform/pc_machine.ts";
import { CpuState, Reg, Seg, SegAttr } from "./cpu_state.ts";
import { EmuCpu } from "./cpu.ts";
import { X86System } from "./system.ts";
import { setFlatSeg } from "./segments.ts";
import { regStorageFor, registerWasmMemory, tlbStorageFor, type WasmMemory } from "./jit/wasm_tier.ts";

const TSC_KHZ = 2_000_000;
/** Instructions per vCPU per slice: ~1-2 ms of guest time at interpreter speed, bounding timer latency. */
const SLICE_INSTRUCTIONS = 20_000;
const MIN_SLICE_INSTRUCTIONS = 200;

export interface EmuMachineOptions {
  readonly ram: GuestRam;
  readonly vcpus: number;
  readonly type: "pvh" | "hvm";
  readonly entry: BootEntry;
  readonly console: (bytes: Uint8Array) => void;
  readonly log: (line: string) => void;
  readonly shutdown: (reason: ShutdownReason) => void;
  /** Xen hypercalls (vmcall/vmmcall, hypercall page). Default: -ENOSYS for every call. */
  readonly hypercall?: (req: HypercallRequest, mem: GuestVirtualMemory) => bigint;
  /** Expose the Xen CPUID leaves (PVH guests; HVM guests with Xen enlightenments). Default: type === "pvh". */
  readonly xenLeaves?: boolean;
  readonly domid?: number;
  /** Wall-clock time at domain start (Unix seconds). Default: now. */
  readonly startUnixSeconds?: number;
  /** Block JIT on or off (EmuCpuOptions.jit). Default: jitFromEnv() (cpu.ts DEFAULT_EMU_JIT). */
  readonly jit?: boolean;
  /** The shared WebAssembly.Memory whose first bytes are `ram` (jit/wasm_tier.ts wasmGuestMemory): the vCPUs' TLBs
   * go into its per-vCPU areas and the JIT compiles looping blocks to WebAssembly. */
  readonly wasmMemory?: WasmMemory;
}

/** Exits from the CPU to the platform, counted for profiles (xl emu-stats): totals since start. */
export interface EmuExitCounts {
  pio: number;
  mmio: number;
  /** External interrupts the CPUs took from their LAPICs. */
  interrupts: number;
  hypercalls: number;
  /** RDMSR/WRMSR served by the platform (the LAPIC's MSRs: TSC deadline, x2APIC). */
  msr: number;
}

interface Vcpu {
  readonly state: CpuState;
  readonly sys: X86System;
  readonly cpu: EmuCpu;
  /** An AP before its start-up IPI (INIT received or never started). */
  waitingForSipi: boolean;
}

export type SliceResult =
  /** At least one vCPU ran; call again. */
  | { readonly kind: "running" }
  /** Every vCPU is halted or waiting: sleep up to `sleepNs` (Infinity = until woken). */
  | { readonly kind: "idle"; readonly sleepNs: number }
  /** The domain stopped: shut down (reason) or crashed. */
  | { readonly kind: "stopped" };

const ENOSYS = -38n;
const IF = 1 << 9;

export class EmuMachine {
  readonly pc: PcMachine;
  readonly vcpus: Vcpu[] = [];
  private pausedAtMs = -1;
  private pausedTotalMs = 0;
  private readonly startMs = performance.now();
  private stopped = false;
  /** Measured interpreter speed, to size slices by time (starts at 10 MIPS). */
  private instructionsPerNs = 0.01;
  /** Set by device callbacks (shutdown/reset) during a slice. */
  private pendingShutdown: ShutdownReason | null = null;
  crash: { why: string; dump: string } | null = null;
  readonly exits: EmuExitCounts = { pio: 0, mmio: 0, interrupts: 0, hypercalls: 0, msr: 0 };
  /** Time the vCPUs spent running guest code (inside cpu.run), ns. */
  busyNs = 0;
  /** Profiles: called with a vCPU's state after a slice in which it retired instructions (its RIP is a sample). */
  sampler: ((state: CpuState) => void) | null = null;
  /** Guest instructions retired across vCPUs. */
  get instructions(): number {
    let n = 0;
    for (const v of this.vcpus) n += v.state.icount;
    return n;
  }

  constructor(private readonly opts: EmuMachineOptions) {
    const clock = { nowNs: () => this.nowNs() };
    this.pc = new PcMachine({
      vcpus: opts.vcpus,
      clock,
      tscKhz: TSC_KHZ,
      startUnixSeconds: opts.startUnixSeconds ?? Math.floor(Date.now() / 1000),
      console: opts.console,
      shutdown: (reason) => this.requestShutdown(reason),
      apicEvents: {
        init: (id) => this.initVcpu(id),
        startup: (id, vector) => this.startupVcpu(id, vector),
        nmi: (id) => opts.log(`emu: NMI to vcpu${id} ignored`),
        kick: (id) => { const v = this.vcpus[id]; if (v !== undefined) v.state.stopRequest = true; },
      },
    });
    const hypercall = opts.hypercall ?? ((req: HypercallRequest) => {
      opts.log(`emu: hypercall ${req.nr} with no Xen layer: -ENOSYS`);
      return ENOSYS;
    });
    const xen = opts.xenLeaves ?? opts.type === "pvh";
    if (opts.wasmMemory !== undefined) registerWasmMemory(opts.wasmMemory);
    for (let id = 0; id < opts.vcpus; id++) {
      const tlbStorage = opts.wasmMemory !== undefined ? tlbStorageFor(opts.wasmMemory, opts.ram.sizeBytes, id) : undefined;
      const regs = opts.wasmMemory !== undefined ? regStorageFor(opts.wasmMemory, opts.ram.sizeBytes, id) : undefined;
      const state = new CpuState(id, regs);
      const lapic = this.pc.lapics[id]!;
      const io = countingIo(this.pc.cpuIo(id, hypercall), this.exits);
      let cpu: EmuCpu | undefined;
      const sys = new X86System(state, {
        ram: opts.ram,
        io,
        interrupts: { hasPendingInterrupt: () => lapic.hasPendingInterrupt(), acknowledge: () => { this.exits.interrupts++; return lapic.acknowledge(); } },
        clock,
        log: opts.log,
        tripleFault: (why) => this.onTripleFault(id, why),
        flags: { getEflags: () => cpu!.getEflags(), setEflags: (v) => cpu!.setEflags(v) },
        msrDelegate: {
          readMsr: (msr) => { const v = lapic.readMsr(msr); if (v !== undefined) this.exits.msr++; return v; },
          writeMsr: (msr, value) => { const r = lapic.writeMsr(msr, value); if (r !== undefined) this.exits.msr++; return r; },
        },
        cpuid: { xen, domid: opts.domid, tscKhz: TSC_KHZ, cpusPerPackage: opts.vcpus },
        ...(tlbStorage !== undefined ? { tlbStorage } : {}),
      });
      cpu = new EmuCpu(state, sys, {
        ...(opts.jit !== undefined ? { jit: opts.jit } : {}),
        onUnknownOpcode: (bytes, rip, mode) => opts.log(`emu: vcpu${id} #UD for unimplemented opcode ${bytes} at rip ${rip} (mode ${mode})`),
      });
      this.vcpus.push({ state, sys, cpu, waitingForSipi: id !== 0 });
    }
    this.applyEntry(this.vcpus[0]!, opts.entry);
  }

  /** Emulated time: host monotonic time since start, excluding pauses. */
  nowNs(): number {
    const now = this.pausedAtMs >= 0 ? this.pausedAtMs : performance.now();
    return (now - this.startMs - this.pausedTotalMs) * 1e6;
  }

  pause(): void {
    if (this.pausedAtMs < 0) this.pausedAtMs = performance.now();
  }

  resume(): void {
    if (this.pausedAtMs >= 0) {
      this.pausedTotalMs += performance.now() - this.pausedAtMs;
      this.pausedAtMs = -1;
    }
  }

  consoleInput(bytes: ArrayLike<number>): void {
    this.pc.consoleInput(bytes);
  }

  /** Runs every runnable vCPU for one slice, then due timers. */
  runSlice(): SliceResult {
    if (this.stopped) return { kind: "stopped" };
    let ran = false;
    for (const v of this.vcpus) {
      if (v.waitingForSipi) continue;
      v.state.stopRequest = false;
      // End the slice near the next device timer deadline so that timer interrupts arrive on time.
      const before = this.nowNs();
      const untilDeadlineNs = this.pc.timers.nextDeadlineNs() - before;
      const budget = Math.max(MIN_SLICE_INSTRUCTIONS, Math.min(SLICE_INSTRUCTIONS, Math.floor(untilDeadlineNs * this.instructionsPerNs)));
      let n: number;
      try {
        n = v.cpu.run(budget);
      } catch (e) {
        this.fail(`emulator error on vcpu${v.state.vcpuId}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        return { kind: "stopped" };
      }
      const now = this.nowNs();
      this.busyNs += now - before;
      if (n > 0) {
        ran = true;
        if (this.sampler !== null) this.sampler(v.state);
        if (n >= 1000 && now > before) this.instructionsPerNs = 0.9 * this.instructionsPerNs + 0.1 * (n / (now - before));
      }
      if (now >= this.pc.timers.nextDeadlineNs()) this.pc.runTimers(now);
      if (this.pendingShutdown !== null || this.stopped) break;
    }
    if (this.pendingShutdown !== null) {
      const reason = this.pendingShutdown;
      this.pendingShutdown = null;
      this.stopped = true;
      this.pc.flushConsole();
      this.opts.shutdown(reason);
      return { kind: "stopped" };
    }
    if (this.stopped) return { kind: "stopped" };
    if (ran) return { kind: "running" };
    // Nothing ran: every vCPU is halted. A timer may have just made an interrupt pending.
    for (const v of this.vcpus) {
      if (!v.waitingForSipi && (v.state.eflagsRest & IF) !== 0 && this.pc.lapics[v.state.vcpuId]!.hasPendingInterrupt()) {
        return { kind: "running" };
      }
    }
    this.pc.flushConsole();
    const next = this.pc.timers.nextDeadlineNs();
    return { kind: "idle", sleepNs: Math.max(0, next - this.nowNs()) };
  }

  /** Makes every vCPU leave its slice at the next instruction boundary (a shutdown hypercall, a command). */
  kickAll(): void {
    for (const v of this.vcpus) v.state.stopRequest = true;
  }

  registerDump(): string {
    return this.vcpus.map((v) => dumpRegisters(v)).join("\n");
  }

  private requestShutdown(reason: ShutdownReason): void {
    if (this.pendingShutdown === null) this.pendingShutdown = reason;
    for (const v of this.vcpus) v.state.stopRequest = true;
  }

  private onTripleFault(id: number, why: string): void {
    if (this.opts.type === "hvm") {
      // A PC resets on a triple fault; the kernel's reboot=t relies on it.
      this.opts.log(`emu: vcpu${id} triple fault (${why}): resetting the machine`);
      this.requestShutdown("reboot");
      return;
    }
    this.fail(`vcpu${id} triple fault: ${why}`);
  }

  private fail(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.pc.flushConsole();
    this.crash = { why, dump: this.registerDump() };
    for (const v of this.vcpus) v.state.stopRequest = true;
  }

  private initVcpu(id: number): void {
    const v = this.vcpus[id];
    if (v === undefined || id === 0) return;
    v.waitingForSipi = true;
    v.state.halted = false;
  }

  private startupVcpu(id: number, vector: number): void {
    const v = this.vcpus[id];
    if (v === undefined || !v.waitingForSipi) return;
    this.applyEntry(v, { kind: "real16", cs: vector << 8, ip: 0 });
    v.waitingForSipi = false;
  }

  /** Sets a vCPU's architectural state for a boot entry (xen docs/misc/pvh.pandoc; Linux boot.rst 64-bit). */
  private applyEntry(v: Vcpu, entry: BootEntry): void {
    const s = v.state;
    s.halted = false;
    s.rlo.fill(0);
    s.rhi.fill(0);
    v.cpu.setEflags(0x2);
    switch (entry.kind) {
      case "pvh32":
        s.cr0 = 0x11;
        s.cr4 = 0;
        s.efer = 0;
        setFlatSeg(s, Seg.CS, 0x10, 0xb, 0, false);
        for (const seg of [Seg.DS, Seg.ES, Seg.SS, Seg.FS, Seg.GS]) setFlatSeg(s, seg, 0x18, 0x3, 0, false);
        setTr(s);
        s.ripLo = entry.entry | 0;
        s.ripHi = 0;
        s.rlo[Reg.RBX] = entry.ebx | 0;
        break;
      case "linux64":
        s.cr0 = 0x80050033 | 0;
        s.cr3Lo = entry.cr3 | 0;
        s.cr3Hi = 0;
        s.cr4 = 0x20;
        s.efer = 0x500;
        setFlatSeg(s, Seg.CS, 0x10, 0xb, 0, true);
        for (const seg of [Seg.DS, Seg.ES, Seg.SS, Seg.FS, Seg.GS]) setFlatSeg(s, seg, 0x18, 0x3, 0, false);
        setTr(s);
        s.gdtrBaseLo = entry.gdtBase | 0;
        s.gdtrBaseHi = 0;
        s.gdtrLimit = 0x2f;
        s.ripLo = Number(entry.entry & 0xffffffffn) | 0;
        s.ripHi = Number(entry.entry >> 32n) | 0;
        s.rlo[Reg.RSI] = entry.rsi | 0;
        break;
      case "real16":
        s.cr0 = 0x10;
        s.cr4 = 0;
        s.efer = 0;
        for (let seg = 0; seg < 6; seg++) {
          s.segSel[seg] = 0;
          s.segBaseLo[seg] = 0;
          s.segBaseHi[seg] = 0;
          s.segLimit[seg] = 0xffff;
          s.segAttr[seg] = SegAttr.P | SegAttr.S | 3;
        }
        s.segSel[Seg.CS] = entry.cs & 0xffff;
        s.segBaseLo[Seg.CS] = (entry.cs & 0xffff) << 4;
        s.segAttr[Seg.CS] = SegAttr.P | SegAttr.S | 0xb;
        s.ripLo = entry.ip;
        s.ripHi = 0;
        break;
    }
    s.cpl = 0;
    v.sys.updateMode();
    v.sys.flushTlb(false);
    v.cpu.flushCodeCache();
  }
}

/** The platform's CpuIo with every exit counted (one extra call per port or MMIO access: cheap next to the device). */
function countingIo(io: CpuIo, c: EmuExitCounts): CpuIo {
  return {
    pioRead: (port, size) => { c.pio++; return io.pioRead(port, size); },
    pioWrite: (port, size, value) => { c.pio++; io.pioWrite(port, size, value); },
    mmioRead: (gpa, size) => { c.mmio++; return io.mmioRead(gpa, size); },
    mmioWrite: (gpa, size, value) => { c.mmio++; io.mmioWrite(gpa, size, value); },
    hypercall: (req, mem) => { c.hypercalls++; return io.hypercall(req, mem); },
  };
}

function setTr(s: CpuState): void {
  s.segSel[Seg.TR] = 0;
  s.segBaseLo[Seg.TR] = 0;
  s.segBaseHi[Seg.TR] = 0;
  s.segLimit[Seg.TR] = 0x67;
  s.segAttr[Seg.TR] = SegAttr.P | 0xb;
}

const MODE_NAMES = ["real", "prot16", "prot32", "compat16", "compat32", "long64"];
const h32 = (v: number): string => (v >>> 0).toString(16).padStart(8, "0");
const h64 = (hi: number, lo: number): string => h32(hi) + h32(lo);

function dumpRegisters(v: Vcpu): string {
  const s = v.state;
  const names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
  const lines = [`vcpu${s.vcpuId}: mode ${MODE_NAMES[s.mode] ?? s.mode} cpl ${s.cpl} rip ${h64(s.ripHi, s.ripLo)} rflags ${h32(safeFlags(v))} icount ${s.icount}`];
  for (let i = 0; i < 16; i += 4) {
    lines.push(names.slice(i, i + 4).map((n, k) => `${n.padStart(3)}=${h64(s.rhi[i + k]!, s.rlo[i + k]!)}`).join(" "));
  }
  lines.push(`cr0=${h32(s.cr0)} cr2=${h64(s.cr2Hi, s.cr2Lo)} cr3=${h64(s.cr3Hi, s.cr3Lo)} cr4=${h32(s.cr4)} efer=${h32(s.efer)}`);
  const segs = ["es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"];
  lines.push(segs.map((n, i) => `${n}=${(s.segSel[i]! & 0xffff).toString(16)}@${h64(s.segBaseHi[i]!, s.segBaseLo[i]!)}`).join(" "));
  lines.push(`gdtr=${h64(s.gdtrBaseHi, s.gdtrBaseLo)}/${s.gdtrLimit.toString(16)} idtr=${h64(s.idtrBaseHi, s.idtrBaseLo)}/${s.idtrLimit.toString(16)}`);
  return lines.join("\n");
}

function safeFlags(v: Vcpu): number {
  try {
    return v.cpu.getEflags();
  } catch {
    return v.state.eflagsRest;
  }
}
