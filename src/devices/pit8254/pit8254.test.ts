import { test } from "node:test";
import assert from "node:assert/strict";
import { Pit8254 } from "./pit8254.ts";
import { ManualClock, TimerScheduler } from "../../platform/timers.ts";
import { RecordingIrq } from "../fakes.ts";

function make() {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const irq = new RecordingIrq();
  const pit = new Pit8254(clock, timers, irq);
  const run = (ns: number) => {
    clock.set(ns);
    timers.runExpired(ns);
  };
  return { clock, timers, irq, pit, run };
}

const TICK_NS = 1e9 / 1193182;

test("mode 2 on channel 0 pulses IRQ0 once per period (HZ=250 as Linux programs it), catching up late ticks", () => {
  const { pit, irq, run, timers } = make();
  pit.write(3, 1, 0x34); // ch0, LSB/MSB, mode 2
  pit.write(0, 1, 4773 & 0xff);
  pit.write(0, 1, 4773 >> 8);
  run(3_999_000);
  assert.equal(irq.edges, 0);
  run(4_001_000);
  assert.equal(irq.edges, 1);
  run(12_002_000); // late: the ticks at 8 ms and 12 ms are both still owed
  assert.equal(irq.edges, 2);
  run(12_002_001); // caught up one per timer check
  assert.equal(irq.edges, 3);
  run(12_002_002);
  assert.equal(irq.edges, 3);
  run(16_001_000);
  assert.equal(irq.edges, 4);
  run(3_000_000_000); // a backlog of more than 3 periods is dropped, not replayed
  assert.equal(irq.edges, 5);
  run(3_000_000_001);
  assert.equal(irq.edges, 5);
  assert.ok(timers.nextDeadlineNs() > 3_000_000_001);
});

test("mode 0 fires IRQ0 once at terminal count", () => {
  const { pit, irq, run, timers } = make();
  pit.write(3, 1, 0x30);
  pit.write(0, 1, 100);
  pit.write(0, 1, 0);
  run(Math.ceil(100 * TICK_NS));
  assert.equal(irq.edges, 1);
  assert.equal(timers.nextDeadlineNs(), Infinity);
});

test("counter latch freezes the value read as LSB then MSB", () => {
  const { pit, clock } = make();
  pit.write(3, 1, 0x34);
  pit.write(0, 1, 0x00);
  pit.write(0, 1, 0x10); // 0x1000
  clock.set(Math.ceil(0x100 * TICK_NS));
  pit.write(3, 1, 0x00); // latch ch0
  clock.advance(1e6);
  const lsb = pit.read(0, 1);
  const msb = pit.read(0, 1);
  assert.equal((msb << 8) | lsb, 0x0f00);
});

test("channel 2 counts only with the port 0x61 gate and reports OUT2 in bit 5 (TSC calibration)", () => {
  const { pit, clock } = make();
  pit.portB.write(0, 1, (pit.portB.read(0, 1) & ~0x02) | 0x01);
  pit.write(3, 1, 0xb0); // ch2, LSB/MSB, mode 0
  pit.write(2, 1, 0xff);
  pit.write(2, 1, 0xff);
  assert.equal(pit.portB.read(0, 1) & 0x20, 0);
  clock.set(Math.ceil(0x100 * TICK_NS));
  pit.read(2, 1);
  assert.equal(pit.read(2, 1), 0xfe); // MSB after 256 ticks
  pit.portB.write(0, 1, 0x00); // gate low: counting stops
  clock.advance(1e7);
  pit.read(2, 1);
  assert.equal(pit.read(2, 1), 0xfe);
  pit.portB.write(0, 1, 0x01);
  clock.advance(Math.ceil(0xff00 * TICK_NS));
  assert.equal(pit.portB.read(0, 1) & 0x20, 0x20);
  assert.equal(pit.portB.read(0, 1) & 0x01, 0x01);
});

test("read-back returns status (output, null count, mode) then the count", () => {
  const { pit } = make();
  pit.write(3, 1, 0x36); // ch0 LSB/MSB mode 3
  pit.write(3, 1, 0xc2); // read-back count+status of ch0
  assert.equal(pit.read(0, 1), 0x40 | 0x80 | 0x30 | 0x06);
  pit.write(0, 1, 0x00);
  pit.write(0, 1, 0x01);
  pit.write(3, 1, 0xe2); // status only
  assert.equal(pit.read(0, 1) & 0x40, 0);
});

test("the refresh bit of port 0x61 toggles with time", () => {
  const { pit, clock } = make();
  const a = pit.portB.read(0, 1) & 0x10;
  clock.advance(15085);
  assert.notEqual(pit.portB.read(0, 1) & 0x10, a);
});

test("save and restore re-arm the channel 0 timer", () => {
  const a = make();
  a.pit.write(3, 1, 0x34);
  a.pit.write(0, 1, 0x9b);
  a.pit.write(0, 1, 0x2e);
  const b = make();
  b.pit.restore(a.pit.save());
  assert.equal(b.timers.nextDeadlineNs(), a.timers.nextDeadlineNs());
});
