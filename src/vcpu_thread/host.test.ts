// The vCPU thread machinery without KVM: a scripted engine in a real worker thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VcpuThread } from "./host.ts";
import type { FromVcpu } from "./protocol.ts";
import type { ScriptStep } from "./scripted_engine.ts";
import { VcpuState } from "./shared_layout.ts";
import type { GuestVirtualMemory, HypercallRequest } from "../hv/ports.ts";

const ENGINE = new URL("./scripted_engine.ts", import.meta.url).href;

function start(steps: ScriptStep[], owner?: { numbers: number[]; handle: (req: HypercallRequest, mem: GuestVirtualMemory) => bigint }) {
  const ram = new SharedArrayBuffer(0x10000);
  const messages: FromVcpu[] = [];
  const waiters: (() => void)[] = [];
  const errors: Error[] = [];
  const t = new VcpuThread({
    init: {
      domid: 4, name: "scripted", vcpuId: 0, vcpuCount: 1, privileged: false, handle: new Uint8Array(16),
      engineModule: ENGINE, engineData: { steps }, ram: { kind: "sab", buffer: ram },
      entry: { kind: "pvh32", entry: 0, ebx: 0 },
    },
    ownerHypercalls: owner === undefined ? undefined : { service: owner, ram: new Uint8Array(ram) },
    kick: () => {},
    onMessage: (m) => {
      messages.push(m);
      waiters.forEach((w) => w());
    },
    onThreadError: (e) => errors.push(e),
  });
  const until = (pred: (m: FromVcpu) => boolean): Promise<FromVcpu> =>
    new Promise((res) => {
      const check = (): void => {
        const m = messages.find(pred);
        if (m) res(m);
      };
      waiters.push(check);
      check();
    });
  const text = (): string =>
    messages.filter((m) => m.kind === "console").map((m) => new TextDecoder().decode((m as { bytes: Uint8Array }).bytes)).join("");
  return { t, messages, until, text, errors };
}

test("a guest's port output and shutdown hypercall arrive as messages and the thread halts", async () => {
  const s = start([
    { op: "out", port: 0xe9, bytes: "hello\n" },
    { op: "poke", gpa: 0x100, bytes: [1, 0, 0, 0] },
    { op: "hypercall", nr: 29, args: [2, 0x100] },
    { op: "out", port: 0xe9, bytes: "never\n" },
  ]);
  await s.t.started();
  const m = await s.until((x) => x.kind === "shutdown");
  assert.deepEqual(m, { kind: "shutdown", reason: "reboot" });
  assert.equal(s.text(), "hello\n");
  assert.equal(await s.t.control.waitState((x) => x === VcpuState.halted), VcpuState.halted);
  await s.t.stop();
  assert.equal(s.t.state(), VcpuState.stopped);
});

test("pause and unpause reach a spinning engine through ATTENTION, and stop ends the thread", async () => {
  const s = start([{ op: "out", port: 0xe9, bytes: "spin\n" }, { op: "spin" }]);
  await s.t.started();
  await s.until((x) => x.kind === "console");
  await s.t.pause();
  assert.equal(s.t.state(), VcpuState.paused);
  await s.t.unpause();
  assert.equal(s.t.state(), VcpuState.running);
  await s.t.stop();
  assert.equal(s.t.state(), VcpuState.stopped);
});

test("an engine crash and an exception inside the thread both end as crashed with a register dump", async () => {
  const a = start([{ op: "crash", why: "triple fault" }]);
  assert.deepEqual(await a.until((x) => x.kind === "crashed"), { kind: "crashed", why: "triple fault", registerDump: "pc=1" });
  await a.t.stop();
  const b = start([{ op: "throw", message: "bug in a device model" }]);
  const m = await b.until((x) => x.kind === "crashed");
  assert.match((m as { why: string }).why, /internal error: Error: bug in a device model/);
  await b.t.stop();
  assert.deepEqual([a.errors, b.errors], [[], []]);
});

test("a failing engine set-up rejects started()", async () => {
  const t = new VcpuThread({
    init: {
      domid: 4, name: "bad", vcpuId: 0, vcpuCount: 1, privileged: false, handle: new Uint8Array(16),
      engineModule: ENGINE, engineData: { steps: [] }, ram: { kind: "native", addr: 0n, sizeBytes: 0 }, entry: null,
    },
    kick: () => {},
    onMessage: () => {},
    onThreadError: () => {},
  });
  await assert.rejects(t.started(), /SharedArrayBuffer/);
  await t.stop();
});

test("hypercalls the owner serves run on the main thread, see guest memory, and return their result", async (t) => {
  let calls = 0;
  let firstMs = 0;
  let lastMs = 0;
  const owner = {
    numbers: [32],
    handle: (req: HypercallRequest, mem: GuestVirtualMemory): bigint => {
      calls++;
      if (calls === 1) firstMs = performance.now();
      lastMs = performance.now();
      const port = new DataView(mem.read(req.args[1], 4).buffer).getUint32(0, true);
      mem.write(req.args[1] + 4n, new Uint8Array([0x5a]));
      return BigInt(port + 1);
    },
  };
  const s = start(
    [
      { op: "poke", gpa: 0x300, bytes: [41, 0, 0, 0] },
      { op: "hypercall", nr: 32, args: [4, 0x300], expect: 42 },
      { op: "hypercall", nr: 32, args: [4, 0x300], repeat: 2000, expect: 42 },
      { op: "hypercall", nr: 99, args: [], expect: -38 },
      { op: "poke", gpa: 0x100, bytes: [0, 0, 0, 0] },
      { op: "hypercall", nr: 29, args: [2, 0x100] },
    ],
    owner,
  );
  await s.t.started();
  const m = await s.until((x) => x.kind === "shutdown" || x.kind === "crashed");
  const us = ((lastMs - firstMs) * 1000) / 2000;
  assert.deepEqual(m, { kind: "shutdown", reason: "poweroff" });
  assert.equal(calls, 2001);
  t.diagnostic(`owner hypercall round trip: ${us.toFixed(1)} µs (postMessage there, Atomics.notify back)`);
  await s.t.stop();
});

test("an owner hypercall that throws crashes the domain and the vCPU gets -EFAULT", async () => {
  const s = start(
    [{ op: "hypercall", nr: 34, args: [], expect: -14 }, { op: "out", port: 0xe9, bytes: "after\n" }],
    { numbers: [34], handle: () => { throw new TypeError("bug in hvm_op"); } },
  );
  const m = await s.until((x) => x.kind === "crashed");
  assert.match((m as { why: string }).why, /hypercall 34 failed in the hypervisor: TypeError: bug in hvm_op/);
  await s.until((x) => x.kind === "console");
  assert.equal(s.text(), "after\n");
  await s.t.stop();
});

test("a warm thread started ahead of time runs the next domain, and is replaced", async (t) => {
  const { prewarmVcpuThreads, stopPrewarming, warmThreadCount } = await import("./host.ts");
  prewarmVcpuThreads(1, ENGINE);
  assert.equal(warmThreadCount(ENGINE), 1);
  await new Promise((r) => setTimeout(r, 1500)); // let it load tsx and the engine
  const t0 = performance.now();
  const s = start([{ op: "out", port: 0xe9, bytes: "warm\n" }, { op: "poke", gpa: 0x100, bytes: [0, 0, 0, 0] }, { op: "hypercall", nr: 29, args: [2, 0x100] }]);
  try {
    assert.equal(warmThreadCount(ENGINE), 0, "the domain took the warm thread");
    await s.t.started();
    const startMs = performance.now() - t0;
    // the replacement is spawned from a setImmediate, which a fast "ready" message can overtake
    for (let i = 0; i < 100 && warmThreadCount(ENGINE) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(warmThreadCount(ENGINE), 1, "and a replacement is on its way");
    assert.deepEqual(await s.until((x) => x.kind === "shutdown"), { kind: "shutdown", reason: "poweroff" });
    assert.equal(s.text(), "warm\n");
    t.diagnostic(`warm thread start: ${startMs.toFixed(1)} ms`);
  } finally {
    // (on a failed assertion too: a thread left running would keep the test process alive)
    await s.t.stop();
    await stopPrewarming();
  }
  assert.equal(warmThreadCount(ENGINE), 0);
});

test("VCPUOP_set_singleshot_timer on the calling vCPU does not wait for the owner, who sees the arguments as they were", async () => {
  const seen: { vcpu: bigint; timeout: bigint; flags: number; at: number }[] = [];
  let calls = 0;
  const owner = {
    numbers: [24, 32],
    handle: (req: HypercallRequest, mem: GuestVirtualMemory): bigint => {
      calls++;
      if (req.nr === 32) return 7n;
      if (calls === 1) {
        // let the vCPU go on and reuse the argument's memory first (it does not wait for this call); a read that
        // is not all inside the copied bytes sees live memory
        const live = (): bigint => new DataView(mem.read(req.args[2] - 8n, 16).buffer).getBigUint64(8, true);
        const t0 = Date.now();
        while (live() !== 99999n && Date.now() - t0 < 5000) { /* wait */ }
        assert.equal(live(), 99999n, "the vCPU went on without waiting for the owner");
      }
      const b = mem.read(req.args[2], 16);
      const dv = new DataView(b.buffer, b.byteOffset, 16);
      seen.push({ vcpu: req.args[1], timeout: dv.getBigUint64(0, true), flags: dv.getUint32(8, true), at: calls });
      if (req.args[1] !== 0n) return BigInt.asUintN(64, -22n); // another vCPU: EINVAL, as Xen
      return (dv.getUint32(8, true) & 1) !== 0 ? BigInt.asUintN(64, -62n) : 0n; // "future" with a past deadline: ETIME
    },
  };
  const struct = (timeout: number, flags: number): number[] => [...new Uint8Array(new BigUint64Array([BigInt(timeout)]).buffer), flags, 0, 0, 0, 0, 0, 0, 0];
  const s = start(
    [
      { op: "poke", gpa: 0x400, bytes: struct(12345, 0) },
      { op: "hypercall", nr: 24, args: [8, 0, 0x400], expect: 0 },
      // the guest reuses the argument's memory at once (a stack frame): the owner must still see 12345
      { op: "poke", gpa: 0x400, bytes: struct(99999, 0) },
      { op: "hypercall", nr: 32, args: [1], expect: 7 },
      // waits for the owner's answer: VCPU_SSHOTTMR_future, another vCPU
      { op: "poke", gpa: 0x400, bytes: struct(5, 1) },
      { op: "hypercall", nr: 24, args: [8, 0, 0x400], expect: -62 },
      { op: "poke", gpa: 0x400, bytes: struct(6, 0) },
      { op: "hypercall", nr: 24, args: [8, 1, 0x400], expect: -22 },
      { op: "poke", gpa: 0x100, bytes: [0, 0, 0, 0] },
      { op: "hypercall", nr: 29, args: [2, 0x100] },
    ],
    owner,
  );
  try {
    await s.t.started();
    const m = await s.until((x) => x.kind === "shutdown" || x.kind === "crashed");
    assert.deepEqual(m, { kind: "shutdown", reason: "poweroff" });
    assert.deepEqual(seen, [
      { vcpu: 0n, timeout: 12345n, flags: 0, at: 1 },
      { vcpu: 0n, timeout: 5n, flags: 1, at: 3 },
      { vcpu: 1n, timeout: 6n, flags: 0, at: 4 },
    ]);
  } finally {
    await s.t.stop();
  }
});

test("an owner answer other than 0 to a timer call the vCPU did not wait for is reported as a hypervisor bug", async () => {
  const owner = { numbers: [24], handle: (): bigint => BigInt.asUintN(64, -22n) };
  const s = start(
    [
      { op: "poke", gpa: 0x400, bytes: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
      // a synchronous call would return -22 here and the script would report the mismatch instead
      { op: "hypercall", nr: 24, args: [8, 0, 0x400], expect: 0 },
      { op: "out", port: 0xe9, bytes: "went on\n" },
      { op: "spin" },
    ],
    owner,
  );
  try {
    await s.t.started();
    const m = await s.until((x) => x.kind === "crashed");
    assert.match((m as { why: string }).why, /hypercall 24 failed in the hypervisor: .*answered -22 where the vCPU already returned 0/);
    await s.until((x) => x.kind === "console");
    assert.equal(s.text(), "went on\n");
  } finally {
    await s.t.stop();
  }
});
