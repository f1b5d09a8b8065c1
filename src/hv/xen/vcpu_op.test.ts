// vcpu_op: register_vcpu_info as Linux requires it at boot, is_up/up/down, the singleshot and periodic timers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import {
  Runstate, VCPU_SSHOTTMR_future, VcpuOp, VcpuRegisterMemoryArea, VcpuRegisterVcpuInfo, VcpuRunstateInfo, VcpuSetPeriodicTimer,
  VcpuSetSingleshotTimer,
} from "../../abi/xen/vcpu.ts";
import { Virq } from "../../abi/xen/xen.ts";
import { vcpuOp } from "./vcpu_op.ts";
import { makeXenWorld } from "./test_support.ts";
import { XenError } from "./xen_error.ts";

const ARG = 0x3000;
const errno = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as XenError).errno;
  }
  return 0;
};

test("register_vcpu_info moves vcpu_info, marks everything pending, injects and fills the time", () => {
  const w = makeXenWorld();
  w.a.setUpcallVector(0, 0xf3);
  w.ramA.bytes.set(VcpuRegisterVcpuInfo.build({ mfn: 0x20n, offset: 0x40, rsvd: 0 }), ARG);
  assert.equal(vcpuOp(w.xen, w.call(1), VcpuOp.register_vcpu_info, 0, BigInt(ARG)), 0);
  const at = 0x20 * 4096 + 0x40;
  assert.equal(w.ramA.bytes[at], 1, "upcall_pending");
  assert.deepEqual([...w.ramA.bytes.subarray(at + 8, at + 16)], [255, 255, 255, 255, 255, 255, 255, 255]);
  assert.deepEqual(w.injected, [[1, 0, 0xf3]]);
  assert.equal(new DataView(w.ramA.bytes.buffer).getUint32(at + 32, true), 2, "time version");
  assert.equal(errno(() => vcpuOp(w.xen, w.call(1), VcpuOp.register_vcpu_info, 0, BigInt(ARG))), Errno.EBUSY);
  assert.equal(errno(() => vcpuOp(w.xen, w.call(1), VcpuOp.register_vcpu_info, 5, BigInt(ARG))), Errno.ENOENT);
});

test("is_up, up and down", () => {
  const w = makeXenWorld();
  assert.equal(vcpuOp(w.xen, w.call(1), VcpuOp.is_up, 0, 0n), 1);
  assert.equal(vcpuOp(w.xen, w.call(1), VcpuOp.is_up, 1, 0n), 0);
  vcpuOp(w.xen, w.call(1), VcpuOp.up, 1, 0n);
  assert.equal(vcpuOp(w.xen, w.call(1), VcpuOp.is_up, 1, 0n), 1);
  vcpuOp(w.xen, w.call(1), VcpuOp.down, 1, 0n);
  assert.equal(vcpuOp(w.xen, w.call(1), VcpuOp.is_up, 1, 0n), 0);
});

test("a singleshot timer fires VIRQ_TIMER at its deadline; past deadlines fire now or give ETIME", () => {
  const w = makeXenWorld();
  const port = w.xen.events.bindVirq(1, Virq.TIMER, 0);
  const set = (abs: bigint, flags = 0) => {
    w.ramA.bytes.set(VcpuSetSingleshotTimer.build({ timeoutAbsNs: abs, flags }), ARG);
    return vcpuOp(w.xen, w.call(1), VcpuOp.set_singleshot_timer, 0, BigInt(ARG));
  };
  w.clock.advance(1_000_000);
  set(3_000_000n);
  assert.deepEqual(w.timerChanges.at(-1), [1, 0, 3_000_000n]);
  assert.equal(w.a.runTimers(0), false);
  w.clock.advance(2_000_000);
  assert.equal(w.a.runTimers(0), true);
  assert.ok(w.xen.events.isPending(1, port));
  assert.deepEqual(w.timerChanges.at(-1), [1, 0, undefined]);

  w.a.evtchn.clearPending(port);
  assert.equal(errno(() => set(1n, VCPU_SSHOTTMR_future)), Errno.ETIME);
  assert.equal(w.xen.events.isPending(1, port), false);
  set(1n);
  assert.ok(w.xen.events.isPending(1, port), "a past deadline without the flag fires at once");

  assert.equal(errno(() => vcpuOp(w.xen, w.call(1, 0), VcpuOp.set_singleshot_timer, 1, BigInt(ARG))), Errno.EINVAL);
  set(9_000_000_000n);
  vcpuOp(w.xen, w.call(1), VcpuOp.stop_singleshot_timer, 0, 0n);
  assert.equal(w.a.timers.nextDeadline(0), undefined);
});

test("the periodic timer re-arms itself and can be stopped", () => {
  const w = makeXenWorld();
  w.xen.events.bindVirq(1, Virq.TIMER, 1);
  w.ramA.bytes.set(VcpuSetPeriodicTimer.build({ periodNs: 10_000_000n }), ARG);
  vcpuOp(w.xen, w.call(1, 1), VcpuOp.set_periodic_timer, 1, BigInt(ARG));
  assert.equal(w.a.timers.nextDeadline(1), 10_000_000n);
  w.clock.advance(25_000_000);
  assert.equal(w.a.runTimers(1), true);
  assert.equal(w.a.timers.nextDeadline(1), 30_000_000n);
  vcpuOp(w.xen, w.call(1, 1), VcpuOp.stop_periodic_timer, 1, 0n);
  assert.equal(w.a.timers.nextDeadline(1), undefined);
  w.ramA.bytes.set(VcpuSetPeriodicTimer.build({ periodNs: 10n }), ARG);
  assert.equal(errno(() => vcpuOp(w.xen, w.call(1, 1), VcpuOp.set_periodic_timer, 1, BigInt(ARG))), Errno.EINVAL);
});

test("the runstate area is filled once as running (Linux BUG()s on failure); the time area is ENOSYS", () => {
  const w = makeXenWorld();
  const AREA = 0x5000;
  w.ramA.bytes.set(VcpuRegisterMemoryArea.build({ addr: BigInt(AREA) }), ARG);
  w.ramA.bytes.fill(0xee, AREA, AREA + VcpuRunstateInfo.size);
  assert.equal(vcpuOp(w.xen, w.call(1), VcpuOp.register_runstate_memory_area, 0, BigInt(ARG)), 0);
  const info = VcpuRunstateInfo.decode(w.ramA.bytes, AREA);
  assert.equal(info.state, Runstate.running);
  assert.equal(info.timeRunning, info.stateEntryTime);
  assert.equal(info.timeRunnable + info.timeBlocked + info.timeOffline, 0n);
  assert.equal(errno(() => vcpuOp(w.xen, w.call(1), VcpuOp.register_vcpu_time_memory_area, 0, BigInt(ARG))), Errno.ENOSYS);
  assert.equal(errno(() => vcpuOp(w.xen, w.call(1), 99, 0, 0n)), Errno.ENOSYS);
});
