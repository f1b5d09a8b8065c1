// shared_info placement and VCPUOP_register_vcpu_info rules (Xen map_guest_area / vcpu_info_populate).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import { makeGuest } from "./test_support.ts";
import { XenError } from "./xen_error.ts";

const errno = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as XenError).errno;
  }
  return 0;
};

test("placing shared_info on a RAM gfn copies the contents there and uses that page from then on", () => {
  const g = makeGuest(1);
  g.sharedInfo.bytes[2048] = 0x11;
  g.ram.bytes[0x10 * 4096 + 100] = 0xee; // old RAM contents are overwritten
  g.sharedInfo.place(0x10);
  assert.equal(g.sharedInfo.gfn, 0x10);
  assert.equal(g.ram.bytes[0x10 * 4096 + 2048], 0x11);
  assert.equal(g.ram.bytes[0x10 * 4096 + 100], 0);
  g.sharedInfo.bytes[2049] = 0x22;
  assert.equal(g.ram.bytes[0x10 * 4096 + 2049], 0x22);
});

test("placing shared_info outside RAM maps it as an overlay; moving it removes the old overlay", () => {
  const g = makeGuest(1);
  g.sharedInfo.place(0x100000);
  assert.equal(g.physmap.page(0x100000), g.sharedInfo.bytes);
  g.sharedInfo.place(0x100001);
  assert.equal(g.physmap.page(0x100000), undefined);
  assert.equal(g.physmap.page(0x100001), g.sharedInfo.bytes);
});

test("vcpu_info registration copies the legacy slot and refuses bad places as Xen does", () => {
  const g = makeGuest(1, 2);
  g.sharedInfo.bytes[64 + 8] = 0x5;
  const ref = g.sharedInfo.registerVcpuInfo(1, 0x20, 0x80);
  assert.equal(ref.bytes[0x80 + 8], 0x5);
  assert.equal(g.sharedInfo.vcpuInfo(1)!.offset, 0x80);
  assert.equal(errno(() => g.sharedInfo.registerVcpuInfo(1, 0x21, 0)), Errno.EBUSY);
  assert.equal(errno(() => g.sharedInfo.registerVcpuInfo(0, 0x21, 4090)), Errno.ENXIO);
  assert.equal(errno(() => g.sharedInfo.registerVcpuInfo(0, 0x21, 4)), Errno.ENXIO);
  assert.equal(errno(() => g.sharedInfo.registerVcpuInfo(0, 0x21, 4096)), Errno.EINVAL);
  assert.equal(errno(() => g.sharedInfo.registerVcpuInfo(0, 0x100000, 0)), Errno.EINVAL);
  assert.equal(errno(() => g.sharedInfo.registerVcpuInfo(2, 0x21, 0)), Errno.ENOENT);
  assert.deepEqual(g.sharedInfo.save().vcpuInfo, [{ vcpuId: 1, gfn: 0x20, offset: 0x80 }]);
});

test("the legacy vcpu_info follows shared_info when it moves", () => {
  const g = makeGuest(1, 2);
  g.sharedInfo.place(0x10);
  assert.equal(g.sharedInfo.vcpuInfo(1)!.bytes.byteOffset, g.ram.bytes.byteOffset + 0x10 * 4096);
  assert.equal(g.sharedInfo.vcpuInfo(1)!.offset, 64);
});
