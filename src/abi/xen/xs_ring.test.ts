// Golden offsets for struct xenstore_domain_interface (xen/include/public/io/xs_wire.h: two 1024-byte char arrays
// followed by eight uint32_t fields; offsets computed by hand from the C declaration order, no padding).
import { test } from "node:test";
import assert from "node:assert/strict";
import { XENSTORE_RING_SIZE, XenstoreDomainInterface as L, maskXenstoreIdx } from "./xs_ring.ts";

test("ring fields sit at the offsets of the C struct", () => {
  assert.equal(XENSTORE_RING_SIZE, 1024);
  assert.deepEqual(
    [L.req, L.rsp, L.reqCons, L.reqProd, L.rspCons, L.rspProd, L.serverFeatures, L.connection, L.error, L.evtchnPort, L.size],
    [0, 1024, 2048, 2052, 2056, 2060, 2064, 2068, 2072, 2076, 2080],
  );
});

test("a page with req_prod = 0x12345678 has the index bytes little-endian at 2052", () => {
  const page = new Uint8Array(4096);
  new DataView(page.buffer).setUint32(L.reqProd, 0x12345678, true);
  assert.deepEqual([...page.subarray(2052, 2056)], [0x78, 0x56, 0x34, 0x12]);
});

test("maskXenstoreIdx() wraps free-running indices", () => {
  assert.equal(maskXenstoreIdx(1023), 1023);
  assert.equal(maskXenstoreIdx(1024), 0);
  assert.equal(maskXenstoreIdx(0xffffffff), 1023);
});
