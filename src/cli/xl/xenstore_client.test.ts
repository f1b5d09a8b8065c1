import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { XsType, encodeMessage, nulTerminated } from "../../abi/xen/xs_wire.ts";
import { startXenstoredService, xenstoredSocketPath } from "../../dom0/xenstored/service.ts";
import { DaemonError } from "./exit_codes.ts";
import { XsError, XsMessageSplitter, XsSocketClient } from "./xenstore_client.ts";
import { testTempDir } from "../../testing/temp_dir.ts";

test("the splitter reassembles messages cut anywhere in the byte stream", () => {
  const a = encodeMessage({ type: XsType.READ, reqId: 1, txId: 0, payload: nulTerminated("/a") });
  const b = encodeMessage({ type: XsType.WATCH_EVENT, reqId: 0, txId: 0, payload: nulTerminated("/w", "tok") });
  const all = new Uint8Array([...a, ...b]);
  for (let cut = 0; cut <= all.length; cut++) {
    const s = new XsMessageSplitter();
    const msgs = [...s.push(all.slice(0, cut)), ...s.push(all.slice(cut))];
    assert.deepEqual(msgs.map((m) => [m.type, m.reqId, m.payload.length]), [[XsType.READ, 1, 3], [XsType.WATCH_EVENT, 0, 7]]);
  }
});

test("a missing socket is the daemon-not-running error", async () => {
  const path = join(testTempDir("tsxen-xsc-"), "socket");
  await assert.rejects(XsSocketClient.connect(path), (e: unknown) => e instanceof DaemonError && /not running/.test(e.message));
});

test("write, read, directory, perms, watch and rm round-trip through a real xenstored socket", async () => {
  const dir = testTempDir("tsxen-xsc-");
  const service = await startXenstoredService({ socketPath: xenstoredSocketPath(dir) });
  const xs = await XsSocketClient.connect(xenstoredSocketPath(dir));
  try {
    await xs.write("/t/a", "1");
    await xs.write("/t/b", "\u0001x");
    assert.equal(await xs.read("/t/a"), "1");
    assert.equal(await xs.read("/t/b"), "\u0001x");
    await xs.write("/t/u", "é");
    assert.equal(await xs.read("/t/u"), "\u00c3\u00a9", "UTF-8 bytes, one char per byte");
    await xs.rm("/t/u");
    assert.deepEqual(await xs.directory("/t"), ["a", "b"]);
    await xs.setPerms("/t/a", ["n0", "r1"]);
    assert.deepEqual(await xs.getPerms("/t/a"), ["n0", "r1"]);
    await xs.watch("/t", "tok");
    assert.deepEqual(await xs.nextEvent(), { path: "/t", token: "tok" });
    await xs.rm("/t/b");
    assert.deepEqual(await xs.nextEvent(), { path: "/t/b", token: "tok" });
    await assert.rejects(xs.read("/t/b"), (e: unknown) => e instanceof XsError && e.errno === "ENOENT" && e.message === "ENOENT (no such node)");
  } finally {
    xs.close();
    await service.stop();
  }
});
