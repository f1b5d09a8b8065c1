// The tiny guests through `bin/xl` and the real daemon with accel = "kvm": console text, shutdown
// reasons and on_* policies, a triple fault, two domains at once, pause/unpause, destroy of a spinner.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { kvmBackend } from "../../src/accel/kvm/backend.ts";
import { buildTinyGuest } from "../guests/build.ts";
import { testTempDir } from "../../src/testing/temp_dir.ts";

const probe = existsSync("/dev/kvm") ? kvmBackend.probe() : null;
const skip = probe === null ? "/dev/kvm is missing on this host" : probe.usable ? false : `kvm backend unusable: ${probe.reason}`;

const XL = fileURLToPath(new URL("../../bin/xl", import.meta.url));
const dir = testTempDir("tsxen-kvm-xl-");
const home = join(dir, "home");
const env = { ...process.env, TSXEN_HOME: home };
const cfg = join(dir, "tiny.cfg");

function xl(...args: string[]) {
  const r = spawnSync(XL, args, { env, cwd: dir, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function listed(): { name: string; state: string; stateKind: string; accel?: string }[] {
  const r = xl("list", "-l");
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 15000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (!skip) {
  writeFileSync(
    cfg,
    [
      `# tiny test guest on kvm`,
      `name = "tiny"`,
      `type = "pvh"`,
      `memory = 16`,
      `vcpus = 1`,
      `kernel = "${buildTinyGuest().elf64}"`,
      `cmdline = "reason=poweroff"`,
      `accel = "kvm"`,
      "",
    ].join("\n"),
  );
}

after(() => {
  if (skip) return;
  xl("daemon", "stop");
  const pidFile = join(home, "tsxend.pid");
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
    } catch {
      // already gone
    }
  }
});

test("xl create -c runs the tiny guest on kvm, shows its console and returns when it powers off", { skip }, () => {
  const r = xl("create", "-c", cfg, "name=tiny-c");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /hello from the PVH guest via port 0xe9/);
  assert.match(r.stdout, /hello via console_io/);
  assert.match(r.stdout, /xen version 4\.17/);
  assert.match(r.stdout, /RESULT: PASS/);
  assert.match(r.stderr, /accel kvm/);
  assert.equal(listed().some((d) => d.name === "tiny-c"), false, "on_poweroff=destroy removed it");
});

test("a guest reboot with on_reboot=destroy ends the domain; a crash with on_crash=preserve keeps it", { skip }, async () => {
  const a = xl("create", "-c", cfg, "name=rb", 'cmdline="reason=reboot"', "on_reboot=destroy");
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /shutdown reason 1/);
  assert.equal(listed().some((d) => d.name === "rb"), false);

  const c = xl("create", cfg, "name=cr", 'cmdline="reason=crash"', "on_crash=preserve");
  assert.equal(c.code, 0, c.stderr);
  const dom = await until("the crashed domain", () => listed().find((d) => d.name === "cr" && d.stateKind !== "running"));
  assert.match(dom.state, /c/);
  assert.equal(xl("destroy", "cr").code, 0);
});

test("a triple fault ends the domain as crashed with a register dump in xl dmesg; other domains carry on", { skip }, async () => {
  assert.equal(xl("create", cfg, "name=spinner", 'cmdline="spin"').code, 0);
  assert.equal(xl("create", cfg, "name=faulty", 'cmdline="fault"', "on_crash=preserve").code, 0);
  await until("the crash", () => listed().find((d) => d.name === "faulty" && /c/.test(d.state)));
  const dmesg = xl("dmesg").stdout;
  assert.match(dmesg, /triple fault/);
  assert.match(dmesg, /rip=[0-9a-f]{16}/);
  const spinner = listed().find((d) => d.name === "spinner");
  assert.equal(spinner?.stateKind, "running");
  assert.equal(spinner?.accel, "kvm");
  assert.equal(xl("destroy", "faulty").code, 0);
  assert.equal(xl("destroy", "spinner").code, 0);
});

test("two spinning domains run at once; pause and unpause one; destroy both", { skip }, async () => {
  assert.equal(xl("create", cfg, "name=s1", 'cmdline="spin"').code, 0);
  assert.equal(xl("create", cfg, "name=s2", 'cmdline="spin"').code, 0);
  const names = listed().map((d) => d.name);
  assert.ok(names.includes("s1") && names.includes("s2"), names.join(","));
  const paused = xl("pause", "s1");
  assert.equal(paused.code, 0, paused.stderr);
  const s1 = (): string => JSON.stringify(listed().find((d) => d.name === "s1"));
  assert.match(s1(), /"state":"[^"]*p/, "s1 is paused");
  const unpaused = xl("unpause", "s1");
  assert.equal(unpaused.code, 0, unpaused.stderr);
  assert.doesNotMatch(s1(), /"state":"[^"]*p/, "s1 runs again");
  const t0 = Date.now();
  for (const name of ["s1", "s2"]) {
    const r = xl("destroy", name);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(Date.now() - t0 < 20000, `destroying two spinning guests took ${Date.now() - t0} ms`);
  assert.deepEqual(listed().filter((d) => d.name === "s1" || d.name === "s2"), []);
});
