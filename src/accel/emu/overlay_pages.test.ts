import { test } from "node:test";
import assert from "node:assert/strict";
import { OverlayMmio, OverlayPool } from "./overlay_pages.ts";

test("a page the owner maps at a gfn above 4 GiB is read and written by the emu side; unmapped, it reads all ones", () => {
  const pool = OverlayPool.create(4);
  const base = 2 ** 32;
  const mmio = new OverlayMmio(pool.share, base);
  const page = pool.allocPage();
  const gfn = 0x107fff;
  const off = gfn * 4096 - base;
  assert.equal(mmio.read(off, 4), 0xffffffff);
  pool.mapped(gfn, page);
  page[8] = 0x34; page[9] = 0x12;
  assert.equal(mmio.read(off + 8, 2), 0x1234);
  mmio.write(off + 16, 4, 0xdeadbeef);
  assert.equal(new DataView(page.buffer, page.byteOffset).getUint32(16, true), 0xdeadbeef);
  mmio.write(off + 24, 8, 2 ** 40 + 5);
  assert.equal(mmio.read(off + 24, 8), 2 ** 40 + 5);
  pool.unmapped(gfn);
  assert.equal(mmio.read(off + 8, 2), 0xffff);
  pool.mapped(gfn + 1, page); // the same frame moved
  assert.equal(mmio.read(off + 4096 + 8, 2), 0x1234);
});

test("the pool refuses more pages than it holds", () => {
  const pool = OverlayPool.create(1);
  pool.allocPage();
  assert.throws(() => pool.allocPage(), /full/);
});
