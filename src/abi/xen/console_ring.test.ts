// Golden offsets for struct xencons_interface (xen/include/public/io/console.h: in[1024], out[2048], four u32, u8).
import { test } from "node:test";
import assert from "node:assert/strict";
import { XenconsInterface as C, maskConsInIdx, maskConsOutIdx } from "./console_ring.ts";

test("console ring fields sit at the offsets of the C struct", () => {
  assert.deepEqual([C.in, C.out, C.inCons, C.inProd, C.outCons, C.outProd, C.connection], [0, 1024, 3072, 3076, 3080, 3084, 3088]);
});

test("out_prod = 0x01020304 is stored little-endian at 3084", () => {
  const page = new Uint8Array(4096);
  new DataView(page.buffer).setUint32(C.outProd, 0x01020304, true);
  assert.deepEqual([...page.subarray(3084, 3088)], [4, 3, 2, 1]);
});

test("indices wrap at the ring sizes", () => {
  assert.equal(maskConsInIdx(1024 + 5), 5);
  assert.equal(maskConsOutIdx(0xffffffff), 2047);
});
