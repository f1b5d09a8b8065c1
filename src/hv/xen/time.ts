// Xen pvclock: vcpu_time_info (tsc_timestamp, system_time, tsc_to_system_mul/shift, flags) and the shared_info
// wallclock, as Xen's update_vcpu_system_time / set_time_scale write them (xen/include/public/xen.h;
// xen-abi-on-kvm.md §6; the guest reads them in Linux arch/x86/kernel/pvclock.c).
//
// Design: a Clock port gives host monotonic ns, the guest's TSC at (nearly) the same instant and the TSC
// frequency. system_time is ns since the domain started. Each fill is one seqlock write: version → odd,
// fields, version → even, each step an Atomics store (a full barrier), because the guest may read the
// struct on another vCPU while we write. BigInt is fine here: fills happen on schedule-in and about once a
// second, never per instruction. Main thread (or the vCPU's own thread for schedule-in) only.
import { VcpuInfoLayout, XEN_PVCLOCK_TSC_STABLE_BIT } from "../../abi/xen/xen.ts";
import type { SharedInfo, VcpuInfoRef } from "./shared_info.ts";

export interface XenClock {
  /** Monotonic host time, ns. */
  monotonicNs(): bigint;
  /** The guest's TSC at (or right after) the preceding monotonicNs() read. */
  guestTsc(): bigint;
  /** Guest TSC frequency, Hz. */
  readonly tscHz: number;
  /** UTC now, ns since the Unix epoch. */
  wallclockNs(): bigint;
}

export interface TimeScale {
  /** tsc_to_system_mul: ns per tick as a 32.32 fraction (after the shift). */
  readonly mul: number;
  /** tsc_shift (signed): ticks are shifted left by it (right when negative) before the multiply. */
  readonly shift: number;
}

/**
 * mul/shift for a TSC of tscHz, as Xen's set_time_scale: halve the rate (shift--) while it is above 2 GHz or
 * 2^32, double it (shift++) while it is at or below 1 GHz, then mul = floor(1e9 * 2^32 / rate), which lies in
 * [2^31, 2^32). (Doubling only up to 0.5 GHz, as one note has it, would overflow mul between 0.5 and 1 GHz.)
 */
export function timeScale(tscHz: number): TimeScale {
  if (!(tscHz > 0) || !Number.isFinite(tscHz)) throw new RangeError(`Invalid TSC frequency ${tscHz}`);
  let shift = 0;
  let t = tscHz;
  while (t > 2e9 || t >= 2 ** 32) {
    t /= 2;
    shift--;
  }
  while (t <= 1e9) {
    t *= 2;
    shift++;
  }
  const mul = Number((10n ** 9n << 32n) / BigInt(Math.round(t)));
  return { mul, shift };
}

/** The guest's conversion of a TSC delta to ns (pvclock_scale_delta), in its u64 arithmetic: a delta below 0 is a
 * number near 2^64, and the shift drops the bits above 64. */
export function scaleDelta(delta: bigint, scale: TimeScale): bigint {
  const u = BigInt.asUintN(64, delta);
  const d = scale.shift >= 0 ? BigInt.asUintN(64, u << BigInt(scale.shift)) : u >> BigInt(-scale.shift);
  return (d * BigInt(scale.mul)) >> 32n;
}

const TIME = VcpuInfoLayout.time;
/** How far in the past the pvclock fill's (tsc_timestamp, system_time) pair lies (see PvClock.fill). */
const PVCLOCK_LAG_NS = 1_000_000n;

export class PvClock {
  readonly scale: TimeScale;
  private start: bigint;

  /** PVCLOCK_LAG_NS in TSC ticks. */
  private readonly lagTicks: bigint;

  constructor(private readonly clock: XenClock) {
    this.scale = timeScale(clock.tscHz);
    this.lagTicks = BigInt(Math.round((Number(PVCLOCK_LAG_NS) * clock.tscHz) / 1e9));
    this.start = clock.monotonicNs();
  }

  /** Host monotonic ns at which system time was 0. */
  get startNs(): bigint {
    return this.start;
  }

  /** Continues system time from a saved value (after restore, system time never goes back). */
  resumeAt(systemTimeNs: bigint): void {
    this.start = this.clock.monotonicNs() - systemTimeNs;
  }

  /** Xen system time: ns since the domain started. */
  systemTimeNs(): bigint {
    return this.clock.monotonicNs() - this.start;
  }

  /**
   * Writes vcpu_time_info inside info (version odd → fields → even). The (tsc_timestamp, system_time) pair is taken
   * PVCLOCK_LAG_NS in the past: the guest computes rdtsc - tsc_timestamp as an unsigned number, so a timestamp even
   * one tick ahead of the TSC it reads next (the owner's view of the guest's TSC is derived, not read, and may run a
   * little ahead of the vCPU thread's) makes its clock jump by ~2^63 ns; a timer programmed from such a read never
   * fires. Seen as a vCPU whose Xen timer deadline had bit 63 set (a 2-vCPU PVH guest under load, session 5).
   * Extrapolating from a point 1 ms back costs the guest nothing.
   */
  fill(info: VcpuInfoRef, flags = XEN_PVCLOCK_TSC_STABLE_BIT): void {
    const now = this.systemTimeNs(); // monotonic first: clocks may pair guestTsc() with this read
    const nowTsc = this.clock.guestTsc();
    // (right after the domain starts, only as far back as system time and the TSC go)
    const lag = now < PVCLOCK_LAG_NS || nowTsc < this.lagTicks ? 0n : PVCLOCK_LAG_NS;
    const system = now - lag;
    const tsc = lag === 0n ? nowTsc : nowTsc - this.lagTicks;
    const w = info.words;
    const base = (info.offset + TIME) / 4;
    const version = Atomics.load(w, base);
    Atomics.store(w, base, (version + 1) | 1);
    Atomics.store(w, base + 2, Number(BigInt.asUintN(32, tsc)) | 0);
    Atomics.store(w, base + 3, Number(BigInt.asUintN(32, tsc >> 32n)) | 0);
    Atomics.store(w, base + 4, Number(BigInt.asUintN(32, system)) | 0);
    Atomics.store(w, base + 5, Number(BigInt.asUintN(32, system >> 32n)) | 0);
    Atomics.store(w, base + 6, this.scale.mul | 0);
    Atomics.store(info.bytes, info.offset + TIME + 28, this.scale.shift & 0xff);
    Atomics.store(info.bytes, info.offset + TIME + 29, flags & 0xff);
    Atomics.store(w, base, ((version + 1) | 1) + 1);
  }

  /** Writes the wallclock (UTC at system time 0) into shared_info. */
  writeWallclock(sharedInfo: SharedInfo): void {
    const bootNs = this.clock.wallclockNs() - this.systemTimeNs();
    sharedInfo.writeWallclock(bootNs / 1_000_000_000n, Number(bootNs % 1_000_000_000n));
  }
}

/** The guest's read of a vcpu_time_info (for tests and the hypervisor's own checks): ns at guest TSC `tsc`. */
export function readPvClock(info: VcpuInfoRef, tsc: bigint): { version: number; systemTimeNs: bigint } {
  const dv = new DataView(info.bytes.buffer, info.bytes.byteOffset + info.offset + TIME, 32);
  const version = dv.getUint32(0, true);
  const tscTimestamp = dv.getBigUint64(8, true);
  const systemTime = dv.getBigUint64(16, true);
  const scale = { mul: dv.getUint32(24, true), shift: dv.getInt8(28) };
  return { version, systemTimeNs: BigInt.asUintN(64, systemTime + scaleDelta(tsc - tscTimestamp, scale)) };
}

/**
 * A XenClock whose guest TSC is derived from the same monotonic clock (the emu TSC, accel/emu/tsc.ts:
 * TSC = floor(nowNs × tscKhz / 1e6) with the guest's TSC offset 0), so pvclock and rdtsc agree exactly.
 * nowNs is host monotonic ns as a number (the emu's TscClock); wallclockNs is UTC ns since the epoch.
 */
export function derivedTscClock(nowNs: () => number, wallclockNs: () => bigint, tscKhz: number): XenClock {
  const perNs = tscKhz / 1e6;
  let lastNs = 0;
  let lastTsc = 0;
  return {
    tscHz: tscKhz * 1000,
    monotonicNs() {
      lastNs = nowNs();
      lastTsc = Math.floor(lastNs * perNs);
      return BigInt(Math.floor(lastNs));
    },
    guestTsc() {
      // The TSC at the instant of the preceding monotonicNs() read, so the pair is consistent.
      return BigInt(lastTsc);
    },
    wallclockNs,
  };
}
