// The xenstore ring transport driven by a fake guest on a plain page: golden bytes, index wraparound, messages
// larger than the ring, the outstanding-request quota, bad indices, INTRODUCE/RELEASE through the ring connector.
import { test } from "node:test";
import assert from "node:assert/strict";
import { XsType, bytesText, concatBytes, decodeHeader, encodeMessage, nulTerminated, splitStrings, type XsMessage } from "../../abi/xen/xs_wire.ts";
import { XENSTORE_ERROR_PROTO, XENSTORE_ERROR_RINGIDX, XENSTORE_RING_SIZE, XenstoreDomainInterface as L } from "../../abi/xen/xs_ring.ts";
import { XenstoreClient } from "./client.ts";
import { MessageReader } from "./message_reader.ts";
import { XenstoreRingTransport, ringConnector, type StoreEventChannel } from "./ring_transport.ts";
import { Xenstored } from "./xenstored.ts";

/** The guest's side of the ring (what Linux's xenbus_comms.c does), on the same page. */
class FakeGuest {
  readonly view: DataView;
  private readonly reader = new MessageReader();
  private pendingOut: Uint8Array = new Uint8Array(0);
  constructor(readonly page: Uint8Array) {
    this.view = new DataView(page.buffer, page.byteOffset, page.length);
  }
  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }
  setU32(offset: number, value: number): void {
    this.view.setUint32(offset, value >>> 0, true);
  }
  /** Queues a request; push() copies what fits into req[]. */
  queue(message: XsMessage): void {
    this.pendingOut = concatBytes([this.pendingOut, encodeMessage(message)]);
    this.push();
  }
  push(): void {
    const cons = this.u32(L.reqCons);
    let prod = this.u32(L.reqProd);
    const space = XENSTORE_RING_SIZE - ((prod - cons) >>> 0);
    const n = Math.min(space, this.pendingOut.length);
    for (let i = 0; i < n; i++) this.page[L.req + ((prod + i) & 1023)] = this.pendingOut[i]!;
    prod = (prod + n) >>> 0;
    this.setU32(L.reqProd, prod);
    this.pendingOut = this.pendingOut.subarray(n);
  }
  get unsent(): number {
    return this.pendingOut.length;
  }
  /** Takes everything in rsp[] and returns the complete messages. */
  take(): XsMessage[] {
    let cons = this.u32(L.rspCons);
    const prod = this.u32(L.rspProd);
    const bytes = new Uint8Array((prod - cons) >>> 0);
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.page[L.rsp + ((cons + i) & 1023)]!;
    cons = (cons + bytes.length) >>> 0;
    this.setU32(L.rspCons, cons);
    return this.reader.push(bytes);
  }
}

function setup(domid = 1) {
  const xs = new Xenstored({ strict: true });
  const dom0 = new XenstoreClient(xs);
  dom0.mkdir(`/local/domain/${domid}`);
  dom0.setPerms(`/local/domain/${domid}`, [`n${domid}`]);
  const page = new Uint8Array(4096);
  let kicks = 0;
  const ring = new XenstoreRingTransport({ xenstored: xs, domid, page, notify: () => kicks++ });
  return { xs, dom0, page, ring, guest: new FakeGuest(page), kicks: () => kicks };
}

function text(m: XsMessage): string {
  return bytesText(m.payload);
}

test("a READ request in req[] gets its reply at rsp[] (offset 1024) with the indices moved", () => {
  const { dom0, page, ring, guest, kicks } = setup();
  dom0.write("/local/domain/1/name", "vm1");
  guest.queue({ type: XsType.READ, reqId: 0x11, txId: 0, payload: nulTerminated("name") });
  ring.onEvent();
  // xsd_sockmsg { XS_READ, req_id 0x11, tx_id 0, len 3 } + "vm1"
  assert.deepEqual([...page.subarray(1024, 1024 + 19)], [2, 0, 0, 0, 0x11, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0x76, 0x6d, 0x31]);
  assert.equal(guest.u32(L.reqCons), 21);
  assert.equal(guest.u32(L.reqProd), 21);
  assert.equal(guest.u32(L.rspProd), 19);
  assert.equal(kicks(), 1);
  assert.equal(guest.u32(L.serverFeatures), 6);
});

test("indices wrap around 2^32 and messages straddle the end of the ring", () => {
  const { ring, guest, dom0 } = setup();
  const start = 0xffffffff - 700;
  for (const f of [L.reqCons, L.reqProd, L.rspCons, L.rspProd]) guest.setU32(f, start);
  for (let i = 0; i < 300; i++) {
    guest.queue({ type: XsType.WRITE, reqId: i, txId: 0, payload: concatBytes([nulTerminated(`data/k${i % 7}`), new TextEncoder().encode(`value-${i}`)]) });
    ring.onEvent();
    const replies = guest.take();
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.reqId, i);
    assert.equal(text(replies[0]!), "OK\0");
  }
  assert.ok(guest.u32(L.reqProd) < start, "request index wrapped");
  assert.ok(guest.u32(L.rspProd) < start, "response index wrapped");
  assert.equal(dom0.read("/local/domain/1/data/k5"), "value-299");
});

test("a 4096-byte request and a 4000-byte reply pass through the 1024-byte rings in pieces", () => {
  const { ring, guest } = setup(0); // dom0's ring: no node-size quota
  const big = "v".repeat(4096 - "data/big\0".length);
  guest.queue({ type: XsType.WRITE, reqId: 1, txId: 0, payload: concatBytes([nulTerminated("data/big"), new TextEncoder().encode(big)]) });
  let replies: XsMessage[] = [];
  for (let i = 0; i < 10 && guest.unsent > 0; i++) {
    ring.onEvent();
    guest.push();
  }
  ring.onEvent();
  replies = guest.take();
  assert.equal(text(replies[0]!), "OK\0");
  guest.queue({ type: XsType.READ, reqId: 2, txId: 0, payload: nulTerminated("data/big") });
  const got: XsMessage[] = [];
  for (let i = 0; i < 10 && got.length === 0; i++) {
    ring.onEvent();
    got.push(...guest.take());
  }
  assert.equal(got[0]!.reqId, 2);
  assert.equal(text(got[0]!), big);
});

test("a guest that does not read replies is not served beyond 20 outstanding requests", () => {
  const { ring, guest, dom0 } = setup();
  dom0.write("/local/domain/1/data/v", "x".repeat(900));
  for (let i = 0; i < 30; i++) guest.queue({ type: XsType.READ, reqId: i, txId: 0, payload: nulTerminated("data/v") });
  ring.onEvent();
  // The first 916-byte reply fits the ring completely, so 21 requests were read and 20 replies are pending.
  assert.equal(ring.outstandingRequests, 20);
  const unread = (guest.u32(L.reqProd) - guest.u32(L.reqCons)) >>> 0;
  assert.equal(unread, 9 * (16 + 7));
  let received = 0;
  for (let i = 0; i < 100 && received < 30; i++) {
    received += guest.take().length;
    ring.onEvent();
  }
  assert.equal(received, 30);
  assert.equal(ring.outstandingRequests, 0);
});

test("dom0 is not limited by the outstanding-request quota", () => {
  const xs = new Xenstored({ strict: true });
  new XenstoreClient(xs).write("/v", "x".repeat(900));
  const page = new Uint8Array(4096);
  const ring = new XenstoreRingTransport({ xenstored: xs, domid: 0, page, notify: () => {} });
  const guest = new FakeGuest(page);
  for (let i = 0; i < 30; i++) guest.queue({ type: XsType.READ, reqId: i, txId: 0, payload: nulTerminated("/v") });
  ring.onEvent();
  assert.equal(guest.u32(L.reqCons), guest.u32(L.reqProd));
  assert.equal(ring.outstandingRequests, 29);
});

test("watch events from other writers arrive on the ring with a notification", async () => {
  const { ring, guest, dom0, kicks } = setup();
  guest.queue({ type: XsType.WATCH, reqId: 5, txId: 0, payload: nulTerminated("control/shutdown", "tok") });
  ring.onEvent();
  const first = guest.take().map((m) => [m.type, m.reqId, text(m)]);
  assert.deepEqual(first, [[XsType.WATCH, 5, "OK\0"], [XsType.WATCH_EVENT, 0, "control/shutdown\0tok\0"]]);
  const before = kicks();
  dom0.write("/local/domain/1/control/shutdown", "poweroff");
  assert.deepEqual(guest.take(), []); // queued until the dom0 request is finished
  await Promise.resolve();
  assert.deepEqual(guest.take().map(text), ["control/shutdown\0tok\0"]);
  assert.ok(kicks() > before);
});

test("a producer index more than a ring ahead sets error RINGIDX and stops service", () => {
  const { ring, guest } = setup();
  guest.setU32(L.reqProd, 2000);
  ring.onEvent();
  assert.equal(guest.u32(L.error), XENSTORE_ERROR_RINGIDX);
  guest.setU32(L.reqProd, 0);
  guest.queue({ type: XsType.READ, reqId: 1, txId: 0, payload: nulTerminated("name") });
  ring.onEvent();
  assert.equal(guest.take().length, 0);
});

test("a header announcing more than 4096 payload bytes sets error PROTO", () => {
  const { ring, guest } = setup();
  const header = encodeMessage({ type: XsType.WRITE, reqId: 1, txId: 0, payload: new Uint8Array(0) });
  new DataView(header.buffer).setUint32(12, 4097, true);
  guest.page.set(header, L.req);
  guest.setU32(L.reqProd, 16);
  ring.onEvent();
  assert.equal(guest.u32(L.error), XENSTORE_ERROR_PROTO);
});

test("INTRODUCE through the ring connector serves queued requests; RELEASE unbinds", () => {
  const xs = new Xenstored({ strict: true });
  const ram = { bytes: new Uint8Array(16 * 4096), sizeBytes: 16 * 4096 };
  const gfn = 9;
  const guest = new FakeGuest(ram.bytes.subarray(gfn * 4096, gfn * 4096 + 4096));
  let kick: (() => void) | undefined;
  let notified = 0;
  let closed = false;
  xs.setConnector(ringConnector(xs, {
    ramOf: (domid) => (domid === 4 ? ram : undefined),
    bindEvtchn: (_domid, _port, onKick): StoreEventChannel => {
      kick = onKick;
      return { notify: () => notified++, close: () => { closed = true; } };
    },
  }));
  guest.queue({ type: XsType.GET_DOMAIN_PATH, reqId: 3, txId: 0, payload: nulTerminated("4") });
  const dom0 = new XenstoreClient(xs);
  dom0.introduceDomain(4, gfn, 7);
  assert.deepEqual(guest.take().map(text), ["/local/domain/4\0"]);
  assert.equal(notified, 1);
  guest.queue({ type: XsType.READ, reqId: 4, txId: 0, payload: nulTerminated("/local/domain/0/missing") });
  kick!();
  const [reply] = guest.take();
  assert.equal(reply!.type, XsType.ERROR);
  assert.deepEqual(splitStrings(reply!.payload).strings, ["EACCES"]); // dom0's subtree is not the guest's
  dom0.releaseDomain(4);
  assert.equal(closed, true);
  assert.equal([...xs.connections].some((c) => c.domid === 4), false);
});

test("decodeHeader() of the first reply agrees with the fake guest's parse", () => {
  const { ring, guest, page } = setup();
  guest.queue({ type: XsType.GET_DOMAIN_PATH, reqId: 77, txId: 0, payload: nulTerminated("1") });
  ring.onEvent();
  assert.deepEqual(decodeHeader(page, L.rsp), { type: XsType.GET_DOMAIN_PATH, reqId: 77, txId: 0, len: 16 });
});

test("re-INTRODUCE of a restored domain without a ring opens it; the same ring again only resets watches", () => {
  const xs = new Xenstored({ strict: true });
  const ram = { bytes: new Uint8Array(4 * 4096), sizeBytes: 4 * 4096 };
  let opened = 0;
  xs.setConnector(ringConnector(xs, {
    ramOf: () => ram,
    bindEvtchn: (): StoreEventChannel => {
      opened++;
      return { notify: () => {}, close: () => {} };
    },
  }));
  xs.domains.set(2, { domid: 2, gfn: 1, evtchnPort: 1, shutdown: false, features: 6, link: undefined }); // as restored
  xs.introduceDomain(2, 1, 1);
  assert.equal(opened, 1);
  const conn = [...xs.connections].find((c) => c.domid === 2)!;
  conn.watches.push({ path: "/x", token: "t", depth: -1, prefixLength: 0 });
  xs.introduceDomain(2, 1, 1);
  assert.equal(opened, 1);
  assert.equal(conn.watches.length, 0);
  xs.introduceDomain(2, 3, 1); // moved ring page
  assert.equal(opened, 2);
  assert.equal(conn.closed, true);
});

test("a ring page whose guest waits with connection = RECONNECT is marked connected and notified", async () => {
  const xs = new Xenstored({ strict: true });
  const page = new Uint8Array(4096);
  new DataView(page.buffer).setUint32(L.connection, 1, true);
  let kicks = 0;
  new XenstoreRingTransport({ xenstored: xs, domid: 3, page, notify: () => kicks++ });
  assert.equal(new DataView(page.buffer).getUint32(L.connection, true), 0);
  await Promise.resolve();
  assert.equal(kicks, 1);
});
