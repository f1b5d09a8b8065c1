// The core's hypercalls through hv/hypercall's real dispatcher: -errno in rax, results as Linux sees them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import { EvtchnAllocUnbound, EvtchnOp } from "../../abi/xen/event_channel.ts";
import { XenAddToPhysmap, XenMapSpace, XenMem } from "../../abi/xen/memory.ts";
import { DOMID_SELF, Hypercall } from "../../abi/xen/xen.ts";
import { HypercallDispatcher } from "../hypercall/dispatch.ts";
import { HYPERCALLS } from "../hypercall/table.ts";
import type { HypercallRequest } from "../ports.ts";
import { xenCoreHypercallTable, xenOwnerHypercalls } from "./entry_points.ts";
import { identityMemory, makeXenWorld } from "./test_support.ts";

test("the dispatcher runs the core's handlers and returns -errno for XenError", () => {
  const w = makeXenWorld();
  const logs: string[] = [];
  const d = new HypercallDispatcher(
    { domid: 1, privileged: false, handle: new Uint8Array(16) },
    { console: () => {}, log: (l) => logs.push(l), shutdown: () => {} },
    { ...HYPERCALLS, ...xenCoreHypercallTable(w.xen) },
  );
  const mem = identityMemory(w.ramA);
  const req = (nr: number, ...args: bigint[]): HypercallRequest => ({
    vcpuId: 0, nr, longMode: true, args: [args[0] ?? 0n, args[1] ?? 0n, args[2] ?? 0n, args[3] ?? 0n, args[4] ?? 0n],
  });
  w.ramA.bytes.set(XenAddToPhysmap.build({ domid: DOMID_SELF, space: XenMapSpace.shared_info, idx: 0n, gpfn: 0x10n }), 0x3000);
  assert.equal(d.dispatch(req(Hypercall.memory_op, BigInt(XenMem.add_to_physmap), 0x3000n), mem), 0n);
  assert.equal(w.a.sharedInfo.gfn, 0x10);
  assert.equal(d.dispatch(req(Hypercall.event_channel_op, BigInt(EvtchnOp.init_control), 0x3000n), mem), BigInt.asUintN(64, BigInt(-Errno.ENOSYS)));
  w.ramA.bytes.set(EvtchnAllocUnbound.build({ dom: DOMID_SELF, remoteDom: 0 }), 0x3000);
  assert.equal(d.dispatch(req(Hypercall.event_channel_op, BigInt(EvtchnOp.alloc_unbound), 0x3000n), mem), 0n);
  assert.equal(d.dispatch(req(Hypercall.event_channel_op, BigInt(EvtchnOp.send), 1n << 50n), mem), BigInt.asUintN(64, BigInt(-Errno.EFAULT)));
});

test("xenOwnerHypercalls() serves the forwarded numbers for one domain", () => {
  const w = makeXenWorld();
  const owner = xenOwnerHypercalls(w.xen, { domid: 2, privileged: false, handle: new Uint8Array(16) }, { console: () => {}, log: () => {}, shutdown: () => {} });
  assert.deepEqual([...owner.numbers].sort((a, b) => a - b), [12, 20, 24, 32, 34]);
  w.ramB.bytes.set(EvtchnAllocUnbound.build({ dom: DOMID_SELF, remoteDom: 0 }), 0x3000);
  const rax = owner.handle({ vcpuId: 0, nr: Hypercall.event_channel_op, longMode: true, args: [BigInt(EvtchnOp.alloc_unbound), 0x3000n, 0n, 0n, 0n] }, identityMemory(w.ramB));
  assert.equal(rax, 0n);
  assert.equal(w.xen.events.status(2, 2, EvtchnAllocUnbound.decode(w.ramB.bytes, 0x3000).port).status, 1);
});
