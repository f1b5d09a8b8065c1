// Fuzz: random wire messages from dom0 and unprivileged domains (seeded, fixed count), and random bytes on a ring.
// Nothing may throw except typed errors (the daemon runs strict, so any other exception fails the test), every
// reply must echo its request, and the store must stay consistent after every step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { XENSTORE_PAYLOAD_MAX, XsType, concatBytes, nulTerminated, textBytes, type XsMessage } from "../../abi/xen/xs_wire.ts";
import { XenstoreDomainInterface as L } from "../../abi/xen/xs_ring.ts";
import type { Connection } from "./connection.ts";
import { XenstoreRingTransport } from "./ring_transport.ts";
import { Xenstored } from "./xenstored.ts";

/** xorshift32: deterministic across runs. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    int: (n: number) => next() % n,
    pick: <T>(items: readonly T[]): T => items[next() % items.length]!,
    bytes: (n: number) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}

const PATHS = ["/", "/a", "/a/b", "/a/b/c", "/local/domain/1", "/local/domain/1/data", "/local/domain/2/x", "data", "data/k",
  "x/y/z", "@releaseDomain", "@introduceDomain", "@releaseDomain/1", "/tool", "", "/bad//path", "/trail/", "/a b", "rel"];
const TOKENS = ["t", "tok", "", "a\u00ff", "x y"];
const PERMS = ["n0", "r1", "w2", "b1", "n1", "x3", "r", "b70000", "n2"];
const WORDS = ["T", "F", "0", "1", "2", "3", "7", "nodes", "watches", "print", "help", "-1", "99999", "abc", ""];

const TYPES = [XsType.READ, XsType.WRITE, XsType.MKDIR, XsType.RM, XsType.DIRECTORY, XsType.DIRECTORY_PART,
  XsType.GET_PERMS, XsType.SET_PERMS, XsType.WATCH, XsType.UNWATCH, XsType.TRANSACTION_START, XsType.TRANSACTION_END,
  XsType.INTRODUCE, XsType.RELEASE, XsType.GET_DOMAIN_PATH, XsType.IS_DOMAIN_INTRODUCED, XsType.RESET_WATCHES,
  XsType.GET_QUOTA, XsType.SET_QUOTA, XsType.CONTROL, XsType.SET_TARGET, XsType.RESUME, XsType.GET_FEATURE,
  XsType.SET_FEATURE];

/** Arguments that make sense for `type`, so that the fuzzer gets past argument parsing most of the time. */
function plausibleArgs(r: ReturnType<typeof rng>, type: number): Uint8Array {
  const domid = () => String(r.int(6));
  switch (type) {
    case XsType.WRITE:
      return concatBytes([nulTerminated(r.pick(PATHS)), r.bytes(r.int(3) === 0 ? r.int(3000) : r.int(20))]);
    case XsType.DIRECTORY_PART:
      return nulTerminated(r.pick(PATHS), String(r.int(30)));
    case XsType.SET_PERMS:
      return nulTerminated(r.pick(PATHS), ...Array.from({ length: 1 + r.int(7) }, () => r.pick(PERMS)));
    case XsType.WATCH:
      return r.int(4) === 0 ? nulTerminated(r.pick(PATHS), r.pick(TOKENS), String(r.int(3))) : nulTerminated(r.pick(PATHS), r.pick(TOKENS));
    case XsType.UNWATCH:
      return nulTerminated(r.pick(PATHS), r.pick(TOKENS));
    case XsType.TRANSACTION_START:
    case XsType.RESET_WATCHES:
      return nulTerminated("");
    case XsType.TRANSACTION_END:
      return nulTerminated(r.pick(["T", "T", "F", "X"]));
    case XsType.INTRODUCE:
      return nulTerminated(domid(), String(r.int(100)), String(r.int(4)));
    case XsType.SET_TARGET:
      return nulTerminated(domid(), domid());
    case XsType.SET_QUOTA:
      return r.int(2) ? nulTerminated(r.pick(["nodes", "watches", "transactions", "node-size"]), String(r.int(3000))) : nulTerminated(domid(), "nodes", String(r.int(50)));
    case XsType.GET_QUOTA:
      return r.int(2) ? nulTerminated("nodes") : nulTerminated(domid(), "watches");
    case XsType.CONTROL:
      return nulTerminated(r.pick(["print", "help", "check", "quota", "bogus"]), "x");
    case XsType.RELEASE:
    case XsType.RESUME:
    case XsType.GET_DOMAIN_PATH:
    case XsType.IS_DOMAIN_INTRODUCED:
    case XsType.GET_FEATURE:
      return nulTerminated(domid());
    case XsType.SET_FEATURE:
      return nulTerminated(domid(), String(r.int(8)));
    default:
      return nulTerminated(r.pick(PATHS));
  }
}

function randomMessage(r: ReturnType<typeof rng>, txIds: number[]): XsMessage {
  const junk = r.int(4) === 0;
  const type = r.int(15) === 0 ? r.int(40) : r.pick(TYPES);
  let payload: Uint8Array;
  if (junk) {
    const parts: Uint8Array[] = [];
    const count = r.int(4);
    for (let i = 0; i < count; i++) {
      const kind = r.int(4);
      const s = kind === 0 ? r.pick(PATHS) : kind === 1 ? r.pick(TOKENS) : kind === 2 ? r.pick(PERMS) : r.pick(WORDS);
      parts.push(r.int(8) === 0 ? textBytes(s) : nulTerminated(s));
    }
    if (r.int(4) === 0) parts.push(r.bytes(r.int(40)));
    payload = concatBytes(parts);
  } else {
    payload = plausibleArgs(r, type);
  }
  if (payload.length > XENSTORE_PAYLOAD_MAX) payload = payload.subarray(0, XENSTORE_PAYLOAD_MAX);
  const txId = r.int(3) === 0 && txIds.length > 0 ? r.pick(txIds) : r.int(30) === 0 ? r.int(1 << 30) : 0;
  return { type, reqId: r.int(1 << 30), txId, payload };
}

test("random wire messages never throw untyped errors and leave the store consistent", () => {
  const r = rng(0x5eed1234);
  const xs = new Xenstored({ strict: true });
  const replies = new Map<Connection, XsMessage[]>();
  const open = (domid: number) => {
    const conn = xs.connect(domid, (m) => replies.get(conn)!.push(m));
    replies.set(conn, []);
    return conn;
  };
  const conns = [0, 0, 1, 2, 3].map(open);
  let errors = 0;
  for (let step = 0; step < 20000; step++) {
    const index = r.int(conns.length);
    if (conns[index]!.closed) conns[index] = open(conns[index]!.domid); // RELEASEd: the domain comes back
    const conn = conns[index]!;
    const txIds = [...conn.transactions.keys()];
    const message = randomMessage(r, txIds);
    const out = replies.get(conn)!;
    out.length = 0;
    xs.handle(conn, message);
    const answers = out.filter((m) => m.type !== XsType.WATCH_EVENT);
    assert.equal(answers.length, 1, `one reply to step ${step}`);
    const reply = answers[0]!;
    assert.equal(reply.reqId, message.reqId);
    assert.equal(reply.txId, message.txId);
    assert.ok(reply.type === message.type || reply.type === XsType.ERROR);
    assert.ok(reply.payload.length <= XENSTORE_PAYLOAD_MAX);
    if (reply.type === XsType.ERROR) errors++;
    for (const c of conns) {
      if (c.domid !== 0) {
        assert.ok(c.watches.length <= 128);
        assert.ok(c.transactions.size <= 10);
      }
    }
    if (step % 50 === 0) assert.deepEqual(xs.store.verify(), [], `store consistent at step ${step}`);
  }
  assert.deepEqual(xs.store.verify(), []);
  assert.ok(errors > 1000 && errors < 19000, `a mix of successes and errors (${errors} errors)`);
});

test("random bytes and indices on a guest ring never throw and the daemon keeps serving others", () => {
  const r = rng(0xabcdef);
  const xs = new Xenstored({ strict: true });
  for (let round = 0; round < 300; round++) {
    const page = new Uint8Array(4096);
    const ring = new XenstoreRingTransport({ xenstored: xs, domid: 1 + (round % 5), page, notify: () => {} });
    const view = new DataView(page.buffer);
    for (let i = 0; i < 20; i++) {
      if (r.int(3) === 0) {
        page.set(r.bytes(64), r.int(1024 - 64));
      } else {
        // A plausible request, written honestly.
        const bytes = concatBytes([new Uint8Array(16), nulTerminated(r.pick(PATHS))]);
        new DataView(bytes.buffer).setUint32(0, r.int(30), true);
        new DataView(bytes.buffer).setUint32(12, bytes.length - 16, true);
        const prod = view.getUint32(L.reqProd, true);
        for (let k = 0; k < bytes.length; k++) page[(prod + k) & 1023] = bytes[k]!;
        view.setUint32(L.reqProd, prod + bytes.length, true);
      }
      if (r.int(10) === 0) view.setUint32(r.pick([L.reqCons, L.reqProd, L.rspCons, L.rspProd]), r.int(0xffffffff), true);
      ring.onEvent();
      view.setUint32(L.rspCons, view.getUint32(L.rspProd, true), true);
    }
    ring.close();
  }
  assert.deepEqual(xs.store.verify(), []);
  assert.equal(xs.connections.size, 0);
});
