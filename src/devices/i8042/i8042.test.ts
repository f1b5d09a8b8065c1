import { test } from "node:test";
import assert from "node:assert/strict";
import { I8042 } from "./i8042.ts";
import { PortA, ResetControl } from "./reset_ports.ts";
import { RecordingIrq } from "../fakes.ts";

function make() {
  const kbd = new RecordingIrq();
  const aux = new RecordingIrq();
  let resets = 0;
  const dev = new I8042({ keyboardIrq: kbd, auxIrq: aux, reset: () => resets++ });
  const cmd = (c: number) => dev.write(4, 1, c);
  const data = (d: number) => dev.write(0, 1, d);
  const readAll = () => {
    const out: number[] = [];
    while (dev.read(4, 1) & 1) out.push(dev.read(0, 1));
    return out;
  };
  return { dev, kbd, aux, cmd, data, readAll, resets: () => resets };
}

test("controller self-test, CTR read/write and interface tests answer like an AT controller", () => {
  const { cmd, data, readAll } = make();
  assert.deepEqual(readAll(), []);
  cmd(0xaa);
  assert.deepEqual(readAll(), [0x55]);
  cmd(0x20);
  assert.deepEqual(readAll(), [0x45]);
  cmd(0x60);
  data(0x47);
  cmd(0x20);
  assert.deepEqual(readAll(), [0x47]);
  cmd(0xab);
  cmd(0xa9);
  assert.deepEqual(readAll(), [0x00, 0x00]);
});

test("AUX loopback returns the byte with AUXDATA set; commands to the absent mouse time out", () => {
  const { dev, cmd, data } = make();
  cmd(0xd3);
  data(0x5a);
  assert.equal(dev.read(4, 1) & 0x21, 0x21);
  assert.equal(dev.read(0, 1), 0x5a);
  cmd(0xd4);
  data(0xff);
  assert.equal(dev.read(4, 1) & 0x61, 0x61);
  assert.equal(dev.read(0, 1), 0xfe);
});

test("keyboard reset and identify answer ACK, BAT and the MF2 ID, each byte a new IRQ1 edge", () => {
  const { data, readAll, kbd } = make();
  data(0xff);
  assert.equal(kbd.level, true);
  assert.deepEqual(readAll(), [0xfa, 0xaa]);
  assert.equal(kbd.edges, 2);
  assert.equal(kbd.level, false);
  data(0xf2);
  assert.deepEqual(readAll(), [0xfa, 0xab, 0x41]);
  data(0xed);
  data(0x00);
  assert.deepEqual(readAll(), [0xfa, 0xfa]);
});

test("command 0xfe and output-port bit 0 pulse the reset line", () => {
  const { cmd, data, resets } = make();
  cmd(0xfe);
  assert.equal(resets(), 1);
  cmd(0xd1);
  data(0x02);
  assert.equal(resets(), 2);
});

test("port 0x92 bit 0 and 0xcf9 value 6 reset; A20 reads back", () => {
  let n = 0;
  const a = new PortA(() => n++);
  const c = new ResetControl(() => n++);
  assert.equal(a.read(0, 1), 0x02);
  a.write(0, 1, 0x00);
  assert.equal(a.a20, false);
  a.write(0, 1, 0x03);
  assert.equal(n, 1);
  c.write(0, 1, 0x02);
  assert.equal(n, 1);
  c.write(0, 1, 0x06);
  assert.equal(n, 2);
});
