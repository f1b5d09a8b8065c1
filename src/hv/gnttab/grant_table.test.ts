// Grant tables v1: frames in the guest physmap, map/unmap/copy by another domain with Xen's checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import { GrantEntryV1, Gntst, Gtf } from "../../abi/xen/grant_table.ts";
import { makeGuest, type TestGuest } from "../xen/test_support.ts";
import { RamPhysmap } from "../xen/guest_physmap.ts";
import { XenError } from "../xen/xen_error.ts";
import { GrantStatusError, GrantTables } from "./grant_table.ts";

const FRAME_GFN = 0x30; // a RAM page of the 64-page test guest
const GRANT_GFN = 0x100000; // a non-RAM gfn, as Linux PVH picks above RAM

function setup(): { gt: GrantTables; guest: TestGuest; other: TestGuest } {
  const gt = new GrantTables();
  const guest = makeGuest(1);
  const other = makeGuest(2);
  gt.addDomain(0, { physmap: new RamPhysmap({ bytes: new Uint8Array(0), sizeBytes: 0 }), privileged: true });
  gt.addDomain(1, { physmap: guest.physmap });
  gt.addDomain(2, { physmap: other.physmap });
  gt.mapFrame(1, 0, GRANT_GFN);
  return { gt, guest, other };
}

/** The guest writes grant entry ref through its own view of the frame it mapped. */
function grant(g: TestGuest, ref: number, domid: number, frame: number, flags: number = Gtf.permit_access): void {
  const page = g.physmap.page(GRANT_GFN)!;
  GrantEntryV1.encode({ flags, domid, frame }, page, ref * 8);
}

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof GrantStatusError) return e.status;
    if (e instanceof XenError) return -1000 - e.errno;
    throw e;
  }
  return Gntst.okay;
}

test("the table frame shows up at the gfn the guest chose and the guest's entries are read from it", () => {
  const { gt, guest } = setup();
  assert.equal(guest.physmap.isRam(GRANT_GFN), false);
  grant(guest, 8, 0, FRAME_GFN);
  assert.deepEqual(gt.entry(1, 8), { flags: Gtf.permit_access, domid: 0, frame: FRAME_GFN });
  gt.mapFrame(1, 3, GRANT_GFN + 3);
  assert.equal(gt.nrFrames(1), 4);
  assert.equal(status(() => gt.mapFrame(1, 64, GRANT_GFN + 64)), -1000 - Errno.EINVAL);
  assert.equal(status(() => gt.mapFrame(1, 0x8000_0000, GRANT_GFN + 65)), -1000 - Errno.EINVAL);
  assert.deepEqual(gt.querySize(1, 1), { nrFrames: 4, maxNrFrames: 64 });
});

test("dom0 maps a granted page writable: reading|writing set while mapped, cleared after unmap", () => {
  const { gt, guest } = setup();
  guest.ram.bytes[FRAME_GFN * 4096 + 5] = 0xab;
  grant(guest, 8, 0, FRAME_GFN);
  const m = gt.mapGrantRef(0, 1, 8, false);
  assert.equal(m.page[5], 0xab);
  m.page[6] = 0xcd;
  assert.equal(guest.ram.bytes[FRAME_GFN * 4096 + 6], 0xcd, "the mapping is the guest's live page");
  assert.equal(gt.entry(1, 8)!.flags, Gtf.permit_access | Gtf.reading | Gtf.writing);
  const m2 = gt.mapGrantRef(0, 1, 8, true);
  gt.unmapGrantRef(0, m.handle);
  assert.equal(gt.entry(1, 8)!.flags, Gtf.permit_access | Gtf.reading, "a read-only mapping remains");
  gt.unmapGrantRef(0, m2.handle);
  assert.equal(gt.entry(1, 8)!.flags, Gtf.permit_access);
  assert.equal(status(() => gt.unmapGrantRef(0, m2.handle)), Gntst.bad_handle);
});

test("read-only grants map read-only only; wrong domid, bad ref and unknown domain are refused", () => {
  const { gt, guest } = setup();
  grant(guest, 9, 0, FRAME_GFN, Gtf.permit_access | Gtf.readonly);
  assert.equal(status(() => gt.mapGrantRef(0, 1, 9, false)), Gntst.general_error);
  const ro = gt.mapGrantRef(0, 1, 9, true);
  assert.equal(ro.readonly, true);
  assert.equal(gt.entry(1, 9)!.flags, Gtf.permit_access | Gtf.readonly | Gtf.reading);

  grant(guest, 10, 2, FRAME_GFN); // granted to domain 2, not dom0
  assert.equal(status(() => gt.mapGrantRef(0, 1, 10, true)), Gntst.general_error);
  grant(guest, 11, 0, FRAME_GFN, Gtf.invalid);
  assert.equal(status(() => gt.mapGrantRef(0, 1, 11, true)), Gntst.general_error);
  assert.equal(status(() => gt.mapGrantRef(0, 1, 512, true)), Gntst.bad_gntref);
  assert.equal(status(() => gt.mapGrantRef(0, 9, 8, true)), Gntst.bad_domain);
  grant(guest, 12, 0, 0x7fff_0000);
  assert.equal(status(() => gt.mapGrantRef(0, 1, 12, true)), Gntst.bad_page);
  assert.equal(gt.entry(1, 12)!.flags, Gtf.permit_access, "a failed map leaves no pin");
});

test("domain 2 may map only what domain 1 granted to it, and the page appears in its physmap", () => {
  const { gt, guest, other } = setup();
  grant(guest, 20, 2, FRAME_GFN);
  guest.ram.bytes[FRAME_GFN * 4096] = 0x5a;
  const m = gt.mapGrantRef(2, 1, 20, false, 0x200000);
  assert.equal(other.physmap.page(0x200000)![0], 0x5a);
  assert.equal(status(() => gt.mapGrantRef(0, 1, 20, false)), Gntst.general_error);
  gt.unmapGrantRef(2, m.handle);
  assert.equal(other.physmap.page(0x200000), undefined);
});

test("dom0 copies to and from grants; a read-only grant refuses writes; pins do not linger", () => {
  const { gt, guest } = setup();
  grant(guest, 8, 0, FRAME_GFN);
  grant(guest, 9, 0, FRAME_GFN + 1, Gtf.permit_access | Gtf.readonly);
  gt.copyToGrant(0, 1, 8, 100, Uint8Array.of(1, 2, 3));
  assert.deepEqual([...guest.ram.bytes.subarray(FRAME_GFN * 4096 + 100, FRAME_GFN * 4096 + 103)], [1, 2, 3]);
  const out = new Uint8Array(3);
  gt.copyFromGrant(0, 1, 8, 100, out);
  assert.deepEqual([...out], [1, 2, 3]);
  assert.equal(gt.entry(1, 8)!.flags, Gtf.permit_access);
  assert.equal(status(() => gt.copyToGrant(0, 1, 9, 0, out)), Gntst.general_error);
  gt.copyFromGrant(0, 1, 9, 0, out);
  assert.equal(status(() => gt.copyFromGrant(0, 1, 8, 4095, out)), Gntst.bad_copy_arg);
});

test("the toolstack seeds entries 0 and 1 for the console and xenstore pages", () => {
  const { gt } = setup();
  gt.seedReservedEntries(1, 0xfeff0, 0xfeff1);
  assert.deepEqual(gt.entry(1, 0), { flags: Gtf.permit_access, domid: 0, frame: 0xfeff0 });
  assert.deepEqual(gt.entry(1, 1), { flags: Gtf.permit_access, domid: 0, frame: 0xfeff1 });
});

test("a domU may not query another domain's table; setup_table grows within the limit", () => {
  const { gt } = setup();
  assert.equal(status(() => gt.querySize(1, 2)), Gntst.permission_denied);
  assert.equal(status(() => gt.querySize(1, 7)), Gntst.bad_domain);
  assert.equal(gt.querySize(0, 2).nrFrames, 1);
  const gfns = gt.setupTable(1, 1, 2);
  assert.deepEqual(gfns, [BigInt(GRANT_GFN), 0xffff_ffff_ffff_ffffn]);
  assert.equal(status(() => gt.setupTable(1, 1, 65)), Gntst.general_error);
  assert.equal(gt.setVersion(1, 1), 1);
  assert.equal(status(() => gt.setVersion(1, 2)), -1000 - Errno.ENOSYS);
  assert.equal(status(() => gt.setVersion(1, 3)), -1000 - Errno.EINVAL);
});

test("removing a mapping domain releases its pins on others' grants", () => {
  const { gt, guest } = setup();
  grant(guest, 20, 2, FRAME_GFN);
  gt.mapGrantRef(2, 1, 20, false);
  gt.removeDomain(2);
  assert.equal(gt.entry(1, 20)!.flags, Gtf.permit_access);
});
