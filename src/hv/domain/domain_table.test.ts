import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { DomainTable, type DomainObserver } from "./domain_table.ts";
import { HostMemoryPool } from "./memory_pool.ts";
import { HvLog } from "./hv_log.ts";
import { DomainError } from "./domain_errors.ts";
import { DEFAULT_POLICIES, type ShutdownPolicies } from "./shutdown_policy.ts";
import type { DomainSpec, DomainInfo } from "./domain.ts";
import type { BootImage, ShutdownReason } from "../ports.ts";
import { FakeBackend } from "../../testing/fake_backend.ts";

const MiB = 1 << 20;
const IMAGE: BootImage = { regions: [], entry: { kind: "pvh32", entry: 0x100000, ebx: 0 }, description: "test image" };

function setup(poolMiB = 1024) {
  const restarts: { old: DomainInfo; reason: ShutdownReason }[] = [];
  const consoleOut: string[] = [];
  const observer: DomainObserver = {
    console: (domid, bytes) => consoleOut.push(`${domid}:${new TextDecoder().decode(bytes)}`),
    stateChanged: () => {},
    restartRequested: (old, reason) => restarts.push({ old, reason }),
  };
  const log = new HvLog(() => 0, 0);
  const pool = new HostMemoryPool(poolMiB * MiB);
  const table = new DomainTable({ pool, log, now: () => 0, observer });
  return { table, pool, log, restarts, consoleOut, backend: new FakeBackend({ runScripts: false }) };
}

function spec(name: string, memMiB = 128, policies: Partial<ShutdownPolicies> = {}): DomainSpec {
  return {
    name, type: "pvh", memoryBytes: memMiB * MiB, maxmemBytes: memMiB * MiB, vcpus: 1, accel: "emu",
    policies: { ...DEFAULT_POLICIES, ...policies },
  };
}

test("create() hands out increasing domids starting at 1 and reserves memory", async () => {
  const { table, pool, backend } = setup();
  const a = table.create(spec("a"));
  const b = table.create(spec("b", 256));
  assert.equal(a.domid, 1);
  assert.equal(b.domid, 2);
  assert.equal(pool.freeBytes, (1024 - 384) * MiB);
  await table.launch(1, backend, IMAGE);
  assert.equal(table.get(1).state.kind, "running");
  assert.equal(table.get(2).state.kind, "building");
});

test("a duplicate name is refused and nothing changes", () => {
  const { table, pool } = setup();
  table.create(spec("web"));
  assert.throws(() => table.create(spec("web")), (e: unknown) => e instanceof DomainError && e.code === "exists");
  assert.equal(table.size, 1);
  assert.equal(pool.freeBytes, (1024 - 128) * MiB);
});

test("a domain that does not fit the pool is refused with no_memory", () => {
  const { table } = setup(256);
  table.create(spec("a", 200));
  assert.throws(() => table.create(spec("b", 100)), /needs 100 MiB but the host pool has 56 MiB free/);
  assert.equal(table.size, 1);
});

test("lookup() takes a name or a domid and says which domain is unknown", () => {
  const { table } = setup();
  table.create(spec("alpha"));
  assert.equal(table.lookup("alpha").domid, 1);
  assert.equal(table.lookup("1").name, "alpha");
  assert.throws(() => table.lookup("beta"), { message: 'Domain "beta" does not exist' });
  assert.throws(() => table.lookup("7"), (e: unknown) => e instanceof DomainError && e.code === "not_found");
});

test("pause and unpause reach the execution and refuse wrong states", async () => {
  const { table, backend } = setup();
  table.create(spec("a"));
  await table.launch(1, backend, IMAGE);
  await table.pause(1);
  assert.equal(backend.last.paused, true);
  await assert.rejects(table.pause(1), /Cannot pause domain "a" \(id 1\): it is paused/);
  await table.unpause(1);
  assert.equal(backend.last.paused, false);
  assert.equal(table.get(1).state.kind, "running");
});

test("destroy() stops the execution, frees memory and removes the domain", async () => {
  const { table, pool, backend } = setup();
  table.create(spec("a"));
  await table.launch(1, backend, IMAGE);
  await table.destroy(1);
  assert.equal(backend.last.destroyed, true);
  assert.equal(pool.freeBytes, 1024 * MiB);
  assert.throws(() => table.get(1), /does not exist/);
});

test("a guest poweroff with on_poweroff=destroy removes the domain", async () => {
  const { table, backend } = setup();
  table.create(spec("a"));
  await table.launch(1, backend, IMAGE);
  backend.last.guestShutdown("poweroff");
  await delay(5);
  assert.equal(table.size, 0);
});

test("on_poweroff=preserve keeps the domain shut down with its reason and memory", async () => {
  const { table, pool, backend } = setup();
  table.create(spec("a", 128, { onPoweroff: "preserve" }));
  await table.launch(1, backend, IMAGE);
  backend.last.guestShutdown("poweroff");
  await delay(5);
  assert.deepEqual(table.get(1).state, { kind: "shutdown", reason: "poweroff" });
  assert.equal(backend.last.paused, true);
  assert.equal(pool.freeBytes, (1024 - 128) * MiB);
  await table.destroy(1);
  assert.equal(pool.freeBytes, 1024 * MiB);
});

test("on_reboot=restart frees the old domain before asking the toolstack to rebuild it", async () => {
  const { table, pool, backend, restarts } = setup();
  table.create(spec("a"));
  await table.launch(1, backend, IMAGE);
  backend.last.guestShutdown("reboot");
  await delay(5);
  assert.equal(restarts.length, 1);
  assert.equal(restarts[0]!.old.name, "a");
  assert.equal(restarts[0]!.reason, "reboot");
  assert.equal(table.size, 0);
  assert.equal(pool.freeBytes, 1024 * MiB);
});

test("on_crash=rename-restart keeps the crashed domain under a new name", async () => {
  const { table, backend, restarts } = setup();
  table.create(spec("a", 128, { onCrash: "rename-restart" }));
  await table.launch(1, backend, IMAGE);
  backend.last.guestCrash("triple fault");
  await delay(5);
  assert.equal(table.get(1).name, "a--1");
  assert.deepEqual(table.get(1).state, { kind: "shutdown", reason: "crash" });
  assert.equal(restarts.length, 1);
});

test("a crash is logged with the register dump and the other domains keep running", async () => {
  const { table, backend, log } = setup();
  table.create(spec("bad"));
  table.create(spec("good"));
  await table.launch(1, backend, IMAGE);
  await table.launch(2, backend, IMAGE);
  backend.executions[0]!.guestCrash("triple fault");
  await delay(5);
  assert.equal(table.size, 1);
  assert.equal(table.get(2).state.kind, "running");
  const text = log.read().map((l) => l.text).join("\n");
  assert.match(text, /d1: domain crashed: triple fault/);
  assert.match(text, /d1:   rip=/);
});

test("events from a destroyed domain are ignored", async () => {
  const { table, backend, consoleOut } = setup();
  table.create(spec("a"));
  await table.launch(1, backend, IMAGE);
  const exec = backend.last;
  await table.destroy(1);
  exec.print("late");
  exec.guestShutdown("poweroff");
  assert.deepEqual(consoleOut, []);
});

test("an observer that throws does not break the table", async () => {
  const log = new HvLog(() => 0, 0);
  const table = new DomainTable({
    pool: new HostMemoryPool(1024 * MiB), log, now: () => 0,
    observer: { console: () => { throw new Error("boom"); }, stateChanged: () => { throw new Error("bang"); }, restartRequested: () => {} },
  });
  const backend = new FakeBackend({ runScripts: false });
  table.create(spec("a"));
  await table.launch(1, backend, IMAGE);
  backend.last.print("x");
  assert.equal(table.get(1).state.kind, "running");
  assert.match(log.read().map((l) => l.text).join("\n"), /boom/);
});

test("a backend that fails to launch leaves no domain and no reservation", async () => {
  const { table, pool } = setup();
  table.create(spec("a"));
  await assert.rejects(table.launch(1, new FakeBackend({ failLaunch: "no /dev/kvm" }), IMAGE), /no \/dev\/kvm/);
  assert.equal(table.size, 0);
  assert.equal(pool.freeBytes, 1024 * MiB);
});

test("a shutdown reported before launch() returns is handled once the domain runs", async () => {
  const { table } = setup();
  const early = new FakeBackend({ runScripts: false });
  const orig = early.launch.bind(early);
  early.launch = async (s, ev) => {
    const exec = await orig(s, ev);
    ev.shutdown("poweroff");
    return exec;
  };
  table.create(spec("fast"));
  await table.launch(1, early, IMAGE);
  await delay(5);
  assert.equal(table.size, 0);
});

test("a backend whose destroy never finishes cannot wedge the domain table", async () => {
  const log = new HvLog(() => 0, 0);
  const pool = new HostMemoryPool(1024 * MiB);
  const table = new DomainTable({
    pool, log, now: () => 0, destroyTimeoutMs: 30,
    observer: { console: () => {}, stateChanged: () => {}, restartRequested: () => {} },
  });
  const backend = new FakeBackend({ runScripts: false });
  table.create(spec("stuck"));
  await table.launch(1, backend, IMAGE);
  backend.last.destroy = () => new Promise<void>(() => {});
  await table.destroy(1);
  assert.equal(table.size, 0);
  assert.equal(pool.freeBytes, 1024 * MiB);
  assert.match(log.read().map((l) => l.text).join("\n"), /did not finish destroying the domain within 0.03 s/);
});
