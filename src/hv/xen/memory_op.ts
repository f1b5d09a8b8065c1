// memory_op (hypercall 12): XENMEM_add_to_physmap (shared_info, grant_table), memory_map, current/maximum
// reservation, maximum_gpfn, decrease_reservation / populate_physmap (balloon). Follows xen/common/memory.c
// and xen/arch/x86/mm.c; reservation ops return the number of extents done, never an errno, as Xen.
import { Errno } from "../../abi/xen/errno.ts";
import {
  E820Entry, MEMOP_CMD_MASK, MEMOP_EXTENT_SHIFT, XENMAPIDX_grant_table_status, XenAddToPhysmap, XenMapSpace, XenMem,
  XenMemoryDomain, XenMemoryMap, XenMemoryReservation, XenRemoveFromPhysmap,
} from "../../abi/xen/memory.ts";
import { copyFromGuest, copyToGuest, inOut, readStruct, type GuestCall } from "./guest_call.ts";
import type { XenEnv, XenGuest } from "./xen_guest.ts";
import { XenError } from "./xen_error.ts";

/** Largest extent order a domU may use (Xen CONFIG_DOMU_MAX_ORDER). */
export const DOMU_MAX_ORDER = 9;

/** HYPERVISOR_memory_op(cmd, arg). Returns a count/value ≥ 0 or throws XenError. */
export function memoryOp(env: XenEnv, call: GuestCall, cmd: number, arg: bigint): number {
  const op = cmd & MEMOP_CMD_MASK;
  const startExtent = Math.floor(cmd / 2 ** MEMOP_EXTENT_SHIFT);
  switch (op) {
    case XenMem.increase_reservation:
    case XenMem.decrease_reservation:
    case XenMem.populate_physmap:
      return reservationOp(env, call, op, arg, startExtent);

    case XenMem.current_reservation:
    case XenMem.maximum_reservation:
    case XenMem.maximum_gpfn: {
      if (startExtent !== 0) throw new XenError(Errno.EINVAL, "This memory_op takes no continuation");
      const { domid } = readStruct(call, XenMemoryDomain, arg);
      const guest = env.targetGuest(call, domid, "read the memory reservation");
      if (op === XenMem.current_reservation) return guest.totPages;
      if (op === XenMem.maximum_reservation) return guest.maxPages;
      return Math.max(0, guest.physmap.maxGfn());
    }

    case XenMem.add_to_physmap: {
      if (startExtent > 0xffff) throw new XenError(Errno.EINVAL, "Continuation beyond the size field");
      const x = readStruct(call, XenAddToPhysmap, arg);
      const guest = env.targetGuest(call, x.domid, "change the physmap");
      addToPhysmap(env, guest, x.space, x.idx, x.gpfn);
      return 0;
    }

    case XenMem.remove_from_physmap: {
      const x = readStruct(call, XenRemoveFromPhysmap, arg);
      env.targetGuest(call, x.domid, "change the physmap");
      throw new XenError(Errno.EOPNOTSUPP, "XENMEM_remove_from_physmap is not supported");
    }

    case XenMem.memory_map:
      return inOut(call, XenMemoryMap, arg, (m) => {
        const guest = env.targetGuest(call, call.domid, "read the memory map");
        if (guest.e820.length === 0) throw new XenError(Errno.ENOSYS, "The domain has no memory map");
        const n = Math.min(m.nrEntries, guest.e820.length);
        const out = new Uint8Array(n * E820Entry.size);
        for (let i = 0; i < n; i++) {
          const r = guest.e820[i]!;
          E820Entry.encode({ addr: BigInt(r.addr), size: BigInt(r.size), type: r.type }, out, i * E820Entry.size);
        }
        copyToGuest(call, m.buffer, out);
        m.nrEntries = n;
        return 0;
      });

    case XenMem.maximum_ram_page:
    case XenMem.exchange:
    case XenMem.machphys_mfn_list:
    case XenMem.machphys_mapping:
      throw new XenError(Errno.ENOSYS, `memory_op "${op}" is for PV guests`);
    default:
      throw new XenError(Errno.ENOSYS, `Unsupported memory_op "${op}"`);
  }
}

/** XENMEM_add_to_physmap for one page: shared_info (idx 0) or a grant-table frame. */
export function addToPhysmap(env: XenEnv, guest: XenGuest, space: number, idx: bigint, gpfn: bigint): void {
  if (gpfn > BigInt(Number.MAX_SAFE_INTEGER)) throw new XenError(Errno.EINVAL, `gpfn "0x${gpfn.toString(16)}" is out of range`);
  const gfn = Number(gpfn);
  switch (space) {
    case XenMapSpace.shared_info:
      if (idx !== 0n) throw new XenError(Errno.EINVAL, `shared_info has one page, not index "${idx}"`);
      guest.sharedInfo.place(gfn);
      return;
    case XenMapSpace.grant_table: {
      if (idx > 0xffff_ffffn) throw new XenError(Errno.EINVAL, `Grant frame index "${idx}" is out of range`);
      const i = Number(idx);
      if ((i & XENMAPIDX_grant_table_status) !== 0) throw new XenError(Errno.EINVAL, "Grant status frames exist only in v2");
      env.grants.mapFrame(guest.domid, i, gfn);
      return;
    }
    case XenMapSpace.gmfn_foreign:
      throw new XenError(Errno.ENOSYS, "Foreign mappings go through add_to_physmap_batch");
    case XenMapSpace.gmfn:
    case XenMapSpace.gmfn_range:
      throw new XenError(Errno.EOPNOTSUPP, "Moving RAM pages in the physmap is not supported");
    default:
      throw new XenError(Errno.EINVAL, `Unknown map space "${space}"`);
  }
}

function reservationOp(env: XenEnv, call: GuestCall, op: number, arg: bigint, startExtent: number): number {
  let r: ReturnType<typeof XenMemoryReservation.decode>;
  try {
    r = readStruct(call, XenMemoryReservation, arg);
  } catch {
    return startExtent;
  }
  const nrExtents = r.nrExtents > BigInt(0xffff_ffff >>> MEMOP_EXTENT_SHIFT) ? -1 : Number(r.nrExtents);
  if (nrExtents < 0 || startExtent >= nrExtents) return startExtent;
  let guest: XenGuest;
  try {
    guest = env.targetGuest(call, r.domid, "change the memory reservation");
  } catch {
    return startExtent;
  }
  if (r.extentOrder > DOMU_MAX_ORDER) return startExtent;
  if (op === XenMem.increase_reservation) return startExtent; // no MFNs to hand out to a translated guest
  const pagesPerExtent = 2 ** r.extentOrder;
  let done = startExtent;
  for (; done < nrExtents; done++) {
    let gfnBase: bigint;
    try {
      gfnBase = new DataView(copyFromGuest(call, r.extentStart + BigInt(done * 8), 8).buffer).getBigUint64(0, true);
    } catch {
      break;
    }
    if (gfnBase % BigInt(pagesPerExtent) !== 0n || gfnBase + BigInt(pagesPerExtent) > BigInt(Number.MAX_SAFE_INTEGER)) break;
    const base = Number(gfnBase);
    if (op === XenMem.decrease_reservation) {
      if (!releaseExtent(guest, base, pagesPerExtent)) break;
    } else if (!populateExtent(guest, base, pagesPerExtent)) break;
  }
  return done;
}

/**
 * Balloon down: every page of the extent must be populated RAM not holding shared_info or a vcpu_info (Xen
 * keeps its own reference on those); all are released or none.
 */
function releaseExtent(guest: XenGuest, base: number, pages: number): boolean {
  for (let i = 0; i < pages; i++) if (!guest.physmap.isRam(base + i) || guest.sharedInfo.usesGfn(base + i)) return false;
  for (let i = 0; i < pages; i++) guest.physmap.releaseRam(base + i);
  guest.totPages -= pages;
  return true;
}

/** Balloon up: repopulate released RAM pages within maxPages; already-populated pages count as done. */
function populateExtent(guest: XenGuest, base: number, pages: number): boolean {
  let needed = 0;
  for (let i = 0; i < pages; i++) {
    const gfn = base + i;
    if (guest.physmap.isRam(gfn)) continue;
    if (gfn >= guest.physmap.ramPages || guest.physmap.page(gfn) !== undefined) return false;
    needed++;
  }
  if (guest.totPages + needed > guest.maxPages) return false;
  for (let i = 0; i < pages; i++) if (guest.physmap.populateRam(base + i)) guest.totPages++;
  return true;
}

