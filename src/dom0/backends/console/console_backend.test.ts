// The PV console backend against hv/evtchn's real event channels: the guest's out[] reaches the output, input goes
// into in[] (queued while the ring is full), and every move of an index notifies the guest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { XenconsInterface as L } from "../../../abi/xen/console_ring.ts";
import { Dom0EventChannels } from "../../../hv/evtchn/dom0_evtchn.ts";
import { EventChannels } from "../../../hv/evtchn/event_channels.ts";
import { CallbackPorts } from "../../../hv/evtchn/port_ops.ts";
import { PvConsoleBackend } from "./console_backend.ts";

function world() {
  const ec = new EventChannels();
  const dom0 = new Dom0EventChannels(ec);
  const guestPorts = new CallbackPorts();
  ec.addDomain(4, { nrVcpus: 1, ops: guestPorts });
  const port = dom0.allocUnboundInGuest(4);
  let notified = 0;
  guestPorts.on(port, () => notified++);
  const page = new Uint8Array(new SharedArrayBuffer(4096));
  const view = new DataView(page.buffer);
  const out: string[] = [];
  const backend = new PvConsoleBackend({ domid: 4, page, guestPort: port, evtchn: dom0, output: (b) => out.push(Buffer.from(b).toString("latin1")) });
  /** The guest's hvc_xen: write into out[] and kick. */
  const guestWrite = (text: string): void => {
    let prod = view.getUint32(L.outProd, true);
    for (const c of Buffer.from(text, "latin1")) page[L.out + (prod++ & 2047)] = c;
    view.setUint32(L.outProd, prod >>> 0, true);
    ec.send(4, port);
  };
  /** The guest reads in[] and kicks. */
  const guestRead = (): string => {
    let cons = view.getUint32(L.inCons, true);
    const prod = view.getUint32(L.inProd, true);
    let s = "";
    while (cons !== prod) s += String.fromCharCode(page[L.in + (cons++ & 1023)]!);
    view.setUint32(L.inCons, cons >>> 0, true);
    ec.send(4, port);
    return s;
  };
  return { backend, out, view, guestWrite, guestRead, notified: () => notified };
}

test("guest output is read from out[] on its kick, out_cons advances and the guest is notified", () => {
  const w = world();
  const before = w.notified();
  w.guestWrite("hello hvc0\n");
  assert.deepEqual(w.out, ["hello hvc0\n"]);
  assert.equal(w.view.getUint32(L.outCons, true), 11);
  assert.ok(w.notified() > before);
});

test("output across the ring's wrap point comes out in order", () => {
  const w = world();
  w.guestWrite("x".repeat(2040));
  w.out.length = 0;
  w.guestWrite("0123456789abcdef");
  assert.deepEqual(w.out, ["0123456789abcdef"]);
});

test("input goes into in[]; what does not fit waits until the guest consumes and kicks", () => {
  const w = world();
  w.backend.input(new TextEncoder().encode("ls\n"));
  assert.equal(w.view.getUint32(L.inProd, true), 3);
  assert.equal(w.guestRead(), "ls\n");
  const big = "y".repeat(1500);
  w.backend.input(new TextEncoder().encode(big));
  const first = w.guestRead(); // the guest's kick lets the backend refill
  const second = w.guestRead();
  assert.equal(first.length, 1024);
  assert.equal(first + second, big);
});

test("after close the guest's kicks and input are ignored", () => {
  const w = world();
  w.backend.close();
  w.backend.input(new Uint8Array([0x61]));
  assert.equal(w.view.getUint32(L.inProd, true), 0);
});
