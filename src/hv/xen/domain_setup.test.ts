// A new domain's console and xenstore plumbing, checked the way the guest and the backends see it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EvtchnStat } from "../../abi/xen/event_channel.ts";
import { Gtf } from "../../abi/xen/grant_table.ts";
import { HvmParam } from "../../abi/xen/hvm.ts";
import { setupConsoleAndStore } from "./domain_setup.ts";
import { makeXenWorld } from "./test_support.ts";

test("console and store pages, ports offered to dom0, params and reserved grants are in place", () => {
  const w = makeXenWorld();
  w.ramA.bytes.fill(0xaa, 0x3e * 4096, 0x40 * 4096);
  const { consolePort, storePort } = setupConsoleAndStore(w.xen, w.dom0, 1, 0x3e, 0x3f);
  assert.equal(w.ramA.bytes[0x3e * 4096], 0);
  assert.equal(w.a.params.get(HvmParam.CONSOLE_PFN, true), 0x3en);
  assert.equal(w.a.params.get(HvmParam.STORE_EVTCHN, true), BigInt(storePort));
  assert.deepEqual(w.xen.events.status(1, 1, consolePort), { status: EvtchnStat.unbound, vcpu: 0, u0: 0, u1: 0 });
  assert.deepEqual(w.xen.grants.entry(1, 1), { flags: Gtf.permit_access, domid: 0, frame: 0x3f });
  // xenstored binds and the guest's kick reaches it.
  const kicks: number[] = [];
  const dom0Port = w.dom0.bindInterdomain(1, storePort, (p) => kicks.push(p));
  w.xen.events.send(1, storePort);
  assert.deepEqual(kicks, [dom0Port]);
  assert.notEqual(new DataView(w.a.sharedInfo.bytes.buffer, w.a.sharedInfo.bytes.byteOffset).getUint32(32, true), 0, "pvclock written");
});
