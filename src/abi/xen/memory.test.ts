// Golden bytes for memory_op structs: expected bytes written by hand from xen/include/public/memory.h (x86_64).
import { test } from "node:test";
import assert from "node:assert/strict";
import { E820Entry, XenAddToPhysmap, XenMemoryMap, XenMemoryReservation, XenRemoveFromPhysmap } from "./memory.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

test("xen_add_to_physmap matches the layout Linux uses for shared_info (xen-abi-on-kvm.md §5 step 4)", () => {
  const v = { domid: 0x7ff0, size: 0, space: 0, idx: 0n, gpfn: 0x10n };
  const b = XenAddToPhysmap.build(v);
  assert.deepEqual(b, hex("f0 7f 00 00 00 00 00 00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 00 00"));
  assert.deepEqual(XenAddToPhysmap.decode(b), v);
});

test("xen_memory_reservation puts domid at 24 after two 8-byte fields and two u32", () => {
  const v = { extentStart: 0xffff888000001000n, nrExtents: 2n, extentOrder: 0, memFlags: 0, domid: 0x7ff0 };
  const b = XenMemoryReservation.build(v);
  assert.deepEqual(
    b,
    hex("00 10 00 00 80 88 ff ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 f0 7f 00 00 00 00 00 00"),
  );
  assert.deepEqual(XenMemoryReservation.decode(b), v);
});

test("xen_memory_map, remove_from_physmap and the packed e820 entry", () => {
  assert.deepEqual(XenMemoryMap.build({ nrEntries: 3, buffer: 0x5000n }), hex("03 00 00 00 00 00 00 00 00 50 00 00 00 00 00 00"));
  assert.deepEqual(XenRemoveFromPhysmap.build({ domid: 1, gpfn: 2n }), hex("01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00"));
  assert.deepEqual(
    E820Entry.build({ addr: 0x100000n, size: 0x7f00000n, type: 1 }),
    hex("00 00 10 00 00 00 00 00 00 00 f0 07 00 00 00 00 01 00 00 00"),
  );
});
