// xl.cfg emu_jit: parsing, one-line errors, the command-line override, the socket check, and the toolstack
// carrying it to the backend (LaunchSpec.emu) or noting that kvm ignores it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkDomainConfig, validateDomainConfig, type DomainConfig } from "./domain_config.ts";
import { applyOverrides, parseXlCfg } from "./xl_cfg_parser.ts";
import { ConfigError } from "./config_error.ts";
import { Toolstack, type HostFacts } from "./toolstack.ts";
import { HostMemoryPool } from "../../hv/domain/memory_pool.ts";
import { HvLog } from "../../hv/domain/hv_log.ts";
import { FakeBackend } from "../../testing/fake_backend.ts";
import { fakeLoadKernel } from "../../testing/fake_guest.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { testTempDir } from "../../testing/temp_dir.ts";

const BASE = 'name = "g"\nkernel = "/k"\n';
const jitOf = (line: string, overrides: string[] = []): boolean | undefined =>
  validateDomainConfig(applyOverrides(parseXlCfg(BASE + line, "g.cfg"), overrides), "g.cfg").config.emuJit;

test("emu_jit takes 0 and 1 as xl.cfg writes booleans, and the words true and false", () => {
  assert.equal(jitOf("emu_jit = 1\n"), true);
  assert.equal(jitOf("emu_jit = 0\n"), false);
  assert.equal(jitOf('emu_jit = "1"\n'), true);
  assert.equal(jitOf('emu_jit = "true"\n'), true);
  assert.equal(jitOf('emu_jit = "false"\n'), false);
  assert.equal(jitOf(""), undefined, "absent: the backend's default");
  assert.equal("emuJit" in validateDomainConfig(parseXlCfg(BASE, "g.cfg"), "g.cfg").config, false);
});

test("emu_jit on the command line overrides the file (emu_jit=1, emu_jit=false)", () => {
  assert.equal(jitOf("emu_jit = 0\n", ["emu_jit=1"]), true);
  assert.equal(jitOf("emu_jit = 1\n", ["emu_jit=false"]), false);
});

test("a bad emu_jit value is a one-line error naming the file, line, key and value", () => {
  for (const [value, shown] of [["2", "2"], ['"yes"', '"yes"'], ["[1]", "[1]"], ["-1", "-1"], ["0.5", "0.5"]] as const) {
    assert.throws(() => jitOf(`memory = 128\nemu_jit = ${value}\n`), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `g.cfg:4: emu_jit = ${shown}: expected 0 or 1 (or "true"/"false")`);
      assert.equal(e.key, "emu_jit");
      assert.ok(!e.message.includes("\n"));
      return true;
    }, value);
  }
  assert.throws(() => jitOf("", ["emu_jit=maybe"]), /^ConfigError: command line:1: emu_jit = "maybe": expected 0 or 1/);
});

test("a misspelt emu_jit gets a did-you-mean", () => {
  assert.throws(() => jitOf("emu_jti = 1\n"), /g\.cfg:3: unknown setting "emu_jti" \(did you mean "emu_jit"\?\)/);
});

const valid = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: "g", type: "pvh", memoryMiB: 128, maxmemMiB: 128, vcpus: 1, kernel: "/k", cmdline: "", serial: "pty", accel: "emu",
  onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy", onWatchdog: "destroy", onSoftReset: "restart", ...extra,
});

test("the daemon accepts emuJit true/false over the socket and rejects anything else", () => {
  assert.equal(checkDomainConfig(valid({ emuJit: true })).emuJit, true);
  assert.equal(checkDomainConfig(valid({ emuJit: false })).emuJit, false);
  assert.equal(checkDomainConfig(valid()).emuJit, undefined);
  assert.throws(() => checkDomainConfig(valid({ emuJit: 1 })), /request: emuJit = 1: expected true or false/);
});

const MiB = 1 << 20;
const HOST: HostFacts = {
  hostname: "h", release: "r", machine: "x86_64", cpus: 2, totalMemoryBytes: 2048 * MiB, dom0MemoryBytes: 512 * MiB,
  version: "test", startedAtMs: 0, dom0CpuTimeNs: () => 0, dom0RssBytes: () => 64 * MiB,
};

function setup() {
  const emu = new FakeBackend({ kind: "emu" });
  const kvm = new FakeBackend({ kind: "kvm" });
  const log = new HvLog(() => Date.now(), Date.now());
  const ts = new Toolstack({
    pool: new HostMemoryPool(1024 * MiB), log, now: () => Date.now(),
    backends: [{ kind: "emu", backend: emu }, { kind: "kvm", backend: kvm }], loadKernel: fakeLoadKernel, host: HOST,
  });
  const dir = testTempDir("tsxen-emujit-");
  const kernel = join(dir, "g.guest");
  writeFileSync(kernel, "#!fake-guest\nspin\n");
  const cfg = (name: string, extra: Partial<DomainConfig>): DomainConfig => checkDomainConfig(valid({ name, kernel, ...extra }));
  return { ts, emu, kvm, log, cfg };
}

test("the toolstack passes emu_jit to the backend in LaunchSpec.emu, and nothing when it is absent", async () => {
  const { ts, emu, cfg } = setup();
  await ts.createDomain(cfg("on", { emuJit: true }));
  assert.deepEqual(emu.last.spec.emu, { jit: true });
  await ts.createDomain(cfg("off", { emuJit: false }));
  assert.deepEqual(emu.last.spec.emu, { jit: false });
  await ts.createDomain(cfg("dflt", {}));
  assert.equal(emu.last.spec.emu, undefined);
  const long = ts.list(true).find((e) => e.name === "on");
  assert.equal(long?.config?.emuJit, true, "xl list -l shows it");
  await ts.shutdownAll();
});

test("on kvm emu_jit is ignored with a note in the hypervisor log", async () => {
  const { ts, kvm, log, cfg } = setup();
  const r = await ts.createDomain(cfg("k", { accel: "kvm", emuJit: true }));
  assert.equal(r.accel, "kvm");
  assert.ok(log.read().some((l) => /emu_jit = 1 ignored: the domain runs on kvm/.test(l.text)), log.read().map((l) => l.text).join("\n"));
  assert.ok(kvm.last !== undefined);
  await ts.shutdownAll();
});
