// The stock Debian kernel boots on the emu backend (software x86-64 CPU) as an HVM guest through the Linux
// 64-bit boot protocol, reaches userspace in a busybox initramfs, runs its checks and powers off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { emuBackend } from "../../src/accel/emu/backend.ts";
import { loadKernel } from "../../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../../src/devices/acpi/tables.ts";
import type { ShutdownReason } from "../../src/hv/ports.ts";
import { GUEST_CHECKS, KERNEL, ensureGuest, parseChecks, testInitramfs } from "../support/guest.ts";

const MEMORY_MIB = 256;
const BOOT_TIMEOUT_MS = 15 * 60_000;

interface BootResult { console: string; reason: ShutdownReason | "crashed"; log: string[]; seconds: number }

async function bootHvm(vcpus: number, initBody: string): Promise<BootResult> {
  ensureGuest();
  const initrd = testInitramfs(initBody);
  const memoryBytes = MEMORY_MIB << 20;
  const image = loadKernel({
    kernelPath: KERNEL, ramdiskPath: initrd, memoryBytes, vcpus, type: "hvm", rsdpPaddr: ACPI_REGION_GPA,
    cmdline: "console=ttyS0 reboot=t cryptomgr.notests panic=-1 quiet",
  });
  let text = "";
  const log: string[] = [];
  const t0 = performance.now();
  return await new Promise<BootResult>((resolve, reject) => {
    let exec: Awaited<ReturnType<typeof emuBackend.launch>> | undefined;
    const finish = (reason: ShutdownReason | "crashed"): void => {
      void exec?.destroy();
      resolve({ console: text, reason, log, seconds: (performance.now() - t0) / 1000 });
    };
    emuBackend.launch({ domid: 1, name: `emu-linux-${vcpus}`, type: "hvm", memoryBytes, vcpus, image }, {
      console: (b) => { text += Buffer.from(b).toString("latin1"); },
      log: (l) => log.push(l),
      shutdown: (r) => finish(r),
      crashed: (why, dump) => { log.push(`crashed: ${why}\n${dump}`); finish("crashed"); },
    }).then((e) => { exec = e; }, reject);
  });
}

for (const vcpus of [1, 2]) {
  test(`the stock Debian kernel boots to a busybox shell on emu with ${vcpus} vCPU(s) and powers off`, { timeout: BOOT_TIMEOUT_MS }, async () => {
    const r = await bootHvm(vcpus, `${GUEST_CHECKS}\npoweroff -f\n`);
    const checks = parseChecks(r.console);
    const context = `console tail:\n${r.console.slice(-3000)}\nlog:\n${r.log.slice(-20).join("\n")}`;
    assert.equal(r.reason, "poweroff", context);
    assert.ok(r.console.includes("TSXEN-GUEST-DONE"), context);
    assert.equal(checks.get("nproc"), String(vcpus), context);
    const memKb = Number(checks.get("memtotal_kb"));
    assert.ok(memKb > (MEMORY_MIB - 64) * 1024 && memKb <= MEMORY_MIB * 1024, `MemTotal ${memKb} kB for ${MEMORY_MIB} MiB\n${context}`);
    assert.equal(checks.get("sum_squares"), "2668667000", context);
    assert.equal(checks.get("md5"), "36c7ba9b7b95a423417f01f962baa2e2", context);
    const delta = Number(checks.get("date_delta"));
    assert.ok(delta >= 1 && delta <= 4, `date advanced ${delta}s across sleep 2\n${context}`);
    process.stderr.write(`emu HVM boot with ${vcpus} vCPU(s): ${r.seconds.toFixed(1)} s to poweroff\n`);
  });
}
