import { test } from "node:test";
import assert from "node:assert/strict";
import { Rtc } from "./rtc.ts";
import { ManualClock, TimerScheduler } from "../../platform/timers.ts";
import { RecordingIrq } from "../fakes.ts";

// 2024-02-29 23:59:58 UTC (a Thursday)
const START = Date.UTC(2024, 1, 29, 23, 59, 58) / 1000;

function make() {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const irq = new RecordingIrq();
  const rtc = new Rtc({ clock, timers, irq, startUnixSeconds: START });
  const reg = (i: number) => {
    rtc.write(0, 1, i);
    return rtc.read(1, 1);
  };
  const set = (i: number, v: number) => {
    rtc.write(0, 1, i);
    rtc.write(1, 1, v);
  };
  return { clock, timers, irq, rtc, reg, set };
}

test("time registers read BCD 24-hour by default and advance with the clock", () => {
  const { reg, clock } = make();
  assert.deepEqual([reg(0), reg(2), reg(4), reg(6), reg(7), reg(8), reg(9), reg(0x32)], [0x58, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20]);
  clock.advance(2e9);
  assert.deepEqual([reg(0), reg(2), reg(4), reg(7), reg(8)], [0x00, 0x00, 0x00, 0x01, 0x03]);
});

test("binary and 12-hour formats follow register B", () => {
  const { reg, set } = make();
  set(0x0b, 0x04); // binary, 12h
  assert.equal(reg(0), 58);
  assert.equal(reg(4), 0x80 | 11);
});

test("UIP is set only in the last 244 µs of a second; register D reports valid RAM", () => {
  const { reg, clock } = make();
  assert.equal(reg(0x0a) & 0x80, 0);
  clock.set(999_800_000);
  assert.equal(reg(0x0a), 0xa6);
  assert.equal(reg(0x0d), 0x80);
});

test("writing the time with SET held moves the clock", () => {
  const { reg, set, clock } = make();
  set(0x0b, 0x82);
  set(0x04, 0x08);
  set(0x02, 0x30);
  clock.advance(5e9);
  assert.equal(reg(0), 0x58); // frozen
  set(0x0b, 0x02);
  clock.advance(1e9);
  assert.deepEqual([reg(4), reg(2), reg(0)], [0x08, 0x30, 0x59]);
});

test("update-ended interrupts set register C and assert IRQ8 until C is read", () => {
  const { set, reg, irq, clock, timers } = make();
  set(0x0b, 0x12);
  clock.set(1e9);
  timers.runExpired(1e9);
  assert.equal(irq.level, true);
  assert.equal(reg(0x0c), 0x90);
  assert.equal(irq.level, false);
  assert.equal(reg(0x0c), 0);
});

test("periodic interrupts follow the rate in register A", () => {
  const { set, irq, clock, timers, reg } = make();
  set(0x0a, 0x26);
  set(0x0b, 0x42);
  assert.equal(timers.nextDeadlineNs(), 1e9 / 1024);
  clock.set(1e9 / 1024);
  timers.runExpired(clock.nowNs());
  assert.equal(reg(0x0c), 0xc0);
  assert.equal(irq.edges, 1);
});

test("NVRAM bytes persist and survive save/restore", () => {
  const a = make();
  a.set(0x40, 0x5a);
  const b = make();
  b.rtc.restore(a.rtc.save());
  assert.equal(b.reg(0x40), 0x5a);
});
