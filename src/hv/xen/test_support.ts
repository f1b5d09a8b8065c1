// Test fixtures for the Xen guest-interface subsystems (imported by *.test.ts only): a domain with flat RAM,
// identity-mapped "virtual" memory for hypercall arguments, shared_info, 2-level delivery and an upcall log.
import type { GuestRam, GuestVirtualMemory } from "../ports.ts";
import { RamPhysmap } from "./guest_physmap.ts";
import { SharedInfo } from "./shared_info.ts";
import { Evtchn2l } from "../evtchn/event_2l.ts";
import type { GuestCall } from "./guest_call.ts";
import { EventChannels } from "../evtchn/event_channels.ts";
import { GrantTables } from "../gnttab/grant_table.ts";
import { XenGuests, type XenGuest } from "./xen_guest.ts";
import type { XenClock } from "./time.ts";
import { Dom0EventChannels } from "../evtchn/dom0_evtchn.ts";

export function makeRam(pages: number): GuestRam {
  const bytes = new Uint8Array(new SharedArrayBuffer(pages * 4096));
  return { bytes, sizeBytes: bytes.length };
}

/** Guest-virtual = guest-physical over RAM; anything outside throws (the hypercall layer turns it into EFAULT). */
export function identityMemory(ram: GuestRam): GuestVirtualMemory {
  return {
    read(va, len) {
      const a = Number(va);
      if (va < 0n || a + len > ram.sizeBytes) throw new Error(`unmapped ${va}`);
      return ram.bytes.slice(a, a + len);
    },
    write(va, data) {
      const a = Number(va);
      if (va < 0n || a + data.length > ram.sizeBytes) throw new Error(`unmapped ${va}`);
      ram.bytes.set(data, a);
    },
  };
}

export interface TestGuest {
  readonly domid: number;
  readonly ram: GuestRam;
  readonly physmap: RamPhysmap;
  readonly sharedInfo: SharedInfo;
  readonly ops: Evtchn2l;
  readonly upcalls: number[];
  call(vcpuId?: number): GuestCall;
}

export function makeGuest(domid: number, nrVcpus = 2, pages = 64): TestGuest {
  const ram = makeRam(pages);
  const physmap = new RamPhysmap(ram);
  const sharedInfo = new SharedInfo(physmap, nrVcpus);
  const upcalls: number[] = [];
  const ops = new Evtchn2l({
    get words() {
      return sharedInfo.words;
    },
    vcpuInfo: (v) => sharedInfo.vcpuInfo(v),
    upcall: (v) => upcalls.push(v),
  });
  const mem = identityMemory(ram);
  return {
    domid, ram, physmap, sharedInfo, ops, upcalls,
    call: (vcpuId = 0) => ({ domid, vcpuId, privileged: domid === 0, mem }),
  };
}

// ---- A XenGuests registry with two domUs and a manual clock ----

/** A clock whose time moves only when told; guest TSC = ns × tscHz / 1e9 (+ an offset). */
export class ManualClock implements XenClock {
  ns = 1_000_000_000n;
  constructor(
    readonly tscHz = 2_300_000_000,
    private readonly tscOffset = 123_456_789n,
  ) {}
  monotonicNs(): bigint {
    return this.ns;
  }
  guestTsc(): bigint {
    return (this.ns * BigInt(this.tscHz)) / 1_000_000_000n + this.tscOffset;
  }
  wallclockNs(): bigint {
    return 1_764_000_000_000_000_000n + this.ns;
  }
  advance(ns: bigint | number): void {
    this.ns += BigInt(ns);
  }
}

export interface XenWorld {
  readonly xen: XenGuests;
  readonly clock: ManualClock;
  readonly dom0: Dom0EventChannels;
  readonly a: XenGuest;
  readonly b: XenGuest;
  readonly ramA: GuestRam;
  readonly ramB: GuestRam;
  /** [domid, vcpuId, vector] per injection. */
  readonly injected: [number, number, number][];
  readonly timerChanges: [number, number, bigint | undefined][];
  call(domid: number, vcpuId?: number): GuestCall;
}

export function makeXenWorld(pages = 64): XenWorld {
  const events = new EventChannels();
  const grants = new GrantTables();
  const xen = new XenGuests(events, grants);
  const dom0 = new Dom0EventChannels(events);
  grants.addControlDomain(0);
  const clock = new ManualClock();
  const injected: [number, number, number][] = [];
  const timerChanges: [number, number, bigint | undefined][] = [];
  const rams = new Map<number, GuestRam>();
  const add = (domid: number) => {
    const ram = makeRam(pages);
    rams.set(domid, ram);
    return xen.add({
      domid,
      nrVcpus: 2,
      physmap: new RamPhysmap(ram),
      clock,
      hooks: {
        inject: (v, vector) => injected.push([domid, v, vector]),
        timerChanged: (v, d) => timerChanges.push([domid, v, d]),
      },
      e820: [
        { addr: 0, size: pages * 4096, type: 1 },
        { addr: 0xfc000000, size: 0x4000000, type: 2 },
      ],
      maxPages: pages,
      totPages: pages,
    });
  };
  const a = add(1);
  const b = add(2);
  return {
    xen, clock, dom0, a, b, ramA: rams.get(1)!, ramB: rams.get(2)!, injected, timerChanges,
    call: (domid, vcpuId = 0) => ({ domid, vcpuId, privileged: domid === 0, mem: identityMemory(rams.get(domid) ?? makeRam(0)) }),
  };
}
