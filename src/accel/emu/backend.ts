// emuBackend: the ExecutionBackend (hv/ports.ts) on the software x86-64 CPU. Guest RAM is a
// SharedArrayBuffer: with the block JIT on, the buffer of a shared WebAssembly.Memory that also holds the vCPUs'
// TLBs after RAM (jit/wasm_tier.ts, ADR 0038); one thread (vcpu_thread/ worker running emu_engine.ts) runs every
// vCPU of the domain interleaved, with the PC platform. Works on any host Node runs on.
import type { AccelProbe, DomainExecution, ExecutionBackend, ExecutionEvents, ExecutionProfile, LaunchSpec, XenDomainAttachment } from "../../hv/ports.ts";
import type { FromVcpu } from "../../vcpu_thread/protocol.ts";
import { VcpuThread } from "../../vcpu_thread/host.ts";
import type { EmuEngineData } from "./emu_engine.ts";
import { InputRing } from "./input_ring.ts";
import { OverlayPool } from "./overlay_pages.ts";
import { VectorMailbox } from "./vector_mailbox.ts";
import { jitFromEnv } from "./cpu.ts";
import { ProfileChannel } from "./profile.ts";
import { hostMonotonicMs } from "./tsc.ts";
import { wasmGuestMemory, type WasmMemory } from "./jit/wasm_tier.ts";

const ENGINE_MODULE = new URL("./emu_engine.ts", import.meta.url).href;
/** The emu machine's TSC rate (accel/emu/machine.ts); the engine checks it. */
const EMU_TSC_KHZ = 2_000_000;
/** Overlay pages per domain: up to 64 grant frames (Xen's default max), their status frames, shared_info. */
const OVERLAY_PAGES = 160;

class EmuDomainExecution implements DomainExecution {
  private thread: VcpuThread | null = null;
  private readonly input = InputRing.create();
  private ended = false;
  private destroyed: Promise<void> | null = null;
  private readonly startedAt = performance.now();
  private pausedMs = 0;
  private pausedAt = -1;
  private stoppedCpuNs = -1;
  /** PVH: the domain's Xen layer (owner hypercalls, upcalls into the LAPICs, PV console). */
  private xen: XenDomainAttachment | null = null;
  private readonly vectors: VectorMailbox;
  /** Machine time 0 in hostMonotonicMs() (NaN while paused): see EmuEngineData.clockBase. */
  private readonly clockBase = new Float64Array(new SharedArrayBuffer(8)).fill(NaN);
  private lastGuestNs = 0;
  private overlays: OverlayPool | null = null;
  private readonly profileChannel = ProfileChannel.create();
  /** Block JIT on or off: xl.cfg emu_jit, else the default (cpu.ts DEFAULT_EMU_JIT, TSXEN_EMU_JIT). */
  readonly jit: boolean;

  /** ram: guest RAM in its first spec.memoryBytes (the buffer of `wasmMemory` when there is one). */
  constructor(private readonly spec: LaunchSpec, private readonly ram: SharedArrayBuffer, private readonly events: ExecutionEvents,
    private readonly wasmMemory: WasmMemory | null) {
    this.vectors = VectorMailbox.create(spec.vcpus);
    this.jit = spec.emu?.jit ?? jitFromEnv();
  }

  start(): Promise<void> {
    const bytes = new Uint8Array(this.ram, 0, this.spec.memoryBytes);
    if (this.spec.xen !== undefined) {
      const vectors = this.vectors;
      const guestClock = { tscKhz: EMU_TSC_KHZ, nowNs: () => this.guestNowNs() };
      const pool = OverlayPool.create(OVERLAY_PAGES);
      this.overlays = pool;
      const overlays = { allocPage: () => pool.allocPage(), mapped: (gfn: number, page: Uint8Array) => pool.mapped(gfn, page), unmapped: (gfn: number) => pool.unmapped(gfn) };
      this.xen = this.spec.xen.attach({ bytes, sizeBytes: bytes.length }, { inject: (vcpu, vector) => vectors.post(vcpu, vector), guestClock, overlays }, this.events);
    }
    const engineData: EmuEngineData = {
      type: this.spec.type,
      input: this.input.buffer,
      // Always: the loader decides whether the guest is pointed at them (HVM, SMP, PVH with Xen timers need a MADT),
      // and the region (0xe0000-0xfffff) is never usable RAM for a PVH or HVM guest.
      writeAcpi: true,
      vectors: this.vectors.buffer,
      clockBase: this.clockBase.buffer as SharedArrayBuffer,
      tscKhz: EMU_TSC_KHZ,
      jit: this.jit,
      profile: this.profileChannel.buffer,
      ...(this.overlays !== null ? { overlays: this.overlays.share } : {}),
    };
    this.thread = new VcpuThread({
      init: {
        domid: this.spec.domid,
        name: this.spec.name,
        vcpuId: 0,
        vcpuCount: this.spec.vcpus,
        privileged: this.spec.domid === 0,
        handle: new Uint8Array(16),
        engineModule: ENGINE_MODULE,
        engineData,
        ram: { kind: "sab", buffer: this.ram, sizeBytes: this.spec.memoryBytes, ...(this.wasmMemory !== null ? { wasmMemory: this.wasmMemory } : {}) },
        entry: this.spec.image.entry,
        ...(this.xen !== null ? { xenFeatures: this.xen.xenFeatures } : {}),
      },
      kick: () => {}, // the engine checks ATTENTION between slices
      ...(this.xen !== null ? { ownerHypercalls: { service: this.xen.ownerHypercalls, ram: bytes } } : {}),
      onMessage: (m) => this.onMessage(m),
      onThreadError: (e) => this.end(() => this.events.crashed(`emu thread failed: ${e.message}`, e.stack ?? "")),
    });
    this.events.log(`d${this.spec.domid}: emu: ${this.jit ? "block JIT" : "interpreter"} (${this.spec.emu?.jit !== undefined ? `emu_jit = ${this.jit ? 1 : 0}` : "default"})`);
    return this.thread.started();
  }

  /** xl emu-stats: asks the emu thread for a snapshot (between slices); the last one if it cannot answer. */
  async profile(): Promise<ExecutionProfile | null> {
    if (this.thread === null) return null;
    return this.profileChannel.request(this.ended || this.pausedAt >= 0 ? 0 : 1000);
  }

  /** The emu machine's time (its TSC / tscKhz), as close as the main thread can tell; frozen while paused. */
  private guestNowNs(): number {
    const base = this.clockBase[0]!;
    if (!Number.isNaN(base)) this.lastGuestNs = Math.max(this.lastGuestNs, (hostMonotonicMs() - base) * 1e6);
    return this.lastGuestNs;
  }

  private onMessage(m: FromVcpu): void {
    switch (m.kind) {
      case "console":
        this.events.console(m.bytes);
        return;
      case "log":
        this.events.log(m.line);
        return;
      case "shutdown":
        this.end(() => this.events.shutdown(m.reason));
        return;
      case "crashed":
        this.events.log(`d${this.spec.domid}: crashed: ${m.why}\n${m.registerDump}`);
        this.end(() => this.events.crashed(m.why, m.registerDump));
        return;
      case "ready":
      case "initFailed":
        return;
    }
  }

  private end(report: () => void): void {
    if (this.ended || this.destroyed !== null) return;
    this.ended = true;
    this.stoppedCpuNs = this.cpuTimeNs();
    report();
  }

  async pause(): Promise<void> {
    await this.thread?.pause();
    if (this.pausedAt < 0) this.pausedAt = performance.now();
  }

  async unpause(): Promise<void> {
    await this.thread?.unpause();
    if (this.pausedAt >= 0) {
      this.pausedMs += performance.now() - this.pausedAt;
      this.pausedAt = -1;
    }
  }

  destroy(): Promise<void> {
    this.destroyed ??= (async () => {
      if (this.stoppedCpuNs < 0) this.stoppedCpuNs = this.cpuTimeNs();
      await this.thread?.stop();
      this.xen?.detach();
    })();
    return this.destroyed;
  }

  consoleInput(bytes: Uint8Array): void {
    if (this.xen !== null) this.xen.consoleInput(bytes);
    else this.input.push(bytes);
  }

  /** The emu thread is busy whenever the domain runs and is not idle; wall time while running is a fair bound. */
  cpuTimeNs(): number {
    if (this.stoppedCpuNs >= 0) return this.stoppedCpuNs;
    const now = this.pausedAt >= 0 ? this.pausedAt : performance.now();
    return Math.max(0, (now - this.startedAt - this.pausedMs) * 1e6);
  }
}

export const emuBackend: ExecutionBackend = {
  kind: "emu",
  probe(): AccelProbe {
    return { kind: "emu", usable: true, fullGuests: true, reason: "software x86-64 CPU (runs anywhere)" };
  },
  async launch(spec: LaunchSpec, events: ExecutionEvents): Promise<DomainExecution> {
    if (spec.vcpus < 1) throw new RangeError(`A domain needs at least 1 vCPU, got ${spec.vcpus}`);
    // With the JIT, RAM goes into a shared WebAssembly.Memory (its wasm tier compiles against it), else a plain SAB.
    const wasm = (spec.emu?.jit ?? jitFromEnv()) ? wasmGuestMemory(spec.memoryBytes, spec.vcpus) : null;
    const ram = wasm !== null ? (wasm.memory.buffer as SharedArrayBuffer) : new SharedArrayBuffer(spec.memoryBytes);
    const bytes = new Uint8Array(ram, 0, spec.memoryBytes);
    for (const r of spec.image.regions) {
      if (r.gpa < 0 || r.gpa + r.bytes.length > spec.memoryBytes) {
        throw new RangeError(`Boot image region at 0x${r.gpa.toString(16)} (${r.bytes.length} bytes) does not fit in ${spec.memoryBytes} bytes of RAM`);
      }
      bytes.set(r.bytes, r.gpa);
    }
    const exec = new EmuDomainExecution(spec, ram, events, wasm?.memory ?? null);
    try {
      await exec.start();
    } catch (e) {
      await exec.destroy();
      throw e;
    }
    return exec;
  },
};
