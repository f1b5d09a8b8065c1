import { test } from "node:test";
import assert from "node:assert/strict";
import { Serial8250 } from "./serial8250.ts";
import { RecordingIrq } from "../fakes.ts";

function make() {
  const irq = new RecordingIrq();
  const out: number[] = [];
  const uart = new Serial8250(irq, { write: (b) => out.push(b) });
  return { irq, out, uart };
}

test("THR writes reach the byte sink and LSR always reports THRE|TEMT", () => {
  const { out, uart } = make();
  for (const c of "hi\n") uart.write(0, 1, c.charCodeAt(0));
  assert.deepEqual(out, [0x68, 0x69, 0x0a]);
  assert.equal(uart.read(5, 1), 0x60);
});

test("Linux autoconfig sees a 16550A: IER scratch, loopback MSR, FIFO bits in IIR, no EFR", () => {
  const { uart } = make();
  uart.write(1, 1, 0);
  assert.equal(uart.read(1, 1) & 0x0f, 0);
  uart.write(1, 1, 0x0f);
  assert.equal(uart.read(1, 1) & 0x0f, 0x0f);
  uart.write(1, 1, 0);
  uart.write(4, 1, 0x1a); // loopback + RTS + OUT2
  assert.equal(uart.read(6, 1) & 0xf0, 0x90);
  uart.write(4, 1, 0);
  uart.write(7, 1, 0xa5);
  assert.equal(uart.read(7, 1), 0xa5);
  uart.write(3, 1, 0);
  uart.write(2, 1, 0x01);
  assert.equal(uart.read(2, 1) >> 6, 3);
  uart.write(3, 1, 0xbf);
  assert.notEqual(uart.read(2, 1), 0); // EFR absent: offset 2 still reads IIR
  uart.write(3, 1, 0);
  uart.write(1, 1, 0x40); // UUE bit is not writable on a 16550A
  assert.equal(uart.read(1, 1), 0);
});

test("divisor latch is reached through DLAB", () => {
  const { uart, out } = make();
  uart.write(3, 1, 0x83);
  uart.write(0, 1, 0x01);
  uart.write(1, 1, 0x00);
  assert.equal(uart.read(0, 1), 1);
  uart.write(3, 1, 0x03);
  assert.deepEqual(out, []);
});

test("enabling THRI raises the line; reading IIR clears the THRE source and lowers it", () => {
  const { uart, irq } = make();
  uart.write(2, 1, 0x01);
  uart.write(1, 1, 0x02);
  assert.equal(irq.level, true);
  assert.equal(irq.edges, 1);
  assert.equal(uart.read(2, 1), 0xc2);
  assert.equal(irq.level, false);
  assert.equal(uart.read(2, 1), 0xc1);
  uart.write(0, 1, 0x41); // THR empties again
  assert.equal(irq.level, true);
  assert.equal(irq.edges, 2);
  uart.write(1, 1, 0);
  assert.equal(irq.level, false);
});

test("received bytes raise RX interrupts that outrank THRE and drain in order", () => {
  const { uart, irq } = make();
  uart.write(2, 1, 0xc1); // FIFO, trigger 14
  uart.write(1, 1, 0x01);
  uart.receive([0x61, 0x62]);
  assert.equal(irq.level, true);
  assert.equal(uart.read(2, 1), 0xcc); // below trigger: character timeout
  assert.equal(uart.read(5, 1) & 1, 1);
  assert.equal(uart.read(0, 1), 0x61);
  assert.equal(uart.read(0, 1), 0x62);
  assert.equal(uart.read(5, 1) & 1, 0);
  assert.equal(irq.level, false);
});

test("loopback routes THR back to RBR instead of the sink", () => {
  const { uart, out } = make();
  uart.write(4, 1, 0x10);
  uart.write(0, 1, 0x55);
  assert.deepEqual(out, []);
  assert.equal(uart.read(0, 1), 0x55);
});

test("save and restore carry registers and queued input", () => {
  const { uart } = make();
  uart.write(7, 1, 0x12);
  uart.receive([1, 2, 3]);
  uart.read(0, 1);
  const s = uart.save();
  const other = make().uart;
  other.restore(s);
  assert.equal(other.read(7, 1), 0x12);
  assert.equal(other.read(0, 1), 2);
  assert.equal(other.rxQueued, 1);
});
