// Per-vCPU Xen timers: the VCPUOP singleshot timer and the periodic timer, both firing VIRQ_TIMER
// (xen/common/domain.c VCPUOP_set_singleshot_timer / set_periodic_timer; xen-abi-on-kvm.md §6).
//
// Design: deadlines are Xen system time (ns since domain start) kept per vCPU. The core does not own a
// host timer: every change is reported through onChange(vcpuId, nextDeadlineNs | undefined) so the CPU
// backend can wake a halted vCPU at the right moment, and the backend (or a test) calls expire(vcpuId, now)
// when that moment comes; expire raises VIRQ_TIMER for each timer that is due and re-arms the periodic one.

export type TimerChange = (vcpuId: number, deadlineNs: bigint | undefined) => void;

export class VcpuTimers {
  private readonly singleshot: (bigint | undefined)[];
  private readonly periodNs: bigint[];
  private readonly periodicNext: (bigint | undefined)[];

  constructor(
    readonly nrVcpus: number,
    private readonly fire: (vcpuId: number) => void,
    private readonly onChange: TimerChange = () => {},
  ) {
    this.singleshot = new Array<bigint | undefined>(nrVcpus).fill(undefined);
    this.periodNs = new Array<bigint>(nrVcpus).fill(0n);
    this.periodicNext = new Array<bigint | undefined>(nrVcpus).fill(undefined);
  }

  setSingleshot(vcpuId: number, deadlineNs: bigint): void {
    this.singleshot[vcpuId] = deadlineNs;
    this.changed(vcpuId);
  }

  stopSingleshot(vcpuId: number): void {
    this.singleshot[vcpuId] = undefined;
    this.changed(vcpuId);
  }

  setPeriodic(vcpuId: number, periodNs: bigint, nowNs: bigint): void {
    this.periodNs[vcpuId] = periodNs;
    this.periodicNext[vcpuId] = nowNs + periodNs;
    this.changed(vcpuId);
  }

  stopPeriodic(vcpuId: number): void {
    this.periodNs[vcpuId] = 0n;
    this.periodicNext[vcpuId] = undefined;
    this.changed(vcpuId);
  }

  /** The earliest pending deadline of vcpuId, or undefined. */
  nextDeadline(vcpuId: number): bigint | undefined {
    const a = this.singleshot[vcpuId];
    const b = this.periodicNext[vcpuId];
    if (a === undefined) return b;
    if (b === undefined) return a;
    return a < b ? a : b;
  }

  /** Fires every timer of vcpuId due at nowNs (one VIRQ_TIMER at most per call, as an edge). Returns true if fired. */
  expire(vcpuId: number, nowNs: bigint): boolean {
    let due = false;
    const s = this.singleshot[vcpuId];
    if (s !== undefined && s <= nowNs) {
      this.singleshot[vcpuId] = undefined;
      due = true;
    }
    const p = this.periodicNext[vcpuId];
    const period = this.periodNs[vcpuId]!;
    if (p !== undefined && period > 0n && p <= nowNs) {
      const missed = (nowNs - p) / period;
      this.periodicNext[vcpuId] = p + (missed + 1n) * period;
      due = true;
    }
    if (due) {
      this.fire(vcpuId);
      this.changed(vcpuId);
    }
    return due;
  }

  save(): VcpuTimersState {
    const opt = (v: bigint | undefined) => (v === undefined ? null : String(v));
    return {
      version: 1,
      singleshotNs: this.singleshot.map(opt),
      periodNs: this.periodNs.map(String),
      periodicNextNs: this.periodicNext.map(opt),
    };
  }

  restore(state: VcpuTimersState): void {
    if (state.version !== 1) throw new RangeError(`Timer record version ${String(state.version)} is not supported`);
    const opt = (v: string | null | undefined) => (v === null || v === undefined ? undefined : BigInt(v));
    for (let v = 0; v < this.nrVcpus; v++) {
      this.singleshot[v] = opt(state.singleshotNs[v]);
      this.periodNs[v] = BigInt(state.periodNs[v] ?? "0");
      this.periodicNext[v] = opt(state.periodicNextNs[v]);
      this.changed(v);
    }
  }

  private changed(vcpuId: number): void {
    this.onChange(vcpuId, this.nextDeadline(vcpuId));
  }
}

export interface VcpuTimersState {
  readonly version: 1;
  /** Per vCPU, decimal ns or null. */
  readonly singleshotNs: readonly (string | null)[];
  readonly periodNs: readonly string[];
  readonly periodicNextNs: readonly (string | null)[];
}
