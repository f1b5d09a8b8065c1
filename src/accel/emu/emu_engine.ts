// The emu engine module for the vCPU thread loop (vcpu_thread/engine.ts): one thread runs a whole domain —
// every vCPU interleaved plus the PC platform — through EmuMachine. Runs on that thread only.
//
// Design: the loop's run() returns to the worker whenever the owner raised ATTENTION (pause/stop), the
// platform asked to stop (hypercall shutdown), or the machine stopped (ACPI poweroff, reset, crash).
// When every vCPU is halted the engine sleeps in short timed waits (≤ 10 ms) so that console input and
// commands are noticed quickly without a busy loop.
import { registerWasmMemory } from "./jit/wasm_tier.ts";
import type { BootEntry, ShutdownReason } from "../../hv/ports.ts";
import type { CpuEngine, EngineExit, EngineModule, VcpuIo } from "../../vcpu_thread/engine.ts";
import type { VcpuInit } from "../../vcpu_thread/protocol.ts";
import type { VcpuControlBlock } from "../../vcpu_thread/shared_layout.ts";
import { EmuMachine } from "./machine.ts";
import { InputRing } from "./input_ring.ts";
import { OverlayMmio, type OverlayShare } from "./overlay_pages.ts";
import { VectorMailbox } from "./vector_mailbox.ts";
import { EmuProfiler, ProfileChannel } from "./profile.ts";
import { hostMonotonicMs } from "./tsc.ts";

/** Structured-cloneable set-up the owner passes in VcpuInit.engineData. */
export interface EmuEngineData {
  readonly type: "pvh" | "hvm";
  /** Console input from the owner (InputRing over this buffer). */
  readonly input: SharedArrayBuffer;
  /** Where the owner wants ACPI tables (HVM); the loader already pointed the kernel at it. */
  readonly writeAcpi: boolean;
  /** Vectors the owner raises on this domain's LAPICs (Xen event-channel upcalls): a VectorMailbox buffer. */
  readonly vectors?: SharedArrayBuffer;
  /**
   * Float64 [0]: hostMonotonicMs() (tsc.ts) at which machine time (and the TSC) was 0, written
   * whenever the machine resumes, NaN while it is paused: the owner derives the guest TSC from it (Xen pvclock).
   */
  readonly clockBase?: SharedArrayBuffer;
  /** The TSC rate the owner assumes for clockBase (checked against the machine's). */
  readonly tscKhz?: number;
  /** Xen overlay pages (grant frames) the owner maps outside RAM: served to the CPU as MMIO. */
  readonly overlays?: OverlayShare;
  /** Block JIT on or off (the owner resolved xl.cfg emu_jit against the default). Absent: jitFromEnv(). */
  readonly jit?: boolean;
  /** A ProfileChannel buffer: the engine answers profile requests (xl emu-stats) between slices. */
  readonly profile?: SharedArrayBuffer;
}

/** Optional extras a platform may offer the emu engine beyond VcpuIo. */
interface EmuHostIo extends VcpuIo {
  consoleOutput?(bytes: Uint8Array): void;
  requestShutdown?(reason: ShutdownReason): void;
}

const IDLE_WAIT_MS = 10;

class EmuEngine implements CpuEngine {
  private machine: EmuMachine | null = null;
  private readonly input: InputRing;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  private readonly vectors: VectorMailbox | null;
  private readonly clockBase: Float64Array | null;
  /** Scratch: (vcpu, vector) pairs held back for APs that wait for their SIPI. */
  private readonly heldVectors: number[] = [];
  private stoppedReason: ShutdownReason | null = null;
  private readonly profileChannel: ProfileChannel | null;
  private profiler: EmuProfiler | null = null;

  constructor(
    private readonly init: VcpuInit,
    private readonly ram: Uint8Array,
    private readonly io: EmuHostIo,
    private readonly control: VcpuControlBlock,
    private readonly data: EmuEngineData,
  ) {
    this.input = new InputRing(data.input);
    this.vectors = data.vectors !== undefined ? new VectorMailbox(data.vectors) : null;
    this.clockBase = data.clockBase !== undefined ? new Float64Array(data.clockBase) : null;
    this.profileChannel = data.profile !== undefined ? new ProfileChannel(data.profile) : null;
  }

  /**
   * Moves vectors the owner posted into the LAPICs (between slices and right after a hypercall). A vector for an AP
   * that has not started yet stays in the mailbox until its SIPI: INIT would wipe the IRR, and the guest's
   * evtchn_upcall_pending stays set, so no later event would raise the upcall again (Xen keeps the per-vCPU upcall
   * vector asserted while upcall_pending is set: hvm_vcpu_has_pending_irq).
   */
  private deliverVectors(): void {
    const m = this.machine;
    const mailbox = this.vectors;
    if (m === null || mailbox === null) return;
    const held = this.heldVectors;
    mailbox.drain((cpu, vector) => {
      if (m.vcpus[cpu]?.waitingForSipi === true) held.push(cpu, vector);
      else m.pc.lapics[cpu]?.acceptExternal(vector);
    });
    if (held.length === 0) return;
    for (let i = 0; i < held.length; i += 2) mailbox.post(held[i]!, held[i + 1]!);
    held.length = 0;
  }

  reset(entry: BootEntry | null): void {
    if (entry === null) throw new Error("the emu engine runs a whole domain and needs the boot vCPU's entry");
    const io = this.io;
    const machine = new EmuMachine({
      ram: { bytes: this.ram, sizeBytes: this.ram.length },
      vcpus: this.init.vcpuCount,
      type: this.data.type,
      entry,
      domid: this.init.domid,
      ...(this.data.jit !== undefined ? { jit: this.data.jit } : {}),
      ...(this.init.ram.kind === "sab" && this.init.ram.wasmMemory !== undefined ? { wasmMemory: this.init.ram.wasmMemory } : {}),
      console: (bytes) => {
        if (io.consoleOutput !== undefined) io.consoleOutput(bytes);
        else for (const b of bytes) io.pioWrite(0xe9, 1, b);
      },
      log: (line) => io.log(line),
      shutdown: (reason) => {
        this.stoppedReason = reason;
        io.requestShutdown?.(reason);
      },
      hypercall: (req, mem) => {
        const r = io.hypercall(req, mem);
        // SCHEDOP_shutdown: leave the guest right after the call, as Xen never returns to it.
        if (io.stopRequested) machine.kickAll();
        this.deliverVectors();
        return r;
      },
    });
    if (this.data.writeAcpi) machine.pc.writeAcpiTables(this.ram);
    if (this.data.overlays !== undefined) {
      // Non-RAM space where Linux places grant frames: between RAM and the IOAPIC, and above 4 GiB.
      if (this.ram.length < IOAPIC_GPA) machine.pc.mmio.attach(this.ram.length, IOAPIC_GPA - this.ram.length, new OverlayMmio(this.data.overlays, this.ram.length));
      machine.pc.mmio.attach(FOUR_GIB, OVERLAY_TOP - FOUR_GIB, new OverlayMmio(this.data.overlays, FOUR_GIB));
    }
    const khz = machine.vcpus[0]?.sys.tsc.tscKhz;
    if (this.data.tscKhz !== undefined && khz !== this.data.tscKhz) {
      io.log(`emu: the machine's TSC runs at ${khz} kHz but the owner assumes ${this.data.tscKhz} kHz: Xen pvclock will drift`);
    }
    this.machine = machine;
    if (this.profileChannel !== null) this.profiler = new EmuProfiler(machine, this.data.jit ?? false);
  }

  run(): EngineExit {
    const m = this.machine!;
    m.resume();
    if (this.clockBase !== null) this.clockBase[0] = hostMonotonicMs() - m.nowNs() / 1e6;
    try {
      for (;;) {
        if (this.control.attentionRequested()) return { kind: "attention" };
        if (this.io.stopRequested) {
          const reason = (this.io as { shutdownReason?: ShutdownReason | null }).shutdownReason;
          this.io.log(`emu: d${this.init.domid} shut down through SCHEDOP_shutdown (${reason ?? "?"})`);
          return { kind: "stopRequested" };
        }
        if (this.input.available()) m.consoleInput(this.input.drain());
        this.deliverVectors();
        if (this.profileChannel !== null && this.profileChannel.pending()) this.publishProfile();
        const r = m.runSlice();
        if (r.kind === "stopped") {
          if (m.crash !== null) return { kind: "crashed", why: m.crash.why };
          if (this.stoppedReason !== null) {
            this.io.log(`emu: d${this.init.domid} shut down through the platform (${this.stoppedReason}: ACPI S5, reset or triple fault)`);
            return { kind: "stopRequested" };
          }
          return { kind: "crashed", why: "the machine stopped without a reason" };
        }
        if (r.kind === "idle" && this.data.type === "pvh" && allHaltedWithInterruptsOff(m)) {
          // Xen's hvm_hlt(): HLT with interrupts off takes the vCPU down, and a domain whose vCPUs are all down is
          // powered off (hvm_vcpu_down). Linux PVH without ACPI S5 ends `poweroff` this way ("System halted").
          this.io.log(`emu: d${this.init.domid}: every vCPU halted with interrupts off: powering off (as Xen's hvm_vcpu_down)`);
          this.io.requestShutdown?.("poweroff");
          return { kind: "stopRequested" };
        }
        if (r.kind === "idle") {
          const ms = Math.max(0.05, Math.min(r.sleepNs / 1e6, IDLE_WAIT_MS));
          if (this.vectors !== null) this.vectors.sleep(ms);
          else Atomics.wait(this.sleeper, 0, 0, ms);
        }
      }
    } finally {
      m.pause();
      if (this.profileChannel !== null) this.publishProfile();
      if (this.clockBase !== null) this.clockBase[0] = NaN;
    }
  }

  private publishProfile(): void {
    if (this.profiler === null || this.profileChannel === null) return;
    try {
      this.profileChannel.publish(this.profiler.snapshot());
    } catch (e) {
      this.io.log(`emu: d${this.init.domid}: profile snapshot failed: ${String(e)}`);
    }
  }

  registerDump(): string {
    try {
      return this.machine?.registerDump() ?? "(emu machine not built)";
    } catch (e) {
      return `(register dump failed: ${String(e)})`;
    }
  }

  close(): void {
    this.machine = null;
  }
}

const EFLAGS_IF = 1 << 9;
const IOAPIC_GPA = 0xfec00000;
const FOUR_GIB = 2 ** 32;
/** Top of the guest-physical space the overlay MMIO covers (48-bit physical addresses). */
const OVERLAY_TOP = 2 ** 48;

/** Every started vCPU sits in HLT with IF clear (nothing but an NMI could wake it). */
function allHaltedWithInterruptsOff(m: EmuMachine): boolean {
  let any = false;
  for (const v of m.vcpus) {
    if (v.waitingForSipi) continue;
    if (!v.state.halted || (v.state.eflagsRest & EFLAGS_IF) !== 0) return false;
    any = true;
  }
  return any;
}

export const mapRam: EngineModule["mapRam"] = (init) => {
  if (init.ram.kind !== "sab") throw new Error("the emu engine needs guest RAM in a SharedArrayBuffer");
  if (init.ram.wasmMemory !== undefined) registerWasmMemory(init.ram.wasmMemory);
  return new Uint8Array(init.ram.buffer, 0, init.ram.sizeBytes ?? init.ram.buffer.byteLength);
};

export const createEngine: EngineModule["createEngine"] = (init, ram, io, control) =>
  new EmuEngine(init, ram, io, control, init.engineData as EmuEngineData);
