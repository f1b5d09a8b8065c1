// pvclock: Xen's set_time_scale numbers, and the guest-side formula (xen.h / Linux pvclock.c) reproducing
// system time from the guest TSC.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VcpuTimeInfo, XEN_PVCLOCK_TSC_STABLE_BIT } from "../../abi/xen/xen.ts";
import { PvClock, derivedTscClock, readPvClock, scaleDelta, timeScale } from "./time.ts";
import { ManualClock, makeGuest } from "./test_support.ts";

test("a 2.3 GHz TSC gives shift -1 and mul 0xde9bd37a (xen-abi-on-kvm.md §6)", () => {
  assert.deepEqual(timeScale(2_300_000_000), { mul: 0xde9bd37a, shift: -1 });
});

test("mul stays a u32 and one second of ticks scales to 1e9 ns within 1 ns per GHz, for 10 MHz to 10 GHz", () => {
  for (const hz of [10e6, 100e6, 499e6, 500e6, 800e6, 1e9, 1.000001e9, 2e9, 2.3e9, 3.7e9, 4.3e9, 10e9]) {
    const s = timeScale(hz);
    assert.ok(s.mul >= 2 ** 31 && s.mul < 2 ** 32, `mul for ${hz}`);
    const ns = scaleDelta(BigInt(hz), s);
    assert.ok(ns <= 1_000_000_000n && 1_000_000_000n - ns <= 2n + BigInt(Math.ceil(hz / 1e9)), `${hz} Hz → ${ns}`);
  }
});

test("the guest's formula reproduces system time within 1 µs a minute after the last fill", () => {
  const clock = new ManualClock(2_300_000_000);
  const g = makeGuest(1);
  const pv = new PvClock(clock);
  clock.advance(5_000_000);
  const info = g.sharedInfo.vcpuInfo(0)!;
  pv.fill(info);
  for (const step of [0n, 1n, 999n, 1_000_000_007n, 60_000_000_000n]) {
    clock.advance(step);
    const r = readPvClock(info, clock.guestTsc());
    const truth = pv.systemTimeNs();
    const err = r.systemTimeNs > truth ? r.systemTimeNs - truth : truth - r.systemTimeNs;
    assert.ok(err < 1000n, `after ${step} ns: guest ${r.systemTimeNs} vs ${truth}`);
  }
});

test("each fill leaves an even, bumped version and the stable flag", () => {
  const clock = new ManualClock();
  const g = makeGuest(1);
  const pv = new PvClock(clock);
  const info = g.sharedInfo.vcpuInfo(1)!;
  pv.fill(info);
  pv.fill(info);
  const t = VcpuTimeInfo.decode(info.bytes, info.offset + 32);
  assert.equal(t.version, 4);
  assert.equal(t.flags, XEN_PVCLOCK_TSC_STABLE_BIT);
  assert.equal((t.tscShift << 24) >> 24, -1);
  assert.equal(t.systemTime, 0n);
  assert.equal(t.tscTimestamp, clock.guestTsc());
});

test("the wallclock is UTC at system time 0, written under an even wc_version", () => {
  const clock = new ManualClock();
  const g = makeGuest(1);
  const pv = new PvClock(clock);
  clock.advance(2_500_000_000n);
  pv.writeWallclock(g.sharedInfo);
  const dv = new DataView(g.sharedInfo.bytes.buffer, g.sharedInfo.bytes.byteOffset);
  assert.equal(dv.getUint32(3072, true), 2);
  const boot = clock.wallclockNs() - 2_500_000_000n;
  const sec = BigInt(dv.getUint32(3076, true)) | (BigInt(dv.getUint32(3084, true)) << 32n);
  assert.equal(sec, boot / 1_000_000_000n);
  assert.equal(dv.getUint32(3080, true), Number(boot % 1_000_000_000n));
});

test("a clock derived from the emu TSC pairs TSC and ns exactly, so the guest's formula is exact", () => {
  let now = 5_000_000_123.7;
  const clock = derivedTscClock(() => now, () => 0n, 2_000_000);
  const g = makeGuest(1);
  const pv = new PvClock(clock);
  const info = g.sharedInfo.vcpuInfo(0)!;
  now += 1_000_000;
  pv.fill(info);
  now += 3_600_000_000_000; // an hour later, no refresh
  const guestTsc = BigInt(Math.floor(now * 2)); // what the emu's rdtsc returns at 2 GHz
  const err = readPvClock(info, guestTsc).systemTimeNs - (BigInt(Math.floor(now)) - pv.startNs);
  assert.ok(err >= -2n && err <= 2n, `error ${err} ns`);
});

test("a guest whose TSC reads up to 1 ms behind the owner's view of it still gets its time, not a jump of ~2^63 ns", () => {
  // The owner derives the guest TSC (derivedTscClock) while the vCPU thread reads its own: the two can disagree by
  // a little. The guest subtracts tsc_timestamp as a u64, so a timestamp ahead of its rdtsc made its clock jump by
  // ~2^63 ns (a Xen timer programmed from that read never fired: session 5's 2-vCPU stall).
  let now = 90_000_000_000.25;
  const clock = derivedTscClock(() => now, () => 0n, 2_000_000);
  const g = makeGuest(1);
  const pv = new PvClock(clock);
  const info = g.sharedInfo.vcpuInfo(0)!;
  now += 5_000_000_000;
  pv.fill(info);
  const truth = BigInt(Math.floor(now)) - pv.startNs;
  for (const behindNs of [1, 1_000, 999_000]) {
    const guestTsc = BigInt(Math.floor((now - behindNs) * 2)); // the vCPU thread's rdtsc, behindNs behind
    const r = readPvClock(info, guestTsc).systemTimeNs;
    assert.ok(r <= truth && truth - r <= BigInt(behindNs) + 2n, `${behindNs} ns behind: guest time ${r}, owner's ${truth}`);
  }
});
