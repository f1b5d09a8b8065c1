// Save/restore record of the cascaded 8259A pair and the ELCR.

export interface Pic8259ChipStateV1 {
  readonly irr: number;
  readonly isr: number;
  readonly imr: number;
  readonly lastLevels: number;
  readonly vectorBase: number;
  readonly priorityAdd: number;
  readonly initStep: number;
  readonly needIcw4: boolean;
  readonly single: boolean;
  readonly autoEoi: boolean;
  readonly rotateOnAutoEoi: boolean;
  readonly specialFullyNested: boolean;
  readonly specialMask: boolean;
  readonly readIsr: boolean;
  readonly poll: boolean;
  readonly elcr: number;
}

export interface Pic8259StateV1 {
  readonly version: 1;
  readonly master: Pic8259ChipStateV1;
  readonly slave: Pic8259ChipStateV1;
}

export type Pic8259State = Pic8259StateV1;
