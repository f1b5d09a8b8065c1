#!/usr/bin/env node
// npm test: type-check, import-rule check, then every *.test.ts under src/ and test/ with node:test.
// Usage: npm test [-- <path filter substring>...]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const filters = process.argv.slice(2);
function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}
function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.error) {
    console.error(`npm test: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (filters.length === 0) {
  run("npx", ["tsc", "--noEmit", "-p", "."]);
  run("node", ["scripts/check-imports.mjs"]);
}
// The stock Debian guest (kernel, busybox, xenstore-utils for the guest) that the Linux tests boot: fetched
// once here with apt-get download, so that parallel test files find it ready. Without apt (or offline) the
// tests that need it report themselves as skipped.
const fetched = spawnSync("sh", ["scripts/fetch-guest.sh", "--xenstore"], { stdio: "inherit" });
if (fetched.status !== 0) console.error("npm test: could not fetch the Debian guest; the tests that boot it will skip");
const files = [...walk("src", []), ...walk("test", [])].filter(
  (f) => filters.length === 0 || filters.some((s) => f.includes(s)),
).sort();
// A test file that hangs fails after 30 minutes instead of stalling CI (booting Linux on emu is slow).
run("node", ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=1800000", ...files]);
