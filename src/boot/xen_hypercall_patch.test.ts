import { test } from "node:test";
import assert from "node:assert/strict";
import type { BootImage } from "../hv/ports.ts";
import { patchXenHypercalls } from "./xen_hypercall_patch.ts";

function image(bytes: Uint8Array): BootImage {
  return { regions: [{ gpa: 0x6000, bytes: new Uint8Array(56) }, { gpa: 0x1000000, bytes }], entry: { kind: "pvh32", entry: 0x1000000, ebx: 0x6000 }, description: "test" };
}

// The two functions as they appear in the Debian 6.1 vmlinux (bytes at file offset 0xc38a40):
// vmmcall; jmp __x86_return_thunk; nopl; vmcall; jmp ...; int3 padding.
const STUBS = "0f01d9e9e8923c000f1f8400000000000f01c1e9d8923c00cccccccccccccccc";

test("patchXenHypercalls() rewrites vmmcall and vmcall to out %eax,$port; nop without touching the input", () => {
  const text = new Uint8Array(4096).fill(0x90);
  text.set(Buffer.from(STUBS, "hex"), 0x840);
  text.set([0x0f, 0x01, 0xd9], 0x100); // a lone vmmcall elsewhere is left alone
  const { image: out, gpa } = patchXenHypercalls(image(text), 0x5a);
  assert.equal(gpa, 0x1000840);
  const ram = new Uint8Array(0x1001000);
  for (const r of out.regions) ram.set(r.bytes, r.gpa);
  assert.deepEqual([...ram.subarray(0x1000840, 0x1000843)], [0xe7, 0x5a, 0x90]);
  assert.deepEqual([...ram.subarray(0x1000850, 0x1000853)], [0xe7, 0x5a, 0x90]);
  assert.deepEqual([...ram.subarray(0x1000843, 0x1000848)], [0xe9, 0xe8, 0x92, 0x3c, 0x00]);
  assert.deepEqual([...ram.subarray(0x1000100, 0x1000103)], [0x0f, 0x01, 0xd9]);
  assert.deepEqual([...text.subarray(0x840, 0x843)], [0x0f, 0x01, 0xd9], "the input bytes are unchanged");
  assert.equal(out.regions.reduce((n, r) => n + r.bytes.length, 0), 56 + 4096);
});

test("patchXenHypercalls() refuses kernels without the pattern or with it twice", () => {
  assert.throws(() => patchXenHypercalls(image(new Uint8Array(64)), 0x5a), /found them 0 times/);
  const twice = new Uint8Array(256);
  twice.set(Buffer.from(STUBS, "hex"), 0);
  twice.set(Buffer.from(STUBS, "hex"), 128);
  assert.throws(() => patchXenHypercalls(image(twice), 0x5a), /found them 2 times/);
});
