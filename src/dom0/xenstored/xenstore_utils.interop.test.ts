// Interop: Debian's xenstore-utils (libxenstore 4.17) against our socket server. Skipped when the tools are not
// installed (scripts/install-test-deps.sh installs them). The tools find us through XENSTORED_PATH.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { XenstoreClient } from "./client.ts";
import { createDomainLayout } from "./domain_layout.ts";
import { startXenstoredSocket, type XenstoredSocketServer } from "./socket_server.ts";
import { Xenstored } from "./xenstored.ts";
import { testTempDir } from "../../testing/temp_dir.ts";

const TOOLS = ["xenstore-read", "xenstore-write", "xenstore-ls", "xenstore-rm", "xenstore-list", "xenstore-watch", "xenstore-chmod", "xenstore-exists"];
const toolDir = ["/usr/bin", "/usr/sbin", "/usr/local/bin"].find((d) => existsSync(join(d, "xenstore-read")));
const skip = toolDir === undefined ? "xenstore-utils not installed (run scripts/install-test-deps.sh)" : false;

let dir: string;
let server: XenstoredSocketServer;
let xenstored: Xenstored;
let client: XenstoreClient;

function run(tool: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(toolDir!, tool), args, { env: { ...process.env, XENSTORED_PATH: server.socketPath }, timeout: 10_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

before(async () => {
  if (skip) return;
  dir = testTempDir("tsxen-xs-");
  xenstored = new Xenstored({ strict: true });
  server = await startXenstoredSocket(xenstored, join(dir, "socket"));
  client = new XenstoreClient(xenstored);
});

after(async () => {
  if (skip) return;
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("all xenstore-utils tools used here are present", { skip }, () => {
  for (const t of TOOLS) assert.ok(existsSync(join(toolDir!, t)), t);
});

test("xenstore-write stores values that xenstore-read and the in-process client read back", { skip }, async () => {
  assert.equal((await run("xenstore-write", "/interop/a", "hello", "/interop/b", "wor ld")).code, 0);
  assert.equal((await run("xenstore-read", "/interop/a")).stdout, "hello\n");
  assert.equal(client.read("/interop/b"), "wor ld");
  client.write("/interop/c", "from-ts");
  assert.equal((await run("xenstore-read", "/interop/c")).stdout, "from-ts\n");
});

test("xenstore-read of a missing node fails with a message", { skip }, async () => {
  const r = await run("xenstore-read", "/interop/missing");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /couldn't read path \/interop\/missing/);
});

test("xenstore-ls lists the whole tree, xenstore-list one directory", { skip }, async () => {
  client.write("/interop2/x/y", "1");
  client.write("/interop2/z", "two");
  const ls = await run("xenstore-ls", "/interop2");
  assert.equal(ls.code, 0);
  assert.equal(ls.stdout, 'x = ""\n y = "1"\nz = "two"\n');
  const all = await run("xenstore-ls");
  assert.match(all.stdout, /^tool = ""\n xenstored = ""\n/);
  assert.match(all.stdout, /\ninterop2 = ""\n x = ""\n  y = "1"\n z = "two"\n/);
  assert.equal((await run("xenstore-list", "/interop2")).stdout, "x\nz\n");
});

test("xenstore-chmod and xenstore-ls -p show permissions", { skip }, async () => {
  client.write("/interop3/node", "v");
  assert.equal((await run("xenstore-chmod", "/interop3/node", "n0", "r5", "b7")).code, 0);
  assert.deepEqual(client.getPerms("/interop3/node"), [{ domid: 0, access: 0 }, { domid: 5, access: 1 }, { domid: 7, access: 3 }]);
  const ls = await run("xenstore-ls", "-p", "/interop3");
  assert.match(ls.stdout, /^node = "v" [ .]+\(n0,r5,b7\)\n$/);
});

test("xenstore-rm removes a subtree and xenstore-exists sees it gone", { skip }, async () => {
  client.write("/interop4/sub/leaf", "1");
  assert.equal((await run("xenstore-exists", "/interop4/sub/leaf")).code, 0);
  assert.equal((await run("xenstore-rm", "/interop4/sub")).code, 0);
  assert.notEqual((await run("xenstore-exists", "/interop4/sub/leaf")).code, 0);
  assert.deepEqual(client.directory("/interop4"), []);
});

test("xenstore-watch prints the initial event and then a change made in-process", { skip }, async () => {
  client.mkdir("/interop5");
  const child = spawn(join(toolDir!, "xenstore-watch"), ["-n", "2", "/interop5"], { env: { ...process.env, XENSTORED_PATH: server.socketPath } });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 5000;
  while (!out.includes("/interop5\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  client.write("/interop5/changed", "1");
  const timer = setTimeout(() => child.kill(), 5000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 0);
  assert.equal(out, "/interop5\n/interop5/changed\n");
});

test("concurrent xenstore-write processes on one directory all succeed (libxenstore retries its transactions on EAGAIN)", { skip }, async () => {
  client.mkdir("/interop7");
  const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => run("xenstore-write", `/interop7/k${i}`, `v${i}`, `/interop7/shared`, `w${i}`)));
  assert.deepEqual(runs.map((r) => r.code), Array(8).fill(0));
  assert.equal(client.directory("/interop7").length, 9);
  for (let i = 0; i < 8; i++) assert.equal(client.read(`/interop7/k${i}`), `v${i}`);
});

test("the domain layout written by the toolstack reads back through the tools with its permissions", { skip }, async () => {
  createDomainLayout(client, { domid: 3, name: "guest", uuid: "00000000-0000-0000-0000-000000000003", memoryKiB: 262144 });
  assert.equal((await run("xenstore-read", "/local/domain/3/name")).stdout, "guest\n");
  assert.equal((await run("xenstore-read", "/local/domain/3/memory/target")).stdout, "262144\n");
  const ls = await run("xenstore-ls", "-p", "/local/domain/3");
  assert.match(ls.stdout, /\ndevice = "" [ .]+\(n3\)\n/);
  assert.match(ls.stdout, /\nname = "guest" [ .]+\(n0,r3\)\n/);
});

test("a many-node directory lists completely through xenstore-ls (DIRECTORY_PART)", { skip }, async () => {
  for (let i = 0; i < 400; i++) client.mkdir(`/interop6/a-fairly-long-child-name-${String(i).padStart(4, "0")}`);
  const list = await run("xenstore-list", "/interop6");
  assert.equal(list.code, 0);
  assert.equal(list.stdout.trim().split("\n").length, 400);
});
