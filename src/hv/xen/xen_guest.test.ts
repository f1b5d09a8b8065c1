// Save and restore of a domain's whole Xen-interface state, through JSON, into a fresh registry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EvtchnStat } from "../../abi/xen/event_channel.ts";
import { GrantEntryV1, Gtf } from "../../abi/xen/grant_table.ts";
import { HvmParam } from "../../abi/xen/hvm.ts";
import { Virq } from "../../abi/xen/xen.ts";
import { RamPhysmap } from "./guest_physmap.ts";
import { makeRam, makeXenWorld } from "./test_support.ts";
import type { XenGuestState } from "./xen_guest.ts";

test("a saved domain comes back with its ports, grants, params, timers, placement and system time", () => {
  const w = makeXenWorld();
  const ev = w.xen.events;
  w.a.sharedInfo.place(0x10);
  w.a.sharedInfo.registerVcpuInfo(1, 0x11, 0x40);
  w.a.params.setByToolstack(HvmParam.STORE_PFN, 0x3fn);
  w.a.setUpcallVector(0, 0xf3);
  const timer = ev.bindVirq(1, Virq.TIMER, 0);
  const ipi = ev.bindIpi(1, 1);
  const toB = ev.bindInterdomain(1, 2, ev.allocUnbound(2, 2, 1));
  const forDom0 = ev.allocUnbound(1, 1, 0);
  w.xen.grants.mapFrame(1, 0, 0x100000);
  GrantEntryV1.encode({ flags: Gtf.permit_access, domid: 0, frame: 0x30 }, w.a.physmap.page(0x100000)!, 8 * 8);
  w.xen.grants.mapGrantRef(0, 1, 8, false); // a dom0 mapping at save time: not carried over
  w.clock.advance(5_000_000_000n);
  w.a.timers.setSingleshot(0, w.a.clock.systemTimeNs() + 1_000_000n);
  ev.send(1, ipi);

  const state = JSON.parse(JSON.stringify(w.xen.save(1))) as XenGuestState;
  const ram = makeRam(64);
  ram.bytes.set(w.ramA.bytes);

  const w2 = makeXenWorld();
  w2.clock.advance(77_000_000_000n); // a different host clock
  const injected: number[] = [];
  const g = w2.xen.restore(
    {
      domid: 7, nrVcpus: 2, physmap: new RamPhysmap(ram), clock: w2.clock, e820: [{ addr: 0, size: 64 * 4096, type: 1 }],
      maxPages: 64, hooks: { inject: (_v, vector) => injected.push(vector) },
    },
    state,
  );
  const ev2 = w2.xen.events;
  assert.equal(g.clock.systemTimeNs(), 5_000_000_000n);
  assert.equal(g.sharedInfo.gfn, 0x10);
  assert.equal(g.sharedInfo.vcpuInfo(1)!.offset, 0x40);
  assert.ok(ev2.isPending(7, ipi), "pending bits are in the restored RAM");
  assert.equal(g.params.get(HvmParam.STORE_PFN, true), 0x3fn);
  assert.equal(g.params.upcallVector(0), 0xf3);
  assert.equal(g.timers.nextDeadline(0), 5_001_000_000n);
  assert.deepEqual(ev2.status(7, 7, timer), { status: EvtchnStat.virq, vcpu: 0, u0: Virq.TIMER, u1: 0 });
  assert.equal(ev2.virqBound(7, Virq.TIMER, 0), true);
  assert.deepEqual(ev2.status(7, 7, toB), { status: EvtchnStat.unbound, vcpu: 0, u0: 2, u1: 0 }, "the old peer is another domain now");
  assert.equal(ev2.status(7, 7, forDom0).status, EvtchnStat.unbound);
  assert.deepEqual(w2.xen.grants.entry(7, 8), { flags: Gtf.permit_access, domid: 0, frame: 0x30 }, "reading/writing cleared");
  assert.equal(g.physmap.page(0x100000)![8 * 8], Gtf.permit_access);
  const m = w2.xen.grants.mapGrantRef(0, 7, 8, true);
  assert.equal(m.frame, 0x30);
  ram.bytes.fill(0, 0x10 * 4096, 0x10 * 4096 + 16); // the guest handles what was pending (vCPU 0's flags)
  ev2.sendVirq(7, Virq.TIMER, 0);
  assert.deepEqual(injected, [0xf3]);
});

test("two connected domains restored one after the other are connected again", () => {
  const w = makeXenWorld();
  const pb = w.xen.events.allocUnbound(2, 2, 1);
  const pa = w.xen.events.bindInterdomain(1, 2, pb);
  const sa = JSON.parse(JSON.stringify(w.xen.save(1))) as XenGuestState;
  const sb = JSON.parse(JSON.stringify(w.xen.save(2))) as XenGuestState;
  const w2 = makeXenWorld();
  w2.xen.remove(1);
  w2.xen.remove(2);
  const config = (domid: number) => ({
    domid, nrVcpus: 2, physmap: new RamPhysmap(makeRam(64)), clock: w2.clock, e820: [], maxPages: 64, hooks: { inject: () => {} },
  });
  w2.xen.restore(config(1), sa);
  w2.xen.restore(config(2), sb);
  assert.deepEqual(w2.xen.events.status(1, 1, pa), { status: EvtchnStat.interdomain, vcpu: 0, u0: 2, u1: pb });
  assert.deepEqual(w2.xen.events.status(2, 2, pb), { status: EvtchnStat.interdomain, vcpu: 0, u0: 1, u1: pa });
});
