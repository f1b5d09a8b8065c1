// Save/restore record of the ACPI PM1 block.

export interface Pm1StateV1 {
  readonly version: 1;
  readonly status: number;
  readonly enable: number;
  readonly control: number;
}

export type Pm1State = Pm1StateV1;
