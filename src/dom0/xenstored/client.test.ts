// The toolstack's in-process API: typed calls over the same request path, watches with callbacks, the standard
// per-domain layout (as libxl writes it) and what a guest may do inside it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { XsType } from "../../abi/xen/xs_wire.ts";
import { XenstoreClient } from "./client.ts";
import { createDom0Layout, createDomainLayout, removeDomainLayout } from "./domain_layout.ts";
import { XenstoreError } from "./errors.ts";
import { WireClient } from "./test_support.ts";
import { Xenstored } from "./xenstored.ts";

test("read/write/mkdir/rm/directory round-trip through the client", () => {
  const xs = new XenstoreClient(new Xenstored({ strict: true }));
  xs.write("/k/v", "välue");
  assert.equal(xs.read("/k/v"), "välue");
  assert.deepEqual(xs.readBytes("/k/v"), new TextEncoder().encode("välue"));
  xs.mkdir("/k/dir");
  assert.deepEqual(xs.directory("/k"), ["v", "dir"]);
  xs.rm("/k/v");
  assert.equal(xs.tryRead("/k/v"), undefined);
  assert.throws(() => xs.read("/k/v"), (e: unknown) => e instanceof XenstoreError && e.errno === "ENOENT");
});

test("watch callbacks fire on register and on change, and stop after unwatch", async () => {
  const xs = new XenstoreClient(new Xenstored({ strict: true }));
  const seen: string[] = [];
  const unwatch = xs.watch("/backend", "be", (path, token) => seen.push(`${token}:${path}`));
  xs.write("/backend/vbd/1/51712/state", "4");
  assert.deepEqual(seen, []); // delivered after the current operation
  await Promise.resolve();
  unwatch();
  xs.write("/backend/vbd/1/51712/state", "5");
  await Promise.resolve();
  assert.deepEqual(seen, ["be:/backend", "be:/backend/vbd/1/51712/state"]);
});

test("a watch callback may write to xenstore (a backend reacting to a frontend)", async () => {
  const xs = new XenstoreClient(new Xenstored({ strict: true }));
  xs.watch("/local/domain/1/device/vif/0/state", "fe", (path) => {
    if (xs.tryRead(path) === "1") xs.write("/local/domain/0/backend/vif/1/0/state", "2");
  });
  xs.write("/local/domain/1/device/vif/0/state", "1");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(xs.read("/local/domain/0/backend/vif/1/0/state"), "2");
});

test("the client's getPerms/setPerms accept strings and objects", () => {
  const xs = new XenstoreClient(new Xenstored({ strict: true }));
  xs.mkdir("/p");
  xs.setPerms("/p", ["n3", { domid: 4, access: 3 }]);
  assert.deepEqual(xs.getPerms("/p"), [{ domid: 3, access: 0 }, { domid: 4, access: 3 }]);
});

test("introduceDomain/releaseDomain/isDomainIntroduced/getDomainPath/control work from the toolstack", () => {
  const lines: string[] = [];
  const xs = new XenstoreClient(new Xenstored({ strict: true, log: (l) => lines.push(l) }));
  assert.equal(xs.isDomainIntroduced(6), false);
  xs.introduceDomain(6, 0xfeffc, 1);
  assert.equal(xs.isDomainIntroduced(6), true);
  assert.equal(xs.getDomainPath(6), "/local/domain/6");
  xs.releaseDomain(6);
  assert.equal(xs.isDomainIntroduced(6), false);
  assert.equal(xs.control("print", "hi"), "OK");
  assert.ok(lines.includes("xenstored: hi"));
});

test("createDomainLayout() writes libxl's layout with the guest owning device/, data/, console/", () => {
  const daemon = new Xenstored({ strict: true });
  const xs = new XenstoreClient(daemon);
  createDom0Layout(xs);
  const path = createDomainLayout(xs, {
    domid: 5, name: "web", uuid: "6b1f0c3e-0000-4000-8000-000000000005", memoryKiB: 524288, vcpus: 2,
    store: { gfn: 0xfeffc, evtchnPort: 1 }, console: { gfn: 0xfeffd, evtchnPort: 2 },
  });
  assert.equal(path, "/local/domain/5");
  assert.equal(xs.read("/local/domain/0/name"), "Domain-0");
  assert.equal(xs.read("/local/domain/5/name"), "web");
  assert.equal(xs.read("/local/domain/5/domid"), "5");
  assert.equal(xs.read("/local/domain/5/vm"), "/vm/6b1f0c3e-0000-4000-8000-000000000005");
  assert.equal(xs.read("/local/domain/5/memory/target"), "524288");
  assert.equal(xs.read("/local/domain/5/cpu/1/availability"), "online");
  assert.equal(xs.read("/local/domain/5/store/port"), "1");
  assert.equal(xs.read("/local/domain/5/console/ring-ref"), String(0xfeffd));
  assert.deepEqual(xs.getPerms("/local/domain/5"), [{ domid: 0, access: 0 }, { domid: 5, access: 1 }]);
  for (const dir of ["device", "data", "console", "control/shutdown"]) {
    assert.deepEqual(xs.getPerms(`/local/domain/5/${dir}`), [{ domid: 5, access: 0 }], dir);
  }

  const guest = new WireClient(daemon, 5);
  assert.equal(guest.op(XsType.READ, "name"), "web");
  assert.equal(guest.write("data/ip", "10.0.0.5"), "OK");
  assert.equal(guest.write("control/shutdown", ""), "OK");
  assert.equal(guest.write("device/vif/0/state", "1"), "OK");
  assert.equal(guest.write("name", "evil"), "ERR:EACCES");
  assert.equal(guest.write("memory/target", "1"), "ERR:EACCES");
  assert.equal(guest.op(XsType.READ, "/local/domain/0/name"), "ERR:EACCES");
  const other = new WireClient(daemon, 6);
  assert.equal(other.op(XsType.READ, "/local/domain/5/name"), "ERR:EACCES");
  assert.equal(other.op(XsType.READ, "/local/domain/5/data/ip"), "ERR:EACCES");

  removeDomainLayout(xs, 5, "6b1f0c3e-0000-4000-8000-000000000005");
  assert.deepEqual(xs.directory("/local/domain"), ["0"]);
  assert.deepEqual(daemon.store.verify(), []);
});

test("xl shutdown's path: dom0 writes control/shutdown and the guest's watch fires", () => {
  const daemon = new Xenstored({ strict: true });
  const xs = new XenstoreClient(daemon);
  createDomainLayout(xs, { domid: 2, name: "g", uuid: "u-2", memoryKiB: 1024 });
  const guest = new WireClient(daemon, 2);
  guest.op(XsType.WATCH, "control/shutdown", "shutdown");
  guest.takeEvents();
  xs.write("/local/domain/2/control/shutdown", "poweroff");
  assert.deepEqual(guest.takeEvents(), [["control/shutdown", "shutdown"]]);
  assert.equal(guest.op(XsType.READ, "control/shutdown"), "poweroff");
});
