import { test } from "node:test";
import assert from "node:assert/strict";
import { PcMachine } from "./pc_machine.ts";
import { ManualClock } from "./timers.ts";
import type { ShutdownReason } from "../hv/ports.ts";

function make(vcpus = 2) {
  const clock = new ManualClock();
  const out: number[] = [];
  const shutdowns: ShutdownReason[] = [];
  const events: string[] = [];
  const m = new PcMachine({
    vcpus,
    clock,
    tscKhz: 2_000_000,
    startUnixSeconds: 1_700_000_000,
    console: (b) => out.push(...b),
    shutdown: (r) => shutdowns.push(r),
    apicEvents: {
      init: (v) => events.push(`init${v}`),
      startup: (v, vec) => events.push(`sipi${v}:${vec.toString(16)}`),
      nmi: (v) => events.push(`nmi${v}`),
      kick: () => {},
    },
  });
  const hc = () => 0n;
  const io = [...Array(vcpus).keys()].map((i) => m.cpuIo(i, hc));
  const run = (ns: number) => {
    clock.set(ns);
    if (ns >= m.timers.nextDeadlineNs()) m.runTimers(ns);
  };
  return { m, clock, out, shutdowns, events, io, run };
}

test("COM1 answers at 0x3f8 and prints; COM2-4 and unassigned ports read all ones", () => {
  const { m, io, out } = make();
  for (const c of "ok\n") io[0]!.pioWrite(0x3f8, 1, c.charCodeAt(0));
  assert.equal(String.fromCharCode(...out), "ok\n");
  assert.equal(io[0]!.pioRead(0x3fd, 1), 0x60);
  assert.equal(io[0]!.pioRead(0x2f9, 1), 0xff);
  assert.equal(io[0]!.pioRead(0x3e9, 1), 0xff);
  assert.equal(io[0]!.pioRead(0xcf8, 4), 0xffffffff);
  assert.equal(m.pio.deviceAt(0x64), "i8042");
  io[0]!.pioWrite(0xe9, 1, 0x41);
  m.flushConsole();
  assert.equal(out.at(-1), 0x41);
});

test("before the IOAPIC is set up, PIT IRQ0 reaches the BSP through the 8259 and LINT0 ExtINT", () => {
  const { io, m, run } = make(1);
  const p = io[0]!;
  // Linux init_8259A: vectors 0x30/0x38, cascade on IR2, unmask IRQ0
  p.pioWrite(0x20, 1, 0x11); p.pioWrite(0x21, 1, 0x30); p.pioWrite(0x21, 1, 0x04); p.pioWrite(0x21, 1, 0x01);
  p.pioWrite(0xa0, 1, 0x11); p.pioWrite(0xa1, 1, 0x38); p.pioWrite(0xa1, 1, 0x02); p.pioWrite(0xa1, 1, 0x01);
  p.pioWrite(0x21, 1, 0xfe);
  p.pioWrite(0x43, 1, 0x34); p.pioWrite(0x40, 1, 0x9b); p.pioWrite(0x40, 1, 0x2e); // mode 2, 11931 (100 Hz)
  const lapic = m.lapics[0]!;
  assert.equal(lapic.hasPendingInterrupt(), false);
  run(10_000_000);
  assert.equal(lapic.hasPendingInterrupt(), true);
  assert.equal(lapic.acknowledge(), 0x30);
  p.pioWrite(0x20, 1, 0x20);
  assert.equal(lapic.hasPendingInterrupt(), false);
});

test("with the IOAPIC programmed (IRQ0 on GSI2) and the PIC masked, PIT ticks arrive as IOAPIC vectors", () => {
  const { io, m, run } = make(2);
  const p = io[0]!;
  p.pioWrite(0x21, 1, 0xff);
  p.pioWrite(0xa1, 1, 0xff);
  p.mmioWrite(0xfee000f0, 4, 0x1ff); // SVR enable
  p.mmioWrite(0xfec00000, 4, 0x10 + 2 * 2 + 1);
  p.mmioWrite(0xfec00010, 4, 0x00000000); // dest APIC 0
  p.mmioWrite(0xfec00000, 4, 0x10 + 2 * 2);
  p.mmioWrite(0xfec00010, 4, 0x00000030); // vector 0x30, edge, fixed, unmasked
  p.pioWrite(0x43, 1, 0x34); p.pioWrite(0x40, 1, 0x9b); p.pioWrite(0x40, 1, 0x2e);
  run(10_000_100);
  assert.equal(m.lapics[0]!.acknowledge(), 0x30);
  assert.equal(m.lapics[1]!.hasPendingInterrupt(), false);
  p.mmioWrite(0xfee000b0, 4, 0);
  run(20_000_100);
  assert.equal(m.lapics[0]!.acknowledge(), 0x30);
});

test("each vCPU sees its own LAPIC at 0xfee00000; the BSP starts the AP with INIT/SIPI", () => {
  const { io, events } = make(2);
  assert.equal(io[0]!.mmioRead(0xfee00020, 4), 0x00000000);
  assert.equal(io[1]!.mmioRead(0xfee00020, 4), 0x01000000);
  io[0]!.mmioWrite(0xfee00310, 4, 0x01000000);
  io[0]!.mmioWrite(0xfee00300, 4, 0x0000c500);
  io[0]!.mmioWrite(0xfee00300, 4, 0x00008500);
  io[0]!.mmioWrite(0xfee00300, 4, 0x00000699);
  io[0]!.mmioWrite(0xfee00300, 4, 0x00000699);
  assert.deepEqual(events, ["init1", "sipi1:99", "sipi1:99"]);
});

test("ACPI S5 poweroff, i8042 0xfe, port 0x92 and 0xcf9 reach the shutdown callback", () => {
  const { io, shutdowns } = make(1);
  const p = io[0]!;
  p.pioWrite(0x604, 2, (5 << 10) | (1 << 13));
  p.pioWrite(0x64, 1, 0xfe);
  p.pioWrite(0x92, 1, 0x03);
  p.pioWrite(0xcf9, 1, 0x02);
  p.pioWrite(0xcf9, 1, 0x06);
  assert.deepEqual(shutdowns, ["poweroff", "reboot", "reboot", "reboot"]);
});

test("ACPI tables land at 0xe0000 with the RSDP signature and one MADT LAPIC per vCPU", () => {
  const { m } = make(2);
  const ram = new Uint8Array(0x200000);
  const layout = m.writeAcpiTables(ram);
  assert.equal(layout.rsdp, 0xe0000);
  assert.equal(String.fromCharCode(...ram.subarray(0xe0000, 0xe0008)), "RSD PTR ");
  const madtLength = ram[layout.madt + 4]!;
  assert.equal(madtLength, 44 + 16 + 12 + 20 + 6);
});

test("the RTC reads the injected wall clock and the serial RX interrupt reaches the IOAPIC", () => {
  const { io, m } = make(1);
  const p = io[0]!;
  p.pioWrite(0x70, 1, 0x09);
  assert.equal(p.pioRead(0x71, 1), 0x23); // 2023-11-14
  p.mmioWrite(0xfee000f0, 4, 0x1ff);
  p.mmioWrite(0xfec00000, 4, 0x10 + 8);
  p.mmioWrite(0xfec00010, 4, 0x24);
  p.pioWrite(0x3f9, 1, 0x01);
  m.consoleInput([0x78]);
  assert.equal(m.lapics[0]!.acknowledge(), 0x24);
  assert.equal(p.pioRead(0x3f8, 1), 0x78);
});

test("save/restore round-trips the whole platform", () => {
  const a = make(2);
  a.io[0]!.pioWrite(0x21, 1, 0xa5);
  a.io[0]!.pioWrite(0x3ff, 1, 0x42);
  a.io[1]!.mmioWrite(0xfee000f0, 4, 0x1ff);
  a.m.lapics[1]!.acceptExternal(0x55);
  const b = make(2);
  b.m.restore(JSON.parse(JSON.stringify(a.m.save())));
  assert.equal(b.io[0]!.pioRead(0x21, 1), 0xa5);
  assert.equal(b.io[0]!.pioRead(0x3ff, 1), 0x42);
  assert.equal(b.m.lapics[1]!.acknowledge(), 0x55);
});

test("CMOS memory-size bytes follow the RAM size as a BIOS expects", () => {
  const clock = new ManualClock();
  const m = new PcMachine({
    vcpus: 2, clock, tscKhz: 1e6, startUnixSeconds: 0, memoryBytes: 256 * 1024 * 1024,
    console: () => {}, shutdown: () => {},
    apicEvents: { init: () => {}, startup: () => {}, nmi: () => {}, kick: () => {} },
  });
  const io = m.cpuIo(0, () => 0n);
  const cmos = (i: number) => {
    io.pioWrite(0x70, 1, i);
    return io.pioRead(0x71, 1);
  };
  assert.equal(cmos(0x15) | (cmos(0x16) << 8), 640);
  assert.equal(cmos(0x17) | (cmos(0x18) << 8), 0xffff);
  assert.equal(cmos(0x34) | (cmos(0x35) << 8), (256 - 16) * 16);
  assert.equal(cmos(0x5f), 1);
});
