// Save and restore of xenstored's tree, domains and quotas as a versioned record.
import { test } from "node:test";
import assert from "node:assert/strict";
import { XenstoreClient } from "./client.ts";
import { createDomainLayout } from "./domain_layout.ts";
import { restoreXenstored, saveXenstored } from "./state.ts";
import { Xenstored } from "./xenstored.ts";

test("a saved xenstored restores with the same nodes, values, permissions, domains and quotas", () => {
  const xs = new Xenstored({ strict: true });
  const client = new XenstoreClient(xs);
  createDomainLayout(client, { domid: 4, name: "saved", uuid: "u-4", memoryKiB: 2048 });
  client.write("/bin", new Uint8Array([0, 0xff, 7]));
  client.introduceDomain(4, 77, 3);
  client.setQuota("nodes", 123, 4);
  xs.quotas.set("watches", 64);

  const state = JSON.parse(JSON.stringify(saveXenstored(xs))); // survives JSON
  const back = restoreXenstored(state, { strict: true });
  const c2 = new XenstoreClient(back);
  assert.equal(c2.read("/local/domain/4/name"), "saved");
  assert.deepEqual(c2.readBytes("/bin"), new Uint8Array([0, 0xff, 7]));
  assert.deepEqual(c2.getPerms("/local/domain/4/device"), [{ domid: 4, access: 0 }]);
  assert.deepEqual(c2.directory("/local/domain/4"), client.directory("/local/domain/4"));
  assert.equal(c2.isDomainIntroduced(4), true);
  assert.equal(back.quotas.value("nodes", 4), 123);
  assert.equal(back.quotas.value("watches"), 64);
  assert.equal(back.store.ownedNodes(4), xs.store.ownedNodes(4));
  assert.deepEqual(back.store.verify(), []);
});

test("restoreXenstored() rejects an unknown version and an inconsistent tree", () => {
  assert.throws(() => restoreXenstored({ version: 2 } as never), /version "2"/);
  const state = saveXenstored(new Xenstored());
  const broken = { ...state, nodes: state.nodes.filter((n) => n.path !== "/tool") };
  assert.throws(() => restoreXenstored(broken), /inconsistent/);
});
