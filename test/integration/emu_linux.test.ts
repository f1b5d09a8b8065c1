// The stock Debian kernel boots on the emu backend (software x86-64 CPU) as an HVM guest through the Linux
// 64-bit boot protocol, reaches userspace in a busybox initramfs, runs its checks and powers off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bootHvmOnEmu } from "../support/emu_boot.ts";
import { GUEST_CHECKS, parseChecks } from "../support/guest.ts";

const MEMORY_MIB = 256;
const BOOT_TIMEOUT_MS = 15 * 60_000;

for (const vcpus of [1, 2]) {
  test(`the stock Debian kernel boots to a busybox shell on emu with ${vcpus} vCPU(s) and powers off`, { timeout: BOOT_TIMEOUT_MS }, async () => {
    const r = await bootHvmOnEmu(`${GUEST_CHECKS}\npoweroff -f\n`, { name: `emu-linux-${vcpus}`, vcpus, memoryMiB: MEMORY_MIB });
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
