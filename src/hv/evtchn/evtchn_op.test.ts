// event_channel_op as the guest issues it: argument structs in guest memory, OUT fields written back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import { EvtchnAllocUnbound, EvtchnBindVirq, EvtchnOp, EvtchnPort, EvtchnStatus } from "../../abi/xen/event_channel.ts";
import { DOMID_SELF, Virq } from "../../abi/xen/xen.ts";
import { makeGuest } from "../xen/test_support.ts";
import { XenError } from "../xen/xen_error.ts";
import { EventChannels } from "./event_channels.ts";
import { evtchnOp } from "./evtchn_op.ts";

const ARG = 0x3000;

function setup() {
  const ec = new EventChannels();
  const g = makeGuest(1);
  ec.addDomain(1, { nrVcpus: 2, ops: g.ops });
  const put = (bytes: Uint8Array) => g.ram.bytes.set(bytes, ARG);
  const call = (cmd: number) => evtchnOp(ec, g.call(), cmd, BigInt(ARG));
  return { ec, g, put, call };
}

test("alloc_unbound and bind_virq write the port back into the guest struct", () => {
  const { g, put, call } = setup();
  put(EvtchnAllocUnbound.build({ dom: DOMID_SELF, remoteDom: 0 }));
  assert.equal(call(EvtchnOp.alloc_unbound), 0);
  assert.equal(EvtchnAllocUnbound.decode(g.ram.bytes, ARG).port, 1);
  put(EvtchnBindVirq.build({ virq: Virq.TIMER, vcpu: 1 }));
  call(EvtchnOp.bind_virq);
  assert.equal(EvtchnBindVirq.decode(g.ram.bytes, ARG).port, 2);
  put(EvtchnStatus.build({ dom: DOMID_SELF, port: 2 }));
  call(EvtchnOp.status);
  assert.deepEqual(EvtchnStatus.decode(g.ram.bytes, ARG), { dom: DOMID_SELF, port: 2, status: 4, vcpu: 1, u0: 0, u1: 0 });
});

test("FIFO ops answer ENOSYS, pirq EOPNOTSUPP, a bad pointer EFAULT", () => {
  const { g, ec, call } = setup();
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as XenError).errno;
    }
    return 0;
  };
  assert.equal(code(() => call(EvtchnOp.init_control)), Errno.ENOSYS);
  assert.equal(code(() => call(EvtchnOp.expand_array)), Errno.ENOSYS);
  assert.equal(code(() => call(EvtchnOp.set_priority)), Errno.ENOSYS);
  assert.equal(code(() => call(99)), Errno.ENOSYS);
  assert.equal(code(() => call(EvtchnOp.bind_pirq)), Errno.EOPNOTSUPP);
  assert.equal(code(() => evtchnOp(ec, g.call(), EvtchnOp.send, 1n << 40n)), Errno.EFAULT);
  g.ram.bytes.set(EvtchnPort.build({ port: 0 }), ARG);
  assert.equal(code(() => call(EvtchnOp.close)), Errno.EINVAL);
});
