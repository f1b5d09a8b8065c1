// The emulated time-stamp counter (Intel SDM vol. 3 §17.17): a fixed-frequency TSC derived from the
// host monotonic clock, monotonic per vCPU.
//
// Design: TSC = floor(nowNs * tscKhz / 1e6) + offset, with offset 0 unless the guest writes MSR 0x10. With
// offset 0 this is exactly the LAPIC's TSC-deadline model (devices/lapic: TSC = nowNs * tscKhz / 1e6), so
// deadlines fire when the guest expects. Values stay exact in a double up to 2^53 (52 days at 2 GHz).
// Two reads never return the same value (the second is bumped by one), as a real TSC advances between
// back-to-back rdtsc.

const TWO32 = 4294967296;

/**
 * Host monotonic time in ms on a clock every thread shares (CLOCK_MONOTONIC through process.hrtime). The emu thread
 * and the owner exchange machine-time bases in it (EmuEngineData.clockBase). Not performance.timeOrigin +
 * performance.now(): each thread has its own timeOrigin, taken from the wall clock when the thread started, so
 * that sum differs between threads by however much the wall clock was adjusted in between.
 */
export function hostMonotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface TscClock {
  nowNs(): number;
}

export class Tsc {
  lo = 0;
  hi = 0;
  private offset = 0;
  private last = -1;
  private readonly perNs: number;

  constructor(private readonly clock: TscClock, readonly tscKhz: number) {
    this.perNs = tscKhz / 1e6;
  }

  /** Current value as a double. */
  value(): number {
    let v = Math.floor(this.clock.nowNs() * this.perNs) + this.offset;
    if (v <= this.last) v = this.last + 1;
    this.last = v;
    return v;
  }

  /** Reads into lo/hi (int32 halves). */
  read(): void {
    const v = this.value();
    const hi = Math.floor(v / TWO32);
    this.hi = hi | 0;
    this.lo = (v - hi * TWO32) | 0;
  }

  /** Saved state: the offset to the clock-derived value and the last value returned. */
  save(): { offset: number; last: number } {
    return { offset: this.offset, last: this.last };
  }

  restore(s: { offset: number; last: number }): void {
    this.offset = s.offset;
    this.last = s.last;
  }

  /** wrmsr IA32_TSC. */
  write(lo: number, hi: number): void {
    const want = (hi >>> 0) * TWO32 + (lo >>> 0);
    this.offset = want - Math.floor(this.clock.nowNs() * this.perNs);
    this.last = want - 1;
  }
}
