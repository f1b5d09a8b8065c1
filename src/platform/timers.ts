// Device timers driven by an injected clock: a tiny scheduler the CPU loop polls at block boundaries.
//
// Design: a platform has a handful of timers (one LAPIC timer per vCPU, PIT channel 0, RTC, i8042),
// so a flat array scanned linearly beats a heap. The earliest deadline is cached in a field so the
// CPU's hot check `now >= timers.nextDeadlineNs()` is one load and one compare. Times are float64
// nanoseconds (exact integers up to 2^53 ns ≈ 104 days). Everything runs on the vCPU thread that
// owns the platform; nothing here is thread-safe.

/** Source of the current emulated time (monotonic, nanoseconds since the domain started). */
export interface Clock {
  nowNs(): number;
}

/** A clock a test (or a deterministic CPU loop) advances by hand. */
export class ManualClock implements Clock {
  constructor(private timeNs = 0) {}
  nowNs(): number {
    return this.timeNs;
  }
  set(timeNs: number): void {
    this.timeNs = timeNs;
  }
  advance(deltaNs: number): void {
    this.timeNs += deltaNs;
  }
}

/** One timer; owned by a device, armed and cancelled through its scheduler. */
export class Timer {
  /** Absolute deadline in ns, or Infinity when disarmed. */
  deadlineNs = Infinity;
  /** Position in the scheduler's array, -1 when not armed. */
  slot = -1;
  constructor(
    readonly name: string,
    /** Called once the deadline has passed, with the time runExpired() was given. */
    readonly callback: (nowNs: number) => void,
  ) {}
}

export class TimerScheduler {
  private readonly armed: Timer[] = [];
  private earliestNs = Infinity;

  constructor(readonly clock: Clock) {}

  createTimer(name: string, callback: (nowNs: number) => void): Timer {
    return new Timer(name, callback);
  }

  /** Arms (or re-arms) timer at an absolute deadline. */
  arm(timer: Timer, deadlineNs: number): void {
    if (timer.slot < 0) {
      timer.slot = this.armed.length;
      this.armed.push(timer);
    }
    const previous = timer.deadlineNs;
    timer.deadlineNs = deadlineNs;
    if (deadlineNs < this.earliestNs) this.earliestNs = deadlineNs;
    else if (previous === this.earliestNs) this.recompute();
  }

  cancel(timer: Timer): void {
    if (timer.slot < 0) return;
    const last = this.armed.pop()!;
    if (last !== timer) {
      this.armed[timer.slot] = last;
      last.slot = timer.slot;
    }
    timer.slot = -1;
    const previous = timer.deadlineNs;
    timer.deadlineNs = Infinity;
    if (previous === this.earliestNs) this.recompute();
  }

  isArmed(timer: Timer): boolean {
    return timer.slot >= 0;
  }

  /** Earliest armed deadline in ns, Infinity when nothing is armed. The CPU loop calls this often. */
  nextDeadlineNs(): number {
    return this.earliestNs;
  }

  /** Fires every timer whose deadline is <= nowNs (in deadline order); callbacks may re-arm. */
  runExpired(nowNs: number): void {
    let guard = 0;
    while (this.earliestNs <= nowNs) {
      let first: Timer | undefined;
      for (let i = 0; i < this.armed.length; i++) {
        const t = this.armed[i]!;
        if (first === undefined || t.deadlineNs < first.deadlineNs) first = t;
      }
      if (first === undefined) break;
      this.cancel(first);
      first.callback(nowNs);
      // A periodic timer far behind re-arms itself per period; devices skip missed periods
      // themselves, this guard only stops a buggy callback from spinning forever.
      if (++guard > 100000) break;
    }
  }

  private recompute(): void {
    let min = Infinity;
    for (let i = 0; i < this.armed.length; i++) {
      const d = this.armed[i]!.deadlineNs;
      if (d < min) min = d;
    }
    this.earliestNs = min;
  }
}
