import { test } from "node:test";
import assert from "node:assert/strict";
import { Ioapic } from "./ioapic.ts";
import { ApicBus } from "../lapic/apic_bus.ts";
import { Lapic } from "../lapic/lapic.ts";
import { ManualClock, TimerScheduler } from "../../platform/timers.ts";

function make(n = 2) {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const bus = new ApicBus({ init: () => {}, startup: () => {}, nmi: () => {}, kick: () => {} });
  const lapics = Array.from({ length: n }, (_, i) => new Lapic({ apicId: i, bsp: i === 0, clock, timers, bus, tscKhz: 1e6 }));
  for (const l of lapics) l.write(0xf0, 4, 0x1ff);
  const io = new Ioapic(bus);
  bus.onLevelEoi = (v) => io.eoi(v);
  const program = (pin: number, low: number, high = 0) => {
    io.write(0, 4, 0x10 + 2 * pin + 1);
    io.write(0x10, 4, high);
    io.write(0, 4, 0x10 + 2 * pin);
    io.write(0x10, 4, low);
  };
  return { io, lapics, program };
}

test("version register reports 24 pins and version 0x20; entries start masked", () => {
  const { io } = make();
  io.write(0, 4, 1);
  assert.equal(io.read(0x10, 4), 0x170020);
  io.write(0, 4, 0x10);
  assert.equal(io.read(0x10, 4), 0x10000);
});

test("an edge on an unmasked pin delivers its vector to the physical destination", () => {
  const { io, lapics, program } = make();
  program(2, 0x30, 0x01000000);
  io.pin(2).pulse();
  assert.equal(lapics[0]!.hasPendingInterrupt(), false);
  assert.equal(lapics[1]!.acknowledge(), 0x30);
});

test("an edge on a masked pin is latched and delivered on unmask", () => {
  const { io, lapics, program } = make();
  program(4, 0x10034);
  io.pin(4).pulse();
  assert.equal(lapics[0]!.hasPendingInterrupt(), false);
  program(4, 0x34);
  assert.equal(lapics[0]!.acknowledge(), 0x34);
});

test("level-triggered pins set remote IRR and redeliver after EOI while asserted", () => {
  const { io, lapics, program } = make();
  const l = lapics[0]!;
  program(9, 0x8039);
  io.pin(9).raise();
  assert.equal(l.acknowledge(), 0x39);
  io.write(0, 4, 0x10 + 18);
  assert.notEqual(io.read(0x10, 4) & (1 << 14), 0);
  l.write(0xb0, 4, 0); // EOI broadcast
  assert.equal(l.acknowledge(), 0x39);
  io.pin(9).lower();
  l.write(0xb0, 4, 0);
  assert.equal(l.hasPendingInterrupt(), false);
  assert.equal(io.read(0x10, 4) & (1 << 14), 0);
});

test("logical flat destinations reach every APIC in the mask", () => {
  const { io, lapics, program } = make();
  lapics[0]!.write(0xd0, 4, 0x01000000);
  lapics[1]!.write(0xd0, 4, 0x02000000);
  program(1, 0x800 | 0x31, 0x03000000);
  io.pin(1).pulse();
  assert.equal(lapics[0]!.acknowledge(), 0x31);
  assert.equal(lapics[1]!.acknowledge(), 0x31);
});

test("the EOI register clears remote IRR like the LAPIC broadcast", () => {
  const { io, lapics, program } = make();
  program(10, 0x803a);
  io.pin(10).raise();
  lapics[0]!.acknowledge();
  io.write(0x40, 4, 0x3a);
  assert.equal(lapics[0]!.hasPendingInterrupt(), false); // in service blocks the same vector
  io.write(0, 4, 0x10 + 20);
  assert.notEqual(io.read(0x10, 4) & (1 << 14), 0); // redelivered: remote IRR set again
});

test("save and restore keep the redirection table", () => {
  const a = make();
  a.program(5, 0x45, 0x01000000);
  const b = make();
  b.io.restore(a.io.save());
  b.io.pin(5).pulse();
  assert.equal(b.lapics[1]!.acknowledge(), 0x45);
});
