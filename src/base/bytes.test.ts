import { test } from "node:test";
import assert from "node:assert/strict";
import { cString, readCString, readI8, readU16, readU32, readU64, readU64Number, writeU16, writeU32, writeU64 } from "./bytes.ts";
import { BootError, ConfigError } from "./errors.ts";
import { defineStruct, u16, u32 } from "./struct.ts";

test("reads and writes are little-endian", () => {
  const b = new Uint8Array(16);
  writeU16(b, 0, 0x1234);
  writeU32(b, 2, 0xdeadbeef);
  writeU64(b, 6, 0xffffffff81000000n);
  assert.deepEqual([...b.subarray(0, 14)], [0x34, 0x12, 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0x81, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(readU16(b, 0), 0x1234);
  assert.equal(readU32(b, 2), 0xdeadbeef);
  assert.equal(readU64(b, 6), 0xffffffff81000000n);
  assert.equal(readI8(b, 2), -17);
});

test("u64 as number round-trips safe integers and refuses larger values", () => {
  const b = new Uint8Array(8);
  writeU64(b, 0, 2 ** 40 + 5);
  assert.equal(readU64Number(b, 0), 2 ** 40 + 5);
  writeU64(b, 0, 0xffffffff81000000n);
  assert.throws(() => readU64Number(b, 0), RangeError);
});

test("accesses outside the buffer throw RangeError", () => {
  assert.throws(() => readU32(new Uint8Array(3), 0), RangeError);
  assert.throws(() => writeU16(new Uint8Array(2), 1, 0), RangeError);
});

test("C strings are NUL-terminated both ways", () => {
  assert.deepEqual([...cString("ab")], [0x61, 0x62, 0]);
  assert.equal(readCString(Uint8Array.from([0x78, 0x65, 0x6e, 0, 0x41]), 0, 5), "xen");
});

test("defineStruct rejects overlapping fields and encodes only the given ones", () => {
  assert.throws(() => defineStruct("bad", 4, { a: u32(0), b: u16(2) }), /overlaps/);
  const S = defineStruct("s", 8, { a: u16(0), b: u32(4) });
  assert.deepEqual([...S.build({ b: 1 })], [0, 0, 0, 0, 1, 0, 0, 0]);
});

test("error messages are one line with context and quoted values", () => {
  const e = new BootError("not an ELF file or a bzImage").withContext('Cannot load kernel "/x"');
  assert.equal(e.message, 'Cannot load kernel "/x": not an ELF file or a bzImage');
  assert.equal(e.name, "BootError");
  assert.equal(new ConfigError("/etc/a.cfg", 'unknown key "foo"', 3).message, 'Invalid configuration "/etc/a.cfg" line 3: unknown key "foo"');
});
