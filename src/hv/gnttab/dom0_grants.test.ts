// dom0 backends' grant access: a blkback-style read of a request page and write of a response.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GrantEntryV1, Gntst, Gtf } from "../../abi/xen/grant_table.ts";
import { makeGuest } from "../xen/test_support.ts";
import { Dom0Grants } from "./dom0_grants.ts";
import { GrantStatusError, GrantTables } from "./grant_table.ts";

test("dom0 maps a ring page granted to it, copies data in and out, and is refused what it was not granted", () => {
  const gt = new GrantTables();
  const dom0 = new Dom0Grants(gt);
  const g = makeGuest(5);
  gt.addDomain(5, { physmap: g.physmap });
  gt.mapFrame(5, 0, 0x100000);
  const table = g.physmap.page(0x100000)!;
  GrantEntryV1.encode({ flags: Gtf.permit_access, domid: 0, frame: 0x20 }, table, 8 * 8);
  GrantEntryV1.encode({ flags: Gtf.permit_access, domid: 3, frame: 0x21 }, table, 9 * 8);
  const ring = dom0.map(5, 8, false);
  ring.page[0] = 42;
  assert.equal(g.ram.bytes[0x20 * 4096], 42);
  dom0.copyTo(5, 8, 100, Uint8Array.of(7, 7));
  const back = new Uint8Array(2);
  dom0.copyFrom(5, 8, 100, back);
  assert.deepEqual([...back], [7, 7]);
  dom0.unmap(ring);
  assert.throws(() => dom0.map(5, 9, true), (e: unknown) => e instanceof GrantStatusError && e.status === Gntst.general_error);
});
