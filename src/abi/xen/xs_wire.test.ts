// Golden bytes for the xenstore wire header and payload helpers (layout from xen/include/public/io/xs_wire.h:
// four little-endian uint32_t fields type, req_id, tx_id, len).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  XS_ERRORS, XsType, XSD_SOCKMSG_SIZE, bytesText, decodeHeader, encodeHeader, encodeMessage, nulTerminated,
  splitStrings, textBytes, xsTypeName,
} from "./xs_wire.ts";

test("message type numbers match enum xsd_sockmsg_type", () => {
  assert.equal(XsType.CONTROL, 0);
  assert.equal(XsType.WRITE, 11);
  assert.equal(XsType.WATCH_EVENT, 15);
  assert.equal(XsType.ERROR, 16);
  assert.equal(XsType.SET_TARGET, 19);
  assert.equal(XsType.RESET_WATCHES, 21); // XS_SET_TARGET + 2: 20 (RESTRICT) is gone
  assert.equal(XsType.SET_QUOTA, 26);
  assert.equal(XsType.TYPE_COUNT, 27);
  assert.equal(xsTypeName(2), "READ");
  assert.equal(xsTypeName(20), "**UNKNOWN**");
});

test("error names keep the xsd_errors[] order", () => {
  assert.deepEqual(XS_ERRORS.slice(0, 5), ["EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT"]);
  assert.equal(XS_ERRORS[XS_ERRORS.length - 1], "EPERM");
});

test("a header encodes to the C struct xsd_sockmsg bytes", () => {
  // struct xsd_sockmsg { .type = XS_READ, .req_id = 0x01020304, .tx_id = 7, .len = 5 } on x86 (little-endian).
  const bytes = encodeHeader({ type: XsType.READ, reqId: 0x01020304, txId: 7, len: 5 });
  assert.equal(bytes.length, XSD_SOCKMSG_SIZE);
  assert.deepEqual([...bytes], [2, 0, 0, 0, 4, 3, 2, 1, 7, 0, 0, 0, 5, 0, 0, 0]);
  assert.deepEqual(decodeHeader(bytes), { type: 2, reqId: 0x01020304, txId: 7, len: 5 });
});

test("a READ request for /vm is header plus a NUL-terminated path", () => {
  const msg = encodeMessage({ type: XsType.READ, reqId: 1, txId: 0, payload: nulTerminated("/vm") });
  assert.deepEqual([...msg], [2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0x2f, 0x76, 0x6d, 0]);
});

test("decodeHeader() reads u32 fields above 2^31 as unsigned", () => {
  const bytes = new Uint8Array([0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80, 0, 0x10, 0, 0]);
  assert.deepEqual(decodeHeader(bytes), { type: 0xffff, reqId: 0xffffffff, txId: 0x80000000, len: 4096 });
});

test("splitStrings() returns terminated strings and the unterminated tail", () => {
  const { strings, rest } = splitStrings(new Uint8Array([0x61, 0, 0x62, 0x63, 0, 0x64]));
  assert.deepEqual(strings, ["a", "bc"]);
  assert.deepEqual([...rest], [0x64]);
});

test("textBytes() and bytesText() keep every byte value", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  assert.deepEqual(textBytes(bytesText(all)), all);
});
