// The tiny test guests (test/guests/tiny) on every backend that exists, run directly through the backends
// (no daemon), each mode as ELF64 and ELF32: console text, shutdown reason or crash, and the transcript of the
// hypercalls the guest makes must be the same on emu and kvm.
//
// Design: every run goes through a test XenDomainPort (LaunchSpec.xen, what the daemon gives PVH domains) that
// serves xen_version, console_io and an unknown number on the main thread with the core's HypercallDispatcher and
// records each call (number, sub-op, result); sched_op stays with the vCPU thread so the backend stops the guest
// as it does in production. The port also hands the test guest RAM and the upcall injection hook, so "pause"
// and "irq" work the same way on both backends. No assertion depends on how fast the machine is: waits are
// for console text or outcomes, with generous timeouts that only turn hangs into failures.
// kvm runs when /dev/kvm is usable; otherwise its runs and the cross-backend comparisons are skipped with the
// reason. The emu backend always runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { emuBackend } from "../../src/accel/emu/backend.ts";
import { kvmBackend } from "../../src/accel/kvm/backend.ts";
import { loadKernel } from "../../src/boot/load.ts";
import { HypercallDispatcher } from "../../src/hv/hypercall/dispatch.ts";
import { PVH_DOMU_FEATURES } from "../../src/hv/hypercall/xen_version.ts";
import type { DomainExecution, ExecutionBackend, GuestRam, ShutdownReason, XenBackendHooks, XenDomainPort } from "../../src/hv/ports.ts";
import { XenHost } from "../../src/dom0/xen/xen_host.ts";
import { startXenstoredService } from "../../src/dom0/xenstored/service.ts";
import { buildTinyGuest } from "../guests/build.ts";

const MEMORY = 16 << 20;
/** Only turns a hang into a failure; a healthy run takes well under a second on either backend. */
const RUN_TIMEOUT_MS = 60_000;
const XEN_VERSION = 17;
const CONSOLE_IO = 18;
const UNKNOWN_HYPERCALL = 49;

interface BackendUnderTest {
  readonly name: "emu" | "kvm";
  readonly backend: ExecutionBackend;
  /** false, or why this backend cannot run here. */
  readonly skip: string | false;
}

const kvmProbe = existsSync("/dev/kvm") ? kvmBackend.probe() : null;
const BACKENDS: readonly BackendUnderTest[] = [
  { name: "emu", backend: emuBackend, skip: false },
  {
    name: "kvm",
    backend: kvmBackend,
    skip: kvmProbe === null ? "kvm backend skipped: /dev/kvm is missing on this host" : kvmProbe.usable ? false : `kvm backend skipped: ${kvmProbe.reason}`,
  },
];
const USABLE = BACKENDS.filter((b) => b.skip === false);
const COMPARE_SKIP = USABLE.length < 2 ? `only ${USABLE.map((b) => b.name).join(", ")} can run here (${BACKENDS.find((b) => b.skip !== false)?.skip})` : false;

type Elf = "elf64" | "elf32";
type Outcome = { kind: "shutdown"; reason: ShutdownReason } | { kind: "crashed"; why: string; dump: string } | { kind: "destroyed" };

let nextDomid = 300;

interface Run {
  readonly exec: DomainExecution;
  /** Console text so far (port 0xe9 and console_io, in the order the guest wrote it). */
  console(): string;
  /** "nr:subop=result" for every hypercall served by the test port, in call order. */
  readonly transcript: string[];
  readonly logs: string[];
  /** Settles on shutdown or crash. */
  readonly outcome: Promise<Outcome>;
  readonly ram: GuestRam;
  readonly hooks: XenBackendHooks;
  waitForConsole(text: string): Promise<void>;
}

/** A XenDomainPort for the test: records the hypercalls it serves and exposes guest RAM and the upcall hook. */
function recordingPort(domid: number, sink: { console(b: Uint8Array): void; log(l: string): void }, transcript: string[]) {
  const got: { ram?: GuestRam; hooks?: XenBackendHooks } = {};
  const dispatcher = new HypercallDispatcher(
    { domid, privileged: false, handle: new Uint8Array(16) },
    { console: (b) => sink.console(b), log: (l) => sink.log(l), shutdown: () => assert.fail("sched_op is not served by the test port") },
  );
  const port: XenDomainPort = {
    attach(ram, hooks) {
      got.ram = ram;
      got.hooks = hooks;
      return {
        ownerHypercalls: {
          numbers: [XEN_VERSION, CONSOLE_IO, UNKNOWN_HYPERCALL],
          handle(req, mem) {
            const r = dispatcher.dispatch(req, mem);
            transcript.push(`${req.nr}:${req.args[0]}=${BigInt.asIntN(64, r)}${req.longMode ? "" : " (32-bit)"}`);
            return r;
          },
        },
        xenFeatures: PVH_DOMU_FEATURES,
        consoleInput() {},
        detach() {},
      };
    },
  };
  return { port, got };
}

async function launchTiny(b: BackendUnderTest, cmdline: string, elf: Elf = "elf64"): Promise<Run> {
  const guest = buildTinyGuest();
  const image = loadKernel({ kernelPath: guest[elf], cmdline, memoryBytes: MEMORY, vcpus: 1, type: "pvh" });
  let text = "";
  const logs: string[] = [];
  const transcript: string[] = [];
  const watchers = new Set<() => void>();
  let settle!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((res) => (settle = res));
  const decoder = new TextDecoder();
  const sink = {
    console: (bytes: Uint8Array): void => {
      text += decoder.decode(bytes);
      for (const w of watchers) w();
    },
    log: (l: string): void => void logs.push(l),
  };
  const domid = nextDomid++;
  const { port, got } = recordingPort(domid, sink, transcript);
  const exec = await b.backend.launch(
    { domid, name: `tiny-${b.name}-${domid}`, type: "pvh", memoryBytes: MEMORY, vcpus: 1, image, xen: port },
    {
      console: sink.console,
      log: sink.log,
      shutdown: (reason) => settle({ kind: "shutdown", reason }),
      crashed: (why, dump) => settle({ kind: "crashed", why, dump }),
    },
  );
  assert.ok(got.ram !== undefined && got.hooks !== undefined, `${b.name} attached the Xen port before running the guest`);
  return {
    exec,
    console: () => text,
    transcript,
    logs,
    outcome,
    ram: got.ram,
    hooks: got.hooks,
    waitForConsole: (needle) =>
      withTimeout(
        new Promise<void>((res) => {
          const check = (): void => {
            if (text.includes(needle)) {
              watchers.delete(check);
              res();
            }
          };
          watchers.add(check);
          check();
        }),
        `console never showed "${needle}" on ${b.name}; got:\n${text}`,
      ),
  };
}

async function withTimeout<T>(p: Promise<T>, what: string, ms = RUN_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** What must be identical on every backend. Crashes compare by the faulting rip and cr3 parsed from the dump. */
interface Observed {
  console: string;
  outcome: { kind: "shutdown"; reason: ShutdownReason } | { kind: "crashed"; rip: string; cr3: string } | { kind: "destroyed" };
  transcript: string[];
}

function registerFromDump(dump: string, reg: string): string {
  const m = new RegExp(`\\b${reg}[= ](?:0x)?([0-9a-f]+)`, "i").exec(dump);
  assert.ok(m !== null, `the register dump shows ${reg}:\n${dump}`);
  return `0x${BigInt(`0x${m[1]}`).toString(16)}`;
}

function observe(run: Run, outcome: Outcome): Observed {
  const o: Observed["outcome"] =
    outcome.kind === "crashed" ? { kind: "crashed", rip: registerFromDump(outcome.dump, "rip"), cr3: registerFromDump(outcome.dump, "cr3") } : outcome;
  return { console: run.console(), outcome: o, transcript: [...run.transcript] };
}

/** Runs a mode to its end (shutdown or crash) and returns what was observed. */
async function runToEnd(b: BackendUnderTest, cmdline: string, elf: Elf): Promise<{ run: Run; outcome: Outcome; observed: Observed }> {
  const run = await launchTiny(b, cmdline, elf);
  try {
    const outcome = await withTimeout(run.outcome, `${b.name} ${elf} "${cmdline}" to end`);
    return { run, outcome, observed: observe(run, outcome) };
  } finally {
    await withTimeout(run.exec.destroy(), `destroy on ${b.name}`);
  }
}

// ---- expected text (what the guest prints, independent of the backend) ----

function expectedConsole(cmdline: string, tail: string[]): string {
  return [
    "tiny: hello from 32-bit protected mode via console_io",
    "tiny: hello from the PVH guest via port 0xe9",
    "tiny: hello via console_io",
    `tiny: cmdline "${cmdline}"`,
    "tiny: xen version 4.17",
    ...tail,
  ].map((l) => `${l}\n`).join("");
}

/** The hypercalls every mode makes: console_io from 32-bit mode first, then (between console_io writes, which
 * all succeed) XENVER_version = 4.17, XENVER_extraversion and an unknown number answered -ENOSYS. */
function checkTranscript(observed: Observed): void {
  const tr = observed.transcript;
  const context = tr.join("\n");
  assert.equal(tr[0], "18:0=0 (32-bit)", context);
  assert.deepEqual(tr.filter((l) => !l.startsWith("18:")), ["17:0=262161", "17:1=0", "49:0=-38"], context);
  assert.ok(tr.slice(1).every((l) => !l.startsWith("18:") || l === "18:0=0"), `every later console_io write is 64-bit and succeeds:\n${context}`);
}

interface Mode {
  readonly cmdline: string;
  readonly what: string;
  readonly outcome: Observed["outcome"]["kind"];
  readonly reason?: ShutdownReason;
  readonly tail: string[];
}

const REASON_NUMBER: Record<string, number> = { poweroff: 0, reboot: 1, suspend: 2, crash: 3, watchdog: 4 };
const MODES: Mode[] = [
  ...(["", "reason=poweroff", "reason=reboot", "reason=crash", "reason=watchdog", "reason=suspend"] as const).map((cmdline): Mode => {
    const reason = (cmdline === "" ? "poweroff" : cmdline.slice("reason=".length)) as ShutdownReason;
    return {
      cmdline,
      what: cmdline === "" ? "with an empty cmdline powers off" : `shuts down with reason ${reason}`,
      outcome: "shutdown",
      reason,
      tail: ["RESULT: PASS", `tiny: shutdown reason ${REASON_NUMBER[reason]}`],
    };
  }),
  { cmdline: "fault", what: "triple-faults and ends as crashed with a register dump", outcome: "crashed", tail: ["RESULT: PASS", "tiny: triple fault"] },
];

for (const elf of ["elf64", "elf32"] as const) {
  for (const mode of MODES) {
    test(`the ${elf} tiny guest "${mode.cmdline}" ${mode.what}, identically on every backend`, async (t) => {
      const seen = new Map<string, Observed>();
      for (const b of BACKENDS) {
        await t.test(`on ${b.name}`, { skip: b.skip }, async () => {
          const { outcome, observed, run } = await runToEnd(b, mode.cmdline, elf);
          const context = `console:\n${run.console()}\nlog:\n${run.logs.join("\n")}`;
          assert.equal(observed.console, expectedConsole(mode.cmdline, mode.tail), context);
          assert.equal(outcome.kind, mode.outcome, context);
          if (outcome.kind === "shutdown") assert.equal(outcome.reason, mode.reason);
          if (outcome.kind === "crashed") {
            assert.match(outcome.why, /triple fault/);
            assert.match(outcome.dump, /cr3=/);
          }
          checkTranscript(observed);
          seen.set(b.name, observed);
        });
      }
      await t.test("same console text, outcome and hypercall transcript on emu and kvm", { skip: COMPARE_SKIP }, () => {
        assert.ok(seen.has("emu") && seen.has("kvm"), "both backends ran");
        assert.deepEqual(seen.get("kvm"), seen.get("emu"));
      });
    });
  }
}

test("without LaunchSpec.xen (the bare backend) the tiny guest prints the same text and powers off, identically on every backend", async (t) => {
  const seen = new Map<string, string>();
  for (const b of BACKENDS) {
    await t.test(`on ${b.name}`, { skip: b.skip }, async () => {
      const guest = buildTinyGuest();
      const image = loadKernel({ kernelPath: guest.elf64, cmdline: "reason=watchdog", memoryBytes: MEMORY, vcpus: 1, type: "pvh" });
      let text = "";
      let settle!: (o: Outcome) => void;
      const outcome = new Promise<Outcome>((res) => (settle = res));
      const logs: string[] = [];
      const exec = await b.backend.launch(
        { domid: nextDomid++, name: `bare-${b.name}`, type: "pvh", memoryBytes: MEMORY, vcpus: 1, image },
        {
          console: (bytes) => (text += new TextDecoder().decode(bytes)),
          log: (l) => logs.push(l),
          shutdown: (reason) => settle({ kind: "shutdown", reason }),
          crashed: (why, dump) => settle({ kind: "crashed", why, dump }),
        },
      );
      try {
        assert.deepEqual(await withTimeout(outcome, `bare ${b.name}`), { kind: "shutdown", reason: "watchdog" });
      } finally {
        await withTimeout(exec.destroy(), "destroy");
      }
      assert.equal(text, expectedConsole("reason=watchdog", ["RESULT: PASS", "tiny: shutdown reason 4"]));
      assert.ok(logs.some((l) => /\(49\) not implemented/.test(l)), `the unknown hypercall is logged once:\n${logs.join("\n")}`);
      seen.set(b.name, text);
    });
  }
  await t.test("same console text on emu and kvm", { skip: COMPARE_SKIP }, () => assert.equal(seen.get("kvm"), seen.get("emu")));
});

test("through the daemon's Xen layer (XenHost with xenstored, what xl gives a PVH domain) the tiny guest behaves the same on every backend", async (t) => {
  const seen = new Map<string, { console: string; outcome: Outcome; xenstore: string[] }>();
  for (const b of BACKENDS) {
    await t.test(`on ${b.name}`, { skip: b.skip }, async () => {
      const log: string[] = [];
      const xs = await startXenstoredService({ log: (l) => log.push(l) });
      try {
        const host = new XenHost(xs, (l) => log.push(l));
        const domid = 7; // the same on both backends: it appears in xenstore paths
        const guest = buildTinyGuest();
        const image = loadKernel({ kernelPath: guest.elf32, cmdline: "reason=reboot", memoryBytes: MEMORY, vcpus: 1, type: "pvh" });
        let text = "";
        let settle!: (o: Outcome) => void;
        const outcome = new Promise<Outcome>((res) => (settle = res));
        const exec = await b.backend.launch(
          { domid, name: "tiny-xen", type: "pvh", memoryBytes: MEMORY, vcpus: 1, image, xen: host.domainPort({ domid, name: "tiny-xen", memoryBytes: MEMORY, vcpus: 1 }) },
          {
            console: (bytes) => (text += new TextDecoder().decode(bytes)),
            log: (l) => log.push(l),
            shutdown: (reason) => settle({ kind: "shutdown", reason }),
            crashed: (why, dump) => settle({ kind: "crashed", why, dump }),
          },
        );
        let o: Outcome;
        let xenstore: string[];
        try {
          o = await withTimeout(outcome, `tiny guest with XenHost on ${b.name}`);
          xenstore = xs.client.directory(`/local/domain/${domid}`).sort();
        } finally {
          await withTimeout(exec.destroy(), "destroy");
        }
        const context = `console:\n${text}\nlog:\n${log.join("\n")}`;
        assert.deepEqual(o, { kind: "shutdown", reason: "reboot" }, context);
        assert.equal(text, expectedConsole("reason=reboot", ["RESULT: PASS", "tiny: shutdown reason 1"]), context);
        seen.set(b.name, { console: text, outcome: o, xenstore });
      } finally {
        await xs.stop();
      }
    });
  }
  await t.test("same console text, outcome and xenstore layout on emu and kvm", { skip: COMPARE_SKIP }, () => assert.deepEqual(seen.get("kvm"), seen.get("emu")));
});

const OVERLAY_MAGIC = 0x7a5e4e00;

test("the irq mode enables the x2APIC and takes upcall vector 0xf3 injected through the Xen hooks, identically on every backend", async (t) => {
  const seen = new Map<string, Observed>();
  for (const b of BACKENDS) {
    await t.test(`on ${b.name}`, { skip: b.skip }, async () => {
      const run = await launchTiny(b, "irq reason=watchdog");
      try {
        await run.waitForConsole("tiny: waiting for vector 0xf3\n");
        run.hooks.inject(0, 0xf3);
        const outcome = await withTimeout(run.outcome, `irq on ${b.name}:\n${run.console()}\n${run.logs.join("\n")}`);
        assert.deepEqual(outcome, { kind: "shutdown", reason: "watchdog" }, `${run.console()}\n${run.logs.join("\n")}`);
        assert.equal(
          run.console(),
          expectedConsole("irq reason=watchdog", ["tiny: waiting for vector 0xf3", "tiny: got vector 0xf3", "RESULT: PASS", "tiny: shutdown reason 4"]),
        );
        seen.set(b.name, observe(run, outcome));
      } finally {
        await withTimeout(run.exec.destroy(), "destroy");
      }
    });
  }
  await t.test("same console text, outcome and hypercall transcript on emu and kvm", { skip: COMPARE_SKIP }, () => {
    assert.deepEqual(seen.get("kvm"), seen.get("emu"));
  });
});

for (const b of BACKENDS) {
  test(`${b.name}: a paused guest does not run; after unpause it sees the memory written meanwhile and shuts down`, { skip: b.skip }, async () => {
    const run = await launchTiny(b, "watch=0x800000 reason=reboot");
    try {
      await run.waitForConsole("tiny: watching for the overlay\n");
      await withTimeout(run.exec.pause(), "pause");
      new DataView(run.ram.bytes.buffer, run.ram.bytes.byteOffset + 0x800000, 4).setUint32(0, OVERLAY_MAGIC, true);
      // Not a timing assertion: a paused guest must never get here, however long we look; 300 ms of looking
      // catches a pause that does nothing.
      const early = await Promise.race([run.outcome, new Promise<null>((r) => setTimeout(() => r(null), 300))]);
      assert.equal(early, null, "the paused guest kept running");
      assert.doesNotMatch(run.console(), /saw the overlay/);
      await withTimeout(run.exec.unpause(), "unpause");
      assert.deepEqual(await withTimeout(run.outcome, "run after unpause"), { kind: "shutdown", reason: "reboot" });
      assert.match(run.console(), /tiny: saw the overlay\nRESULT: PASS\ntiny: shutdown reason 1\n$/);
    } finally {
      await withTimeout(run.exec.destroy(), "destroy");
    }
  });

  test(`${b.name}: destroy stops a spinning guest, reports no shutdown or crash, and is idempotent`, { skip: b.skip }, async () => {
    const run = await launchTiny(b, "spin");
    await run.waitForConsole("tiny: spinning\n");
    assert.equal(run.console(), expectedConsole("spin", ["RESULT: PASS", "tiny: spinning"]));
    await withTimeout(run.exec.destroy(), "destroy of a spinning guest");
    await withTimeout(run.exec.destroy(), "second destroy");
    const after = await Promise.race([run.outcome, new Promise<Outcome>((r) => setImmediate(() => r({ kind: "destroyed" })))]);
    assert.deepEqual(after, { kind: "destroyed" });
    const cpu = run.exec.cpuTimeNs();
    assert.ok(cpu > 0);
    assert.equal(run.exec.cpuTimeNs(), cpu, "no CPU time after destroy");
  });

  test(`${b.name}: two tiny domains run at once and each reports its own shutdown and console`, { skip: b.skip }, async () => {
    const [x, y] = await Promise.all([launchTiny(b, "reason=reboot"), launchTiny(b, "reason=crash", "elf32")]);
    try {
      const [ox, oy] = await withTimeout(Promise.all([x.outcome, y.outcome]), "two guests");
      assert.deepEqual(ox, { kind: "shutdown", reason: "reboot" });
      assert.deepEqual(oy, { kind: "shutdown", reason: "crash" });
      assert.equal(x.console(), expectedConsole("reason=reboot", ["RESULT: PASS", "tiny: shutdown reason 1"]));
      assert.equal(y.console(), expectedConsole("reason=crash", ["RESULT: PASS", "tiny: shutdown reason 3"]));
      assert.deepEqual(x.transcript.filter((l) => !l.startsWith("18:")), ["17:0=262161", "17:1=0", "49:0=-38"]);
      assert.deepEqual(y.transcript.filter((l) => !l.startsWith("18:")), ["17:0=262161", "17:1=0", "49:0=-38"]);
    } finally {
      await Promise.all([x.exec.destroy(), y.exec.destroy()]);
    }
  });

  test(`${b.name}: a spinning domain keeps running while a neighbour triple-faults`, { skip: b.skip }, async () => {
    const spinner = await launchTiny(b, "watch=0x800000 reason=poweroff");
    try {
      await spinner.waitForConsole("tiny: watching for the overlay\n");
      const { outcome } = await runToEnd(b, "fault", "elf64");
      assert.equal(outcome.kind, "crashed");
      new DataView(spinner.ram.bytes.buffer, spinner.ram.bytes.byteOffset + 0x800000, 4).setUint32(0, OVERLAY_MAGIC, true);
      assert.deepEqual(await withTimeout(spinner.outcome, "neighbour run"), { kind: "shutdown", reason: "poweroff" });
    } finally {
      await spinner.exec.destroy();
    }
  });
}
