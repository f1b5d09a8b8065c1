// The kvm backend run directly (no daemon) on the tiny test guests: console output through port 0xe9 and
// console_io, shutdown reasons, triple fault, two domains at once, pause/unpause, destroy of a spinning guest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { kvmBackend, type KvmDomain } from "../../src/accel/kvm/backend.ts";
import { loadKernel } from "../../src/boot/load.ts";
import type { ShutdownReason } from "../../src/hv/ports.ts";
import { HypercallDispatcher } from "../../src/hv/hypercall/dispatch.ts";
import type { OwnerHypercalls } from "../../src/vcpu_thread/protocol.ts";
import { buildTinyGuest } from "../guests/build.ts";

const probe = existsSync("/dev/kvm") ? kvmBackend.probe() : null;
const skip = probe === null ? "/dev/kvm is missing on this host" : probe.usable ? false : `kvm backend unusable: ${probe.reason}`;
const MEMORY = 16 << 20;
let nextDomid = 100;
const openFdCount = (): number => readdirSync("/proc/self/fd").length;

type Outcome = { kind: "shutdown"; reason: ShutdownReason } | { kind: "crashed"; why: string; dump: string };

interface Running {
  exec: KvmDomain;
  console: () => string;
  logs: string[];
  outcome: Promise<Outcome>;
  waitForConsole(text: string, timeoutMs?: number): Promise<void>;
}

async function launchTiny(cmdline: string, elf: "elf64" | "elf32" = "elf64", vcpus = 1, ownerHypercalls?: OwnerHypercalls): Promise<Running> {
  const guest = buildTinyGuest();
  const image = loadKernel({ kernelPath: guest[elf], cmdline, memoryBytes: MEMORY, vcpus, type: "pvh" });
  let text = "";
  const logs: string[] = [];
  const watchers: (() => void)[] = [];
  let settle!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((res) => (settle = res));
  const domid = nextDomid++;
  const exec = await kvmBackend.launch(
    { domid, name: `tiny${domid}`, type: "pvh", memoryBytes: MEMORY, vcpus, image, ownerHypercalls },
    {
      console: (b) => {
        text += new TextDecoder().decode(b);
        watchers.forEach((w) => w());
      },
      log: (l) => logs.push(l),
      shutdown: (reason) => settle({ kind: "shutdown", reason }),
      crashed: (why, dump) => settle({ kind: "crashed", why, dump }),
    },
  );
  return {
    exec,
    console: () => text,
    logs,
    outcome,
    waitForConsole: (needle, timeoutMs = 10000) =>
      new Promise<void>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`console never showed "${needle}"; got:\n${text}`)), timeoutMs);
        const check = (): void => {
          if (text.includes(needle)) {
            clearTimeout(t);
            res();
          }
        };
        watchers.push(check);
        check();
      }),
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what} took over ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

test("probe() finds KVM usable and says whether it can run full guests", { skip }, () => {
  assert.equal(probe!.usable, true);
  assert.equal(typeof probe!.fullGuests, "boolean");
  if (existsSync("/sys/module/kvm_pvm")) {
    assert.equal(probe!.fullGuests, false);
    assert.match(probe!.reason, /pvm/i);
  }
});

test("without permission on /dev/kvm, probe() gives a one-line reason that says what to do", {
  skip: skip || (process.getuid?.() !== 0 ? "needs root to drop to an unprivileged user" : !existsSync("/usr/bin/setpriv") ? "setpriv is missing" : false),
}, () => {
  const backend = new URL("../../src/accel/kvm/backend.ts", import.meta.url).pathname;
  const out = execFileSync(
    "setpriv",
    ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--import", "tsx", "--input-type=module", "-e",
      `const { probeKvm } = await import(${JSON.stringify(backend)}); console.log(JSON.stringify(probeKvm()))`],
    { encoding: "utf8", timeout: 20000 },
  );
  const p = JSON.parse(out) as { usable: boolean; reason: string };
  assert.equal(p.usable, false);
  assert.equal(p.reason, 'KVM open "/dev/kvm" failed: EACCES: no permission; run as root or join the "kvm" group');
});

test("the ELF64 tiny guest prints via port 0xe9 and console_io, sees Xen 4.17 and powers off", { skip }, async () => {
  const g = await launchTiny("");
  try {
    const o = await withTimeout(g.outcome, 15000, "guest run");
    assert.deepEqual(o, { kind: "shutdown", reason: "poweroff" });
    const text = g.console();
    assert.match(text, /hello from the PVH guest via port 0xe9/);
    assert.match(text, /hello via console_io/);
    assert.match(text, /hello from 32-bit protected mode via console_io/);
    assert.match(text, /xen version 4\.17/);
    assert.match(text, /RESULT: PASS/);
    assert.doesNotMatch(text, /FAIL/);
    assert.ok(g.logs.some((l) => /hypercall 49 .*not implemented/.test(l)), "the unknown hypercall is logged");
  } finally {
    await g.exec.destroy();
  }
});

for (const reason of ["reboot", "crash", "watchdog"] as const) {
  test(`the tiny guest shuts down with reason ${reason} when its cmdline says reason=${reason}`, { skip }, async () => {
    const g = await launchTiny(`reason=${reason}`);
    try {
      assert.deepEqual(await withTimeout(g.outcome, 15000, "guest run"), { kind: "shutdown", reason });
      assert.match(g.console(), /RESULT: PASS/);
      assert.match(g.console(), new RegExp(`cmdline "reason=${reason}"`));
    } finally {
      await g.exec.destroy();
    }
  });
}

test("the ELF32 (x86-64 machine) build of the tiny guest behaves the same", { skip }, async () => {
  const g = await launchTiny("reason=reboot", "elf32");
  try {
    assert.deepEqual(await withTimeout(g.outcome, 15000, "guest run"), { kind: "shutdown", reason: "reboot" });
    assert.match(g.console(), /RESULT: PASS/);
  } finally {
    await g.exec.destroy();
  }
});

test("a triple fault ends the domain as crashed with a register dump", { skip }, async () => {
  const g = await launchTiny("fault");
  try {
    const o = await withTimeout(g.outcome, 15000, "guest run");
    assert.equal(o.kind, "crashed");
    if (o.kind !== "crashed") return;
    assert.match(o.why, /triple fault/);
    assert.match(o.dump, /rip=[0-9a-f]{16}/);
    assert.match(o.dump, /cr3=/);
  } finally {
    await g.exec.destroy();
  }
});

test("two domains run at once and each reports its own shutdown", { skip }, async () => {
  const [a, b] = await Promise.all([launchTiny("reason=reboot"), launchTiny("reason=watchdog")]);
  try {
    const [oa, ob] = await withTimeout(Promise.all([a.outcome, b.outcome]), 20000, "two guests");
    assert.deepEqual(oa, { kind: "shutdown", reason: "reboot" });
    assert.deepEqual(ob, { kind: "shutdown", reason: "watchdog" });
    assert.match(a.console(), /RESULT: PASS/);
    assert.match(b.console(), /RESULT: PASS/);
  } finally {
    await Promise.all([a.exec.destroy(), b.exec.destroy()]);
  }
});

test("pause stops a spinning guest's CPU time and unpause resumes it", { skip }, async () => {
  const g = await launchTiny("spin");
  try {
    await g.waitForConsole("tiny: spinning");
    await withTimeout(g.exec.pause(), 5000, "pause");
    const t1 = g.exec.cpuTimeNs();
    await new Promise((r) => setTimeout(r, 300));
    const t2 = g.exec.cpuTimeNs();
    assert.ok(t2 - t1 < 30e6, `paused guest used ${(t2 - t1) / 1e6} ms of CPU`);
    await withTimeout(g.exec.unpause(), 5000, "unpause");
    await new Promise((r) => setTimeout(r, 300));
    const t3 = g.exec.cpuTimeNs();
    assert.ok(t3 - t2 > 10e6, `running guest used only ${(t3 - t2) / 1e6} ms of CPU`);
  } finally {
    await g.exec.destroy();
  }
});

test("hypercalls the owner serves go to the main thread and back into the guest", { skip }, async () => {
  const onMain: number[] = [];
  const mainThread = new HypercallDispatcher({ domid: 1, privileged: false, handle: new Uint8Array(16) }, { console() {}, log() {}, shutdown() {} });
  const g = await launchTiny("reason=reboot", "elf64", 1, {
    numbers: [17],
    handle: (req, mem) => {
      onMain.push(Number(req.args[0]));
      return mainThread.dispatch(req, mem); // reads and writes guest memory from the main thread
    },
  });
  try {
    assert.deepEqual(await withTimeout(g.outcome, 15000, "guest run"), { kind: "shutdown", reason: "reboot" });
    assert.match(g.console(), /xen version 4\.17/);
    assert.match(g.console(), /RESULT: PASS/);
    assert.deepEqual(onMain, [0, 1], "XENVER_version, then XENVER_extraversion with a buffer in guest memory");
  } finally {
    await g.exec.destroy();
  }
});

test("injectVector() delivers the upcall vector through the in-kernel LAPIC to a halted guest", { skip }, async () => {
  const g = await launchTiny("irq reason=watchdog");
  try {
    await g.waitForConsole("tiny: waiting for vector 0xf3");
    assert.equal(g.exec.injectVector(0, 0xf3), true);
    assert.deepEqual(await withTimeout(g.outcome, 15000, "guest run"), { kind: "shutdown", reason: "watchdog" });
    assert.match(g.console(), /tiny: got vector 0xf3/);
    assert.match(g.console(), /RESULT: PASS/);
  } finally {
    await g.exec.destroy();
  }
  assert.equal(g.exec.injectVector(0, 0xf3), false, "no injection after destroy");
});

const OVERLAY_MAGIC = 0x7a5e4e00;
function magicPage(exec: KvmDomain): Uint8Array {
  const page = exec.physmapHooks.allocOverlayPage!();
  new DataView(page.buffer, page.byteOffset, 4096).setUint32(0, OVERLAY_MAGIC, true);
  return page;
}

test("an overlay page mapped above RAM becomes visible to the running guest", { skip }, async () => {
  const g = await launchTiny("watch=0x2000000 reason=reboot"); // gfn 0x2000: past the 16 MiB of RAM
  try {
    await g.waitForConsole("tiny: watching for the overlay");
    g.exec.physmapHooks.overlayMapped!(0x2000, magicPage(g.exec));
    assert.deepEqual(await withTimeout(g.outcome, 15000, "guest run"), { kind: "shutdown", reason: "reboot" });
    assert.match(g.console(), /tiny: saw the overlay/);
  } finally {
    await g.exec.destroy();
  }
});

test("an overlay inside RAM replaces the RAM page until unmapped; released RAM reads back as zeros", { skip }, async () => {
  const g = await launchTiny("watch=0x800000 reason=watchdog");
  try {
    await g.waitForConsole("tiny: watching for the overlay");
    const ram = g.exec.ram.bytes;
    ram.fill(0x11, 0x800000, 0x801000);
    g.exec.physmapHooks.overlayMapped!(0x800, magicPage(g.exec));
    assert.deepEqual(await withTimeout(g.outcome, 15000, "guest run"), { kind: "shutdown", reason: "watchdog" });
    assert.match(g.console(), /tiny: saw the overlay/);
    assert.equal(new DataView(ram.buffer, 0x800000, 4).getUint32(0, true), OVERLAY_MAGIC, "the owner's RAM view shows the overlay too");
    g.exec.physmapHooks.overlayUnmapped!(0x800);
    assert.equal(ram[0x800000], 0x11, "the RAM page underneath is back, untouched");
    g.exec.physmapHooks.ramReleased!(0x800);
    assert.equal(ram.subarray(0x800000, 0x801000).every((b) => b === 0), true);
  } finally {
    await g.exec.destroy();
  }
  assert.throws(() => g.exec.physmapHooks.overlayMapped!(0x800, new Uint8Array(4096)), /destroyed/);
});

test("a domain with two vCPUs runs on the boot vCPU while the other waits for INIT/SIPI, and both stop", { skip }, async () => {
  const g = await launchTiny("reason=watchdog", "elf64", 2);
  try {
    assert.deepEqual(await withTimeout(g.outcome, 15000, "guest run"), { kind: "shutdown", reason: "watchdog" });
  } finally {
    await withTimeout(g.exec.destroy(), 5000, "destroy");
  }
});

test("rapid pause/unpause cycles, destroy while paused and destroy right after launch never hang", { skip }, async () => {
  const g = await launchTiny("spin");
  try {
    await g.waitForConsole("tiny: spinning");
    for (let i = 0; i < 30; i++) {
      await withTimeout(g.exec.pause(), 5000, `pause ${i}`);
      await withTimeout(g.exec.unpause(), 5000, `unpause ${i}`);
    }
    await withTimeout(Promise.all([g.exec.pause(), g.exec.pause()]), 5000, "concurrent pauses");
  } finally {
    await withTimeout(g.exec.destroy(), 5000, "destroy while paused");
  }
  const h = await launchTiny("spin");
  await withTimeout(h.exec.destroy(), 5000, "destroy right after launch");
});

test("destroy stops a spinning guest promptly and is idempotent", { skip }, async () => {
  const g = await launchTiny("spin");
  await g.waitForConsole("tiny: spinning");
  const t0 = Date.now();
  await withTimeout(g.exec.destroy(), 3000, "destroy");
  assert.ok(Date.now() - t0 < 3000);
  await g.exec.destroy();
  assert.ok(g.exec.cpuTimeNs() > 0);
});

test("launch rejects a boot image that does not fit in RAM and leaves nothing running", { skip }, async () => {
  const fdsBefore = openFdCount();
  await assert.rejects(
    kvmBackend.launch(
      {
        domid: nextDomid++, name: "toolarge", type: "pvh", memoryBytes: 1 << 20, vcpus: 1,
        image: { regions: [{ gpa: 0xff000, bytes: new Uint8Array(0x2000) }], entry: { kind: "pvh32", entry: 0x100000, ebx: 0 }, description: "bad" },
      },
      { console() {}, log() {}, shutdown() {}, crashed() {} },
    ),
    /does not fit/,
  );
  assert.equal(openFdCount(), fdsBefore, "every fd opened for the failed launch is closed");
});

test("destroy releases every file descriptor of the domain", { skip }, async () => {
  const fdsBefore = openFdCount();
  const g = await launchTiny("");
  await withTimeout(g.outcome, 15000, "guest run");
  await g.exec.destroy();
  assert.equal(openFdCount(), fdsBefore);
});
