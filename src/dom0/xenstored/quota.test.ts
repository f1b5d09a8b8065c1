// Per-domain quotas with C xenstored's defaults and error codes (Xen 4.17 tools/xenstore): nodes, node size and
// permissions → ENOSPC, watches → E2BIG, transactions → ENOSPC, path length → EINVAL. dom0 is never limited.
import { test } from "node:test";
import assert from "node:assert/strict";
import { XsType } from "../../abi/xen/xs_wire.ts";
import { WireClient } from "./test_support.ts";
import { Xenstored } from "./xenstored.ts";

function guestSetup(domid = 5) {
  const xs = new Xenstored();
  const dom0 = new WireClient(xs, 0);
  dom0.op(XsType.MKDIR, `/local/domain/${domid}`);
  dom0.op(XsType.SET_PERMS, `/local/domain/${domid}`, `n${domid}`);
  return { xs, dom0, guest: new WireClient(xs, domid) };
}

test("a domain may own 1000 nodes; the next creation answers ENOSPC", () => {
  const { guest, xs } = guestSetup();
  // Spread over 10 directories: one directory's child list would hit the node-size quota first.
  for (let d = 0; d < 10; d++) assert.equal(guest.op(XsType.MKDIR, `d${d}`), "OK");
  for (let i = xs.store.ownedNodes(5); i < 1000; i++) assert.equal(guest.op(XsType.MKDIR, `d${i % 10}/n${i}`), "OK", `node ${i}`);
  assert.equal(xs.store.ownedNodes(5), 1000);
  assert.equal(guest.op(XsType.MKDIR, "one-too-many"), "ERR:ENOSPC");
  assert.equal(guest.write("d1", "existing nodes can still change"), "OK");
  assert.equal(guest.op(XsType.RM, "d1/n11"), "OK");
  assert.equal(guest.op(XsType.MKDIR, "fits-again"), "OK");
});

test("creating several missing parents counts each against the node quota", () => {
  const { guest, dom0 } = guestSetup();
  dom0.op(XsType.SET_QUOTA, "nodes", "4");
  assert.equal(guest.op(XsType.MKDIR, "a/b/c/d"), "ERR:ENOSPC");
  assert.equal(guest.op(XsType.READ, "a"), "ERR:ENOENT"); // nothing half-created
  assert.equal(guest.op(XsType.MKDIR, "a/b/c"), "OK");
});

test("dom0 is not bound by the node quota", () => {
  const xs = new Xenstored();
  const dom0 = new WireClient(xs, 0);
  dom0.op(XsType.SET_QUOTA, "nodes", "2");
  for (let i = 0; i < 10; i++) assert.equal(dom0.op(XsType.MKDIR, `/free/${i}`), "OK");
});

test("a node of 2048 bytes or more answers ENOSPC", () => {
  const { guest, dom0 } = guestSetup();
  // node size = 16 (header) + 8 per permission + value: one permission → 2023 value bytes is the largest.
  assert.equal(guest.write("big", "x".repeat(2048 - 16 - 8 - 1)), "OK");
  assert.equal(guest.write("big", "x".repeat(2048 - 16 - 8)), "ERR:ENOSPC");
  assert.equal(dom0.write("/local/domain/5/big", "x".repeat(4000)), "OK");
});

test("more than 5 permission entries answer ENOSPC", () => {
  const { guest } = guestSetup();
  guest.op(XsType.MKDIR, "p");
  assert.equal(guest.op(XsType.SET_PERMS, "p", "n5", "r1", "r2", "r3", "r4"), "OK");
  assert.equal(guest.op(XsType.SET_PERMS, "p", "n5", "r1", "r2", "r3", "r4", "r6"), "ERR:ENOSPC");
});

test("the 129th watch answers E2BIG", () => {
  const { guest } = guestSetup();
  for (let i = 0; i < 128; i++) assert.equal(guest.op(XsType.WATCH, "data", `t${i}`), "OK");
  assert.equal(guest.op(XsType.WATCH, "data", "t128"), "ERR:E2BIG");
  assert.equal(guest.op(XsType.UNWATCH, "data", "t0"), "OK");
  assert.equal(guest.op(XsType.WATCH, "data", "t128"), "OK");
});

test("the 11th open transaction answers ENOSPC", () => {
  const { guest } = guestSetup();
  const ids: number[] = [];
  for (let i = 0; i < 10; i++) ids.push(Number(guest.op(XsType.TRANSACTION_START, "")));
  assert.equal(guest.op(XsType.TRANSACTION_START, ""), "ERR:ENOSPC");
  guest.tx(ids[0]!, XsType.TRANSACTION_END, "F");
  assert.match(guest.op(XsType.TRANSACTION_START, ""), /^\d+$/);
});

test("a transaction touching more than transaction-nodes nodes answers ENOSPC", () => {
  const { guest, dom0 } = guestSetup();
  dom0.op(XsType.SET_QUOTA, "transaction-nodes", "4");
  const t = Number(guest.op(XsType.TRANSACTION_START, ""));
  assert.equal(guest.tx(t, XsType.READ, "a"), "ERR:ENOENT"); // touches a and its parent, as in C xenstored
  assert.equal(guest.tx(t, XsType.READ, "b"), "ERR:ENOENT");
  assert.equal(guest.tx(t, XsType.READ, "c"), "ERR:ENOENT");
  assert.equal(guest.tx(t, XsType.READ, "d"), "ERR:ENOSPC");
});

test("a relative path longer than path-max below /local/domain/<n>/ answers EINVAL", () => {
  const { guest } = guestSetup();
  const ok = "a".repeat(2048);
  assert.equal(guest.op(XsType.READ, ok), "ERR:ENOENT");
  assert.equal(guest.op(XsType.READ, ok + "b"), "ERR:EINVAL");
});

test("the node quota is checked again when a transaction commits", () => {
  const { guest, dom0, xs } = guestSetup();
  dom0.op(XsType.SET_QUOTA, "nodes", "5");
  guest.op(XsType.MKDIR, "a");
  guest.op(XsType.MKDIR, "b");
  const t = Number(guest.op(XsType.TRANSACTION_START, ""));
  assert.equal(guest.tx(t, XsType.MKDIR, "a/x"), "OK");
  assert.equal(guest.op(XsType.MKDIR, "b/y"), "OK");
  assert.equal(guest.op(XsType.MKDIR, "b/z"), "OK");
  assert.equal(xs.store.ownedNodes(5), 5);
  assert.equal(guest.tx(t, XsType.TRANSACTION_END, "T"), "ERR:ENOSPC");
  assert.equal(guest.op(XsType.READ, "a/x"), "ERR:ENOENT");
});
