// Hypercall fuzz from a guest: the tiny PVH guest (test/guests/tiny, "fuzz" mode) sends 20000 hypercalls with
// random numbers and arguments (fixed seed; numbers biased to the real ones, arguments to sub-op numbers,
// pointers to freshly randomized structs, the neighbour's domid) while a neighbour domain prints heartbeats.
// Afterwards the fuzzing guest still works (its own checks pass, it powers off), the neighbour kept printing,
// its xenstore nodes are intact, xenstored still answers on the socket and in process, and a new domain boots
// normally. On emu, and on kvm where the host has it (tiny guests only on a kvm_pvm host).
// The "wild" run also lets arguments be any 64-bit value (unmapped guest-virtual pointers).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emuBackend } from "../../src/accel/emu/backend.ts";
import { kvmBackend } from "../../src/accel/kvm/backend.ts";
import { XsType } from "../../src/abi/xen/xs_wire.ts";
import type { ExecutionBackend } from "../../src/hv/ports.ts";
import { existsSync } from "node:fs";
import { launchTiny, startDom0, tail, XsWireClient, type Outcome, type PvhDomain } from "../support/xen_guest.ts";

const COUNT = 20000;
const KVM_COUNT = 5000;
const SEED = "0x5eed7a5e";
const kvmProbe = existsSync("/dev/kvm") ? kvmBackend.probe() : null;
const kvmSkip = kvmProbe === null ? "/dev/kvm is missing on this host" : kvmProbe.usable ? false : `kvm backend unusable: ${kvmProbe.reason}`;

interface FuzzRun {
  fuzzer: string;
  fuzzerLog: string[];
  outcome: Outcome;
  /** Problems with the daemon or the neighbour after the fuzz (empty = healthy). */
  health: string[];
  summary: string | undefined;
}

async function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<T>((r) => (timer = setTimeout(() => r(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function fuzzRun(backend: ExecutionBackend, cmdline: string, base: number): Promise<FuzzRun> {
  const dir = mkdtempSync(join(tmpdir(), "tsxen-fuzz-"));
  const socketPath = join(dir, "socket");
  const dom0 = await startDom0(socketPath);
  const domains: PvhDomain[] = [];
  const health: string[] = [];
  try {
    const neighbour = await launchTiny({ backend, dom0, domid: base, name: "neighbour", cmdline: "beat" });
    domains.push(neighbour);
    await neighbour.waitFor("tiny: beat 1", 120_000);
    const fuzzer = await launchTiny({ backend, dom0, domid: base + 1, name: "fuzzer", cmdline: `${cmdline} peer=${base}` });
    domains.push(fuzzer);
    const outcome = await withTimeout(fuzzer.outcome, 600_000, "timeout" as Outcome);
    const summary = /FUZZ done .*$/m.exec(fuzzer.console())?.[0];

    // The neighbour: still running and printing.
    const beats = (neighbour.console().match(/tiny: beat \d+/g) ?? []).length;
    try {
      await neighbour.waitFor(`tiny: beat ${beats + 1}`, 60_000);
    } catch (e) {
      health.push(`neighbour stopped printing: ${(e as Error).message}`);
    }
    if (!neighbour.console().includes("RESULT: PASS")) health.push(`neighbour failed its checks\n${tail(neighbour.console())}`);
    if (neighbour.log.some((l) => /crash/i.test(l))) health.push(`neighbour log: ${neighbour.log.join("\n")}`);
    // xenstored: in process and on the socket; the neighbour's nodes are intact.
    try {
      if (dom0.xs.client.read(`/local/domain/${base}/name`) !== "neighbour") health.push("neighbour's name node changed");
      if (!dom0.xs.client.isDomainIntroduced(base)) health.push("neighbour no longer introduced");
      const c = await XsWireClient.open(socketPath);
      try {
        const r = await withTimeout(c.request(XsType.READ, [`/local/domain/${base}/name`]), 10_000, undefined);
        if (r?.payload !== "neighbour") health.push(`socket read gave ${JSON.stringify(r)}`);
        const w = await withTimeout(c.request(XsType.WRITE, ["/tool/fuzz-check"], 0, "ok"), 10_000, undefined);
        if (w?.type !== XsType.WRITE) health.push(`socket write gave ${JSON.stringify(w)}`);
      } finally {
        c.close();
      }
    } catch (e) {
      health.push(`xenstored: ${(e as Error).message}`);
    }
    // A new domain after the fuzz boots and passes its checks.
    const fresh = await launchTiny({ backend, dom0, domid: base + 2, name: "fresh", cmdline: "reason=poweroff" });
    domains.push(fresh);
    const freshOutcome = await withTimeout(fresh.outcome, 120_000, "timeout" as Outcome);
    if (freshOutcome !== "poweroff" || !fresh.console().includes("RESULT: PASS")) health.push(`fresh domain: ${freshOutcome}\n${tail(fresh.console())}`);
    return { fuzzer: fuzzer.console(), fuzzerLog: fuzzer.log, outcome, health, summary };
  } finally {
    for (const d of domains) await d.destroy();
    await dom0.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ctx = (r: FuzzRun): string => `${tail(r.fuzzer, 1500)}\nfuzzer log:\n${r.fuzzerLog.slice(-12).join("\n")}`;

function checkCompleted(r: FuzzRun, count: number): void {
  assert.ok(r.summary?.startsWith(`FUZZ done calls=${count} `), ctx(r));
  assert.ok(r.fuzzer.includes("RESULT: PASS"), ctx(r));
  assert.equal(r.outcome, "poweroff", ctx(r));
}

// kvm (here kvm_pvm) serves each call far slower (an exit to user space per hypercall, ~18 ms per fuzz call
// measured under load): fewer calls there keep the test within minutes.
for (const [name, backend, skip, base, count] of [["emu", emuBackend, false, 40, COUNT], ["kvm", kvmBackend, kvmSkip, 50, KVM_COUNT]] as const) {
  test(`${name}: ${count} random hypercalls from a tiny guest leave the daemon and a neighbour domain healthy`, { skip, timeout: 15 * 60_000 }, async (t) => {
    const r = await fuzzRun(backend, `fuzz=${count} seed=${SEED}`, base);
    t.diagnostic(r.summary ?? "no summary");
    assert.deepEqual(r.health, []);
    checkCompleted(r, count);
  });
}

// Wild arguments (any 64-bit value, so unmapped guest-virtual pointers) on emu: the daemon and the neighbour
// must stay healthy; the fuzzing guest itself should only ever see -EFAULT.
let wild: Promise<FuzzRun> | undefined;
const wildRun = (): Promise<FuzzRun> => (wild ??= fuzzRun(emuBackend, `fuzz=5000 seed=${SEED} wild`, 60));

test("emu, wild pointers: the daemon and a neighbour domain stay healthy", { timeout: 15 * 60_000 }, async (t) => {
  const r = await wildRun();
  t.diagnostic(`fuzzer: ${r.outcome}; ${r.summary ?? "no summary"}`);
  assert.deepEqual(r.health, []);
});

test("emu, wild pointers: the fuzzing guest gets -EFAULT for unmapped pointers instead of being crashed", {
  timeout: 15 * 60_000,
}, async () => {
  checkCompleted(await wildRun(), 5000);
});
