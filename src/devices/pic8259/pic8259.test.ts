import { test } from "node:test";
import assert from "node:assert/strict";
import { Pic8259 } from "./pic8259.ts";

function initLinuxStyle(pic: Pic8259, autoEoi = false): void {
  pic.master.write(1, 1, 0xff);
  pic.slave.write(1, 1, 0xff);
  pic.master.write(0, 1, 0x11);
  pic.master.write(1, 1, 0x30);
  pic.master.write(1, 1, 0x04);
  pic.master.write(1, 1, autoEoi ? 0x03 : 0x01);
  pic.slave.write(0, 1, 0x11);
  pic.slave.write(1, 1, 0x38);
  pic.slave.write(1, 1, 0x02);
  pic.slave.write(1, 1, 0x01);
  pic.master.write(1, 1, 0);
  pic.slave.write(1, 1, 0);
}

test("IMR holds the probe value Linux writes", () => {
  const pic = new Pic8259(() => {});
  pic.master.write(1, 1, 0xa5);
  assert.equal(pic.master.read(1, 1), 0xa5);
});

test("an edge on IRQ0 raises INTR, INTA returns base+0, EOI clears ISR", () => {
  const levels: boolean[] = [];
  const pic = new Pic8259((l) => levels.push(l));
  initLinuxStyle(pic);
  pic.line(0).pulse();
  assert.equal(pic.intr, true);
  assert.equal(pic.acknowledge(), 0x30);
  assert.equal(pic.intr, false);
  pic.master.write(0, 1, 0x0b); // OCW3 read ISR
  assert.equal(pic.master.read(0, 1), 0x01);
  pic.master.write(0, 1, 0x20); // non-specific EOI
  assert.equal(pic.master.read(0, 1), 0x00);
  assert.deepEqual(levels, [true, false]);
});

test("slave IRQs cascade through IR2 and yield the slave's vector", () => {
  const pic = new Pic8259(() => {});
  initLinuxStyle(pic);
  pic.setIrq(8, true);
  assert.equal(pic.intr, true);
  assert.equal(pic.acknowledge(), 0x38);
  pic.slave.write(0, 1, 0x0b);
  assert.equal(pic.slave.read(0, 1), 0x01);
});

test("a lower-priority IRQ waits while a higher one is in service", () => {
  const pic = new Pic8259(() => {});
  initLinuxStyle(pic);
  pic.line(1).pulse();
  assert.equal(pic.acknowledge(), 0x31);
  pic.line(4).pulse();
  assert.equal(pic.intr, false);
  pic.master.write(0, 1, 0x61); // specific EOI IRQ1
  assert.equal(pic.intr, true);
  assert.equal(pic.acknowledge(), 0x34);
});

test("masked IRQs do not raise INTR; spurious INTA returns IRQ7", () => {
  const pic = new Pic8259(() => {});
  initLinuxStyle(pic);
  pic.master.write(1, 1, 0x01);
  pic.line(0).pulse();
  assert.equal(pic.intr, false);
  assert.equal(pic.acknowledge(), 0x37);
});

test("auto-EOI leaves nothing in service", () => {
  const pic = new Pic8259(() => {});
  initLinuxStyle(pic, true);
  pic.line(3).pulse();
  assert.equal(pic.acknowledge(), 0x33);
  pic.master.write(0, 1, 0x0b);
  assert.equal(pic.master.read(0, 1), 0);
});

test("level-triggered IRQs (ELCR) stay pending while the line is high", () => {
  const pic = new Pic8259(() => {});
  initLinuxStyle(pic);
  pic.elcr.write(1, 1, 0x02); // IRQ9 level
  assert.equal(pic.elcr.read(1, 1), 0x02);
  pic.elcr.write(0, 1, 0x07); // IRQ0-2 can't be level
  assert.equal(pic.elcr.read(0, 1), 0x00);
  pic.setIrq(9, true);
  assert.equal(pic.acknowledge(), 0x39);
  pic.slave.write(0, 1, 0x20);
  pic.master.write(0, 1, 0x20);
  assert.equal(pic.intr, true);
  pic.setIrq(9, false);
  pic.slave.write(0, 1, 0x0a); // OCW3 read IRR
  assert.equal(pic.slave.read(0, 1), 0x00);
  assert.equal(pic.acknowledge(), 0x3f); // IR2 latched an edge: the slave answers spurious IRQ15
});

test("save and restore preserve the programmed state", () => {
  const pic = new Pic8259(() => {});
  initLinuxStyle(pic);
  pic.master.write(1, 1, 0xfb);
  const copy = new Pic8259(() => {});
  copy.restore(pic.save());
  assert.equal(copy.master.read(1, 1), 0xfb);
  copy.line(0).raise();
  assert.equal(copy.intr, false);
});
