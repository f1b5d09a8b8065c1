// Reference streams come from the machine's xz-utils CLI (`xz`), or python3's lzma module when xz is
// missing (both are liblzma); the decoder must reproduce the original bytes exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BootError } from "../../base/errors.ts";
import { bcjX86Decode } from "./bcj_x86.ts";
import { crc32, crc64 } from "./crc.ts";
import { decodeXz } from "./xz.ts";
import { xzCompress, xzTool } from "./xz_cli.ts";

function pseudoRandom(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

const text = new TextEncoder().encode(
  Array.from({ length: 4000 }, (_, i) => `line ${i % 97}: the quick brown fox ${i % 13} jumps over the lazy dog\n`).join(""),
);
/** Real x86-64 machine code: the node binary's first 1.5 MiB. */
const code = new Uint8Array(readFileSync(process.execPath).subarray(0, 1536 * 1024));
/** A table of little-endian u32 counters: what the delta filter is for. */
const table = (() => {
  const b = new Uint8Array(64 * 1024);
  const v = new DataView(b.buffer);
  for (let i = 0; i < b.length / 4; i++) v.setUint32(i * 4, i * 1000 + 7, true);
  return b;
})();

test(`CRC32 and CRC64 give the standard check values for "123456789"`, () => {
  const s = new TextEncoder().encode("123456789");
  assert.equal(crc32(s), 0xcbf43926);
  assert.equal(crc64(s), 0x995dc9bbdf1939fan);
});

const cases: [string, Uint8Array, Parameters<typeof xzCompress>[1]][] = [
  ["an empty input", new Uint8Array(0), {}],
  ["text with CRC64", text, {}],
  ["text with CRC32 at preset 9", text, { check: "crc32", preset: 9 }],
  ["text without a check at preset 0", text, { check: "none", preset: 0 }],
  ["text with SHA-256 (not verified)", text, { check: "sha256" }],
  ["incompressible data (LZMA2 uncompressed chunks)", pseudoRandom(300_000, 7), {}],
  ["x86 code through the BCJ x86 filter", code, { x86: true, check: "crc32" }],
  ["x86 code without BCJ", code, { preset: 1 }],
  ["a counter table through the delta filter", table, { delta: 4 }],
  ["text with lc=1 lp=3 pb=0", text, { lzma2: "lc=1,lp=3,pb=0" }],
  ["text with lc=4 lp=0 pb=4", text, { lzma2: "lc=4,lp=0,pb=4" }],
];
if (xzTool() === "xz") cases.push(["x86 code in 64 KiB blocks", code, { x86: true, blockSize: 65536 }]);

for (const [name, data, opts] of cases) {
  test(`decodeXz() reproduces ${name} compressed by ${xzTool()}`, () => {
    const xz = xzCompress(data, opts);
    const out = decodeXz(xz);
    assert.equal(out.length, data.length);
    assert.ok(Buffer.from(out).equals(Buffer.from(data)), "decoded bytes differ");
  });
}

test("decodeXz() decodes concatenated streams with stream padding", () => {
  const a = xzCompress(text.subarray(0, 5000));
  const b = xzCompress(text.subarray(5000, 20000), { check: "crc32" });
  const joined = new Uint8Array(a.length + 8 + b.length);
  joined.set(a);
  joined.set(b, a.length + 8);
  assert.ok(Buffer.from(decodeXz(joined)).equals(Buffer.from(text.subarray(0, 20000))));
});

test("decodeXz() throws BootError on corrupted data, a bad check and truncation", () => {
  const xz = xzCompress(text, { check: "crc32" });
  const flipped = xz.slice();
  flipped[Math.floor(xz.length / 2)]! ^= 0x10;
  assert.throws(() => decodeXz(flipped), BootError);
  const badCheck = xz.slice();
  // The block's CRC32 sits right before the index (index indicator 0x00 + record count 0x01).
  const footerStart = xz.length - 12;
  const indexSize = (new DataView(xz.buffer, xz.byteOffset).getUint32(footerStart + 4, true) + 1) * 4;
  badCheck[footerStart - indexSize - 1]! ^= 1;
  assert.throws(() => decodeXz(badCheck), /block CRC32 mismatch/);
  assert.throws(() => decodeXz(xz.subarray(0, xz.length - 30)), BootError);
  assert.throws(() => decodeXz(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0])), BootError);
});

test("bcjX86Decode() turns an absolute call target back into a relative displacement", () => {
  // At offset 16 the encoder stored call target 0x1000 + 16 + 5 = 0x1015 (relative 0x1000).
  const buf = new Uint8Array(32);
  buf.set([0xe8, 0x15, 0x10, 0x00, 0x00], 16);
  bcjX86Decode(buf, 0, buf.length);
  assert.deepEqual([...buf.subarray(16, 21)], [0xe8, 0x00, 0x10, 0x00, 0x00]);
});
