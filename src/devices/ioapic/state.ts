// Save/restore record of the I/O APIC.

export interface IoapicStateV1 {
  readonly version: 1;
  readonly id: number;
  readonly select: number;
  /** Redirection entries: low and high dwords per pin. */
  readonly redirLow: readonly number[];
  readonly redirHigh: readonly number[];
  /** Pin input levels (1 = asserted). */
  readonly levels: readonly number[];
  /** Latched edges not yet delivered (masked edge-triggered pins). */
  readonly pendingEdges: readonly number[];
}

export type IoapicState = IoapicStateV1;
