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

// ---- x2APIC ----

const X2 = 0xfee00c00n; // APIC_BASE: enabled, EXTD (the BSP bit is read-only)

function x2(n = 1) {
  const m = make(n);
  for (const l of m.lapics) assert.equal(l.writeMsr(0x1b, X2 | (l.apicId === 0 ? 0x100n : 0n)), true);
  return m;
}

test("x2APIC MSRs raise #GP in xAPIC mode, and x2APIC mode is entered from xAPIC through APIC_BASE.EXTD", () => {
  const { lapics } = make(2);
  const l = lapics[1]!;
  assert.equal(l.readMsr(0x802), undefined);
  assert.equal(l.writeMsr(0x808, 0n), false);
  assert.equal(l.writeMsr(0x1b, X2), true);
  assert.equal(l.x2apicMode, true);
  assert.equal(l.readMsr(0x1b), X2);
  assert.equal(l.readMsr(0x802), 1n); // 32-bit x2APIC ID
  assert.equal(l.readMsr(0x803), 0x50014n);
  assert.equal(l.readMsr(0x80d), 0x2n); // cluster 0, member bit 1
  assert.equal(l.read(0x20, 4), 0xffffffff, "the MMIO page is gone in x2APIC mode");
  l.write(0x80, 4, 0x20);
  assert.equal(l.readMsr(0x808), 0n, "MMIO writes are dropped");
});

test("APIC_BASE refuses the transitions the SDM forbids: EXTD without EN, x2APIC to xAPIC, disabled to x2APIC", () => {
  const { lapics } = make(1);
  const l = lapics[0]!;
  assert.equal(l.writeMsr(0x1b, 0xfee00500n), false); // EXTD without EN
  assert.equal(l.writeMsr(0x1b, 0xfee00100n), true); // disable
  assert.equal(l.writeMsr(0x1b, 0xfee00d00n), false); // disabled → x2APIC
  assert.equal(l.writeMsr(0x1b, 0xfee00900n), true); // → xAPIC
  assert.equal(l.writeMsr(0x1b, 0xfee00d00n), true); // → x2APIC
  assert.equal(l.writeMsr(0x1b, 0xfee00900n), false); // x2APIC → xAPIC
  assert.equal(l.writeMsr(0x1b, 0xfee00100n), true); // x2APIC → disabled
  assert.equal(l.x2apicMode, false);
  assert.equal(l.hardwareEnabled, false);
  assert.equal(l.writeMsr(0x1b, 0xfee00900n), true);
  assert.equal(l.read(0x20, 4), 0, "back in xAPIC mode with the MMIO page");
});

test("x2APIC access rules: reserved, read-only and write-only registers and reserved bits raise #GP", () => {
  const { lapics } = x2(1);
  const l = lapics[0]!;
  for (const msr of [0x800, 0x801, 0x804, 0x807, 0x809, 0x80c, 0x80e, 0x829, 0x82f, 0x831, 0x83a, 0x83d, 0x840, 0x8ff]) {
    assert.equal(l.readMsr(msr), undefined, `read 0x${msr.toString(16)}`);
    assert.equal(l.writeMsr(msr, 0n), false, `write 0x${msr.toString(16)}`);
  }
  assert.equal(l.readMsr(0x80b), undefined, "EOI is write-only");
  assert.equal(l.readMsr(0x83f), undefined, "SELF IPI is write-only");
  for (const ro of [0x802, 0x803, 0x80a, 0x80d, 0x810, 0x817, 0x818, 0x820, 0x827, 0x839]) {
    assert.equal(l.writeMsr(ro, 0n), false, `0x${ro.toString(16)} is read-only`);
  }
  assert.equal(l.writeMsr(0x80b, 1n), false, "non-zero EOI");
  assert.equal(l.writeMsr(0x828, 1n), false, "non-zero ESR");
  assert.equal(l.writeMsr(0x808, 1n << 32n), false, "bits 63:32 outside the ICR");
  assert.equal(l.writeMsr(0x830, 0x2000n | 0x40n), false, "ICR bit 13");
  assert.equal(l.writeMsr(0x830, 0x10000n | 0x40n), false, "ICR bit 16");
  assert.equal(l.writeMsr(0x830, 0x100000n | 0x40n), false, "ICR bit 20");
  assert.equal(l.hasPendingInterrupt(), false, "a refused ICR write sends nothing");
});

test("x2APIC TPR, SVR, EOI, IRR/ISR/TMR and PPR work as their xAPIC registers", () => {
  const { lapics } = x2(1);
  const l = lapics[0]!;
  assert.equal(l.writeMsr(0x80f, 0x1ffn), true);
  assert.equal(l.readMsr(0x80f), 0x1ffn);
  assert.equal(l.writeMsr(0x808, 0x50n), true);
  l.acceptExternal(0x55);
  l.acceptExternal(0x61, true);
  assert.equal(l.readMsr(0x822), (1n << 0x15n)); // IRR word 2: vector 0x55
  assert.equal(l.readMsr(0x823), (1n << 1n)); // IRR word 3: vector 0x61
  assert.equal(l.readMsr(0x81b), (1n << 1n)); // TMR word 3: 0x61 is level-triggered
  assert.equal(l.acknowledge(), 0x61);
  assert.equal(l.readMsr(0x813), (1n << 1n)); // ISR word 3
  assert.equal(l.readMsr(0x80a), 0x60n); // PPR = in-service class
  assert.equal(l.hasPendingInterrupt(), false); // 0x55 is below the TPR
  assert.equal(l.writeMsr(0x80b, 0n), true);
  assert.equal(l.readMsr(0x813), 0n);
  assert.equal(l.writeMsr(0x808, 0n), true);
  assert.equal(l.acknowledge(), 0x55);
});

test("x2APIC ICR is one 64-bit MSR with a 32-bit destination; physical, cluster-logical, broadcast and shorthands", () => {
  const { lapics, log } = x2(3);
  const [a, b, c] = lapics as [Lapic, Lapic, Lapic];
  assert.equal(a.writeMsr(0x830, (2n << 32n) | 0x4040n), true); // physical APIC ID 2, fixed, vector 0x40, assert
  assert.equal(a.readMsr(0x830), (2n << 32n) | 0x4040n);
  assert.equal(c.acknowledge(), 0x40);
  c.eoi();
  assert.equal(b.hasPendingInterrupt(), false);
  // Logical: cluster 0, members 1 and 2 (LDRs are 1 << id)
  assert.equal(a.writeMsr(0x830, (0x6n << 32n) | 0x0841n), true);
  assert.equal(b.acknowledge(), 0x41);
  assert.equal(c.acknowledge(), 0x41);
  b.eoi();
  c.eoi();
  assert.equal(a.hasPendingInterrupt(), false);
  // Another cluster matches nobody
  assert.equal(a.writeMsr(0x830, (0x10006n << 32n) | 0x0843n), true);
  assert.equal(b.hasPendingInterrupt() || c.hasPendingInterrupt(), false);
  // Broadcast 0xffffffff reaches everyone, including the sender
  assert.equal(a.writeMsr(0x830, (0xffffffffn << 32n) | 0x44n), true);
  for (const l of lapics) {
    assert.equal(l.acknowledge(), 0x44);
    l.eoi();
  }
  // Shorthand "all excluding self"
  assert.equal(b.writeMsr(0x830, (3n << 18n) | 0x45n), true);
  assert.equal(a.acknowledge(), 0x45);
  assert.equal(c.acknowledge(), 0x45);
  assert.equal(b.hasPendingInterrupt(), false);
  // INIT and SIPI to APIC ID 1
  assert.equal(a.writeMsr(0x830, (1n << 32n) | 0x4500n), true);
  assert.equal(a.writeMsr(0x830, (1n << 32n) | 0x0699n), true);
  assert.deepEqual(log, ["init 1", "sipi 1 99"]);
  assert.equal(b.x2apicMode, true, "INIT keeps x2APIC mode");
  assert.equal(b.readMsr(0x80d), 0x2n, "and the logical ID");
});

test("x2APIC SELF IPI (0x83f) raises the vector on the writer only; illegal vectors set ESR", () => {
  const { lapics } = x2(2);
  const [a, b] = lapics as [Lapic, Lapic];
  assert.equal(a.writeMsr(0x83f, 0xf3n), true);
  assert.equal(a.acknowledge(), 0xf3);
  assert.equal(b.hasPendingInterrupt(), false);
  assert.equal(a.writeMsr(0x83f, 0x05n), true);
  assert.equal(a.writeMsr(0x828, 0n), true);
  assert.equal(a.readMsr(0x828), 0x40n); // receive illegal vector
});

test("x2APIC LVTs and the timer registers are MSRs 0x832-0x839 and 0x83e", () => {
  const { lapics, clock, timers } = x2(1);
  const l = lapics[0]!;
  assert.equal(l.writeMsr(0x83e, 0xbn), true); // divide by 1
  assert.equal(l.writeMsr(0x832, 0xecn), true); // one-shot, vector 0xec
  assert.equal(l.readMsr(0x832), 0xecn);
  assert.equal(l.writeMsr(0x838, 100n), true);
  clock.set(40);
  assert.equal(l.readMsr(0x839), 60n);
  assert.equal(l.readMsr(0x838), 100n);
  clock.set(100);
  timers.runExpired(100);
  assert.equal(l.acknowledge(), 0xec);
  assert.equal(l.writeMsr(0x835, 0x700n), true); // LINT0 ExtINT
  assert.equal(l.readMsr(0x835), 0x700n);
  assert.equal(l.writeMsr(0x837, 0xfen), true); // error LVT
  assert.equal(l.writeMsr(0x830, 0x03n), true); // send illegal vector 3 to... no one (dest 0 = self APIC ID 0)
  assert.equal(l.writeMsr(0x828, 0n), true);
  assert.equal(l.readMsr(0x828), 0x20n);
  assert.equal(l.acknowledge(), 0xfe);
});

test("an xAPIC-format broadcast (IOAPIC destination 0xff) reaches LAPICs in x2APIC mode", () => {
  const { lapics, bus } = x2(2);
  bus.deliver(0xff, false, 0, 0x50, false, 0, -1);
  for (const l of lapics) {
    assert.equal(l.acknowledge(), 0x50);
    l.eoi();
  }
  bus.deliver(1, false, 0, 0x51, false, 0, -1);
  assert.equal(lapics[1]!.acknowledge(), 0x51);
  assert.equal(lapics[0]!.hasPendingInterrupt(), false);
});

test("x2APIC mode survives save and restore", () => {
  const a = x2(2);
  const l = a.lapics[1]!;
  l.writeMsr(0x808, 0x30n);
  const b = make(2);
  b.lapics[1]!.restore(l.save());
  assert.equal(b.lapics[1]!.x2apicMode, true);
  assert.equal(b.lapics[1]!.readMsr(0x802), 1n);
  assert.equal(b.lapics[1]!.readMsr(0x80d), 2n);
  assert.equal(b.lapics[1]!.readMsr(0x808), 0x30n);
});
