// xl ⇄ daemon plumbing with a fake backend (src/testing/): every command, errors and exit codes.
// Real guests on real backends are covered by the backend's own integration tests.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { startXlHarness } from "../../src/testing/xl_harness.ts";

const h = await startXlHarness({ poolMiB: 1024 });
after(() => h.close());

async function names(): Promise<string[]> {
  const r = await h.xl(["list"]);
  return r.stdout.trim().split("\n").slice(1).map((l) => l.split(/\s+/)[0]!);
}

async function state(dom: string): Promise<string> {
  const r = await h.xl(["list", dom]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n")[1]!.split(/\s+/)[4]!;
}

test("xl create -c shows the console from the first line and returns when the guest powers off", async () => {
  const cfg = h.guest("hello", "print hello from the guest\\n\nprint second line\\n\nshutdown poweroff");
  const r = await h.xl(["create", "-c", cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hello from the guest\nsecond line\n");
  assert.match(r.stderr, /^Parsing config from .*hello\.cfg\naccel emu: requested in the config\nStarted domain hello \(id=\d+\)\n$/);
  assert.deepEqual(await names(), ["Domain-0"]);
  const logFile = join(h.daemon.paths.consoleDir, "guest-hello.log");
  const readLog = (): string => { try { return readFileSync(logFile, "utf8"); } catch { return ""; } };
  for (let i = 0; i < 50 && !readLog().includes("second line"); i++) await delay(20);
  assert.equal(readLog(), "hello from the guest\nsecond line\n");
});

test("xl list shows running domains and -l prints JSON with the config", async () => {
  const cfg = h.guest("lister", "spin", "vcpus = 2\n");
  assert.equal((await h.xl(["create", cfg])).code, 0);
  const r = await h.xl(["list"]);
  assert.match(r.stdout, /^Name\s+ID\s+Mem\s+VCPUs\tState\tTime\(s\)\n/);
  assert.match(r.stdout, /\nDomain-0\s+0\s+\d+\s+\d+\s+r-----\s+[\d.]+\n/);
  assert.match(r.stdout, /\nlister\s+\d+\s+64\s+2\s+r-----\s+[\d.]+\n/);
  const l = JSON.parse((await h.xl(["list", "-l", "lister"])).stdout) as { name: string; config: { vcpus: number } }[];
  assert.equal(l[0]!.name, "lister");
  assert.equal(l[0]!.config.vcpus, 2);
  assert.equal((await h.xl(["destroy", "lister"])).code, 0);
});

test("bad config input gives a one-line error with file and line, exit 3, and creates nothing", async () => {
  const cfg = h.guest("badcfg", "spin", "vcpus = many\n");
  const r = await h.xl(["create", cfg]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr.split("\n").filter(Boolean).at(-1), `${cfg}:5: vcpus = many: strings need quotes ("many")`);
  const o = await h.xl(["create", h.guest("badover", "spin"), "memroy=12"]);
  assert.equal(o.code, 3);
  assert.match(o.stderr, /command line:1: unknown setting "memroy" \(did you mean "memory"\?\)/);
  assert.deepEqual(await names(), ["Domain-0"]);
});

test("a kernel that is neither ELF nor bzImage fails with exit 1 and one line", async () => {
  const cfg = h.guest("junk", "spin");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(h.dir, "junk.guest"), "MZ not a kernel");
  const r = await h.xl(["create", cfg]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot load kernel ".*junk\.guest": it is neither an ELF file nor a bzImage\n$/);
  assert.deepEqual(await names(), ["Domain-0"]);
});

test("a duplicate name exits 6 and memory that does not fit exits 7", async () => {
  const cfg = h.guest("dup", "spin");
  assert.equal((await h.xl(["create", cfg])).code, 0);
  const d = await h.xl(["create", cfg]);
  assert.equal(d.code, 6);
  assert.match(d.stderr, /Cannot create domain "dup": a domain with that name already exists\n$/);
  const m = await h.xl(["create", h.guest("huge", "spin"), "memory=4096"]);
  assert.equal(m.code, 7);
  assert.match(m.stderr, /Cannot create domain "huge": it needs 4096 MiB but the host pool has 960 MiB free of 1024 MiB\n$/);
  await h.xl(["destroy", "dup"]);
});

test("pause and unpause change the state; a wrong request names the domain", async () => {
  assert.equal((await h.xl(["create", h.guest("pz", "spin")])).code, 0);
  assert.equal((await h.xl(["pause", "pz"])).code, 0);
  assert.equal(await state("pz"), "--p---");
  const again = await h.xl(["pause", "pz"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /Cannot pause domain "pz" \(id \d+\): it is paused/);
  assert.equal((await h.xl(["unpause", "pz"])).code, 0);
  assert.equal(await state("pz"), "r-----");
  await h.xl(["destroy", "pz"]);
});

test("xl shutdown -w with on_poweroff=preserve leaves the domain shut down; destroy removes it", async () => {
  assert.equal((await h.xl(["create", h.guest("keep", "spin", 'on_poweroff = "preserve"\n')])).code, 0);
  const r = await h.xl(["shutdown", "-w", "keep"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Shutting down domain \d+: preserved \(on_poweroff\)/);
  assert.equal(await state("keep"), "---s--");
  assert.equal((await h.xl(["destroy", "keep"])).code, 0);
  assert.ok(!(await names()).includes("keep"));
});

test("xl reboot restarts the domain under a new domid", async () => {
  assert.equal((await h.xl(["create", h.guest("rb", "spin")])).code, 0);
  const before = Number((await h.xl(["domid", "rb"])).stdout);
  assert.equal((await h.xl(["reboot", "rb"])).code, 0);
  await delay(50);
  const after = Number((await h.xl(["domid", "rb"])).stdout);
  assert.ok(after > before, `${after} > ${before}`);
  assert.equal((await h.xl(["domname", String(after)])).stdout, "rb\n");
  await h.xl(["destroy", "rb"]);
});

test("a guest that crashes ends up in dmesg with its registers while another domain keeps running", async () => {
  assert.equal((await h.xl(["create", h.guest("steady", "spin")])).code, 0);
  const c = await h.xl(["create", "-c", h.guest("crasher", "print about to crash\\n\ncrash triple fault")]);
  assert.equal(c.code, 0);
  assert.equal(c.stdout, "about to crash\n");
  const dm = (await h.xl(["dmesg"])).stdout;
  assert.match(dm, /\(XEN\) \[\s*[\d.]+\] d\d+: domain crashed: triple fault/);
  assert.match(dm, /d\d+:   rip=0000000000001000/);
  assert.equal(await state("steady"), "r-----");
  await h.xl(["destroy", "steady"]);
});

test("on_crash=preserve keeps a crashed domain listed as crashed", async () => {
  assert.equal((await h.xl(["create", h.guest("cp", "crash oops", 'on_crash = "preserve"\n')])).code, 0);
  await delay(30);
  assert.equal(await state("cp"), "----c-");
  await h.xl(["destroy", "cp"]);
});

test("xl console forwards keystrokes and detaches on Ctrl-]", async () => {
  assert.equal((await h.xl(["create", h.guest("echo", "print login:\necho\nspin")])).code, 0);
  const stdin = new PassThrough();
  const run = h.xl(["console", "echo"], { stdin });
  await delay(50);
  stdin.write("root\r");
  await delay(50);
  stdin.write(Buffer.from([0x1d]));
  const r = await run;
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "login:root\r");
  assert.deepEqual([...h.emu.executions.at(-1)!.input], [...Buffer.from("root\r")]);
  assert.equal(await state("echo"), "r-----");
  await h.xl(["destroy", "echo"]);
});

test("xl console ends when the domain is destroyed", async () => {
  assert.equal((await h.xl(["create", h.guest("gone", "spin")])).code, 0);
  const stdin = new PassThrough();
  const run = h.xl(["console", "gone"], { stdin });
  await delay(50);
  await h.xl(["destroy", "gone"]);
  assert.equal((await run).code, 0);
});

test("unknown domains exit 4 and name the domain", async () => {
  for (const cmd of ["destroy", "pause", "unpause", "shutdown", "reboot", "console"]) {
    const r = await h.xl([cmd, "nosuch"]);
    assert.equal(r.code, 4, cmd);
    assert.equal(r.stderr, 'Domain "nosuch" does not exist\n', cmd);
  }
  assert.equal((await h.xl(["domid", "nosuch"])).code, 4);
  assert.equal((await h.xl(["domname", "4242"])).code, 4);
  assert.equal((await h.xl(["list", "nosuch"])).code, 4);
});

test("Domain-0 is listed and protected", async () => {
  assert.equal((await h.xl(["domid", "Domain-0"])).stdout, "0\n");
  assert.equal((await h.xl(["domname", "0"])).stdout, "Domain-0\n");
  const r = await h.xl(["destroy", "0"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Domain-0 cannot be controlled this way/);
});

test("xl info, uptime and dmesg report the host and the daemon", async () => {
  const i = await h.xl(["info"]);
  assert.equal(i.code, 0);
  assert.match(i.stdout, /^host\s+: /m);
  assert.match(i.stdout, /^nr_cpus\s+: \d+$/m);
  assert.match(i.stdout, /^free_memory\s+: \d+$/m);
  assert.match(i.stdout, /^accel_emu\s+: usable for full guests \(fake emu \(test double\)\)$/m);
  assert.match(i.stdout, /^accel_kvm\s+: not available \(not wired in this test\)$/m);
  assert.match(i.stdout, /^accel_auto\s+: emu \(kvm is not available/m);
  const u = await h.xl(["uptime"]);
  assert.match(u.stdout, /^Name\s+ID Uptime\nDomain-0\s+0 \d+:\d\d:\d\d\n/);
  assert.match((await h.xl(["dmesg"])).stdout, /listening on/);
});

test("many domains run at once", async () => {
  for (let i = 0; i < 8; i++) assert.equal((await h.xl(["create", h.guest(`m${i}`, "spin"), "memory=16"])).code, 0);
  const n = await names();
  for (let i = 0; i < 8; i++) assert.ok(n.includes(`m${i}`));
  for (let i = 0; i < 8; i++) assert.equal((await h.xl(["destroy", `m${i}`])).code, 0);
  assert.deepEqual(await names(), ["Domain-0"]);
});

test("a malformed request on the socket gets an error reply and the daemon keeps serving", async () => {
  const { createConnection } = await import("node:net");
  const s = createConnection(h.daemon.paths.socket);
  const reply = await new Promise<string>((resolve) => {
    s.on("data", (d) => resolve(d.toString()));
    s.write("not json\n");
  });
  s.destroy();
  assert.deepEqual(JSON.parse(reply), { id: 0, ok: false, error: { kind: "protocol", message: "request is not JSON" } });
  assert.equal((await h.xl(["list"])).code, 0);
});

test("xl create -c returns when the guest shuts down and on_poweroff=preserve keeps it", async () => {
  const r = await h.xl(["create", "-c", h.guest("pres", "print bye\\n\nshutdown poweroff", 'on_poweroff = "preserve"\n')]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "bye\n");
  assert.equal(await state("pres"), "---s--");
  await h.xl(["destroy", "pres"]);
});

test("xl create -c follows a rename-restart to the new domain", async () => {
  const cfg = h.guest("rr", "print boot\\n\nspin", 'on_crash = "rename-restart"\n');
  const stdin = new PassThrough();
  const run = h.xl(["create", "-c", cfg], { stdin });
  await delay(50);
  h.emu.last.guestCrash("oops");
  await delay(50);
  const n = await names();
  assert.ok(n.includes("rr"), n.join());
  assert.ok(n.some((x) => /^rr--\d+$/.test(x)), n.join());
  stdin.write(Buffer.from([0x1d]));
  const r = await run;
  assert.equal(r.stdout, "boot\nboot\n");
  for (const x of await names()) if (x.startsWith("rr")) await h.xl(["destroy", x]);
});

test("requests the daemon cannot serve get typed error replies and change nothing", async () => {
  const { DaemonClient } = await import("../../src/cli/xl/daemon_client.ts");
  const c = await DaemonClient.connect(h.daemon.paths.socket);
  try {
    await assert.rejects(c.request("frobnicate" as "ping"), { kind: "protocol", message: 'unknown operation "frobnicate"' });
    await assert.rejects(c.request("destroy", {} as { dom: string }), { kind: "protocol", message: 'argument "dom" must be a non-empty string' });
    await assert.rejects(c.request("domname", { domid: "x" as unknown as number }), { kind: "protocol" });
    const bad = { name: "evil", type: "pv", memoryMiB: 1, maxmemMiB: 1, vcpus: 1, kernel: "/k", cmdline: "", serial: "pty", accel: "emu",
      onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy", onWatchdog: "destroy", onSoftReset: "restart" };
    await assert.rejects(c.request("create", { config: bad as never }), { kind: "config", message: 'request: type = "pv": expected "pvh" or "hvm"' });
    assert.deepEqual(((await c.request("list", {})) as { name: string }[]).map((d) => d.name), ["Domain-0"]);
  } finally {
    c.close();
  }
});

test("xl shutdown -a shuts down every running domain", async () => {
  for (const n of ["sa1", "sa2"]) assert.equal((await h.xl(["create", h.guest(n, "spin")])).code, 0);
  const r = await h.xl(["shutdown", "-a", "-w"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.split("\n").filter((l) => l.startsWith("Shutting down")).length, 2);
  assert.deepEqual(await names(), ["Domain-0"]);
  assert.equal((await h.xl(["shutdown", "-a", "x"])).code, 2);
});

test("garbage on the socket gets only error replies and the daemon keeps serving", async () => {
  const { createConnection } = await import("node:net");
  const s = createConnection(h.daemon.paths.socket);
  let replies = "";
  s.on("data", (d) => (replies += d.toString()));
  await new Promise((r) => s.once("connect", r));
  const samples = [
    "{}", "[]", "null", "1", '{"id":1}', '{"id":2,"op":"destroy"}', '{"id":3,"op":"destroy","args":[]}',
    '{"id":4,"op":"create","args":{"config":{"name":"x"}}}', '{"id":5,"op":"console.input","args":{"data":"AAAA"}}',
    '{"id":6,"op":"shutdown","args":{"dom":"\\u0000"}}', '{"id":"7","op":"list"}', '{"id":8,"op":"pause","args":{"dom":5}}',
  ];
  for (let i = 0; i < 200; i++) s.write(samples[i % samples.length] + "\n");
  await delay(200);
  s.destroy();
  for (const line of replies.trim().split("\n")) {
    const m = JSON.parse(line) as { ok: boolean; error?: { kind: string } };
    assert.equal(m.ok, false, line);
    assert.ok(["protocol", "config", "not_found", "invalid"].includes(m.error!.kind), line);
  }
  assert.deepEqual(await names(), ["Domain-0"]);
});
