// Fuzz: random hypercall numbers and arguments through the dispatcher, with guest memory behind random
// page tables (all paging modes). Nothing may throw: every guest mistake becomes -errno. Deterministic seeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HypercallDispatcher } from "./dispatch.ts";
import { PagingGuestMemory } from "./guest_pagewalk.ts";

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

const INTERESTING = [0n, 1n, 2n, 3n, 6n, 17n, 0xfffn, 0x1000n, 0xffffn, 0x7ff0n, 0xffffffffn, 0x8000000000000000n, 0xffffffff80000000n, 0xffffffffffffffffn];
const MODES = [
  { cr0: 0x11, cr3: 0, cr4: 0, efer: 0 }, // paging off
  { cr0: 0x80000011, cr3: 0x1000, cr4: 0x10, efer: 0 }, // 32-bit, PSE
  { cr0: 0x80000011, cr3: 0x1000, cr4: 0x20, efer: 0 }, // PAE
  { cr0: 0x80000011, cr3: 0x1000, cr4: 0x20, efer: 0x500 }, // 4-level
];

test("random hypercalls over random page tables never throw and always return a 64-bit value", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const next = rng(seed);
    const ram = new Uint8Array(0x40000);
    for (let i = 0; i < ram.length; i += 4) new DataView(ram.buffer).setUint32(i, next(), true); // random page tables and data
    const shutdowns: string[] = [];
    const d = new HypercallDispatcher(
      { domid: 1, privileged: (seed & 1) === 0, handle: new Uint8Array(16) },
      { console() {}, log() {}, shutdown: (r) => shutdowns.push(r) },
    );
    const arg = (): bigint => (next() % 3 === 0 ? INTERESTING[next() % INTERESTING.length]! : BigInt(next() % ram.length));
    for (let i = 0; i < 500; i++) {
      const mem = new PagingGuestMemory(ram, MODES[next() % MODES.length]!);
      const nr = next() % 4 === 0 ? next() % 64 : [17, 18, 29][next() % 3]!;
      const r = d.dispatch({ vcpuId: 0, nr, args: [BigInt(next() % 12), arg(), arg(), arg(), arg()], longMode: next() % 2 === 0 }, mem);
      assert.equal(typeof r, "bigint");
      assert.ok(r >= 0n && r < 1n << 64n);
    }
  }
});
