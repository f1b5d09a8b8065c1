import { test } from "node:test";
import assert from "node:assert/strict";
import { Lapic } from "./lapic.ts";
import { ApicBus } from "./apic_bus.ts";
import { ManualClock, TimerScheduler } from "../../platform/timers.ts";

function make(n = 1) {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const log: string[] = [];
  const bus = new ApicBus({
    init: (v) => log.push(`init ${v}`),
    startup: (v, vec) => log.push(`sipi ${v} ${vec.toString(16)}`),
    nmi: (v) => log.push(`nmi ${v}`),
    kick: () => {},
  });
  const lapics = Array.from({ length: n }, (_, i) => new Lapic({ apicId: i, bsp: i === 0, clock, timers, bus, tscKhz: 1_000_000 }));
  for (const l of lapics) l.write(0xf0, 4, 0x1ff);
  return { clock, timers, bus, lapics, log };
}

test("ID, version and APIC_BASE read as a BSP xAPIC at 0xfee00000", () => {
  const { lapics } = make(2);
  assert.equal(lapics[1]!.read(0x20, 4), 0x01000000);
  assert.equal(lapics[0]!.read(0x30, 4), 0x50014);
  assert.equal(lapics[0]!.readMsr(0x1b), 0xfee00900n);
  assert.equal(lapics[1]!.readMsr(0x1b), 0xfee00800n);
  assert.equal(lapics[0]!.writeMsr(0x1b, 0xfee00d00n), false); // x2APIC enable is refused
});

test("fixed interrupts go IRR→ISR on acknowledge, highest vector first, and EOI retires them", () => {
  const { lapics } = make();
  const l = lapics[0]!;
  assert.equal(l.hasPendingInterrupt(), false);
  l.acceptExternal(0x31);
  l.acceptExternal(0x41);
  assert.equal(l.hasPendingInterrupt(), true);
  assert.equal(l.acknowledge(), 0x41);
  assert.equal(l.read(0x100 + 0x20, 4), 1 << 1); // ISR word 2 bit 1
  assert.equal(l.hasPendingInterrupt(), false); // 0x31 is below the in-service class 4
  assert.equal(l.read(0xa0, 4), 0x40); // PPR
  l.write(0xb0, 4, 0);
  assert.equal(l.hasPendingInterrupt(), true);
  assert.equal(l.acknowledge(), 0x31);
});

test("TPR blocks vectors of its class and below; acknowledge then returns the spurious vector", () => {
  const { lapics } = make();
  const l = lapics[0]!;
  l.write(0x80, 4, 0x50);
  l.acceptExternal(0x55);
  assert.equal(l.hasPendingInterrupt(), false);
  assert.equal(l.acknowledge(), 0xff);
  l.write(0x80, 4, 0x40);
  assert.equal(l.hasPendingInterrupt(), true);
});

test("level-triggered EOI is broadcast for the IOAPIC", () => {
  const { lapics, bus } = make();
  const eois: number[] = [];
  bus.onLevelEoi = (v) => eois.push(v);
  lapics[0]!.acceptExternal(0x61, true);
  assert.equal(lapics[0]!.acknowledge(), 0x61);
  lapics[0]!.write(0xb0, 4, 0);
  assert.deepEqual(eois, [0x61]);
});

test("one-shot timer counts down at 1 GHz / divider and fires its LVT vector once", () => {
  const { lapics, clock, timers } = make();
  const l = lapics[0]!;
  l.write(0x3e0, 4, 0x3); // divide by 16
  l.write(0x320, 4, 0xec);
  l.write(0x380, 4, 1000);
  clock.advance(1600);
  assert.equal(l.read(0x390, 4), 900);
  assert.equal(timers.nextDeadlineNs(), 16000);
  clock.set(16000);
  timers.runExpired(clock.nowNs());
  assert.equal(l.read(0x390, 4), 0);
  assert.equal(l.acknowledge(), 0xec);
  assert.equal(timers.nextDeadlineNs(), Infinity);
});

test("periodic timer reloads and keeps firing", () => {
  const { lapics, clock, timers } = make();
  const l = lapics[0]!;
  l.write(0x3e0, 4, 0xb); // divide by 1
  l.write(0x320, 4, (1 << 17) | 0xef);
  l.write(0x380, 4, 100);
  for (let i = 1; i <= 3; i++) {
    clock.set(i * 100);
    timers.runExpired(clock.nowNs());
    assert.equal(l.acknowledge(), 0xef);
    l.write(0xb0, 4, 0);
  }
  clock.set(350);
  assert.equal(l.read(0x390, 4), 50);
});

test("masked timer LVT expires without raising an interrupt", () => {
  const { lapics, clock, timers } = make();
  const l = lapics[0]!;
  l.write(0x320, 4, 0x100ec);
  l.write(0x380, 4, 10);
  clock.set(1000);
  timers.runExpired(1000);
  assert.equal(l.hasPendingInterrupt(), false);
});

test("TSC-deadline mode arms from MSR 0x6e0 and ignores the initial count", () => {
  const { lapics, clock, timers } = make();
  const l = lapics[0]!;
  l.write(0x320, 4, (2 << 17) | 0xee);
  l.write(0x380, 4, 5);
  assert.equal(timers.nextDeadlineNs(), Infinity);
  assert.equal(l.writeMsr(0x6e0, 5000n), true);
  assert.equal(timers.nextDeadlineNs(), 5000); // tscKhz 1e6: 1 tick = 1 ns
  clock.set(5000);
  timers.runExpired(5000);
  assert.equal(l.acknowledge(), 0xee);
  assert.equal(l.readMsr(0x6e0), 0n);
});

test("INIT/SIPI IPIs reach the machine callbacks; INIT de-assert is ignored", () => {
  const { lapics, log } = make(2);
  const bsp = lapics[0]!;
  bsp.write(0x310, 4, 1 << 24);
  bsp.write(0x300, 4, 0xc500); // INIT, level assert
  bsp.write(0x300, 4, 0x8500); // INIT de-assert
  bsp.write(0x300, 4, 0x0699); // SIPI vector 0x99
  assert.deepEqual(log, ["init 1", "sipi 1 99"]);
  assert.equal(bsp.read(0x300, 4) & (1 << 12), 0); // delivery status idle
});

test("fixed IPIs honour physical, logical flat and shorthand destinations", () => {
  const { lapics } = make(2);
  const [a, b] = lapics as [Lapic, Lapic];
  a.write(0xd0, 4, 0x01000000);
  b.write(0xd0, 4, 0x02000000);
  a.write(0x310, 4, 0x02000000);
  a.write(0x300, 4, 0x0800 | 0x40); // logical, fixed, vector 0x40
  assert.equal(b.acknowledge(), 0x40);
  b.eoi();
  assert.equal(a.hasPendingInterrupt(), false);
  a.write(0x300, 4, (3 << 18) | 0x41); // all excluding self
  assert.equal(b.acknowledge(), 0x41);
  b.eoi();
  a.write(0x300, 4, (1 << 18) | 0x42); // self
  assert.equal(a.acknowledge(), 0x42);
  a.write(0x310, 4, 0x01000000);
  a.write(0x300, 4, 0x43); // physical APIC ID 1
  assert.equal(b.acknowledge(), 0x43);
});

test("ExtINT on LINT0 makes the PIC's vector pending regardless of TPR", () => {
  const { lapics, bus } = make();
  const l = lapics[0]!;
  bus.extIntAcknowledge = () => 0x30;
  l.setupVirtualWire();
  l.write(0x80, 4, 0xf0);
  l.setLint0(true);
  assert.equal(l.hasPendingInterrupt(), true);
  assert.equal(l.acknowledge(), 0x30);
  l.setLint0(false);
  assert.equal(l.hasPendingInterrupt(), false);
  l.write(0x350, 4, 0x10700); // masked
  l.setLint0(true);
  assert.equal(l.hasPendingInterrupt(), false);
});

test("ESR latches errors on write; illegal vectors are reported", () => {
  const { lapics } = make();
  const l = lapics[0]!;
  l.write(0x300, 4, (1 << 18) | 0x05);
  assert.equal(l.read(0x280, 4), 0);
  l.write(0x280, 4, 0);
  assert.equal(l.read(0x280, 4), 0x20);
});

test("save and restore keep pending vectors and a running timer", () => {
  const a = make();
  const l = a.lapics[0]!;
  l.acceptExternal(0x50);
  l.write(0x3e0, 4, 0xb);
  l.write(0x320, 4, 0xec);
  l.write(0x380, 4, 100);
  const b = make();
  b.lapics[0]!.restore(l.save());
  assert.equal(b.timers.nextDeadlineNs(), 100);
  assert.equal(b.lapics[0]!.acknowledge(), 0x50);
});

test("a software-disabled APIC holds fixed interrupts until SVR enables it", () => {
  const { lapics } = make();
  const l = lapics[0]!;
  l.write(0xf0, 4, 0xff);
  l.acceptExternal(0x40);
  assert.equal(l.hasPendingInterrupt(), false);
  assert.equal(l.acknowledge(), 0xff);
  l.write(0xf0, 4, 0x1ff);
  assert.equal(l.acknowledge(), 0x40);
});
