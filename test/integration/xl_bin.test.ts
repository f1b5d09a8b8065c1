// bin/xl as a user runs it: from another cwd, starting the real daemon on demand in a temp $TSXEN_HOME.

import { test } from "node:test";
import assert from "node:assert/strict";
import { xlBinHome } from "../support/xl_bin.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";

const { home, xl } = xlBinHome("tsxen-bin-");

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
