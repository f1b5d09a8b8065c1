// Save/restore record of the 8254 PIT and port 0x61.

export interface PitChannelStateV1 {
  readonly mode: number;
  readonly rwMode: number;
  readonly bcd: boolean;
  /** Programmed count (0 = 65536). */
  readonly reload: number;
  readonly loaded: boolean;
  readonly counting: boolean;
  readonly loadNs: number;
  readonly gate: boolean;
  readonly stoppedAtNs: number;
  readonly writeLsbNext: boolean;
  readonly pendingLsb: number;
  readonly readMsbNext: boolean;
  readonly latchedCount: number;
  readonly latchedCountMsbNext: boolean;
  readonly latchedStatus: number;
  readonly nullCount: boolean;
}

export interface Pit8254StateV1 {
  readonly version: 1;
  readonly channels: readonly PitChannelStateV1[];
  readonly portB: number;
}

export type Pit8254State = Pit8254StateV1;
