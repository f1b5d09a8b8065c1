// Save/restore record of a 16550A UART.

export interface Serial8250StateV1 {
  readonly version: 1;
  readonly ier: number;
  readonly lcr: number;
  readonly mcr: number;
  readonly lsr: number;
  readonly msr: number;
  readonly scr: number;
  readonly fcr: number;
  readonly divisor: number;
  readonly thrInterruptPending: boolean;
  /** Received bytes not yet read by the guest, oldest first. */
  readonly rx: readonly number[];
}

export type Serial8250State = Serial8250StateV1;
