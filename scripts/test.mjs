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
const files = [...walk("src", []), ...walk("test", [])].filter(
  (f) => filters.length === 0 || filters.some((s) => f.includes(s)),
).sort();
// A test file that hangs fails after 30 minutes instead of stalling CI (booting Linux on emu is slow).
run("node", ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=1800000", ...files]);
