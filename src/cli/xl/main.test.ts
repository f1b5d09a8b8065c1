import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { runXl } from "./main.ts";
import { COMMANDS } from "./commands.ts";
import { testTempDir } from "../../testing/temp_dir.ts";

async function xl(args: string[]) {
  let stdout = "";
  let stderr = "";
  const stdin = new PassThrough();
  stdin.end();
  // A home with no daemon: commands here must fail before, or instead of, starting one.
  const env = { ...process.env, TSXEN_HOME: join(testTempDir("tsxen-main-"), "home") };
  const code = await runXl(args, {
    stdout: { write: (d: string | Uint8Array) => (stdout += d.toString()) },
    stderr: { write: (d: string | Uint8Array) => (stderr += d.toString()) },
    stdin, env, cwd: tmpdir(),
  });
  return { code, stdout, stderr };
}

test("xl help lists every command in the table", async () => {
  const r = await xl(["help"]);
  assert.equal(r.code, 0);
  for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.name} `, "m"));
});

test("xl with no command prints help on stderr and exits 2", async () => {
  const r = await xl([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^Usage: xl <subcommand>/);
});

test("an unknown command exits 2 naming it", async () => {
  const r = await xl(["frob"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'xl: unknown command "frob"; see "xl help"\n');
});

test("xl help CMD and CMD --help print the command's usage", async () => {
  const a = await xl(["help", "create"]);
  assert.match(a.stdout, /^Usage: xl create \[-c\] <ConfigFile> \[key=value\.\.\.\]\n/);
  const b = await xl(["list", "--help"]);
  assert.equal(b.code, 0);
  assert.match(b.stdout, /^Usage: xl list \[-l\] \[Domain\.\.\.\]/);
});

test("xl create with a missing config file exits 3 before contacting the daemon", async () => {
  const r = await xl(["create", "/nonexistent/g.cfg"]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr, "Parsing config from /nonexistent/g.cfg\n/nonexistent/g.cfg: Cannot read config: file does not exist\n");
});

test("xl domname rejects a non-number as a usage error", async () => {
  const r = await xl(["domname", "web"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /"web" is not a domain id/);
});

test("xl shutdown checks its arguments before looking for the daemon", async () => {
  const r = await xl(["shutdown"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "xl shutdown: missing argument\nUsage: xl shutdown [-w] <Domain> | -a [-w]\n");
});
