// Save/restore record of one local APIC.

export interface LapicStateV1 {
  readonly version: 1;
  readonly apicId: number;
  readonly apicBase: number;
  readonly tpr: number;
  readonly ldr: number;
  readonly dfr: number;
  readonly svr: number;
  readonly esr: number;
  readonly esrPending: number;
  readonly icrLow: number;
  readonly icrHigh: number;
  readonly lvt: readonly number[];
  readonly isr: readonly number[];
  readonly tmr: readonly number[];
  readonly irr: readonly number[];
  readonly divideConfig: number;
  readonly timerInitialCount: number;
  /** Start of the current count-down period (ns, domain clock); meaningful while the timer runs. */
  readonly timerStartNs: number;
  readonly timerRunning: boolean;
  /** TSC-deadline MSR value (TSC ticks), 0 = disarmed. */
  readonly tscDeadline: number;
  readonly lint0Level: boolean;
}

export type LapicState = LapicStateV1;
