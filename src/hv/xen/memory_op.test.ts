// memory_op as Linux PVH issues it at boot (xen-abi-on-kvm.md §5, §8), plus the reservation queries and balloon.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import { E820Entry, XenAddToPhysmap, XenMapSpace, XenMem, XenMemoryDomain, XenMemoryMap, XenMemoryReservation } from "../../abi/xen/memory.ts";
import { DOMID_SELF } from "../../abi/xen/xen.ts";
import { memoryOp } from "./memory_op.ts";
import { makeXenWorld } from "./test_support.ts";
import { XenError } from "./xen_error.ts";

const ARG = 0x3000;
const LIST = 0x4000;
const errno = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as XenError).errno;
  }
  return 0;
};

test("add_to_physmap(shared_info) at gpfn 0x10 makes that RAM page shared_info", () => {
  const w = makeXenWorld();
  w.ramA.bytes.set(XenAddToPhysmap.build({ domid: DOMID_SELF, space: XenMapSpace.shared_info, idx: 0n, gpfn: 0x10n }), ARG);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.add_to_physmap, BigInt(ARG)), 0);
  assert.equal(w.a.sharedInfo.gfn, 0x10);
  w.xen.events.send(1, w.xen.events.bindIpi(1, 0));
  assert.notEqual(w.ramA.bytes[0x10 * 4096 + 2048], 0, "the pending bit is in guest RAM");
  w.ramA.bytes.set(XenAddToPhysmap.build({ domid: DOMID_SELF, space: XenMapSpace.shared_info, idx: 1n, gpfn: 0x11n }), ARG);
  assert.equal(errno(() => memoryOp(w.xen, w.call(1), XenMem.add_to_physmap, BigInt(ARG))), Errno.EINVAL);
});

test("add_to_physmap(grant_table) places frames highest first; status frames and other domains are refused", () => {
  const w = makeXenWorld();
  for (const idx of [3, 2, 1, 0]) {
    w.ramA.bytes.set(XenAddToPhysmap.build({ domid: DOMID_SELF, space: XenMapSpace.grant_table, idx: BigInt(idx), gpfn: BigInt(0x107ffc + idx) }), ARG);
    memoryOp(w.xen, w.call(1), XenMem.add_to_physmap, BigInt(ARG));
  }
  assert.equal(w.xen.grants.nrFrames(1), 4);
  assert.ok(w.a.physmap.page(0x107ffc) !== undefined);
  w.ramA.bytes.set(XenAddToPhysmap.build({ domid: DOMID_SELF, space: XenMapSpace.grant_table, idx: 0x8000_0000n, gpfn: 0x200000n }), ARG);
  assert.equal(errno(() => memoryOp(w.xen, w.call(1), XenMem.add_to_physmap, BigInt(ARG))), Errno.EINVAL);
  w.ramA.bytes.set(XenAddToPhysmap.build({ domid: 2, space: XenMapSpace.shared_info, idx: 0n, gpfn: 0x10n }), ARG);
  assert.equal(errno(() => memoryOp(w.xen, w.call(1), XenMem.add_to_physmap, BigInt(ARG))), Errno.EPERM);
  w.ramA.bytes.set(XenAddToPhysmap.build({ domid: DOMID_SELF, space: 9, idx: 0n, gpfn: 0x10n }), ARG);
  assert.equal(errno(() => memoryOp(w.xen, w.call(1), XenMem.add_to_physmap, BigInt(ARG))), Errno.EINVAL);
});

test("memory_map returns the domain's e820, at most nr_entries of it", () => {
  const w = makeXenWorld();
  w.ramA.bytes.set(XenMemoryMap.build({ nrEntries: 8, buffer: BigInt(LIST) }), ARG);
  memoryOp(w.xen, w.call(1), XenMem.memory_map, BigInt(ARG));
  assert.equal(XenMemoryMap.decode(w.ramA.bytes, ARG).nrEntries, 2);
  assert.deepEqual(E820Entry.decode(w.ramA.bytes, LIST + 20), { addr: 0xfc000000n, size: 0x4000000n, type: 2 });
  w.ramA.bytes.set(XenMemoryMap.build({ nrEntries: 1, buffer: BigInt(LIST) }), ARG);
  memoryOp(w.xen, w.call(1), XenMem.memory_map, BigInt(ARG));
  assert.equal(XenMemoryMap.decode(w.ramA.bytes, ARG).nrEntries, 1);
});

test("reservation queries answer for self, refuse other domains to a domU", () => {
  const w = makeXenWorld();
  w.ramA.bytes.set(XenMemoryDomain.build({ domid: DOMID_SELF }), ARG);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.current_reservation, BigInt(ARG)), 64);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.maximum_reservation, BigInt(ARG)), 64);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.maximum_gpfn, BigInt(ARG)), 63);
  w.ramA.bytes.set(XenMemoryDomain.build({ domid: 2 }), ARG);
  assert.equal(errno(() => memoryOp(w.xen, w.call(1), XenMem.current_reservation, BigInt(ARG))), Errno.EPERM);
  assert.equal(errno(() => memoryOp(w.xen, w.call(1), 63, BigInt(ARG))), Errno.ENOSYS);
});

test("the balloon gives pages back and takes them again within maxmem", () => {
  const w = makeXenWorld();
  const dv = new DataView(w.ramA.bytes.buffer);
  dv.setBigUint64(LIST, 0x30n, true);
  dv.setBigUint64(LIST + 8, 0x31n, true);
  dv.setBigUint64(LIST + 16, 0x100000n, true); // not RAM: stops there
  w.ramA.bytes[0x30 * 4096] = 0x99;
  const res = (nr: number, domid = DOMID_SELF) =>
    w.ramA.bytes.set(XenMemoryReservation.build({ extentStart: BigInt(LIST), nrExtents: BigInt(nr), extentOrder: 0, memFlags: 0, domid }), ARG);
  res(3);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.decrease_reservation, BigInt(ARG)), 2);
  assert.equal(w.a.totPages, 62);
  assert.equal(w.a.physmap.isRam(0x30), false);
  res(2);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.populate_physmap, BigInt(ARG)), 2);
  assert.equal(w.a.totPages, 64);
  assert.equal(w.ramA.bytes[0x30 * 4096], 0, "repopulated pages are zero");
  res(2, 2);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.decrease_reservation, BigInt(ARG)), 0, "another domain: nothing done");
  w.ramA.bytes.set(XenMemoryReservation.build({ extentStart: BigInt(LIST), nrExtents: 1n, extentOrder: 10, memFlags: 0, domid: DOMID_SELF }), ARG);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.decrease_reservation, BigInt(ARG)), 0, "order above 9");
});

test("populate_physmap stops at maxmem", () => {
  const w = makeXenWorld();
  const dv = new DataView(w.ramA.bytes.buffer);
  dv.setBigUint64(LIST, 0x30n, true);
  w.ramA.bytes.set(XenMemoryReservation.build({ extentStart: BigInt(LIST), nrExtents: 1n, extentOrder: 0, memFlags: 0, domid: DOMID_SELF }), ARG);
  memoryOp(w.xen, w.call(1), XenMem.decrease_reservation, BigInt(ARG));
  w.a.maxPages = 63;
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.populate_physmap, BigInt(ARG)), 0);
  w.a.maxPages = 64;
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.populate_physmap, BigInt(ARG)), 1);
});

test("the balloon refuses the pages that hold shared_info or a vcpu_info", () => {
  const w = makeXenWorld();
  w.a.sharedInfo.place(0x10);
  w.a.sharedInfo.registerVcpuInfo(1, 0x11, 0);
  const dv = new DataView(w.ramA.bytes.buffer);
  dv.setBigUint64(LIST, 0x10n, true);
  dv.setBigUint64(LIST + 8, 0x11n, true);
  w.ramA.bytes.set(XenMemoryReservation.build({ extentStart: BigInt(LIST), nrExtents: 2n, extentOrder: 0, memFlags: 0, domid: DOMID_SELF }), ARG);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.decrease_reservation, BigInt(ARG)), 0);
  dv.setBigUint64(LIST, 0x12n, true);
  assert.equal(memoryOp(w.xen, w.call(1), XenMem.decrease_reservation, BigInt(ARG)), 1);
});
