import { test } from "node:test";
import assert from "node:assert/strict";
import { VectorMailbox } from "./vector_mailbox.ts";

const drained = (m: VectorMailbox): [number, number][] => {
  const out: [number, number][] = [];
  m.drain((cpu, vector) => out.push([cpu, vector]));
  return out;
};

test("posted vectors reach the right vCPU once (the LAPIC orders them), and a second drain finds nothing", () => {
  const owner = VectorMailbox.create(2);
  const emu = new VectorMailbox(owner.buffer);
  owner.post(1, 0xf3);
  owner.post(0, 0x20);
  owner.post(0, 0xff);
  owner.post(1, 0xf3); // a second edge on a pending vector is one interrupt
  assert.deepEqual(drained(emu).sort((a, b) => a[0] - b[0] || a[1] - b[1]), [[0, 0x20], [0, 0xff], [1, 0xf3]]);
  assert.deepEqual(drained(emu), []);
});

test("posts for vCPUs the domain does not have are dropped", () => {
  const m = VectorMailbox.create(1);
  m.post(1, 0xf3);
  m.post(-1, 0xf3);
  assert.deepEqual(drained(m), []);
});

test("sleep returns at once when something was posted since the last drain, else waits its time", () => {
  const m = VectorMailbox.create(1);
  m.post(0, 0x30);
  let t = performance.now();
  m.sleep(500);
  assert.ok(performance.now() - t < 100);
  drained(m);
  t = performance.now();
  m.sleep(30);
  assert.ok(performance.now() - t >= 25);
});
