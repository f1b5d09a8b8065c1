// xl xenstore-* through bin/xl against the real daemon (started on demand in a temp $TSXEN_HOME), and the same store
// seen through Debian's xenstore-ls when xenstore-utils is installed on the host.

import { test } from "node:test";
import assert from "node:assert/strict";
import { XL, xlBinHome } from "../support/xl_bin.ts";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const DEBIAN_LS = "/usr/bin/xenstore-ls";
const { home, env, xl } = xlBinHome("tsxen-xs-");
const socket = join(home, "xenstored", "socket");

test("xenstore-write starts the daemon on demand; xenstore-read gives the values back, one a line", () => {
  const w = xl("xenstore-write", "/it/a", "1", "/it/b/c", "x\\y", "/it/ctl", "t\tq\u0001");
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, "");
  assert.ok(existsSync(join(home, "tsxend.pid")));
  const r = xl("xenstore-read", "/it/a", "/it/b/c", "/it/ctl");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "1\nx\\\\y\nt\\tq\\001\n");
});

test("xenstore-ls prints the subtree indented by depth; -p adds permissions; xenstore-list lists children", () => {
  const ls = xl("xenstore-ls", "/it");
  assert.equal(ls.code, 0, ls.stderr);
  assert.equal(ls.stdout, 'a = "1"\nb = ""\n c = "x\\\\y"\nctl = "t\\tq\\001"\n');
  const c = xl("xenstore-chmod", "/it/a", "n0", "r1");
  assert.equal(c.code, 0, c.stderr);
  const lp = xl("xenstore-ls", "-p", "/it");
  assert.match(lp.stdout, /^a = "1" {2}[. ]+ {2}\(n0,r1\)\nb = "" [. ]+ {2}\(n0\)\n/);
  const l = xl("xenstore-list", "/it");
  assert.equal(l.stdout, "a\nb\nctl\n");
  const root = xl("xenstore-ls");
  assert.match(root.stdout, /^local = ""\n domain = ""\n {2}0 = ""\n/m);
});

test("xl xenstore-ls output is byte for byte Debian's xenstore-ls output", (t) => {
  if (!existsSync(DEBIAN_LS)) {
    t.skip(`${DEBIAN_LS} is not installed (Debian package xenstore-utils): comparison with Debian's tool skipped`);
    return;
  }
  xl("xenstore-write", "/it/long", "v".repeat(200), "/it/esc", "\u0008\u001b\u007f\u00e9");
  for (const args of [[], ["/it"], ["-p"], ["-p", "/it"]]) {
    const ours = xl("xenstore-ls", ...args);
    const deb = spawnSync(DEBIAN_LS, args, { env: { ...env, XENSTORED_PATH: socket }, encoding: "utf8", timeout: 30_000 });
    assert.equal(deb.status, 0, deb.stderr);
    assert.equal(ours.stdout, deb.stdout, `xenstore-ls ${args.join(" ")}`);
  }
});

test("errors name the path and the errno in one line and exit 1", () => {
  const r = xl("xenstore-read", "/nope");
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'xl: xenstore-read "/nope": ENOENT (no such node)\n');
  const ls = xl("xenstore-ls", "/nope");
  assert.equal(ls.code, 1);
  assert.equal(ls.stderr, 'xl: xenstore-ls "/nope": ENOENT (no such node)\n');
  const u = xl("xenstore-chmod", "/it/a", "q1");
  assert.equal(u.code, 2);
});

test("xenstore-watch -n prints the fire on registration, then each change under the path", async () => {
  const child = spawn(XL, ["xenstore-watch", "-n", "3", "/it"], { env, cwd: tmpdir() });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no first watch event; stderr: ${err}`)), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  assert.equal(xl("xenstore-write", "/it/a", "2").code, 0);
  assert.equal(xl("xenstore-rm", "/it/b").code, 0);
  const timer = setTimeout(() => child.kill(), 30_000);
  assert.equal(await code, 0, err);
  clearTimeout(timer);
  assert.equal(out, "/it\n/it/a\n/it/b\n");
});

test("xenstore-rm removes the subtree; the daemon stops cleanly afterwards", () => {
  assert.equal(xl("xenstore-rm", "/it").code, 0);
  const r = xl("xenstore-read", "/it/a");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ENOENT/);
  assert.equal(xl("daemon", "stop").code, 0);
});
