// Save/restore record of the RTC/CMOS.

export interface RtcStateV1 {
  readonly version: 1;
  readonly index: number;
  /** All 128 CMOS bytes (time registers hold stale values; time comes from baseSeconds). */
  readonly cmos: readonly number[];
  /** Wall-clock seconds (Unix time) at domain time 0, as adjusted by the guest. */
  readonly baseSeconds: number;
  /** Unix time frozen while REG_B.SET is on, else -1. */
  readonly frozenSeconds: number;
}

export type RtcState = RtcStateV1;
