// Test fixtures for the Xen guest-interface subsystems (imported by *.test.ts only): a domain with flat RAM,
// identity-mapped "virtual" memory for hypercall arguments, shared_info, 2-level delivery and an upcall log.
import type { GuestRam, GuestVirtualMemory } from "../ports.ts";
import { RamPhysmap } from "./guest_physmap.ts";
import { SharedInfo } from "./shared_info.ts";
import { Evtchn2l } from "../evtchn/event_2l.ts";
import type { GuestCall } from "./guest_call.ts";

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
