// bin/xl as a user runs it: from another cwd, starting the real daemon on demand in a temp $TSXEN_HOME.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const XL = fileURLToPath(new URL("../../bin/xl", import.meta.url));
const home = join(mkdtempSync(join(tmpdir(), "tsxen-bin-")), "home");
const env = { ...process.env, TSXEN_HOME: home };

function xl(...args: string[]) {
  const r = spawnSync(XL, args, { env, cwd: tmpdir(), encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

after(() => {
  // Stop the daemon this test started, by its own pid file, if a test failed before `xl daemon stop`.
  const pidFile = join(home, "tsxend.pid");
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
    } catch {
      // already gone
    }
  }
});

test("commands that need a domain say the daemon is not running (exit 5)", () => {
  const r = xl("pause", "web");
  assert.equal(r.code, 5);
  assert.equal(r.stderr, `tsxen daemon is not running (no daemon on "${join(home, "tsxend.sock")}")\n`);
});

test("xl list starts the daemon on demand from any cwd; daemon start/stop report running/not running", () => {
  const l = xl("list");
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /^Name\s+ID\s+Mem\s+VCPUs\tState\tTime\(s\)\nDomain-0\s+0 /);
  assert.ok(existsSync(join(home, "daemon.log")));
  const again = xl("daemon", "start");
  assert.equal(again.code, 5);
  assert.match(again.stderr, /^tsxen daemon is already running \(pid \d+, socket ".*tsxend\.sock"\)\n$/);
  const st = xl("daemon", "status");
  assert.equal(st.code, 0);
  const stop = xl("daemon", "stop");
  assert.equal(stop.code, 0, stop.stderr);
  const stop2 = xl("daemon", "stop");
  assert.equal(stop2.code, 5);
  assert.match(stop2.stderr, /tsxen daemon is not running/);
});

test("usage errors exit 2 with the command's usage", () => {
  const r = xl("pause");
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "xl pause: missing argument\nUsage: xl pause <Domain>\n");
});
