// hvm_op: parameter permissions as xen/arch/x86/hvm/hvm.c has them, the upcall vector and its injection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import { HvmOp, HvmParam, XenHvmEvtchnUpcallVector, XenHvmGetTime, XenHvmParam } from "../../abi/xen/hvm.ts";
import { DOMID_SELF } from "../../abi/xen/xen.ts";
import { hvmOp } from "./hvm_params.ts";
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

test("the guest reads the console and store params the toolstack set, and may not set the pfns", () => {
  const w = makeXenWorld();
  w.a.params.setByToolstack(HvmParam.CONSOLE_PFN, 0xfeffen);
  w.ramA.bytes.set(XenHvmParam.build({ domid: DOMID_SELF, index: HvmParam.CONSOLE_PFN }), ARG);
  assert.equal(hvmOp(w.xen, w.call(1), HvmOp.get_param, BigInt(ARG)), 0);
  assert.equal(XenHvmParam.decode(w.ramA.bytes, ARG).value, 0xfeffen);

  w.ramA.bytes.set(XenHvmParam.build({ domid: DOMID_SELF, index: HvmParam.STORE_PFN, value: 5n }), ARG);
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.set_param, BigInt(ARG))), Errno.EPERM);
  w.ramA.bytes.set(XenHvmParam.build({ domid: DOMID_SELF, index: HvmParam.CALLBACK_IRQ, value: 1n }), ARG);
  assert.equal(hvmOp(w.xen, w.call(1), HvmOp.set_param, BigInt(ARG)), 0);
  w.ramA.bytes.set(XenHvmParam.build({ domid: DOMID_SELF, index: HvmParam.IDENT_PT }), ARG);
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.get_param, BigInt(ARG))), Errno.EPERM);
  w.ramA.bytes.set(XenHvmParam.build({ domid: DOMID_SELF, index: HvmParam.PAE_ENABLED }), ARG);
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.get_param, BigInt(ARG))), Errno.EINVAL);
  w.ramA.bytes.set(XenHvmParam.build({ domid: DOMID_SELF, index: 39 }), ARG);
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.get_param, BigInt(ARG))), Errno.EINVAL);
});

test("a domU may not touch another domain's params; unknown domains are ESRCH", () => {
  const w = makeXenWorld();
  w.ramA.bytes.set(XenHvmParam.build({ domid: 2, index: HvmParam.CONSOLE_PFN }), ARG);
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.get_param, BigInt(ARG))), Errno.EPERM);
  w.ramA.bytes.set(XenHvmParam.build({ domid: 9, index: HvmParam.CONSOLE_PFN }), ARG);
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.get_param, BigInt(ARG))), Errno.ESRCH);
});

test("setting the upcall vector delivers an upcall that was already pending", () => {
  const w = makeXenWorld();
  const port = w.xen.events.bindIpi(1, 1);
  w.xen.events.send(1, port);
  assert.deepEqual(w.injected, [], "no vector yet: nothing to inject");
  w.ramA.bytes.set(XenHvmEvtchnUpcallVector.build({ vcpu: 1, vector: 0xf3 }), ARG);
  assert.equal(hvmOp(w.xen, w.call(1, 1), HvmOp.set_evtchn_upcall_vector, BigInt(ARG)), 0);
  assert.deepEqual(w.injected, [[1, 1, 0xf3]]);
  w.ramA.bytes.set(XenHvmEvtchnUpcallVector.build({ vcpu: 0, vector: 0x0f }), ARG);
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.set_evtchn_upcall_vector, BigInt(ARG))), Errno.EINVAL);
  w.ramA.bytes.set(XenHvmEvtchnUpcallVector.build({ vcpu: 7, vector: 0xf3 }), ARG);
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.set_evtchn_upcall_vector, BigInt(ARG))), Errno.ENOENT);
});

test("a CALLBACK_IRQ of type vector is used when no per-vCPU vector is set", () => {
  const w = makeXenWorld();
  w.a.params.set(HvmParam.CALLBACK_IRQ, (2n << 56n) | 0xf3n, true);
  w.xen.events.send(1, w.xen.events.bindIpi(1, 0));
  assert.deepEqual(w.injected, [[1, 0, 0xf3]]);
});

test("pagetable_dying is ENOSYS and get_time returns system time", () => {
  const w = makeXenWorld();
  assert.equal(errno(() => hvmOp(w.xen, w.call(1), HvmOp.pagetable_dying, BigInt(ARG))), Errno.ENOSYS);
  w.clock.advance(777);
  hvmOp(w.xen, w.call(1), HvmOp.get_time, BigInt(ARG));
  assert.equal(XenHvmGetTime.decode(w.ramA.bytes, ARG).now, 777n);
});

test("HVM params survive save and restore", () => {
  const w = makeXenWorld();
  w.a.params.setByToolstack(HvmParam.STORE_PFN, 0xfeffcn);
  w.a.setUpcallVector(1, 0xf3);
  const state = JSON.parse(JSON.stringify(w.a.params.save()));
  w.b.params.restore(state);
  assert.equal(w.b.params.get(HvmParam.STORE_PFN, false), 0xfeffcn);
  assert.equal(w.b.params.upcallVector(1), 0xf3);
});
