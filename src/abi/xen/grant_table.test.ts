// Golden bytes for the grant-table structs: expected bytes written by hand from xen/include/public/grant_table.h
// (x86_64: xen_pfn_t and guest handles 8 bytes, so gnttab_copy_ptr is 16 bytes and gnttab_copy 40).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  GnttabCopy, GnttabGetVersion, GnttabMapGrantRef, GnttabQuerySize, GnttabSetupTable, GnttabUnmapGrantRef,
  GrantEntryV1, Gtf, gntstToU16, u16ToGntst, Gntst, GnttabGetStatusFrames, GnttabSetVersion,
} from "./grant_table.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

test("grant_entry_v1 is flags, domid, frame", () => {
  const v = { flags: Gtf.permit_access | Gtf.readonly, domid: 0, frame: 0x10203 };
  const b = GrantEntryV1.build(v);
  assert.deepEqual(b, hex("05 00 00 00 03 02 01 00"));
  assert.deepEqual(GrantEntryV1.decode(b), v);
});

test("gnttab_map_grant_ref places status at 18 and handle at 20", () => {
  const v = { hostAddr: 0x1000n, flags: 2, ref: 8, dom: 1, status: gntstToU16(Gntst.bad_gntref), handle: 4, devBusAddr: 0n };
  const b = GnttabMapGrantRef.build(v);
  assert.deepEqual(
    b,
    hex("00 10 00 00 00 00 00 00 02 00 00 00 08 00 00 00 01 00 fd ff 04 00 00 00 00 00 00 00 00 00 00 00"),
  );
  assert.equal(u16ToGntst(GnttabMapGrantRef.decode(b).status), -3);
});

test("gnttab_unmap_grant_ref, setup_table, query_size, get_version have the C sizes and offsets", () => {
  assert.deepEqual(
    GnttabUnmapGrantRef.build({ hostAddr: 1n, devBusAddr: 2n, handle: 3, status: 0xffff }),
    hex("01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 03 00 00 00 ff ff 00 00"),
  );
  assert.deepEqual(
    GnttabSetupTable.build({ dom: 0x7ff0, nrFrames: 4, status: 0, frameList: 0xffff800000001000n }),
    hex("f0 7f 00 00 04 00 00 00 00 00 00 00 00 00 00 00 00 10 00 00 00 80 ff ff"),
  );
  assert.deepEqual(
    GnttabQuerySize.build({ dom: 0x7ff0, nrFrames: 1, maxNrFrames: 64, status: 0 }),
    hex("f0 7f 00 00 01 00 00 00 40 00 00 00 00 00 00 00"),
  );
  assert.deepEqual(GnttabGetVersion.build({ dom: 1, version: 1 }), hex("01 00 00 00 01 00 00 00"));
  assert.deepEqual(GnttabSetVersion.build({ version: 2 }), hex("02 00 00 00"));
  assert.equal(GnttabGetStatusFrames.size, 16);
});

test("gnttab_copy is two 16-byte pointers, then len, flags, status", () => {
  const v = {
    sourceU: 7n, sourceDomid: 1, sourceOffset: 0x10,
    destU: 0x2000n, destDomid: 0x7ff0, destOffset: 0x20,
    len: 0x100, flags: 1, status: 0,
  };
  const b = GnttabCopy.build(v);
  assert.deepEqual(
    b,
    hex(
      "07 00 00 00 00 00 00 00 01 00 10 00 00 00 00 00 " +
        "00 20 00 00 00 00 00 00 f0 7f 20 00 00 00 00 00 " +
        "00 01 01 00 00 00 00 00",
    ),
  );
  assert.deepEqual(GnttabCopy.decode(b), v);
});
