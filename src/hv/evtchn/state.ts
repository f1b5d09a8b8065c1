// Saved event-channel state of one domain: a named, versioned record (STYLE §7). Pending/mask bits live in
// shared_info (guest RAM or its saved overlay), so only the port table is here.
import type { Channel } from "./event_channels.ts";

export interface EvtchnDomainState {
  readonly version: 1;
  readonly nrVcpus: number;
  readonly nrPorts: number;
  /** Every port that is not free (port 0, reserved, is implied). */
  readonly ports: readonly ({ readonly port: number } & Exclude<Channel, { state: "free" } | { state: "reserved" }>)[];
}
