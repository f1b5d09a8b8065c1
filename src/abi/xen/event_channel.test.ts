// Golden bytes for the event-channel structs: expected bytes written by hand from the C declarations in
// xen/include/public/event_channel.h (x86_64 alignment: u32 fields on 4, domid_t is u16).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  EVTCHN_2L_NR_CHANNELS, EvtchnAllocUnbound, EvtchnBindInterdomain, EvtchnBindIpi, EvtchnBindVcpu, EvtchnBindVirq,
  EvtchnInitControl, EvtchnOp, EvtchnPort, EvtchnReset, EvtchnStatus,
} from "./event_channel.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

test("evtchn_alloc_unbound encodes dom, remote_dom and port at 0, 2, 4", () => {
  const v = { dom: 0x7ff0, remoteDom: 0x0001, port: 0x12345678 };
  const b = EvtchnAllocUnbound.build(v);
  assert.deepEqual(b, hex("f0 7f 01 00 78 56 34 12"));
  assert.deepEqual(EvtchnAllocUnbound.decode(b), v);
});

test("evtchn_bind_interdomain leaves bytes 2..3 as padding", () => {
  const v = { remoteDom: 3, remotePort: 9, localPort: 0x100 };
  const b = EvtchnBindInterdomain.build(v);
  assert.deepEqual(b, hex("03 00 00 00 09 00 00 00 00 01 00 00"));
  assert.deepEqual(EvtchnBindInterdomain.decode(b), v);
});

test("evtchn_bind_virq, bind_ipi, bind_vcpu and the one-port structs have the C sizes", () => {
  assert.deepEqual(EvtchnBindVirq.build({ virq: 1, vcpu: 2, port: 3 }), hex("01 00 00 00 02 00 00 00 03 00 00 00"));
  assert.deepEqual(EvtchnBindIpi.build({ vcpu: 5, port: 7 }), hex("05 00 00 00 07 00 00 00"));
  assert.deepEqual(EvtchnBindVcpu.build({ port: 0x0fff, vcpu: 1 }), hex("ff 0f 00 00 01 00 00 00"));
  assert.deepEqual(EvtchnPort.build({ port: 4095 }), hex("ff 0f 00 00"));
  assert.deepEqual(EvtchnReset.build({ dom: 0x7ff0 }), hex("f0 7f"));
  assert.equal(EvtchnInitControl.size, 24);
});

test("evtchn_status puts the union at 16 (interdomain.dom u16, interdomain.port at 20)", () => {
  const v = { dom: 0x7ff0, port: 5, status: 2, vcpu: 1, u0: 7, u1: 33 };
  const b = EvtchnStatus.build(v);
  assert.deepEqual(b, hex("f0 7f 00 00 05 00 00 00 02 00 00 00 01 00 00 00 07 00 00 00 21 00 00 00"));
  assert.deepEqual(EvtchnStatus.decode(b), v);
});

test("op numbers and the 2-level port count match the header", () => {
  assert.equal(EvtchnOp.init_control, 11);
  assert.equal(EvtchnOp.unmask, 9);
  assert.equal(EVTCHN_2L_NR_CHANNELS, 64 * 64);
});
