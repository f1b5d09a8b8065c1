// Save/restore record of the whole PC platform (one versioned record per device, by name).
import type { LapicState } from "../devices/lapic/state.ts";
import type { IoapicState } from "../devices/ioapic/state.ts";
import type { Pic8259State } from "../devices/pic8259/state.ts";
import type { Pit8254State } from "../devices/pit8254/state.ts";
import type { RtcState } from "../devices/rtc/state.ts";
import type { Serial8250State } from "../devices/serial8250/state.ts";
import type { I8042State, ResetPortsState } from "../devices/i8042/state.ts";
import type { Pm1State } from "../devices/pm/state.ts";

export interface PcMachineStateV1 {
  readonly version: 1;
  readonly lapics: readonly LapicState[];
  readonly ioapic: IoapicState;
  readonly pic: Pic8259State;
  readonly pit: Pit8254State;
  readonly rtc: RtcState;
  readonly com1: Serial8250State;
  readonly i8042: I8042State;
  readonly resetPorts: ResetPortsState;
  readonly pm: Pm1State;
}

export type PcMachineState = PcMachineStateV1;
