// Save/restore records of the i8042 controller and the reset ports.

export interface I8042StateV1 {
  readonly version: 1;
  readonly ctr: number;
  readonly status: number;
  readonly pendingCommand: number;
  readonly pendingKeyboardCommand: number;
  readonly outputPort: number;
  /** Output queue: bytes and whether each came from the AUX port. */
  readonly queue: readonly { readonly byte: number; readonly aux: boolean; readonly timeout: boolean }[];
}

export interface ResetPortsStateV1 {
  readonly version: 1;
  readonly portA: number;
  readonly resetControl: number;
}

export type I8042State = I8042StateV1;
export type ResetPortsState = ResetPortsStateV1;
