// Golden bytes for hvm_op structs: expected bytes written by hand from xen/include/public/hvm/hvm_op.h.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HvmParam, XenHvmEvtchnUpcallVector, XenHvmParam, XenHvmPagetableDying } from "./hvm.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

test("xen_hvm_param is domid, pad, index at 4, value at 8", () => {
  const v = { domid: 0x7ff0, pad: 0, index: HvmParam.CONSOLE_EVTCHN, value: 0xfeff0n };
  const b = XenHvmParam.build(v);
  assert.deepEqual(b, hex("f0 7f 00 00 12 00 00 00 f0 ef 0f 00 00 00 00 00"));
  assert.deepEqual(XenHvmParam.decode(b), v);
});

test("xen_hvm_evtchn_upcall_vector is vcpu u32 then the vector byte", () => {
  assert.deepEqual(XenHvmEvtchnUpcallVector.build({ vcpu: 1, vector: 0xf3 }), hex("01 00 00 00 f3 00 00 00"));
  assert.equal(XenHvmPagetableDying.size, 16);
});
