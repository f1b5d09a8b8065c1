// xenstored request semantics over the wire codec: every operation, errors, permissions, special watches.
// Expected behaviour from docs/misc/xenstore.txt and C xenstored (tools/xenstored/core.c, domain.c).
import { test } from "node:test";
import assert from "node:assert/strict";
import { XsType } from "../../abi/xen/xs_wire.ts";
import { WireClient } from "./test_support.ts";
import { Xenstored } from "./xenstored.ts";

function setup() {
  const xs = new Xenstored();
  const dom0 = new WireClient(xs, 0);
  return { xs, dom0 };
}

test("a fresh store has the root and /tool/xenstored", () => {
  const { dom0 } = setup();
  assert.equal(dom0.op(XsType.DIRECTORY, "/"), "tool");
  assert.equal(dom0.op(XsType.DIRECTORY, "/tool"), "xenstored");
  assert.equal(dom0.op(XsType.GET_PERMS, "/"), "n0");
});

test("WRITE creates missing parents with empty values and READ returns the raw value", () => {
  const { dom0 } = setup();
  assert.equal(dom0.write("/a/b/c", "hello"), "OK");
  assert.equal(dom0.op(XsType.READ, "/a/b/c"), "hello");
  assert.equal(dom0.op(XsType.READ, "/a/b"), "");
  const r = dom0.send(XsType.READ, ["/a/b/c"]);
  assert.equal(r.text, "hello"); // no NUL appended
});

test("values may hold NUL bytes and arbitrary binary data", () => {
  const { dom0 } = setup();
  const value = new Uint8Array([0, 1, 2, 0xff, 0]);
  dom0.send(XsType.WRITE, ["/bin"], 0, value);
  assert.equal(dom0.send(XsType.READ, ["/bin"]).text, "\x00\x01\x02\xff\x00");
});

test("MKDIR keeps existing values and creates missing nodes", () => {
  const { dom0 } = setup();
  dom0.write("/x", "v");
  assert.equal(dom0.op(XsType.MKDIR, "/x"), "OK");
  assert.equal(dom0.op(XsType.READ, "/x"), "v");
  assert.equal(dom0.op(XsType.MKDIR, "/x/y/z"), "OK");
  assert.equal(dom0.op(XsType.DIRECTORY, "/x/y"), "z");
});

test("DIRECTORY lists children in creation order, NUL separated", () => {
  const { dom0 } = setup();
  dom0.write("/d/b", "");
  dom0.write("/d/a", "");
  dom0.write("/d/c", "");
  assert.equal(dom0.send(XsType.DIRECTORY, ["/d"]).text, "b\0a\0c\0");
  assert.equal(dom0.send(XsType.DIRECTORY, ["/d/a"]).text, "");
});

test("RM deletes a subtree, is fine for a missing node, and fails without a parent", () => {
  const { dom0 } = setup();
  dom0.write("/r/s/t", "1");
  dom0.write("/r/u", "2");
  assert.equal(dom0.op(XsType.RM, "/r/s"), "OK");
  assert.equal(dom0.op(XsType.READ, "/r/s/t"), "ERR:ENOENT");
  assert.equal(dom0.op(XsType.DIRECTORY, "/r"), "u");
  assert.equal(dom0.op(XsType.RM, "/r/missing"), "OK");
  assert.equal(dom0.op(XsType.RM, "/nope/missing"), "ERR:ENOENT");
  assert.equal(dom0.op(XsType.RM, "/"), "ERR:EINVAL");
});

test("invalid paths answer EINVAL", () => {
  const { dom0 } = setup();
  for (const bad of ["", "/a/", "/a//b", "/a b", "/a.b", "@foo"]) {
    assert.equal(dom0.op(XsType.READ, bad), "ERR:EINVAL", bad);
  }
  assert.equal(dom0.op(XsType.READ, "/" + "a".repeat(3072)), "ERR:EINVAL");
});

test("a request with extra or missing NULs answers EINVAL", () => {
  const { dom0 } = setup();
  assert.equal(dom0.send(XsType.READ, ["/tool", "x"]).text, "EINVAL\0");
  assert.equal(dom0.send(XsType.READ, [], 0, new TextEncoder().encode("/tool")).text, "EINVAL\0");
  assert.equal(dom0.send(XsType.WRITE, [], 0, new TextEncoder().encode("/nonul")).text, "EINVAL\0");
});

test("unknown, reply-only and removed message types answer ENOSYS", () => {
  const { dom0 } = setup();
  for (const type of [XsType.WATCH_EVENT, XsType.ERROR, 20, 27, 0xffff, 12345]) {
    const r = dom0.send(type, ["/"]);
    assert.equal(r.type, XsType.ERROR);
    assert.equal(r.text, "ENOSYS\0");
  }
});

test("relative paths resolve under /local/domain/<domid>", () => {
  const { xs, dom0 } = setup();
  dom0.op(XsType.MKDIR, "/local/domain/7");
  dom0.op(XsType.SET_PERMS, "/local/domain/7", "n7");
  const guest = new WireClient(xs, 7);
  assert.equal(guest.write("data/x", "1"), "OK");
  assert.equal(dom0.op(XsType.READ, "/local/domain/7/data/x"), "1");
  assert.equal(guest.op(XsType.READ, "data/x"), "1");
  assert.equal(dom0.op(XsType.READ, "local/domain/7/data/x"), "ERR:ENOENT"); // dom0's base is /local/domain/0
});

test("GET_DOMAIN_PATH and IS_DOMAIN_INTRODUCED answer as C xenstored", () => {
  const { xs, dom0 } = setup();
  assert.equal(dom0.send(XsType.GET_DOMAIN_PATH, ["5"]).text, "/local/domain/5\0");
  assert.equal(dom0.op(XsType.GET_DOMAIN_PATH, "x"), "ERR:EINVAL");
  assert.equal(dom0.send(XsType.IS_DOMAIN_INTRODUCED, ["5"]).text, "F\0");
  xs.introduceDomain(5, 0xfeffc, 3);
  assert.equal(dom0.send(XsType.IS_DOMAIN_INTRODUCED, ["5"]).text, "T\0");
  assert.equal(dom0.op(XsType.IS_DOMAIN_INTRODUCED, "0"), "T");
  assert.equal(dom0.op(XsType.IS_DOMAIN_INTRODUCED, String(0x7ff0)), "T");
});

test("INTRODUCE and RELEASE fire @introduceDomain and @releaseDomain watches", () => {
  const { dom0 } = setup();
  dom0.op(XsType.WATCH, "@introduceDomain", "intro");
  dom0.op(XsType.WATCH, "@releaseDomain", "rel");
  dom0.op(XsType.WATCH, "@releaseDomain", "reldepth", "1");
  dom0.op(XsType.WATCH, "@releaseDomain/9", "rel9");
  assert.deepEqual(dom0.takeEvents(), [["@introduceDomain", "intro"], ["@releaseDomain", "rel"], ["@releaseDomain", "reldepth"], ["@releaseDomain/9", "rel9"]]);
  assert.equal(dom0.op(XsType.INTRODUCE, "9", "1234", "5"), "OK");
  assert.deepEqual(dom0.takeEvents(), [["@introduceDomain", "intro"]]);
  assert.equal(dom0.op(XsType.RELEASE, "9"), "OK");
  assert.deepEqual(dom0.takeEvents(), [["@releaseDomain", "rel"], ["@releaseDomain/9", "reldepth"], ["@releaseDomain/9", "rel9"]]);
  assert.equal(dom0.op(XsType.RELEASE, "9"), "ERR:ENOENT");
  assert.equal(dom0.op(XsType.RELEASE, "0"), "ERR:EINVAL");
  assert.equal(dom0.op(XsType.INTRODUCE, "9", "1234", "0"), "ERR:EINVAL");
  assert.equal(dom0.op(XsType.INTRODUCE, "9", "1234"), "ERR:EINVAL");
});

test("privileged requests from a domU answer EACCES", () => {
  const { xs } = setup();
  const guest = new WireClient(xs, 3);
  for (const [type, args] of [
    [XsType.INTRODUCE, ["4", "1", "1"]], [XsType.RELEASE, ["4"]], [XsType.CONTROL, ["print", "x"]],
    [XsType.SET_QUOTA, ["nodes", "5"]], [XsType.GET_QUOTA, []], [XsType.IS_DOMAIN_INTRODUCED, ["0"]],
    [XsType.RESUME, ["4"]], [XsType.SET_TARGET, ["4", "5"]],
  ] as const) {
    assert.equal(guest.op(type, ...args), "ERR:EACCES", String(type));
  }
});

test("a domain's node is invisible to another domain and the error does not leak existence", () => {
  const { xs, dom0 } = setup();
  dom0.op(XsType.MKDIR, "/local/domain/1");
  dom0.op(XsType.SET_PERMS, "/local/domain/1", "n0", "r1");
  dom0.op(XsType.MKDIR, "/local/domain/1/data");
  dom0.op(XsType.SET_PERMS, "/local/domain/1/data", "n1");
  const d1 = new WireClient(xs, 1);
  const d2 = new WireClient(xs, 2);
  assert.equal(d1.write("data/secret", "42"), "OK");
  assert.equal(d2.op(XsType.READ, "/local/domain/1/data/secret"), "ERR:EACCES");
  assert.equal(d2.op(XsType.READ, "/local/domain/1/data/absent"), "ERR:EACCES");
  assert.equal(d2.write("/local/domain/1/data/x", "1"), "ERR:EACCES");
  assert.equal(d2.op(XsType.DIRECTORY, "/local/domain/1"), "ERR:EACCES");
  assert.equal(d1.op(XsType.READ, "/local/domain/1/data/absent"), "ERR:ENOENT");
  assert.equal(d1.write("/local/domain/1/name", "x"), "ERR:EACCES"); // read-only parent
  assert.equal(d1.op(XsType.READ, "/local/domain/1"), "");
});

test("nodes a domU creates are owned by it and inherit the parent's other entries", () => {
  const { xs, dom0 } = setup();
  dom0.op(XsType.MKDIR, "/shared");
  dom0.op(XsType.SET_PERMS, "/shared", "b0", "r8");
  dom0.op(XsType.SET_PERMS, "/shared", "w0", "r8");
  const d4 = new WireClient(xs, 4);
  assert.equal(d4.write("/shared/mine", "v"), "OK");
  assert.equal(d4.send(XsType.GET_PERMS, ["/shared/mine"]).text, "w4\0r8\0");
  assert.equal(d4.op(XsType.READ, "/shared/mine"), "v");
  assert.equal(d4.op(XsType.READ, "/shared"), "ERR:EACCES"); // write-only for others
});

test("SET_PERMS: an owner may change entries but not the owner; dom0 may", () => {
  const { xs, dom0 } = setup();
  dom0.op(XsType.MKDIR, "/p");
  dom0.op(XsType.SET_PERMS, "/p", "n6");
  const d6 = new WireClient(xs, 6);
  assert.equal(d6.op(XsType.SET_PERMS, "/p", "n6", "r7"), "OK");
  assert.equal(d6.op(XsType.GET_PERMS, "/p"), "n6\0r7");
  assert.equal(d6.op(XsType.SET_PERMS, "/p", "n7"), "ERR:EPERM");
  assert.equal(d6.op(XsType.SET_PERMS, "/p", "x6"), "ERR:EINVAL");
  assert.equal(d6.op(XsType.SET_PERMS, "/p"), "ERR:EINVAL");
  const d7 = new WireClient(xs, 7);
  assert.equal(d7.op(XsType.READ, "/p"), "");
  assert.equal(d7.op(XsType.SET_PERMS, "/p", "n7"), "ERR:EACCES");
  assert.equal(dom0.op(XsType.SET_PERMS, "/p", "b7"), "OK");
});

test("GET_PERMS and SET_PERMS accept @special nodes, which are dom0-only by default", () => {
  const { xs, dom0 } = setup();
  assert.equal(dom0.op(XsType.GET_PERMS, "@releaseDomain"), "n0");
  const d3 = new WireClient(xs, 3);
  d3.op(XsType.WATCH, "@releaseDomain", "t");
  assert.deepEqual(d3.takeEvents(), [["@releaseDomain", "t"]]);
  xs.introduceDomain(11, 1, 1);
  xs.releaseDomain(11);
  assert.deepEqual(d3.takeEvents(), []); // not allowed to see it
  dom0.op(XsType.SET_PERMS, "@releaseDomain", "n0", "r3");
  assert.deepEqual(d3.takeEvents(), [["@releaseDomain", "t"]]); // a permission change is a change too
  xs.introduceDomain(11, 1, 1);
  xs.releaseDomain(11);
  assert.deepEqual(d3.takeEvents(), [["@releaseDomain", "t"]]);
});

test("WATCH replies OK, fires once on register, and then on changes at or under the path", () => {
  const { dom0 } = setup();
  assert.equal(dom0.send(XsType.WATCH, ["/w", "tok"]).text, "OK\0");
  assert.deepEqual(dom0.takeEvents(), [["/w", "tok"]]);
  dom0.write("/w/a/b", "1");
  dom0.write("/wx", "1"); // sibling prefix, not a child
  dom0.write("/other", "1");
  dom0.op(XsType.SET_PERMS, "/w/a", "n0");
  dom0.op(XsType.RM, "/w/a");
  // RM reports the removed subtree's root to watches above it (descendants only to watches on exactly them).
  assert.deepEqual(dom0.takeEvents(), [["/w/a/b", "tok"], ["/w/a", "tok"], ["/w/a", "tok"]]);
});

test("removing a parent fires watches set on deleted descendants with their own path", () => {
  const { dom0 } = setup();
  dom0.write("/top/mid/leaf", "x");
  dom0.op(XsType.WATCH, "/top/mid/leaf", "leaf");
  dom0.op(XsType.WATCH, "/top/mid/notthere", "ghost");
  dom0.takeEvents();
  dom0.op(XsType.RM, "/top");
  assert.deepEqual(dom0.takeEvents(), [["/top/mid/leaf", "leaf"]]);
});

test("a watch with depth 0 sees only its own node, depth 1 also direct children", () => {
  const { dom0 } = setup();
  dom0.op(XsType.WATCH, "/dp", "d0", "0");
  dom0.op(XsType.WATCH, "/dp", "d1", "1");
  dom0.takeEvents();
  dom0.write("/dp", "x");
  dom0.write("/dp/a", "x");
  dom0.write("/dp/a/b", "x");
  assert.deepEqual(dom0.takeEvents(), [["/dp", "d0"], ["/dp", "d1"], ["/dp/a", "d1"]]);
});

test("relative watches report relative paths", () => {
  const { xs, dom0 } = setup();
  dom0.op(XsType.MKDIR, "/local/domain/2");
  dom0.op(XsType.SET_PERMS, "/local/domain/2", "n2");
  const d2 = new WireClient(xs, 2);
  d2.op(XsType.WATCH, "device", "dev");
  assert.deepEqual(d2.takeEvents(), [["device", "dev"]]);
  dom0.write("/local/domain/2/device/vbd/51712/state", "1");
  assert.deepEqual(d2.takeEvents(), [["device/vbd/51712/state", "dev"]]);
});

test("duplicate WATCH answers EEXIST and UNWATCH stops events", () => {
  const { dom0 } = setup();
  dom0.op(XsType.WATCH, "/u", "t");
  assert.equal(dom0.op(XsType.WATCH, "/u", "t"), "ERR:EEXIST");
  assert.equal(dom0.op(XsType.WATCH, "/u"), "ERR:EINVAL");
  assert.equal(dom0.op(XsType.UNWATCH, "/u", "t"), "OK");
  assert.equal(dom0.op(XsType.UNWATCH, "/u", "t"), "ERR:ENOENT");
  dom0.takeEvents();
  dom0.write("/u", "1");
  assert.deepEqual(dom0.takeEvents(), []);
});

test("watch events reach only domains that may read the node or its parent", () => {
  const { xs, dom0 } = setup();
  const d5 = new WireClient(xs, 5);
  d5.op(XsType.WATCH, "/", "all");
  d5.takeEvents();
  dom0.write("/hidden/deeper", "1");
  assert.deepEqual(d5.takeEvents(), []);
  dom0.op(XsType.SET_PERMS, "/hidden", "n0", "r5");
  assert.deepEqual(d5.takeEvents(), [["/hidden", "all"]]);
  dom0.write("/hidden/deeper", "2"); // parent readable
  assert.deepEqual(d5.takeEvents(), [["/hidden/deeper", "all"]]);
});

test("RESET_WATCHES drops watches and transactions", () => {
  const { dom0 } = setup();
  dom0.op(XsType.WATCH, "/z", "t");
  const tx = Number(dom0.op(XsType.TRANSACTION_START, ""));
  assert.equal(dom0.op(XsType.RESET_WATCHES, ""), "OK");
  dom0.takeEvents();
  dom0.write("/z", "1");
  assert.deepEqual(dom0.takeEvents(), []);
  assert.equal(dom0.tx(tx, XsType.READ, "/z"), "ERR:ENOENT");
});

test("DIRECTORY_PART returns the generation and children, with a final empty string", () => {
  const { dom0 } = setup();
  dom0.write("/dp/aa", "");
  dom0.write("/dp/bb", "");
  const r = dom0.send(XsType.DIRECTORY_PART, ["/dp", "0"]);
  const [gen, ...rest] = r.text.split("\0");
  assert.match(gen!, /^\d+$/);
  assert.deepEqual(rest, ["aa", "bb", "", ""]);
  assert.equal(dom0.send(XsType.DIRECTORY_PART, ["/dp", "3"]).text, `${gen}\0bb\0\0`);
  assert.equal(dom0.send(XsType.DIRECTORY_PART, ["/dp", "6"]).text, `${gen}\0\0`);
  assert.equal(dom0.op(XsType.DIRECTORY_PART, "/dp"), "ERR:EINVAL");
});

test("DIRECTORY_PART splits a child list longer than one payload", () => {
  const { dom0 } = setup();
  const names = Array.from({ length: 300 }, (_, i) => `child-with-a-long-name-${String(i).padStart(4, "0")}`);
  for (const n of names) dom0.op(XsType.MKDIR, `/big/${n}`);
  assert.equal(dom0.send(XsType.DIRECTORY, ["/big"]).type, XsType.ERROR); // too long for DIRECTORY: E2BIG
  const got: string[] = [];
  let offset = 0;
  for (;;) {
    const parts = dom0.send(XsType.DIRECTORY_PART, ["/big", String(offset)]).text.split("\0");
    parts.shift();
    const done = parts.length >= 2 && parts[parts.length - 1] === "" && parts[parts.length - 2] === "";
    const chunk = parts.filter((p) => p !== "");
    got.push(...chunk);
    offset += chunk.reduce((s, c) => s + c.length + 1, 0);
    if (done || chunk.length === 0) break;
  }
  assert.deepEqual(got, names);
});

test("GET_QUOTA and SET_QUOTA read and change global and per-domain quotas", () => {
  const { xs, dom0 } = setup();
  assert.match(dom0.op(XsType.GET_QUOTA), /^nodes watches outstanding transactions/);
  assert.equal(dom0.op(XsType.GET_QUOTA, "nodes"), "1000");
  assert.equal(dom0.op(XsType.GET_QUOTA, "watches"), "128");
  assert.equal(dom0.op(XsType.GET_QUOTA, "node-size"), "2048");
  assert.equal(dom0.op(XsType.SET_QUOTA, "nodes", "500"), "OK");
  assert.equal(dom0.op(XsType.GET_QUOTA, "nodes"), "500");
  assert.equal(dom0.op(XsType.GET_QUOTA, "3", "nodes"), "ERR:ENOENT");
  xs.introduceDomain(3, 1, 1);
  assert.equal(dom0.op(XsType.SET_QUOTA, "3", "nodes", "7"), "OK");
  assert.equal(dom0.op(XsType.GET_QUOTA, "3", "nodes"), "7");
  assert.equal(dom0.op(XsType.SET_QUOTA, "bogus", "1"), "ERR:EINVAL");
  assert.equal(dom0.op(XsType.SET_QUOTA, "nodes", "0"), "ERR:EINVAL");
});

test("CONTROL print logs and answers OK; unknown commands answer EINVAL", () => {
  const lines: string[] = [];
  const xs = new Xenstored({ log: (l) => lines.push(l) });
  const dom0 = new WireClient(xs, 0);
  assert.equal(dom0.op(XsType.CONTROL, "print", "hello"), "OK");
  assert.deepEqual(lines, ["xenstored: hello"]);
  assert.match(dom0.op(XsType.CONTROL, "help"), /print/);
  assert.equal(dom0.op(XsType.CONTROL, "live-update", "-s"), "ERR:EINVAL");
});

test("GET_FEATURE reports error-field and watch-depth support", () => {
  const { xs, dom0 } = setup();
  assert.equal(dom0.op(XsType.GET_FEATURE), "6");
  const d1 = new WireClient(xs, 1);
  assert.equal(d1.op(XsType.GET_FEATURE, "0"), "ERR:EACCES");
});

test("SET_TARGET gives a device model its guest's rights", () => {
  const { xs, dom0 } = setup();
  xs.introduceDomain(2, 1, 1);
  xs.introduceDomain(3, 1, 1);
  dom0.op(XsType.MKDIR, "/g");
  dom0.op(XsType.SET_PERMS, "/g", "n2");
  const dm = new WireClient(xs, 3);
  assert.equal(dm.op(XsType.READ, "/g"), "ERR:EACCES");
  assert.equal(dom0.op(XsType.SET_TARGET, "3", "2"), "OK");
  assert.equal(dm.op(XsType.READ, "/g"), "");
});

test("releasing a domain gives its nodes to dom0 and drops its permission entries", () => {
  const { xs, dom0 } = setup();
  xs.introduceDomain(12, 1, 1);
  dom0.op(XsType.MKDIR, "/q");
  dom0.op(XsType.SET_PERMS, "/q", "n12", "r13");
  dom0.op(XsType.MKDIR, "/q2");
  dom0.op(XsType.SET_PERMS, "/q2", "n0", "b12");
  xs.releaseDomain(12);
  assert.equal(dom0.op(XsType.GET_PERMS, "/q"), "n0\0r13");
  assert.equal(dom0.op(XsType.GET_PERMS, "/q2"), "n0");
  const again = new WireClient(xs, 12);
  assert.equal(again.op(XsType.READ, "/q"), "ERR:EACCES");
});
