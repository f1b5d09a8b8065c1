import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { VcpuCommand, VcpuControlBlock, VcpuState } from "./shared_layout.ts";

test("command() raises attention and takeCommand() clears it before reading the command", () => {
  const c = VcpuControlBlock.create();
  assert.equal(c.attentionRequested(), false);
  c.command(VcpuCommand.pause);
  assert.equal(c.attentionRequested(), true);
  assert.equal(c.takeCommand(), VcpuCommand.pause);
  assert.equal(c.attentionRequested(), false);
});

test("the thread id round-trips as a 64-bit value", () => {
  const c = VcpuControlBlock.create();
  c.setThreadId(0x7f12_3456_7890n);
  assert.equal(new VcpuControlBlock(c.buffer).threadId(), 0x7f12_3456_7890n);
});

test("waitState() resolves when another thread publishes the state, and a paused thread wakes on run", async () => {
  const c = VcpuControlBlock.create();
  c.command(VcpuCommand.pause);
  // A plain-JS worker playing the vCPU thread: pause until the command changes, then report running.
  const w = new Worker(
    `const { workerData } = require("node:worker_threads");
     const words = new Int32Array(workerData);
     Atomics.store(words, 1, 2); Atomics.notify(words, 1);                  // state = paused
     while (Atomics.load(words, 0) === 1) Atomics.wait(words, 0, 1);        // wait while command = pause
     Atomics.store(words, 1, 1); Atomics.notify(words, 1);                  // state = running`,
    { eval: true, workerData: c.buffer },
  );
  assert.equal(await c.waitState((s) => s === VcpuState.paused), VcpuState.paused);
  c.command(VcpuCommand.run);
  assert.equal(await c.waitState((s) => s === VcpuState.running), VcpuState.running);
  await new Promise((r) => w.once("exit", r));
});
