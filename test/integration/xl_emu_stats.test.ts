// emu_jit in an xl.cfg and `xl emu-stats` end to end: bin/xl, the real daemon in a temp $TSXEN_HOME, the tiny
// guest spinning on emu. The profile travels xl → daemon → toolstack → emu backend → the domain's emu thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { buildTinyGuest } from "../guests/build.ts";
import { xlBinHome } from "../support/xl_bin.ts";
import { testTempDir } from "../../src/testing/temp_dir.ts";

const { xl } = xlBinHome("tsxen-emustats-");
const dir = testTempDir("tsxen-emustats-cfg-");

function cfg(name: string, jitLine: string): string {
  const p = join(dir, `${name}.cfg`);
  writeFileSync(p, `name = "${name}"\nkernel = "${buildTinyGuest().elf64}"\nmemory = 16\naccel = "emu"\nextra = "spin"\n${jitLine}\n`);
  return p;
}

test("a bad emu_jit value stops xl create with a one-line config error naming file, line, key and value (exit 3)", () => {
  const p = cfg("bad", "emu_jit = 2");
  const r = xl("create", p);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stderr, `Parsing config from ${p}\n${p}:6: emu_jit = 2: expected 0 or 1 (or "true"/"false")\n`);
});

test("emu_jit = 1 runs the domain on the JIT; xl emu-stats prints its profile, with symbols, as JSON and over an interval", async () => {
  const created = xl("create", cfg("spinjit", "emu_jit = 1"));
  assert.equal(created.code, 0, created.stderr);
  await delay(1500);
  const syms = join(dir, "kallsyms");
  writeFileSync(syms, "0000000000100000 T tiny_image\n");
  const r = xl("emu-stats", "spinjit", "--syms", syms);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Domain \d+ \(spinjit\), since it started:\nemu profile: [\d,]+ instructions retired .* MIPS busy, .*; block JIT\n/);
  assert.match(r.stdout, /\nexits: [\d,]+ \(.*\/s\): pio [\d,]+/);
  assert.match(r.stdout, /\nJIT cache hit rate: /);
  assert.match(r.stdout, /\n {2}00000000001[0-9a-f]{5} tiny_image\+0x[0-9a-f]+ /, "RIPs in the guest's image are named");
  const j = xl("emu-stats", "-j", "spinjit");
  assert.equal(j.code, 0, j.stderr);
  const parsed = JSON.parse(j.stdout) as { name: string; profile: { jit: boolean; instructions: number } };
  assert.equal(parsed.name, "spinjit");
  assert.equal(parsed.profile.jit, true);
  assert.ok(parsed.profile.instructions > 0);
  const iv = xl("emu-stats", "spinjit", "--interval", "0.5");
  assert.equal(iv.code, 0, iv.stderr);
  assert.match(iv.stdout, /^Domain \d+ \(spinjit\), the last 0\.5 s:\nemu profile: [\d,]+ instructions retired in 0\.\d s/);
  const long = xl("list", "-l", "spinjit");
  assert.equal(long.code, 0, long.stderr);
  assert.match(long.stdout, /"emuJit": true/);
  const dmesg = xl("dmesg");
  assert.match(dmesg.stdout, /emu: block JIT \(emu_jit = 1\)/);
  assert.equal(xl("destroy", "spinjit").code, 0);
});

test("emu_jit = 0 interprets; xl emu-stats on a missing domain exits 4", async () => {
  assert.equal(xl("create", cfg("spininterp", "emu_jit = 0")).code, 0);
  await delay(1000);
  const r = xl("emu-stats", "spininterp");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /; interpreter\n/);
  assert.doesNotMatch(r.stdout, /JIT cache/);
  assert.equal(xl("destroy", "spininterp").code, 0);
  const missing = xl("emu-stats", "nope");
  assert.equal(missing.code, 4, missing.stderr);
  assert.equal(xl("daemon", "stop").code, 0);
});

test("xl debug-keys e writes a running PVH domain's event-channel and timer state into xl dmesg; h lists the keys", async () => {
  assert.equal(xl("create", cfg("keys", "")).code, 0);
  await delay(500);
  const r = xl("debug-keys", "eh");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  const dmesg = xl("dmesg").stdout;
  assert.match(dmesg, /'e' \(ascii '65'\) => dump evtchn info\n.*d\d+: system time \d+ ns\n.* {2}vcpu0: upcall_pending=[01] pending_sel=[0-9a-f]{16} upcall vector \S+ timer .*\n.* {2}pending ports: /);
  assert.match(dmesg, /'h' \(ascii '68'\) => show this message/);
  const none = xl("debug-keys");
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /debug-keys/);
  assert.equal(xl("destroy", "keys").code, 0);
});
