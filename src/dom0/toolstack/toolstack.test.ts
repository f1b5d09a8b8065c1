import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Toolstack, type HostFacts } from "./toolstack.ts";
import { HostMemoryPool } from "../../hv/domain/memory_pool.ts";
import { HvLog } from "../../hv/domain/hv_log.ts";
import { FakeBackend } from "../../testing/fake_backend.ts";
import { fakeLoadKernel } from "../../testing/fake_guest.ts";
import type { DomainConfig } from "./domain_config.ts";
import type { BackendSlot } from "./accel_select.ts";
import { BackendChooser } from "./accel_select.ts";
import { testTempDir } from "../../testing/temp_dir.ts";

const MiB = 1 << 20;
const dir = testTempDir("tsxen-ts-");

function guest(name: string, script: string): string {
  const p = join(dir, `${name}.guest`);
  writeFileSync(p, `#!fake-guest\n${script}\n`);
  return p;
}

const HOST: HostFacts = {
  hostname: "h", release: "r", machine: "x86_64", cpus: 2, totalMemoryBytes: 2048 * MiB, dom0MemoryBytes: 512 * MiB,
  version: "test", startedAtMs: 0, dom0CpuTimeNs: () => 0, dom0RssBytes: () => 64 * MiB,
};

function cfg(name: string, kernel: string, extra: Partial<DomainConfig> = {}): DomainConfig {
  return {
    name, type: "pvh", memoryMiB: 128, maxmemMiB: 128, vcpus: 1, kernel, cmdline: "", serial: "pty", accel: "emu",
    onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy", onWatchdog: "destroy", onSoftReset: "restart", ...extra,
  };
}

function setup(backends?: BackendSlot[]) {
  const emu = new FakeBackend({ kind: "emu" });
  const pool = new HostMemoryPool(1024 * MiB);
  const log = new HvLog(() => Date.now(), Date.now());
  const ts = new Toolstack({
    pool, log, now: () => Date.now(), backends: backends ?? [{ kind: "emu", backend: emu }, { kind: "kvm", unavailable: "not built yet" }],
    loadKernel: fakeLoadKernel, host: HOST,
  });
  return { ts, emu, pool, log };
}

test("createDomain() boots the guest and its console output reaches an attached client", async () => {
  const { ts } = setup();
  const r = await ts.createDomain(cfg("hello", guest("hello", "print hello world\\n\nspin")));
  assert.equal(r.domid, 1);
  assert.equal(r.accel, "emu");
  let out = "";
  ts.attachConsole("hello", { data: (b) => (out += new TextDecoder().decode(b)), end: () => {} });
  await delay(20);
  assert.equal(out, "hello world\n");
  const l = ts.list();
  assert.deepEqual(l.map((e) => [e.domid, e.name, e.state]), [[0, "Domain-0", "r-----"], [1, "hello", "r-----"]]);
  await ts.destroy("hello");
  assert.equal(ts.list().length, 1);
});

test("a kernel that is not a kernel fails cleanly and creates nothing", async () => {
  const { ts, pool } = setup();
  const p = join(dir, "junk.bin");
  writeFileSync(p, "not a kernel");
  await assert.rejects(ts.createDomain(cfg("j", p)), { message: `Cannot load kernel "${p}": it is neither an ELF file nor a bzImage` });
  assert.equal(ts.list().length, 1);
  assert.equal(pool.freeBytes, 1024 * MiB);
});

test("a duplicate name and a domain that does not fit are refused before anything is loaded", async () => {
  const { ts } = setup();
  const k = guest("spin", "spin");
  await ts.createDomain(cfg("a", k));
  await assert.rejects(ts.createDomain(cfg("a", k)), /a domain with that name already exists/);
  await assert.rejects(ts.createDomain(cfg("big", k, { memoryMiB: 4096, maxmemMiB: 4096 })), /needs 4096 MiB but the host pool has 896 MiB free of 1024 MiB/);
  assert.equal(ts.list().length, 2);
});

test("xl reboot restarts the domain under a new domid and the console follows it", async () => {
  const { ts } = setup();
  await ts.createDomain(cfg("r", guest("r", "print up\\n\nspin")));
  let out = "";
  let moved = -1;
  ts.attachConsole("r", { data: (b) => (out += new TextDecoder().decode(b)), end: () => {}, moved: (d) => (moved = d) });
  await delay(10);
  const res = await ts.shutdown("r", "reboot");
  assert.equal(res.action, "restart");
  await delay(30);
  const l = ts.list();
  assert.equal(l.length, 2);
  assert.equal(l[1]!.name, "r");
  assert.equal(l[1]!.domid, 2);
  assert.equal(moved, 2);
  assert.equal(out, "up\nup\n");
});

test("a guest that reboots in a loop is restarted a bounded number of times", async () => {
  const { ts, log } = setup();
  await ts.createDomain(cfg("loop", guest("loop", "shutdown reboot")));
  await delay(300);
  assert.equal(ts.list().length, 1);
  assert.match(log.read().map((l) => l.text).join("\n"), /restarted 5 times in 30 s; not restarting it again/);
});

test("on_poweroff=preserve leaves the domain listed as shut down", async () => {
  const { ts } = setup();
  await ts.createDomain(cfg("p", guest("p", "print bye\nshutdown poweroff"), { onPoweroff: "preserve" }));
  await delay(20);
  const e = ts.list()[1]!;
  assert.equal(e.state, "---s--");
  assert.equal(e.shutdownReason, "poweroff");
  await assert.rejects(ts.shutdown("p", "poweroff"), /Cannot shut down domain "p": it is shut down \(poweroff\)/);
});

test("waitForShutdown() resolves when the guest powers off", async () => {
  const { ts } = setup();
  const r = await ts.createDomain(cfg("w", guest("w", "sleep 30\nshutdown poweroff")));
  await ts.waitForShutdown(r.domid, 2000);
  assert.equal(ts.list().length, 1);
});

test("Domain-0 cannot be destroyed and unknown domains are named", async () => {
  const { ts } = setup();
  await assert.rejects(ts.destroy("0"), /Domain-0 cannot be controlled/);
  await assert.rejects(ts.pause("nosuch"), { message: 'Domain "nosuch" does not exist' });
});

test("accel auto picks kvm only when it can run full guests and says why", () => {
  const kvmPvm = new FakeBackend({ kind: "kvm", fullGuests: false, reason: "PVM KVM: no VMX" });
  const kvmFull = new FakeBackend({ kind: "kvm", fullGuests: true, reason: "VMX" });
  const emu = new FakeBackend({ kind: "emu", reason: "software CPU" });
  let c = new BackendChooser([{ kind: "kvm", backend: kvmPvm }, { kind: "emu", backend: emu }]).choose("auto");
  assert.equal(c.backend, emu);
  assert.equal(c.why, "accel auto: emu, because kvm cannot run full guests (PVM KVM: no VMX); using emu");
  c = new BackendChooser([{ kind: "kvm", backend: kvmFull }, { kind: "emu", backend: emu }]).choose("auto");
  assert.equal(c.backend, kvmFull);
  const none = new BackendChooser([{ kind: "kvm", backend: kvmPvm }, { kind: "emu", unavailable: "the emu backend is not built yet" }]);
  assert.throws(() => none.choose("auto"), {
    message: 'Cannot choose a CPU backend for accel "auto": kvm cannot run full guests (PVM KVM: no VMX), and emu is not available (the emu backend is not built yet); set accel = "kvm" to run a tiny guest on this kvm anyway',
  });
  const k = none.choose("kvm");
  assert.equal(k.backend, kvmPvm);
  assert.equal(k.warnings.length, 1);
  const noKvm = new BackendChooser([{ kind: "kvm", backend: new FakeBackend({ kind: "kvm", usable: false, reason: "no permission on /dev/kvm" }) }]);
  assert.throws(() => noKvm.choose("kvm"), { message: 'Cannot use accel "kvm": no permission on /dev/kvm' });
});

test("info() reports host memory, free pool memory and backends", async () => {
  const { ts } = setup();
  await ts.createDomain(cfg("i", guest("i", "spin"), { memoryMiB: 256, maxmemMiB: 256 }));
  const i = ts.info();
  assert.equal(i.freeMemoryMiB, 768);
  assert.equal(i.nrCpus, 2);
  assert.deepEqual(i.backends.map((b) => [b.kind, b.present]), [["kvm", false], ["emu", true]]);
  assert.equal(i.autoChoice.kind, "emu");
});

test("debugKeys() logs what each key shows to the hypervisor log: e for the domains with the Xen interface, h the keys, others as unknown", async () => {
  const emu = new FakeBackend({ kind: "emu" });
  const log = new HvLog(() => Date.now(), Date.now());
  const attached = new Set<number>();
  const ts = new Toolstack({
    pool: new HostMemoryPool(1024 * MiB), log, now: () => Date.now(), backends: [{ kind: "emu", backend: emu }],
    loadKernel: fakeLoadKernel, host: HOST,
    xen: {
      domainPort: () => ({ attach: () => { throw new Error("the fake backend does not attach"); } }),
      isAttached: (domid) => attached.has(domid),
      requestShutdown: () => {},
      describeEvents: (domid) => `d${domid}: system time 5 ns\n  vcpu0: upcall_pending=0`,
    },
  });
  const text = (): string[] => log.read().map((l) => l.text);
  ts.debugKeys("e");
  assert.ok(text().includes("no domain has the Xen guest interface (PVH guests do)"), text().join("\n"));
  const a = await ts.createDomain(cfg("a", guest("spin-a", "spin")));
  await ts.createDomain(cfg("b", guest("spin-b", "spin")));
  attached.add(a.domid);
  log.clear();
  ts.debugKeys("eh?");
  assert.deepEqual(text().filter((l) => !l.startsWith("d1: ") || l.includes("system time")), [
    "'e' (ascii '65') => dump evtchn info", `d${a.domid}: system time 5 ns`, "  vcpu0: upcall_pending=0",
    "'h' (ascii '68') => show this message", "'e' (ascii '65') => dump evtchn info",
    "'?' (ascii '3f') => no handler (xl debug-keys h lists the keys)",
  ]);
  assert.throws(() => ts.debugKeys(""), /debug-keys needs at least one key/);
  await ts.destroy("a");
  await ts.destroy("b");
});
