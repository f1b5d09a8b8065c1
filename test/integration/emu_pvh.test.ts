// The stock Debian kernel boots as a Xen PVH domain on the emu backend with the whole Xen guest interface
// (dom0/xen XenHost: owner-thread hypercalls, 2-level event channels with LAPIC upcalls, grant tables, the PV
// console on hvc0, xenstored serving the xenstore ring, pvclock and Xen timers): its init reads /sys/hypervisor and
// powers off; `xl shutdown` (control/shutdown in xenstore) makes the guest power itself off; a guest panic arrives
// as SCHEDOP_shutdown(crash). (Linux 6.1 PVH powers off through ACPI S5 when the tables offer it, else by halting
// with interrupts off, which Xen — and tsxen's emu — treat as poweroff; only panic and kexec use SCHEDOP_shutdown.)
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { emuBackend } from "../../src/accel/emu/backend.ts";
import { loadKernel } from "../../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../../src/devices/acpi/tables.ts";
import { XenHost } from "../../src/dom0/xen/xen_host.ts";
import { startXenstoredService } from "../../src/dom0/xenstored/service.ts";
import type { ShutdownReason } from "../../src/hv/ports.ts";
import { GUEST_CHECKS, GUEST_DIR, KERNEL, ROOT, ensureGuest, parseChecks, testInitramfs } from "../support/guest.ts";

const MEMORY_MIB = 256;
const BOOT_TIMEOUT_MS = 15 * 60_000;
/** The boot gives up (and the test shows the console) a little before the test's own timeout. */
const GUEST_TIMEOUT_MS = BOOT_TIMEOUT_MS - 60_000;
const CMDLINE = "console=hvc0 cryptomgr.notests panic=-1 quiet";

interface BootResult { console: string; reason: ShutdownReason | "crashed" | "timeout"; log: string[]; seconds: number; xenstore: string[] }

/** An initramfs with Debian's xenstore-utils (scripts/fetch-guest.sh --xenstore), or undefined if not fetched. */
function xenstoreInitramfs(initBody: string): string | undefined {
  if (!existsSync(join(GUEST_DIR, "pkgs", "xenstore-utils"))) return undefined;
  const key = createHash("sha1").update(initBody).digest("hex").slice(0, 12);
  const out = join(GUEST_DIR, `test-initramfs-xs-${key}.cpio.gz`);
  if (!existsSync(out)) {
    execFileSync(process.execPath, [join(ROOT, "scripts/make-initramfs.mjs"), "--xenstore", "--init-text", initBody, "--out", out], { stdio: "ignore" });
  }
  return out;
}

interface BootOptions {
  /** Sees the console text so far and may act (e.g. xl shutdown) through the host. */
  readonly onConsole?: (text: string, host: XenHost, domid: number) => void;
  /** Runs once the domain's Xen interface exists (before the guest runs), e.g. to set dom0 watches. */
  readonly onAttached?: (xs: Awaited<ReturnType<typeof startXenstoredService>>, domid: number) => void;
  readonly initrd?: string;
  /** Share one dom0 (xenstored + XenHost) between domains booted at once; the caller stops xenstored. */
  readonly world?: { readonly xs: Awaited<ReturnType<typeof startXenstoredService>>; readonly host: XenHost };
  readonly domid?: number;
  readonly name?: string;
  readonly vcpus?: number;
}

/** Boots a PVH domain whose /init runs initBody. */
async function bootPvh(initBody: string, opts: BootOptions | ((text: string, host: XenHost, domid: number) => void) = {}): Promise<BootResult> {
  ensureGuest();
  const o: BootOptions = typeof opts === "function" ? { onConsole: opts } : opts;
  const onConsole = o.onConsole;
  const initrd = o.initrd ?? testInitramfs(initBody);
  const memoryBytes = MEMORY_MIB << 20;
  // ACPI (MADT) as Xen's toolstack gives PVH guests: without it Linux never sets up the per-CPU Xen timer.
  const vcpus = o.vcpus ?? 1;
  const image = loadKernel({ kernelPath: KERNEL, ramdiskPath: initrd, memoryBytes, vcpus, type: "pvh", cmdline: CMDLINE, rsdpPaddr: ACPI_REGION_GPA });
  const log: string[] = [];
  const xs = o.world?.xs ?? await startXenstoredService({ log: (l) => log.push(l) });
  const host = o.world?.host ?? new XenHost(xs, (l) => log.push(l));
  const domid = o.domid ?? 3;
  const name = o.name ?? "emu-pvh";
  let text = "";
  const t0 = performance.now();
  const r = await new Promise<BootResult>((resolve, reject) => {
    let exec: Awaited<ReturnType<typeof emuBackend.launch>> | undefined;
    let finished = false;
    const timer = setTimeout(() => finish("timeout"), GUEST_TIMEOUT_MS);
    const finish = (reason: ShutdownReason | "crashed" | "timeout"): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (reason === "timeout") log.push(`Xen event state at the timeout:\n${host.describeEvents(domid)}`);
      const xenstore = xs.client.directory(`/local/domain/${domid}/control`).map((n) => `${n}=${xs.client.tryRead(`/local/domain/${domid}/control/${n}`) ?? ""}`);
      void exec?.destroy();
      resolve({ console: text, reason, log, seconds: (performance.now() - t0) / 1000, xenstore });
    };
    emuBackend.launch(
      { domid, name, type: "pvh", memoryBytes, vcpus, image, xen: host.domainPort({ domid, name, memoryBytes, vcpus }) },
      {
        console: (b) => {
          text += Buffer.from(b).toString("latin1");
          onConsole?.(text, host, domid);
        },
        log: (l) => log.push(l),
        shutdown: (reason) => finish(reason),
        crashed: (why, dump) => { log.push(`crashed: ${why}\n${dump}`); finish("crashed"); },
      },
    ).then((e) => { exec = e; o.onAttached?.(xs, domid); }, reject);
  });
  if (o.world === undefined) await xs.stop();
  return r;
}

const context = (r: BootResult): string => `console tail:\n${r.console.slice(-3000)}\nlog:\n${r.log.slice(-24).join("\n")}`;

test("the stock Debian kernel boots as PVH on emu: Xen detected, hvc0 shell, /sys/hypervisor, clocksource xen, poweroff", { timeout: BOOT_TIMEOUT_MS }, async () => {
  let hostSecondsAtDate: number | undefined;
  const r = await bootPvh(`
echo "CHECK date_now=$(date +%s)"
echo "CHECK hv_major=$(cat /sys/hypervisor/version/major)"
echo "CHECK hv_minor=$(cat /sys/hypervisor/version/minor)"
echo "CHECK hv_extra=$(cat /sys/hypervisor/version/extra)"
echo "CHECK console=$(cat /sys/class/tty/console/active)"
echo "CHECK clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
dmesg | grep -E "Booting kernel on Xen PVH|Xen version|Using 2-level ABI|console .hvc0. enabled|Grant table initialized" | sed 's/^\\[[ 0-9.]*\\] /DMESG /'
${GUEST_CHECKS}
poweroff -f
`, (text) => {
    if (hostSecondsAtDate === undefined && /CHECK date_now=\d+\r?\n/.test(text)) hostSecondsAtDate = Date.now() / 1000;
  });
  const checks = parseChecks(r.console);
  assert.equal(r.reason, "poweroff", context(r));
  assert.ok(r.console.includes("TSXEN-GUEST-DONE"), context(r));
  assert.equal(checks.get("hypervisor"), "xen", context(r));
  assert.equal(checks.get("hv_major"), "4", context(r));
  assert.equal(checks.get("hv_minor"), "17", context(r));
  assert.equal(checks.get("hv_extra"), ".0-tsxen", context(r));
  assert.equal(checks.get("console"), "hvc0", context(r));
  assert.equal(checks.get("md5"), "36c7ba9b7b95a423417f01f962baa2e2", context(r));
  assert.equal(checks.get("nproc"), "1", context(r));
  assert.equal(checks.get("clocksource"), "xen", context(r));
  // The guest's wall clock after a boot of a minute or more (pvclock + Xen wallclock / RTC) is the host's, ±2 s.
  // `date +%s` truncates to the second: the guest's time was in [date_now, date_now + 1), so its midpoint is compared
  // (the host's time is taken when the line arrives, a little later still).
  const skew = Number(checks.get("date_now")) + 0.5 - (hostSecondsAtDate ?? 0);
  assert.ok(Math.abs(skew) <= 2, `guest clock is ${skew.toFixed(1)} s off the host's\n${context(r)}`);
  const delta = Number(checks.get("date_delta"));
  assert.ok(delta >= 1 && delta <= 4, `date advanced ${delta}s across sleep 2\n${context(r)}`);
  for (const line of ["Booting kernel on Xen PVH", "Xen version: 4.17.0-tsxen", "xen:events: Using 2-level ABI", "printk: console [hvc0] enabled", "Grant table initialized"]) {
    assert.ok(r.console.includes(`DMESG ${line}`), `missing "${line}" in dmesg\n${context(r)}`);
  }
  process.stderr.write(`emu PVH boot: ${r.seconds.toFixed(1)} s to poweroff\n`);
});

test("xl shutdown of a PVH guest on emu: control/shutdown reaches the stock kernel, which powers off", { timeout: BOOT_TIMEOUT_MS }, async () => {
  let asked = false;
  let events = "";
  // orderly_poweroff() runs /sbin/poweroff; this one says so and powers off at once (busybox init is not PID 1).
  const r = await bootPvh(`
rm -f /sbin/poweroff
printf '#!/bin/sh\\necho TSXEN-ORDERLY-POWEROFF > /dev/console\\nexec /bin/busybox poweroff -f\\n' > /sbin/poweroff
/bin/busybox chmod +x /sbin/poweroff
echo TSXEN-WAITING-FOR-SHUTDOWN
while true; do sleep 1; done
`, (text, host, domid) => {
    if (!asked && text.includes("TSXEN-WAITING-FOR-SHUTDOWN")) {
      asked = true;
      events = host.describeEvents(domid);
      host.requestShutdown(domid, "poweroff");
    }
  });
  assert.ok(asked, context(r));
  assert.equal(r.reason, "poweroff", context(r));
  assert.ok(r.console.includes("TSXEN-ORDERLY-POWEROFF"), context(r));
  // The guest's xenbus acknowledges the request by clearing the node.
  assert.ok(r.xenstore.includes("shutdown="), `control: ${r.xenstore.join(" ")}\n${context(r)}`);
  // What xl debug-keys e shows for the running guest: the stock kernel registered its per-vCPU upcall vector
  // (HYPERVISOR_CALLBACK_VECTOR 0xf3) and, looping on `sleep 1`, keeps a Xen timer that a host timer waits for.
  const vcpu0 = /vcpu0: upcall_pending=[01] pending_sel=[0-9a-f]{16} upcall vector (\d+) timer (-?\d+ ns from now|none) host timer (armed|not armed)/.exec(events);
  assert.ok(vcpu0 !== null, `describeEvents:\n${events}`);
  assert.equal(vcpu0[1], "243", events);
  if (vcpu0[2] !== "none") assert.equal(vcpu0[3], "armed", `a Xen timer without a host timer:\n${events}`);
  assert.match(events, /pending ports: /);
  process.stderr.write(`emu PVH xl shutdown: ${r.seconds.toFixed(1)} s to poweroff\n`);
});

test("a panicking PVH guest on emu reports SCHEDOP_shutdown(crash)", { timeout: BOOT_TIMEOUT_MS }, async () => {
  const r = await bootPvh(`
echo TSXEN-PANICKING
echo c > /proc/sysrq-trigger
`);
  assert.equal(r.reason, "crash", context(r));
  assert.ok(r.console.includes("TSXEN-PANICKING"), context(r));
  assert.ok(r.log.some((l) => l.includes("shut down through SCHEDOP_shutdown (crash)")), context(r));
});

test("Debian's xenstore tools in a PVH guest on emu read and write its own subtree, are refused outside it, and a dom0 watch fires", { timeout: BOOT_TIMEOUT_MS }, async (t) => {
  const body = `
echo "CHECK xs_name=$(xenstore-read name 2>&1)"
xenstore-write data/greeting hello; echo "CHECK xs_write_rc=$?"
echo "CHECK xs_readback=$(xenstore-read data/greeting 2>&1)"
xenstore-write /local/domain/0/evil x; echo "CHECK xs_outside_write_rc=$?"
xenstore-read /local/domain/0/name; echo "CHECK xs_outside_read_rc=$?"
echo "CHECK xs_ls=$(xenstore-ls control | tr '\\n' ' ')"
poweroff -f
`;
  const initrd = xenstoreInitramfs(body);
  if (initrd === undefined) {
    t.skip("xenstore-utils is not fetched (scripts/fetch-guest.sh --xenstore)");
    return;
  }
  const watched: string[] = [];
  const r = await bootPvh(body, {
    initrd,
    onAttached: (xs, domid) => {
      xs.client.watch(`/local/domain/${domid}/data`, "t", (path) => watched.push(path));
    },
  });
  const checks = parseChecks(r.console);
  assert.equal(r.reason, "poweroff", context(r));
  assert.equal(checks.get("xs_name"), "emu-pvh", context(r));
  assert.equal(checks.get("xs_write_rc"), "0", context(r));
  assert.equal(checks.get("xs_readback"), "hello", context(r));
  assert.equal(checks.get("xs_outside_write_rc"), "1", context(r));
  assert.equal(checks.get("xs_outside_read_rc"), "1", context(r));
  assert.match(checks.get("xs_ls") ?? "", /feature-poweroff = "1"/, context(r));
  assert.ok(watched.includes("/local/domain/3/data/greeting"), `dom0 watch saw ${JSON.stringify(watched)}\n${context(r)}`);
});

test("two PVH domains run at once on emu and cannot read each other's xenstore nodes", { timeout: BOOT_TIMEOUT_MS }, async (t) => {
  const body = (other: number): string => `
echo "CHECK xs_self=$(xenstore-read name 2>&1)"
xenstore-read /local/domain/${other}/name; echo "CHECK xs_other_read_rc=$?"
xenstore-write /local/domain/${other}/data/x y; echo "CHECK xs_other_write_rc=$?"
poweroff -f
`;
  const a = xenstoreInitramfs(body(5));
  const b = xenstoreInitramfs(body(4));
  if (a === undefined || b === undefined) {
    t.skip("xenstore-utils is not fetched (scripts/fetch-guest.sh --xenstore)");
    return;
  }
  const xs = await startXenstoredService();
  const world = { xs, host: new XenHost(xs) };
  const [ra, rb] = await Promise.all([
    bootPvh(body(5), { initrd: a, world, domid: 4, name: "pvh-a" }),
    bootPvh(body(4), { initrd: b, world, domid: 5, name: "pvh-b" }),
  ]);
  await xs.stop();
  for (const [r, name] of [[ra, "pvh-a"], [rb, "pvh-b"]] as const) {
    const checks = parseChecks(r.console);
    assert.equal(r.reason, "poweroff", context(r));
    assert.equal(checks.get("xs_self"), name, context(r));
    assert.equal(checks.get("xs_other_read_rc"), "1", context(r));
    assert.equal(checks.get("xs_other_write_rc"), "1", context(r));
  }
});

// This was a todo ("CPU0 lost its Xen timer upcalls once under load"): one run under a load of ~9 had CPU0 stop
// receiving Xen timer upcalls, another hung in `poweroff -f` with both vCPUs idle. The cause (session 5): a pvclock
// tsc_timestamp a few ticks ahead of the guest's rdtsc made the guest's clock jump by ~2^63 ns, and a Xen timer
// programmed from that read never fired (ADR 0040 addendum; hv/xen/time.ts PvClock.fill). scripts/pvh-stress.ts
// with 2 vCPUs beside two CPU hogs stalled after ~5 min before the fix and ran 15 min without a stall after it.
test("a 2-vCPU PVH guest on emu brings up both CPUs (upcalls, Xen timers and IPIs per vCPU) and powers off", { timeout: BOOT_TIMEOUT_MS }, async () => {
  const r = await bootPvh(`
echo "CHECK nproc=$(nproc)"
echo "CHECK clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done &
j=0; while [ $j -lt 3000 ]; do j=$((j+1)); done
wait
echo "CHECK both_done=1"
poweroff -f
`, { vcpus: 2 });
  const checks = parseChecks(r.console);
  assert.equal(r.reason, "poweroff", context(r));
  assert.equal(checks.get("nproc"), "2", context(r));
  assert.equal(checks.get("clocksource"), "xen", context(r));
  assert.equal(checks.get("both_done"), "1", context(r));
});
