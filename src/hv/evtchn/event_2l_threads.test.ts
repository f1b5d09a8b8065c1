// The 2-level sequence under real concurrency: two worker threads play guest vCPUs running Linux's 2-level
// upcall handler (drivers/xen/events/events_2l.c: clear upcall_pending, xchg pending_sel, scan pending & ~mask,
// clear each pending bit, handle) on the shared_info page while the main thread raises ports. No event may be
// lost: at the end every raised port was handled and no pending bit is left behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { Evtchn2l } from "./event_2l.ts";

const GUEST_VCPU = `
const { workerData } = require("node:worker_threads");
const { page, control, handled, vcpu } = workerData;
const words = new Int32Array(page);
const bytes = new Uint8Array(page);
const ctl = new Int32Array(control); // [0] stop, [1 + v] kick counter of vCPU v
const counts = new Int32Array(handled);
const vi = vcpu * 64;
Atomics.add(ctl, 3, 1); Atomics.notify(ctl, 3);     // ready
for (;;) {
  const kick = Atomics.load(ctl, 1 + vcpu);
  if (Atomics.load(bytes, vi) === 0) {
    if (Atomics.load(ctl, 0) === 1) break;
    Atomics.wait(ctl, 1 + vcpu, kick, 20);
    continue;
  }
  Atomics.store(bytes, vi, 0);                       // evtchn_upcall_pending = 0, before reading the selector
  const sel = [Atomics.exchange(words, (vi + 8) / 4, 0), Atomics.exchange(words, (vi + 12) / 4, 0)];
  for (let w = 0; w < 64; w++) {
    if ((sel[w >> 5] & (1 << (w & 31))) === 0) continue;
    for (let half = 0; half < 2; half++) {
      const idx = 2 * w + half;
      let bits = Atomics.load(words, 512 + idx) & ~Atomics.load(words, 640 + idx);
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= ~(1 << b);
        const port = idx * 32 + b;
        if (port % 2 !== vcpu) continue;            // bound to the other vCPU: its own selector covers it
        Atomics.and(words, 512 + idx, ~(1 << b));   // clear_evtchn before the handler runs
        Atomics.add(counts, port, 1);
      }
    }
  }
}
`;

function startVcpu(page: SharedArrayBuffer, control: SharedArrayBuffer, handled: SharedArrayBuffer, vcpu: number): Promise<void> {
  const w = new Worker(GUEST_VCPU, { eval: true, workerData: { page, control, handled, vcpu } });
  return new Promise((resolve, reject) => {
    w.once("error", reject);
    w.once("exit", () => resolve());
  });
}

test("no event is lost while two guest vCPUs consume concurrently, including masked-then-unmasked ports", async () => {
  const page = new SharedArrayBuffer(4096);
  const control = new SharedArrayBuffer(16); // [0] stop, [1..2] kicks, [3] ready
  const handled = new SharedArrayBuffer(4096 * 4);
  const words = new Int32Array(page);
  const ctl = new Int32Array(control);
  const counts = new Int32Array(handled);
  const bytes = new Uint8Array(page);
  const ops = new Evtchn2l({
    words,
    vcpuInfo: (v) => (v < 2 ? { bytes, words, offset: v * 64 } : undefined),
    upcall: (v) => {
      Atomics.add(ctl, 1 + v, 1);
      Atomics.notify(ctl, 1 + v);
    },
  });
  const vcpus = [startVcpu(page, control, handled, 0), startVcpu(page, control, handled, 1)];
  while (Atomics.load(ctl, 3) < 2) await new Promise((r) => setTimeout(r, 5));

  const stopGuests = async () => {
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 1);
    Atomics.notify(ctl, 2);
    await Promise.all(vcpus);
  };
  const raised = new Set<number>();
  let upcalls = 0;
  try {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    const MASKED = [201, 202, 203, 204, 4094, 4095];
    for (const p of MASKED) Atomics.or(words, 640 + (p >> 5), 1 << (p & 31)); // the guest masked these
    for (let i = 0; i < 400_000; i++) {
      const port = 1 + (rand() % 300);
      ops.setPending(port % 2, port);
      raised.add(port);
      if (i % 50_000 === 0) for (const p of MASKED) { ops.setPending(p % 2, p); raised.add(p); }
    }
    upcalls = Atomics.load(ctl, 1) + Atomics.load(ctl, 2);
    // Bursts with a quiescence check after each: a lost wakeup leaves an unmasked pending bit that nobody will
    // ever scan (upcall_pending and the selector both clear), which the check sees within 200 ms.
    const MASKED_SET = new Set(MASKED);
    const dummy = new Int32Array(new SharedArrayBuffer(4));
    const stuck = (): number => {
      for (let i = 0; i < 128; i++) {
        const bits = Atomics.load(words, 512 + i) & ~Atomics.load(words, 640 + i);
        if (bits !== 0) return i * 32 + (31 - Math.clz32(bits & -bits));
      }
      return 0;
    };
    for (let burst = 0; burst < 1500; burst++) {
      const n = 1 + (rand() % 6);
      for (let j = 0; j < n; j++) {
        let port = 1 + (rand() % 4000);
        if (MASKED_SET.has(port)) port++;
        ops.setPending(port % 2, port);
        raised.add(port);
      }
      let left = stuck();
      for (let spins = 0; left !== 0 && spins < 2000; spins++) {
        Atomics.wait(dummy, 0, 0, 0.1);
        left = stuck();
      }
      assert.equal(left, 0, `port ${left} stays pending and unmasked but was never delivered (burst ${burst})`);
    }
    for (const p of MASKED) assert.equal(counts[p], 0, `masked port ${p} must not be handled yet`);
    for (const p of MASKED) ops.unmask(p % 2, p); // EVTCHNOP_unmask
  } catch (e) {
    await stopGuests(); // never leave the guest threads running after a failure
    throw e;
  }
  await stopGuests();

  if (process.env.EVT_VERBOSE) console.log("upcalls", upcalls);
  assert.ok(upcalls > 50, `the guest consumed concurrently (${upcalls} upcalls)`);
  for (const p of raised) assert.ok(counts[p]! >= 1, `port ${p} was raised but never handled`);
  for (let i = 0; i < 128; i++) assert.equal(Atomics.load(words, 512 + i), 0, `pending word ${i} left set`);
});
