// Execution profiles of an emu domain (hv/ports.ts ExecutionProfile): instructions retired, exits, JIT cache and
// MMU statistics, the hottest compiled blocks, and guest RIPs sampled at the end of every run slice.
//
//   const prof = new EmuProfiler(machine, jitOn);      // installs the machine's slice sampler
//   ... machine.runSlice() ...
//   const p = prof.snapshot();                          // plain JSON; hv/profile_format.ts prints it
//
// ProfileChannel carries snapshots from the domain's emu thread to its owner (xl emu-stats): a SharedArrayBuffer
// with a request counter the owner bumps, and a reply (counter, length, JSON bytes) the engine writes between
// slices (and whenever it leaves its run loop, so a paused domain still has a recent snapshot).
//
// Statistics objects belong to the CPU, JIT and MMU code and keep changing: they are read defensively (every
// numeric field, one level of nesting flattened as "outer.inner"), never written.
import type { ExecutionProfile } from "../../hv/ports.ts";
import type { CpuState } from "./cpu_state.ts";
import type { EmuMachine } from "./machine.ts";

/** Distinct RIPs kept; later new RIPs are counted in sampleCount only. */
const MAX_SAMPLE_KEYS = 1 << 16;
const TOP = 40;

/** Numeric fields of `o` (and of its plain-object fields, as "outer.inner"), added into `into`. */
function addNumbers(into: Record<string, number>, o: unknown, prefix = ""): void {
  if (typeof o !== "object" || o === null) return;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (typeof v === "number" && Number.isFinite(v)) into[prefix + k] = (into[prefix + k] ?? 0) + v;
    else if (prefix === "" && typeof v === "object" && v !== null && !ArrayBuffer.isView(v) && !Array.isArray(v) && !(v instanceof Map)) {
      addNumbers(into, v, `${k}.`);
    }
  }
}

/** A canonical 48-bit guest address as a number (unique for canonical addresses). */
const ripKey = (lo: number, hi: number): number => (hi & 0xffff) * 4294967296 + (lo >>> 0);

/** Hex RIP from ripKey, sign-extended from bit 47 as the CPU does. */
export function ripHex(key: number): string {
  const hi = Math.floor(key / 4294967296) & 0xffff;
  const lo = key % 4294967296;
  const top = hi & 0x8000 ? "ffff" : "0000";
  return top + hi.toString(16).padStart(4, "0") + lo.toString(16).padStart(8, "0");
}

export class EmuProfiler {
  private readonly samples = new Map<number, number>();
  private sampleCount = 0;

  constructor(readonly machine: EmuMachine, readonly jitOn: boolean) {
    machine.sampler = (s: CpuState) => this.sample(s);
  }

  private sample(s: CpuState): void {
    this.sampleCount++;
    const k = ripKey(s.ripLo, s.ripHi);
    const n = this.samples.get(k);
    if (n !== undefined) this.samples.set(k, n + 1);
    else if (this.samples.size < MAX_SAMPLE_KEYS) this.samples.set(k, 1);
  }

  snapshot(notes: readonly string[] = []): ExecutionProfile {
    const m = this.machine;
    const jitStats: Record<string, number> = {};
    const mmuStats: Record<string, number> = {};
    const hotBlocks: { rip: string; runs: number; insns: number }[] = [];
    const out: string[] = [...notes];
    const jit = m.vcpus[0]?.cpu.jit ?? null;
    if (jit !== null) {
      addNumbers(jitStats, jit.stats);
      try {
        for (const b of jit.hottest(TOP)) hotBlocks.push({ rip: ripHex(ripKey(b.ripLo, b.ripHi)), runs: b.execs, insns: b.native });
      } catch (e) {
        out.push(`hottest blocks unavailable: ${String(e)}`);
      }
      if (jit.lastCompileError !== "") out.push(`last JIT compile error: ${jit.lastCompileError.slice(0, 300)}`);
    } else if (this.jitOn) {
      out.push("the JIT was asked for but is not running (the system has no RAM fast path)");
    }
    for (const v of m.vcpus) {
      const sys = v.sys as unknown as Record<string, unknown>;
      for (const name of ["stats", "mmuStats", "tlbStats"]) addNumbers(mmuStats, sys[name]);
    }
    const ripSamples = [...this.samples.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP)
      .map(([k, count]) => ({ rip: ripHex(k), count }));
    return {
      backend: "emu",
      runSeconds: m.nowNs() / 1e9,
      busySeconds: m.busyNs / 1e9,
      instructions: m.instructions,
      jit: jit !== null,
      exits: { ...m.exits },
      jitStats,
      mmuStats,
      hotBlocks,
      ripSamples,
      sampleCount: this.sampleCount,
      notes: out,
    };
  }
}

// ---- the channel between the emu thread and the domain's owner ----

const REQ = 0;
const REPLY = 1;
const LEN = 2;
const HEADER = 16;
/** Room for the JSON (a profile is a few kB; 40+40 entries and the stats). */
const CHANNEL_BYTES = 256 * 1024;

export class ProfileChannel {
  private readonly ctl: Int32Array;
  private readonly bytes: Uint8Array;
  private served = 0;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.ctl = new Int32Array(buffer, 0, 4);
    this.bytes = new Uint8Array(buffer, HEADER);
  }

  static create(): ProfileChannel {
    return new ProfileChannel(new SharedArrayBuffer(CHANNEL_BYTES));
  }

  // -- engine side (the emu thread) --

  /** True when the owner asked for a snapshot not yet written (one Atomics.load: call it between slices). */
  pending(): boolean {
    return Atomics.load(this.ctl, REQ) !== this.served;
  }

  /** Writes a snapshot and answers the latest request. */
  publish(p: ExecutionProfile): void {
    const req = Atomics.load(this.ctl, REQ);
    let json = new TextEncoder().encode(JSON.stringify(p));
    if (json.length > this.bytes.length) json = new TextEncoder().encode(JSON.stringify({ ...p, ripSamples: [], hotBlocks: [], notes: [...p.notes, "profile too large: lists dropped"] }));
    this.bytes.set(json.subarray(0, this.bytes.length));
    Atomics.store(this.ctl, LEN, Math.min(json.length, this.bytes.length));
    Atomics.store(this.ctl, REPLY, req);
    this.served = req;
    Atomics.notify(this.ctl, REPLY);
  }

  // -- owner side (main thread) --

  /** The last snapshot written, or null if none yet. */
  last(): ExecutionProfile | null {
    const n = Atomics.load(this.ctl, LEN);
    if (n <= 0) return null;
    try {
      return JSON.parse(new TextDecoder().decode(this.bytes.slice(0, n))) as ExecutionProfile;
    } catch {
      return null;
    }
  }

  /**
   * Asks the engine for a snapshot and waits up to timeoutMs for it (it answers between slices, ≤ ~10 ms even when
   * the guest idles). A paused or stopped thread cannot answer: then the last snapshot, marked as such.
   */
  async request(timeoutMs = 1000): Promise<ExecutionProfile | null> {
    const want = (Atomics.add(this.ctl, REQ, 1) + 1) | 0;
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(this.ctl, REPLY) !== want && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const p = this.last();
    if (p === null || Atomics.load(this.ctl, REPLY) === want) return p;
    return { ...p, notes: [...p.notes, "the emu thread did not answer (the domain is paused or has stopped): this is the last snapshot it wrote"] };
  }
}
