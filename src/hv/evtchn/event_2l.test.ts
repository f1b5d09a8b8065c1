// The 2-level raise/unmask sequence over guest memory (Xen xen/common/event_2l.c; xen-abi-on-kvm.md §7),
// checked on the exact bytes the guest scans.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeGuest } from "../xen/test_support.ts";
import { Evtchn2l } from "./event_2l.ts";

const PENDING = 2048;
const MASK = 2560;
const bitSet = (b: Uint8Array, byteBase: number, bit: number) => (b[byteBase + (bit >> 3)]! & (1 << (bit & 7))) !== 0;
const setBit = (b: Uint8Array, byteBase: number, bit: number) => {
  b[byteBase + (bit >> 3)]! |= 1 << (bit & 7);
};
/** vcpu_info of vCPU v in the legacy slot: pending_sel at +8, upcall_pending at +0. */
const sel = (b: Uint8Array, v: number, word: number) => bitSet(b, v * 64 + 8, word);
const upcallPending = (b: Uint8Array, v: number) => b[v * 64]!;

test("raising an unmasked port sets pending, the selector bit and upcall_pending, and injects once", () => {
  const g = makeGuest(1);
  g.ops.setPending(0, 70);
  const b = g.sharedInfo.bytes;
  assert.ok(bitSet(b, PENDING, 70));
  assert.ok(sel(b, 0, 1));
  assert.equal(upcallPending(b, 0), 1);
  assert.deepEqual(g.upcalls, [0]);
});

test("a port that is already pending is not delivered again", () => {
  const g = makeGuest(1);
  g.ops.setPending(0, 5);
  g.sharedInfo.bytes[0] = 0; // guest cleared upcall_pending but not the port
  g.sharedInfo.bytes.fill(0, 8, 16); // and xchg'd pending_sel to 0
  g.ops.setPending(0, 5);
  assert.equal(upcallPending(g.sharedInfo.bytes, 0), 0);
  assert.equal(sel(g.sharedInfo.bytes, 0, 0), false);
  assert.deepEqual(g.upcalls, [0]);
});

test("a masked port stays pending without upcall until unmask delivers it", () => {
  const g = makeGuest(1);
  const b = g.sharedInfo.bytes;
  setBit(b, MASK, 9);
  g.ops.setPending(0, 9);
  assert.ok(bitSet(b, PENDING, 9));
  assert.equal(sel(b, 0, 0), false);
  assert.deepEqual(g.upcalls, []);
  g.ops.unmask(0, 9);
  assert.equal(bitSet(b, MASK, 9), false);
  assert.ok(sel(b, 0, 0));
  assert.deepEqual(g.upcalls, [0]);
});

test("unmasking a port that is not pending only clears the mask", () => {
  const g = makeGuest(1);
  setBit(g.sharedInfo.bytes, MASK, 9);
  g.ops.unmask(0, 9);
  assert.equal(bitSet(g.sharedInfo.bytes, MASK, 9), false);
  assert.deepEqual(g.upcalls, []);
});

test("no injection while upcall_pending is still 1 or the selector bit is already set", () => {
  const g = makeGuest(1);
  g.ops.setPending(0, 1);
  g.ops.setPending(0, 2); // same selector word 0: stops at step 3
  g.ops.setPending(0, 64); // selector word 1: sets the bit, upcall_pending already 1
  assert.ok(sel(g.sharedInfo.bytes, 0, 1));
  assert.deepEqual(g.upcalls, [0]);
});

test("events for another vCPU go to that vCPU's vcpu_info and upcall", () => {
  const g = makeGuest(1, 2);
  g.ops.setPending(1, 200);
  assert.ok(sel(g.sharedInfo.bytes, 1, 3));
  assert.equal(upcallPending(g.sharedInfo.bytes, 1), 1);
  assert.equal(upcallPending(g.sharedInfo.bytes, 0), 0);
  assert.deepEqual(g.upcalls, [1]);
});

test("the highest bits of words land at the right bytes (ports 31, 63, 4095)", () => {
  const g = makeGuest(1);
  for (const p of [31, 63, 4095]) g.ops.setPending(0, p);
  const b = g.sharedInfo.bytes;
  assert.equal(b[PENDING + 3], 0x80);
  assert.equal(b[PENDING + 7], 0x80);
  assert.equal(b[PENDING + 511], 0x80);
  assert.ok(sel(b, 0, 0) && sel(b, 0, 63));
  assert.equal(b[15], 0x80);
  assert.ok(g.ops.isPending(4095) && !g.ops.isMasked(4095));
  g.ops.clearPending(4095);
  assert.equal(b[PENDING + 511], 0);
});

test("after shared_info is placed in RAM the bits are in that guest page", () => {
  const g = makeGuest(1);
  g.ops.setPending(0, 3);
  g.sharedInfo.place(0x10);
  const page = g.ram.bytes.subarray(0x10 * 4096, 0x11 * 4096);
  assert.ok(bitSet(page, PENDING, 3), "contents copied on placement");
  g.ops.setPending(0, 100);
  assert.ok(bitSet(page, PENDING, 100));
});

test("a registered vcpu_info receives the selector and upcall bits", () => {
  const g = makeGuest(1, 2);
  g.sharedInfo.registerVcpuInfo(1, 0x20, 0x40);
  g.ops.setPending(1, 65);
  const at = 0x20 * 4096 + 0x40;
  assert.ok(bitSet(g.ram.bytes, at + 8, 1));
  assert.equal(g.ram.bytes[at], 1);
  assert.equal(upcallPending(g.sharedInfo.bytes, 1), 0, "the legacy slot is no longer used");
});

test("a vCPU above 31 without a registered vcpu_info gets the pending bit but no upcall", () => {
  const g = makeGuest(1, 40);
  g.ops.setPending(35, 7);
  assert.ok(g.ops.isPending(7));
  assert.deepEqual(g.upcalls, []);
  g.sharedInfo.registerVcpuInfo(35, 0x21, 0);
  g.ops.markAllPending(35);
  assert.equal(g.ram.bytes[0x21 * 4096 + 8], 0xff);
  assert.deepEqual(g.upcalls, [35]);
});

test("pollers hear of a newly pending port even when it is masked, once per 0 → 1 edge", () => {
  const heard: number[] = [];
  const g = makeGuest(1);
  const ops = new Evtchn2l({
    get words() {
      return g.sharedInfo.words;
    },
    vcpuInfo: (v) => g.sharedInfo.vcpuInfo(v),
    upcall: () => {},
    portPending: (p) => heard.push(p),
  });
  setBit(g.sharedInfo.bytes, MASK, 12);
  ops.setPending(0, 12);
  ops.setPending(0, 12);
  ops.setPending(1, 13);
  assert.deepEqual(heard, [12, 13]);
});
