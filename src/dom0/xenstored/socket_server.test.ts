// The unix-socket transport with a raw client: framing across chunks, several messages per chunk, watch events
// pushed to the socket, oversized messages closing the connection, and cleanup of the socket file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XsType, bytesText, concatBytes, encodeMessage, nulTerminated, type XsMessage } from "../../abi/xen/xs_wire.ts";
import { MessageReader } from "./message_reader.ts";
import { startXenstoredService, xenstoredSocketPath } from "./service.ts";

class RawClient {
  private readonly reader = new MessageReader();
  readonly received: XsMessage[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => this.received.push(...this.reader.push(new Uint8Array(d))));
    socket.on("close", () => {
      this.closed = true;
    });
  }
  static open(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }
  async waitFor(count: number): Promise<XsMessage[]> {
    for (let i = 0; i < 200 && this.received.length < count && !this.closed; i++) await new Promise((r) => setTimeout(r, 5));
    return this.received;
  }
}

async function withService(body: (path: string, service: Awaited<ReturnType<typeof startXenstoredService>>) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), "tsxen-xss-"));
  const service = await startXenstoredService({ socketPath: xenstoredSocketPath(dir) });
  try {
    await body(xenstoredSocketPath(dir), service);
  } finally {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("two requests in one chunk and one request split byte by byte are both answered in order", async () => {
  await withService(async (path) => {
    const c = await RawClient.open(path);
    const a = encodeMessage({ type: XsType.WRITE, reqId: 1, txId: 0, payload: concatBytes([nulTerminated("/s/x"), nulTerminated("v").subarray(0, 1)]) });
    const b = encodeMessage({ type: XsType.READ, reqId: 2, txId: 0, payload: nulTerminated("/s/x") });
    c.socket.write(concatBytes([a, b]));
    const split = encodeMessage({ type: XsType.READ, reqId: 3, txId: 0, payload: nulTerminated("/local/domain/0/name") });
    for (const byte of split) c.socket.write(new Uint8Array([byte]));
    const got = await c.waitFor(3);
    assert.deepEqual(got.map((m) => [m.type, m.reqId, bytesText(m.payload)]), [
      [XsType.WRITE, 1, "OK\0"], [XsType.READ, 2, "v"], [XsType.READ, 3, "Domain-0"],
    ]);
    c.socket.destroy();
  });
});

test("a socket client's watch fires when the toolstack writes", async () => {
  await withService(async (path, service) => {
    const c = await RawClient.open(path);
    c.socket.write(encodeMessage({ type: XsType.WATCH, reqId: 9, txId: 0, payload: nulTerminated("/local/domain/0", "tk") }));
    await c.waitFor(2);
    service.client.write("/local/domain/0/memory/target", "1024");
    const got = await c.waitFor(3);
    assert.deepEqual(got.map((m) => bytesText(m.payload)), ["OK\0", "/local/domain/0\0tk\0", "/local/domain/0/memory/target\0tk\0"]);
    c.socket.destroy();
  });
});

test("a header announcing more than 4096 bytes closes the connection", async () => {
  await withService(async (path, service) => {
    const c = await RawClient.open(path);
    const header = encodeMessage({ type: XsType.WRITE, reqId: 1, txId: 0, payload: new Uint8Array(0) });
    new DataView(header.buffer).setUint32(12, 5000, true);
    c.socket.write(header);
    await c.waitFor(1);
    assert.equal(c.closed, true);
    assert.equal(c.received.length, 0);
    const d = await RawClient.open(path);
    d.socket.write(encodeMessage({ type: XsType.READ, reqId: 1, txId: 0, payload: nulTerminated("/local/domain/0/domid") }));
    assert.equal(bytesText((await d.waitFor(1))[0]!.payload), "0");
    d.socket.destroy();
    assert.ok(service.xenstored.connections.size >= 1);
  });
});

test("stop() removes the socket file and a stale socket is replaced on start", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsxen-xss-"));
  const path = xenstoredSocketPath(dir);
  const first = await startXenstoredService({ socketPath: path });
  assert.ok(existsSync(path));
  await first.stop();
  assert.equal(existsSync(path), false);
  const second = await startXenstoredService({ socketPath: path });
  const c = await RawClient.open(path);
  c.socket.destroy();
  await second.stop();
  rmSync(dir, { recursive: true, force: true });
});
