// Transactions: isolation, commit, abort, conflicts (EAGAIN) and watch events fired only on commit.
// Semantics from docs/misc/xenstore.txt "Transactions" and C xenstored transaction.c (conflict on any touched node).
import { test } from "node:test";
import assert from "node:assert/strict";
import { XsType } from "../../abi/xen/xs_wire.ts";
import { XenstoreClient } from "./client.ts";
import { XenstoreError } from "./errors.ts";
import { WireClient } from "./test_support.ts";
import { Xenstored } from "./xenstored.ts";

function setup() {
  const xs = new Xenstored();
  return { xs, a: new WireClient(xs, 0), b: new WireClient(xs, 0) };
}

function start(c: WireClient): number {
  const r = c.send(XsType.TRANSACTION_START, [""]);
  assert.match(r.text, /^\d+\0$/);
  return Number(r.text.slice(0, -1));
}

test("TRANSACTION_START returns a decimal id and ids are unique per connection", () => {
  const { a } = setup();
  const t1 = start(a);
  const t2 = start(a);
  assert.ok(t1 > 0 && t2 > 0 && t1 !== t2);
});

test("writes in a transaction are invisible outside until commit", () => {
  const { a, b } = setup();
  const t = start(a);
  assert.equal(a.send(XsType.WRITE, ["/t/x"], t, new TextEncoder().encode("1")).text, "OK\0");
  assert.equal(a.tx(t, XsType.READ, "/t/x"), "1");
  assert.equal(b.op(XsType.READ, "/t/x"), "ERR:ENOENT");
  assert.equal(a.tx(t, XsType.TRANSACTION_END, "T"), "OK");
  assert.equal(b.op(XsType.READ, "/t/x"), "1");
});

test("an aborted transaction leaves no trace and its id is gone", () => {
  const { a } = setup();
  const t = start(a);
  a.send(XsType.WRITE, ["/gone"], t, new TextEncoder().encode("1"));
  assert.equal(a.tx(t, XsType.TRANSACTION_END, "F"), "OK");
  assert.equal(a.op(XsType.READ, "/gone"), "ERR:ENOENT");
  assert.equal(a.tx(t, XsType.READ, "/tool"), "ERR:ENOENT");
  assert.equal(a.tx(t, XsType.TRANSACTION_END, "T"), "ERR:ENOENT");
});

test("a commit after a concurrent write to a node the transaction read answers EAGAIN", () => {
  const { a, b } = setup();
  a.write("/c", "0");
  const t = start(a);
  assert.equal(a.tx(t, XsType.READ, "/c"), "0");
  a.send(XsType.WRITE, ["/c"], t, new TextEncoder().encode("tx"));
  b.write("/c", "other");
  assert.equal(a.tx(t, XsType.TRANSACTION_END, "T"), "ERR:EAGAIN");
  assert.equal(b.op(XsType.READ, "/c"), "other");
});

test("a concurrent creation of a node the transaction found absent is a conflict", () => {
  const { a, b } = setup();
  const t = start(a);
  assert.equal(a.tx(t, XsType.READ, "/new"), "ERR:ENOENT");
  b.write("/new", "1");
  assert.equal(a.tx(t, XsType.TRANSACTION_END, "T"), "ERR:EAGAIN");
});

test("concurrent changes to untouched nodes do not conflict", () => {
  const { a, b } = setup();
  a.write("/one", "1");
  a.write("/two", "2");
  const t = start(a);
  a.tx(t, XsType.READ, "/one");
  b.write("/two", "3");
  assert.equal(a.tx(t, XsType.TRANSACTION_END, "T"), "OK");
});

test("a directory listing in a transaction conflicts with a concurrent new child", () => {
  const { a, b } = setup();
  a.write("/dir/a", "");
  const t = start(a);
  assert.equal(a.tx(t, XsType.DIRECTORY, "/dir"), "a");
  b.write("/dir/b", "");
  assert.equal(a.tx(t, XsType.TRANSACTION_END, "T"), "ERR:EAGAIN");
});

test("watch events of a transaction fire only when it commits", () => {
  const { a, b } = setup();
  b.op(XsType.WATCH, "/ev", "tok");
  b.takeEvents();
  const t = start(a);
  a.send(XsType.WRITE, ["/ev/x"], t, new TextEncoder().encode("1"));
  assert.deepEqual(b.takeEvents(), []);
  a.tx(t, XsType.TRANSACTION_END, "T");
  assert.deepEqual(b.takeEvents(), [["/ev/x", "tok"]]);
  const t2 = start(a);
  a.send(XsType.WRITE, ["/ev/y"], t2, new TextEncoder().encode("1"));
  a.tx(t2, XsType.TRANSACTION_END, "F");
  assert.deepEqual(b.takeEvents(), []);
});

test("TRANSACTION_END takes only T or F, and a request with an unknown tx_id answers ENOENT", () => {
  const { a } = setup();
  const t = start(a);
  assert.equal(a.tx(t, XsType.TRANSACTION_END, "X"), "ERR:EINVAL");
  assert.equal(a.tx(9999, XsType.READ, "/tool"), "ERR:ENOENT");
  assert.equal(a.tx(0, XsType.TRANSACTION_END, "T"), "ERR:ENOENT");
  assert.equal(a.tx(t, XsType.TRANSACTION_START, ""), "ERR:EBUSY");
});

test("WATCH ignores the tx_id field", () => {
  const { a } = setup();
  assert.equal(a.tx(4242, XsType.WATCH, "/w", "t"), "OK");
});

test("transactions belong to their connection", () => {
  const { a, b } = setup();
  const t = start(a);
  assert.equal(b.tx(t, XsType.READ, "/tool"), "ERR:ENOENT");
});

test("RM and SET_PERMS inside a transaction apply at commit", () => {
  const { a, b } = setup();
  a.write("/rmme/sub", "1");
  const t = start(a);
  assert.equal(a.tx(t, XsType.RM, "/rmme"), "OK");
  assert.equal(a.tx(t, XsType.READ, "/rmme/sub"), "ERR:ENOENT");
  assert.equal(b.op(XsType.READ, "/rmme/sub"), "1");
  a.tx(t, XsType.TRANSACTION_END, "T");
  assert.equal(b.op(XsType.READ, "/rmme/sub"), "ERR:ENOENT");
  assert.equal(b.op(XsType.DIRECTORY, "/"), "tool");
});

test("the toolstack client retries a conflicting transaction", () => {
  const xs = new Xenstored();
  const client = new XenstoreClient(xs);
  const other = new WireClient(xs, 0);
  client.write("/counter", "0");
  let attempts = 0;
  client.transaction((tx) => {
    attempts++;
    const v = Number(client.read("/counter", tx));
    if (attempts === 1) other.write("/counter", "10");
    client.write("/counter", String(v + 1), tx);
  });
  assert.equal(attempts, 2);
  assert.equal(client.read("/counter"), "11");
  assert.throws(
    () => client.transaction((tx) => { client.read("/counter", tx); other.write("/counter", "x"); }, 2),
    (e: unknown) => e instanceof XenstoreError && e.errno === "EAGAIN",
  );
});
