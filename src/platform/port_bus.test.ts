import { test } from "node:test";
import assert from "node:assert/strict";
import { PortBus } from "./port_bus.ts";
import { MmioBus } from "./mmio_bus.ts";

test("ports map to device offsets, with an offset bias for split devices", () => {
  const bus = new PortBus();
  const seen: string[] = [];
  const dev = { name: "d", read: (o: number) => o, write: (o: number, s: number, v: number) => seen.push(`${o}/${s}=${v}`) };
  bus.attach(0x60, 1, dev, 0);
  bus.attach(0x64, 1, dev, 4);
  assert.equal(bus.read(0x60, 1), 0);
  assert.equal(bus.read(0x64, 1), 4);
  bus.write(0x64, 2, 0xfe);
  assert.deepEqual(seen, ["4/2=254"]);
  assert.throws(() => bus.attach(0x64, 1, dev), /i?s there/);
});

test("unassigned ports and MMIO read all ones of the access size", () => {
  const bus = new PortBus();
  assert.equal(bus.read(0x80, 1), 0xff);
  assert.equal(bus.read(0x80, 2), 0xffff);
  assert.equal(bus.read(0xcf8, 4), 0xffffffff);
  bus.write(0x80, 1, 0);
  const mmio = new MmioBus();
  assert.equal(mmio.read(0xfed00000, 4), 0xffffffff);
  mmio.attach(0xfec00000, 0x1000, { name: "x", read: (o) => o + 1, write: () => {} });
  assert.equal(mmio.read(0xfec00010, 4), 0x11);
  assert.equal(mmio.read(0xfec00010, 8), 0x11 + 0x15 * 0x1_0000_0000);
  assert.throws(() => mmio.attach(0xfec00800, 0x10, { name: "y", read: () => 0, write: () => {} }), /overlaps/);
});
