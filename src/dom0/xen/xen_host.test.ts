// XenHost without a CPU: attaching a domain sets up its Xen state, console and xenstore as libxl would; the guest's
// console ring reaches the domain's console events; xl shutdown writes control/shutdown; detach undoes it all.
import { test } from "node:test";
import assert from "node:assert/strict";
import { XenconsInterface as L } from "../../abi/xen/console_ring.ts";
import { XenFeat } from "../../abi/xen/features.ts";
import { HvmParam } from "../../abi/xen/hvm.ts";
import type { ExecutionEvents, ShutdownReason } from "../../hv/ports.ts";
import { startXenstoredService } from "../xenstored/service.ts";
import { XenHost, specialPageGfns } from "./xen_host.ts";

const MEMORY = 16 * 1024 * 1024;

async function setup(withClock: boolean) {
  const xs = await startXenstoredService();
  const host = new XenHost(xs);
  const ram = { bytes: new Uint8Array(new SharedArrayBuffer(MEMORY)), sizeBytes: MEMORY };
  const console: string[] = [];
  const injected: [number, number][] = [];
  const events: ExecutionEvents = {
    console: (b) => console.push(Buffer.from(b).toString("latin1")),
    log: () => {},
    shutdown: (_r: ShutdownReason) => {},
    crashed: () => {},
  };
  let now = 0;
  const port = host.domainPort({ domid: 7, name: "guest7", memoryBytes: MEMORY, vcpus: 2 });
  const att = port.attach(ram, {
    inject: (v, vec) => injected.push([v, vec]),
    ...(withClock ? { guestClock: { tscKhz: 2_000_000, nowNs: () => now } } : {}),
  }, events);
  return { xs, host, ram, att, console, injected, advance: (ns: number) => (now += ns) };
}

test("attach builds the domain's Xen state, rings, params and xenstore layout, and introduces it", async () => {
  const w = await setup(true);
  const guest = w.host.xen.guest(7)!;
  const gfns = specialPageGfns(MEMORY);
  assert.equal(guest.params.get(HvmParam.CONSOLE_PFN, true), BigInt(gfns.console));
  assert.equal(guest.params.get(HvmParam.STORE_PFN, true), BigInt(gfns.store));
  assert.equal(w.xs.client.read("/local/domain/7/name"), "guest7");
  assert.equal(w.xs.client.read("/local/domain/7/store/ring-ref"), String(gfns.store));
  assert.equal(w.xs.client.read("/local/domain/7/console/ring-ref"), String(gfns.console));
  assert.ok(w.xs.client.isDomainIntroduced(7));
  assert.ok(w.host.isAttached(7));
  assert.deepEqual([...w.att.ownerHypercalls.numbers].sort((a, b) => a - b), [12, 20, 24, 32, 34]);
  assert.ok((w.att.xenFeatures & (1 << XenFeat.hvm_callback_vector)) !== 0);
  assert.ok((w.att.xenFeatures & (1 << XenFeat.hvm_safe_pvclock)) !== 0, "pvclock with a guest clock");
  w.att.detach();
  await w.xs.stop();
});

test("without the guest's TSC time base pvclock is not offered", async () => {
  const w = await setup(false);
  assert.equal(w.att.xenFeatures & (1 << XenFeat.hvm_safe_pvclock), 0);
  w.att.detach();
  await w.xs.stop();
});

test("hvc0 output on the console ring reaches the domain's console when the guest kicks its port", async () => {
  const w = await setup(true);
  const guest = w.host.xen.guest(7)!;
  const page = guest.physmap.page(specialPageGfns(MEMORY).console)!;
  const text = "console [hvc0] enabled\n";
  page.set(Buffer.from(text, "latin1"), L.out);
  new DataView(page.buffer, page.byteOffset).setUint32(L.outProd, text.length, true);
  w.host.events.send(7, Number(guest.params.get(HvmParam.CONSOLE_EVTCHN, true)));
  assert.equal(w.console.join(""), text);
  w.att.consoleInput(new TextEncoder().encode("ls\n"));
  assert.equal(new DataView(page.buffer, page.byteOffset).getUint32(L.inProd, true), 3);
  w.att.detach();
  await w.xs.stop();
});

test("xl shutdown writes control/shutdown; detach releases the domain and removes its nodes", async () => {
  const w = await setup(true);
  w.host.requestShutdown(7, "poweroff");
  assert.equal(w.xs.client.read("/local/domain/7/control/shutdown"), "poweroff");
  w.att.detach();
  w.att.detach();
  assert.equal(w.host.isAttached(7), false);
  assert.equal(w.xs.client.isDomainIntroduced(7), false);
  assert.equal(w.xs.client.tryRead("/local/domain/7/name"), undefined);
  assert.equal(w.host.xen.guest(7), undefined);
  assert.throws(() => w.host.requestShutdown(7, "poweroff"));
  await w.xs.stop();
});

test("a Xen singleshot timer fires VIRQ_TIMER from a host timer", async () => {
  const w = await setup(true);
  const guest = w.host.xen.guest(7)!;
  let fired = 0;
  const port = w.host.events.bindVirq(7, 0, 0);
  const origSend = guest.evtchn.setPending.bind(guest.evtchn);
  guest.evtchn.setPending = (v: number, p: number) => { if (p === port) fired++; origSend(v, p); };
  guest.timers.setSingleshot(0, guest.clock.systemTimeNs() + 1_000_000n);
  w.advance(2_000_000);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fired, 1);
  w.att.detach();
  await w.xs.stop();
});
