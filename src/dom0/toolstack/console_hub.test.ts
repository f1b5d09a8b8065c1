import { test } from "node:test";
import assert from "node:assert/strict";
import { ConsoleHub, type ConsoleListener } from "./console_hub.ts";

const enc = (s: string) => new TextEncoder().encode(s);
function collector() {
  const got: string[] = [];
  const ended: string[] = [];
  const l: ConsoleListener = { data: (b) => got.push(new TextDecoder().decode(b)), end: (r) => ended.push(r) };
  return { l, got, ended };
}

test("output written before anyone attached is delivered to the first client, once", () => {
  const hub = new ConsoleHub();
  hub.open(1, "a");
  hub.write(1, enc("early "));
  const a = collector();
  hub.attach(1, a.l);
  hub.write(1, enc("live"));
  assert.deepEqual(a.got, ["early ", "live"]);
  const b = collector();
  hub.attach(1, b.l);
  assert.deepEqual(b.got, []);
});

test("unread output is bounded to the newest 64 KiB", () => {
  const hub = new ConsoleHub();
  hub.open(1, "a");
  for (let i = 0; i < 100; i++) hub.write(1, new Uint8Array(1024).fill(i));
  const a = collector();
  hub.attach(1, a.l);
  const total = a.got.reduce((n, s) => n + s.length, 0);
  assert.ok(total <= 64 * 1024 && total >= 63 * 1024, String(total));
});

test("every byte reaches the log sink, with the domain's current name", () => {
  const seen: string[] = [];
  const hub = new ConsoleHub({ write: (name, domid, b) => seen.push(`${name}/${domid}:${new TextDecoder().decode(b)}`) });
  hub.open(3, "web");
  hub.write(3, enc("x"));
  hub.rename(3, "web--3");
  hub.write(3, enc("y"));
  assert.deepEqual(seen, ["web/3:x", "web--3/3:y"]);
});

test("closing ends every listener; detach stops delivery", () => {
  const hub = new ConsoleHub();
  hub.open(1, "a");
  const a = collector();
  const b = collector();
  const detachA = hub.attach(1, a.l);
  hub.attach(1, b.l);
  detachA();
  hub.write(1, enc("z"));
  hub.close(1, "gone");
  assert.deepEqual(a.got, []);
  assert.deepEqual(b.got, ["z"]);
  assert.deepEqual(b.ended, ["gone"]);
  assert.equal(hub.has(1), false);
});

test("a listener that throws does not stop the others", () => {
  const hub = new ConsoleHub();
  hub.open(1, "a");
  const b = collector();
  hub.attach(1, { data: () => { throw new Error("client gone"); }, end: () => {} });
  hub.attach(1, b.l);
  hub.write(1, enc("ok"));
  assert.deepEqual(b.got, ["ok"]);
});
