// Golden bytes for xen_version structs and the PVH feature submap (xen/include/public/version.h, features.h,
// submap values from xen-abi-on-kvm.md §5).
import { test } from "node:test";
import assert from "node:assert/strict";
import { XenCompileInfo, XenFeatureInfo, encodeXenVersion } from "./version.ts";
import { pvhFeatureSubmap } from "./features.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

test("xen_feature_info is submap_idx then submap", () => {
  assert.deepEqual(XenFeatureInfo.build({ submapIdx: 0, submap: 0x30d }), hex("00 00 00 00 0d 03 00 00"));
  assert.equal(XenCompileInfo.size, 144);
});

test("XENVER_version packs major:minor as 16:16", () => {
  assert.equal(encodeXenVersion(4, 17), 0x40011);
});

test("the PVH submap has bits 0, 2, 3, 8 and bit 9 only with safe pvclock", () => {
  assert.equal(pvhFeatureSubmap({ safePvclock: false }), 0b1_0000_1101);
  assert.equal(pvhFeatureSubmap({ safePvclock: true }), 0b11_0000_1101);
});
