// EVTCHNOP_* semantics and errors as xen/common/event_channel.c has them, across two guests and dom0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "../../abi/xen/errno.ts";
import { EvtchnStat } from "../../abi/xen/event_channel.ts";
import { DOMID_SELF, Virq } from "../../abi/xen/xen.ts";
import { makeGuest, type TestGuest } from "../xen/test_support.ts";
import { XenError } from "../xen/xen_error.ts";
import { Dom0EventChannels } from "./dom0_evtchn.ts";
import { EventChannels } from "./event_channels.ts";

function setup(): { ec: EventChannels; a: TestGuest; b: TestGuest; dom0: Dom0EventChannels } {
  const ec = new EventChannels();
  const dom0 = new Dom0EventChannels(ec);
  const a = makeGuest(1);
  const b = makeGuest(2);
  ec.addDomain(1, { nrVcpus: 2, ops: a.ops });
  ec.addDomain(2, { nrVcpus: 2, ops: b.ops });
  return { ec, a, b, dom0 };
}

function errno(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof XenError) return e.errno;
    throw e;
  }
  assert.fail("expected a XenError");
}

test("two domains bind, send both ways, and close leaves the remote end unbound", () => {
  const { ec, a, b } = setup();
  const offered = ec.allocUnbound(2, DOMID_SELF, 1);
  assert.deepEqual(ec.status(2, DOMID_SELF, offered), { status: EvtchnStat.unbound, vcpu: 0, u0: 1, u1: 0 });
  const local = ec.bindInterdomain(1, 2, offered);
  assert.ok(a.ops.isPending(local), "bind raises the new local port once");
  assert.deepEqual(ec.status(1, 1, local), { status: EvtchnStat.interdomain, vcpu: 0, u0: 2, u1: offered });
  assert.deepEqual(ec.status(2, 2, offered), { status: EvtchnStat.interdomain, vcpu: 0, u0: 1, u1: local });

  ec.send(1, local);
  assert.ok(b.ops.isPending(offered));
  assert.deepEqual(b.upcalls, [0]);
  a.ops.clearPending(local);
  ec.send(2, offered);
  assert.ok(a.ops.isPending(local));

  ec.close(1, local);
  assert.equal(ec.status(1, 1, local).status, EvtchnStat.closed);
  assert.deepEqual(ec.status(2, 2, offered), { status: EvtchnStat.unbound, vcpu: 0, u0: 1, u1: 0 });
  assert.equal(a.ops.isPending(local), false, "closing clears pending");
  ec.send(2, offered); // unbound: silently dropped
  const again = ec.bindInterdomain(1, 2, offered);
  assert.equal(ec.status(2, 2, offered).u1, again);
});

test("a domain can bind only to ports offered to it", () => {
  const { ec } = setup();
  const forDom0 = ec.allocUnbound(2, 2, 0);
  assert.equal(errno(() => ec.bindInterdomain(1, 2, forDom0)), Errno.EINVAL);
  assert.equal(errno(() => ec.bindInterdomain(1, 9, 1)), Errno.ESRCH);
  assert.equal(errno(() => ec.bindInterdomain(1, 2, 5000)), Errno.EINVAL);
  const ipi = ec.bindIpi(2, 0);
  assert.equal(errno(() => ec.bindInterdomain(1, 2, ipi)), Errno.EINVAL);
});

test("a domU may not allocate or inspect ports of another domain, dom0 may", () => {
  const { ec } = setup();
  assert.equal(errno(() => ec.allocUnbound(1, 2, 1)), Errno.EPERM);
  assert.equal(errno(() => ec.allocUnbound(1, 7, 1)), Errno.ESRCH);
  const p = ec.allocUnbound(0, 2, 1);
  assert.equal(ec.status(0, 2, p).u0, 1);
  assert.equal(errno(() => ec.status(1, 2, p)), Errno.EPERM);
  assert.equal(errno(() => ec.reset(1, 2)), Errno.EPERM);
  assert.equal(errno(() => ec.status(1, 1, 4096)), Errno.EINVAL);
});

test("VIRQ binding follows Xen: per-vCPU timer, one binding each, global VIRQs are dom0's", () => {
  const { ec, a } = setup();
  const t0 = ec.bindVirq(1, Virq.TIMER, 0);
  const t1 = ec.bindVirq(1, Virq.TIMER, 1);
  assert.notEqual(t0, t1);
  assert.equal(errno(() => ec.bindVirq(1, Virq.TIMER, 1)), Errno.EEXIST);
  assert.equal(errno(() => ec.bindVirq(1, Virq.TIMER, 2)), Errno.ENOENT);
  assert.equal(errno(() => ec.bindVirq(1, 24, 0)), Errno.EINVAL);
  assert.equal(errno(() => ec.bindVirq(1, Virq.CONSOLE, 1)), Errno.EINVAL);
  assert.equal(errno(() => ec.bindVirq(1, Virq.CONSOLE, 0)), Errno.EBUSY);
  assert.deepEqual(ec.status(1, 1, t1), { status: EvtchnStat.virq, vcpu: 1, u0: Virq.TIMER, u1: 0 });

  ec.sendVirq(1, Virq.TIMER, 1);
  assert.ok(a.ops.isPending(t1) && !a.ops.isPending(t0));
  assert.deepEqual(a.upcalls, [1]);
  assert.equal(errno(() => ec.send(1, t1)), Errno.EINVAL, "a guest cannot send on a VIRQ port");
  assert.equal(errno(() => ec.bindVcpu(1, t1, 0)), Errno.EINVAL, "per-vCPU VIRQs cannot move");
  ec.close(1, t1);
  assert.equal(ec.virqBound(1, Virq.TIMER, 1), false);
  ec.bindVirq(1, Virq.TIMER, 1);
  assert.equal(ec.bindVirq(0, Virq.CONSOLE, 0) > 0, true, "dom0 binds global VIRQs");
});

test("an IPI is delivered to its vCPU; bind_vcpu moves interdomain delivery", () => {
  const { ec, a, b } = setup();
  const ipi = ec.bindIpi(1, 1);
  ec.send(1, ipi);
  assert.deepEqual(a.upcalls, [1]);
  assert.equal(errno(() => ec.bindVcpu(1, ipi, 0)), Errno.EINVAL);

  const p = ec.allocUnbound(2, 2, 1);
  ec.bindVcpu(2, p, 1);
  const local = ec.bindInterdomain(1, 2, p);
  ec.send(1, local);
  assert.deepEqual(b.upcalls, [1]);
  assert.equal(errno(() => ec.bindVcpu(2, p, 3)), Errno.ENOENT);
});

test("close, send and unmask refuse invalid or unopened ports", () => {
  const { ec } = setup();
  assert.equal(errno(() => ec.close(1, 0)), Errno.EINVAL);
  assert.equal(errno(() => ec.close(1, 17)), Errno.EINVAL);
  assert.equal(errno(() => ec.close(1, 4096)), Errno.EINVAL);
  assert.equal(errno(() => ec.send(1, -1)), Errno.EINVAL);
  assert.equal(errno(() => ec.send(1, 17)), Errno.EINVAL);
  assert.equal(errno(() => ec.unmask(1, 5000)), Errno.EINVAL);
  ec.unmask(1, 17); // Xen unmasks any valid port
});

test("reset closes every port and interdomain peers become unbound", () => {
  const { ec } = setup();
  const p = ec.allocUnbound(2, 2, 1);
  ec.bindInterdomain(1, 2, p);
  ec.bindIpi(1, 0);
  ec.reset(1, DOMID_SELF);
  for (let port = 1; port < 8; port++) assert.equal(ec.status(1, 1, port).status, EvtchnStat.closed);
  assert.equal(ec.status(2, 2, p).status, EvtchnStat.unbound);
});

test("removing a domain unbinds its peers", () => {
  const { ec } = setup();
  const p = ec.allocUnbound(2, 2, 1);
  ec.bindInterdomain(1, 2, p);
  ec.removeDomain(1);
  assert.deepEqual(ec.status(2, 2, p), { status: EvtchnStat.unbound, vcpu: 0, u0: 1, u1: 0 });
  assert.equal(errno(() => ec.send(1, 1)), Errno.ESRCH);
});

test("the port table runs out with ENOSPC", () => {
  const ec = new EventChannels();
  const g = makeGuest(3);
  ec.addDomain(3, { nrVcpus: 1, ops: g.ops, nrPorts: 4 });
  ec.bindIpi(3, 0);
  ec.bindIpi(3, 0);
  ec.bindIpi(3, 0);
  assert.equal(errno(() => ec.bindIpi(3, 0)), Errno.ENOSPC);
});

test("dom0 backends: the guest's send calls the handler, dom0's notify raises the guest port", () => {
  const { ec, a, dom0 } = setup();
  const guestPort = dom0.allocUnboundInGuest(1);
  assert.equal(ec.status(0, 1, guestPort).u0, 0);
  const seen: number[] = [];
  const dom0Port = dom0.bindInterdomain(1, guestPort, (port) => seen.push(port));
  a.ops.clearPending(guestPort);
  ec.send(1, guestPort);
  assert.deepEqual(seen, [dom0Port]);
  dom0.notify(dom0Port);
  assert.ok(a.ops.isPending(guestPort));

  const listen = dom0.allocUnbound(1, (port) => seen.push(port));
  const fromGuest = ec.bindInterdomain(1, 0, listen);
  ec.send(1, fromGuest);
  assert.deepEqual(seen, [dom0Port, listen]);
  dom0.close(dom0Port);
  assert.equal(ec.status(1, 1, guestPort).status, EvtchnStat.unbound);
});
