// grant_table_op as a guest issues it: struct arrays in guest memory, per-op status written back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import {
  Gntcopy, Gntmap, GnttabCopy, GnttabMapGrantRef, GnttabOp, GnttabQuerySize, GnttabSetupTable, GnttabSetVersion,
  GnttabUnmapGrantRef, GrantEntryV1, Gntst, Gtf, u16ToGntst,
} from "../../abi/xen/grant_table.ts";
import { DOMID_SELF } from "../../abi/xen/xen.ts";
import { makeGuest } from "../xen/test_support.ts";
import { XenError } from "../xen/xen_error.ts";
import { GrantTables } from "./grant_table.ts";
import { gnttabOp } from "./gnttab_op.ts";

const ARG = 0x3000;
const GRANT_GFN = 0x100000;

function setup() {
  const gt = new GrantTables();
  const a = makeGuest(1);
  const b = makeGuest(2);
  gt.addDomain(1, { physmap: a.physmap });
  gt.addDomain(2, { physmap: b.physmap });
  gt.mapFrame(1, 0, GRANT_GFN);
  const grant = (ref: number, domid: number, frame: number, flags: number = Gtf.permit_access) =>
    GrantEntryV1.encode({ flags, domid, frame }, a.physmap.page(GRANT_GFN)!, ref * 8);
  return { gt, a, b, grant };
}

const errnoOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as XenError).errno;
  }
  return 0;
};

test("query_size and set_version answer as Linux expects at boot", () => {
  const { gt, a } = setup();
  a.ram.bytes.set(GnttabQuerySize.build({ dom: DOMID_SELF }), ARG);
  assert.equal(gnttabOp(gt, a.call(), GnttabOp.query_size, BigInt(ARG), 1), 0);
  assert.deepEqual(GnttabQuerySize.decode(a.ram.bytes, ARG), { dom: DOMID_SELF, nrFrames: 1, maxNrFrames: 64, status: 0 });
  a.ram.bytes.set(GnttabSetVersion.build({ version: 1 }), ARG);
  assert.equal(gnttabOp(gt, a.call(), GnttabOp.set_version, BigInt(ARG), 1), 0);
  a.ram.bytes.set(GnttabSetVersion.build({ version: 2 }), ARG);
  assert.equal(errnoOf(() => gnttabOp(gt, a.call(), GnttabOp.set_version, BigInt(ARG), 1)), Errno.ENOSYS);
  assert.equal(GnttabSetVersion.decode(a.ram.bytes, ARG).version, 1);
  assert.equal(errnoOf(() => gnttabOp(gt, a.call(), GnttabOp.query_size, BigInt(ARG), 2)), Errno.EINVAL);
  assert.equal(errnoOf(() => gnttabOp(gt, a.call(), 4, BigInt(ARG), 1)), Errno.ENOSYS);
});

test("setup_table writes the frame list", () => {
  const { gt, a } = setup();
  a.ram.bytes.set(GnttabSetupTable.build({ dom: DOMID_SELF, nrFrames: 1, frameList: 0x4000n }), ARG);
  gnttabOp(gt, a.call(), GnttabOp.setup_table, BigInt(ARG), 1);
  assert.equal(GnttabSetupTable.decode(a.ram.bytes, ARG).status, 0);
  assert.equal(new DataView(a.ram.bytes.buffer).getBigUint64(0x4000, true), BigInt(GRANT_GFN));
});

test("a batch of maps reports each op's status; unmap releases the handle", () => {
  const { gt, a, b, grant } = setup();
  grant(8, 2, 0x30);
  grant(9, 2, 0x31, Gtf.permit_access | Gtf.readonly);
  const ops = [
    { hostAddr: 0x200000n << 12n, flags: Gntmap.host_map, ref: 8, dom: 1 },
    { hostAddr: 0x200001n << 12n, flags: Gntmap.host_map, ref: 9, dom: 1 }, // writable map of a r/o grant
    { hostAddr: 0n, flags: 0, ref: 8, dom: 1 }, // neither host nor device map
  ];
  ops.forEach((op, i) => b.ram.bytes.set(GnttabMapGrantRef.build(op), ARG + i * 32));
  assert.equal(gnttabOp(gt, b.call(), GnttabOp.map_grant_ref, BigInt(ARG), 3), 0);
  const st = [0, 1, 2].map((i) => u16ToGntst(GnttabMapGrantRef.decode(b.ram.bytes, ARG + i * 32).status));
  assert.deepEqual(st, [Gntst.okay, Gntst.general_error, Gntst.bad_gntref]);
  const handle = GnttabMapGrantRef.decode(b.ram.bytes, ARG).handle;
  a.ram.bytes[0x30 * 4096] = 0x77;
  assert.equal(b.physmap.page(0x200000)![0], 0x77);

  b.ram.bytes.set(GnttabUnmapGrantRef.build({ hostAddr: 0x200000n << 12n, devBusAddr: 0n, handle }), ARG);
  gnttabOp(gt, b.call(), GnttabOp.unmap_grant_ref, BigInt(ARG), 1);
  assert.equal(GnttabUnmapGrantRef.decode(b.ram.bytes, ARG).status, 0);
  gnttabOp(gt, b.call(), GnttabOp.unmap_grant_ref, BigInt(ARG), 1);
  assert.equal(u16ToGntst(GnttabUnmapGrantRef.decode(b.ram.bytes, ARG).status), Gntst.bad_handle);
});

test("GNTTABOP_copy from own frame to a granted ref, with permission and bounds checks", () => {
  const { gt, a, b, grant } = setup();
  grant(8, 2, 0x30);
  grant(9, 2, 0x31, Gtf.permit_access | Gtf.readonly);
  b.ram.bytes.set([9, 8, 7, 6], 0x10 * 4096 + 4);
  const copy = (o: Partial<Parameters<typeof GnttabCopy.build>[0]>) => {
    b.ram.bytes.set(GnttabCopy.build({ sourceDomid: DOMID_SELF, destDomid: 1, len: 4, ...o }), ARG);
    gnttabOp(gt, b.call(), GnttabOp.copy, BigInt(ARG), 1);
    return u16ToGntst(GnttabCopy.decode(b.ram.bytes, ARG).status);
  };
  assert.equal(copy({ sourceU: 0x10n, sourceOffset: 4, destU: 8n, destOffset: 16, flags: Gntcopy.dest_gref }), Gntst.okay);
  assert.deepEqual([...a.ram.bytes.subarray(0x30 * 4096 + 16, 0x30 * 4096 + 20)], [9, 8, 7, 6]);
  assert.equal(copy({ sourceU: 0x10n, destU: 9n, flags: Gntcopy.dest_gref }), Gntst.general_error, "read-only grant");
  assert.equal(copy({ sourceU: 0x10n, destU: 0x30n, flags: 0 }), Gntst.permission_denied, "foreign frame by gmfn");
  assert.equal(copy({ sourceU: 0x10n, destU: 8n, destOffset: 4094, flags: Gntcopy.dest_gref }), Gntst.bad_copy_arg);
  assert.equal(copy({ sourceU: 1n << 40n, destU: 8n, flags: Gntcopy.dest_gref }), Gntst.bad_page);
  assert.equal(copy({ sourceU: 8n, sourceDomid: 1, destU: 0x11n, destDomid: DOMID_SELF, flags: Gntcopy.source_gref }), Gntst.okay);
  assert.deepEqual([...b.ram.bytes.subarray(0x11 * 4096, 0x11 * 4096 + 4)], [0, 0, 0, 0]);
  assert.equal(gt.entry(1, 8)!.flags, Gtf.permit_access);
});
