import { test } from "node:test";
import assert from "node:assert/strict";
import { diffMemslots, planMemslots } from "./memslot_plan.ts";

test("RAM alone is one slot", () => {
  assert.deepEqual(planMemslots(256, 0x7000_0000_0000n, new Map()), [{ gfn: 0, pages: 256, host: 0x7000_0000_0000n }]);
});

test("an overlay inside RAM splits the RAM slot around it; one past RAM gets its own slot", () => {
  const slots = planMemslots(256, 0x10000000n, new Map([[16, 0x90000n], [0x1000, 0x91000n]]));
  assert.deepEqual(slots, [
    { gfn: 0, pages: 16, host: 0x10000000n },
    { gfn: 16, pages: 1, host: 0x90000n },
    { gfn: 17, pages: 239, host: 0x10000000n + 17n * 4096n },
    { gfn: 0x1000, pages: 1, host: 0x91000n },
  ]);
});

test("overlays at the first and last RAM page leave no empty RAM slots", () => {
  const slots = planMemslots(4, 0n, new Map([[0, 0x1000n], [3, 0x2000n]]));
  assert.deepEqual(slots.map((s) => [s.gfn, s.pages]), [[0, 1], [1, 2], [3, 1]]);
});

test("diffMemslots() removes what changed and adds what is new, keeping the rest", () => {
  const before = planMemslots(256, 0n, new Map());
  const after = planMemslots(256, 0n, new Map([[16, 0x90000n]]));
  const d = diffMemslots(before, after);
  assert.deepEqual(d.remove, before);
  assert.equal(d.add.length, 3);
  const again = diffMemslots(after, planMemslots(256, 0n, new Map([[16, 0x90000n], [0x2000, 0x91000n]])));
  assert.deepEqual(again.remove, []);
  assert.deepEqual(again.add, [{ gfn: 0x2000, pages: 1, host: 0x91000n }]);
});
