// JIT vs interpreter on a whole boot: the stock Debian kernel boots twice on emu (HVM, 1 vCPU) with the same
// initramfs, first interpreted (emu_jit = 0), then with the block JIT (emu_jit = 1). The init prints deterministic
// results of real work (md5 of zeros and of seq output, a shell and an awk arithmetic loop, sort, /proc facts);
// the two console logs must be the same once the kernel's timestamps and a few timing-dependent kernel messages
// are taken out, and the results must also be the known-correct ones.
//
// Instruction counts are printed but not compared: the guest's timers follow the host clock (the PIT, LAPIC timer
// and TSC are derived from performance.now()), so the number and placement of timer interrupts, and with them the
// instructions retired before any marker, differ between two runs of the same backend, let alone two backends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type EmuBoot, bootHvmOnEmu } from "../support/emu_boot.ts";

const MEMORY_MIB = 256;
const BOOT_TIMEOUT_MS = 10 * 60_000;

const INIT = `
echo "OUT uname=$(uname -srm)"
echo "OUT nproc=$(nproc)"
echo "OUT memtotal_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
echo "OUT cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "OUT cpu_flags_md5=$(grep -m1 '^flags' /proc/cpuinfo | md5sum | cut -d' ' -f1)"
echo "OUT md5_zero_4m=$(dd if=/dev/zero bs=1M count=4 2>/dev/null | md5sum | cut -d' ' -f1)"
echo "OUT md5_seq=$(seq 1 20000 | md5sum | cut -d' ' -f1)"
echo "OUT sort_md5=$(seq 1 5000 | sort -r | md5sum | cut -d' ' -f1)"
i=0; s=0; while [ $i -lt 3000 ]; do i=$((i+1)); s=$(( (s * 31 + i * i) % 1000000007 )); done
echo "OUT sh_hash=$s"
echo "OUT awk_hash=$(awk 'BEGIN { x = 0; for (i = 1; i <= 50000; i++) x = (x * 7 + i) % 65521; print x }')"
echo "OUT cmdline=$(cat /proc/cmdline)"
echo TSXEN-JIT-BOOT-DONE
poweroff -f
`;

/** Known-correct results (computed on the host with coreutils/awk for the same inputs). */
const EXPECTED: Record<string, string> = {
  nproc: "1",
  md5_zero_4m: "b5cfa9d6c8febd618f91ac2843d50a1c",
  md5_seq: "e071f707df7bbeee2a6a1eb48011ddd0",
  awk_hash: "36893",
};

/**
 * Kernel messages whose text depends on host timing: calibration, the clocksource watchdog, slow-path warnings, the
 * wall clock, and check_timer()'s IRQ0 probe, which under a loaded host can miss its ticks on either backend and
 * fall back to the 8259A ("MP-BIOS bug: 8254 timer not connected to IO-APIC", seen once on a JIT boot at load 7).
 */
const TIMING_DEPENDENT = [/tsc|TSC/, /clocksource/, /Calibrat/, /BogoMIPS|bogomips/, /hrtimer/, /took \d+/, /\d+(\.\d+)? ?[mu]?s\b/, /random: /,
  /watchdog/, /rcu/, /MP-BIOS bug|8254 timer|IRQ0|\.\.\.\./, /APIC calibration|APIC delta/, /audit\(/, /system clock/];

const boot = (jit: boolean): Promise<EmuBoot> =>
  bootHvmOnEmu(INIT, { name: `jit-boot-${jit ? 1 : 0}`, vcpus: 1, memoryMiB: MEMORY_MIB, jit });

/** The console without kernel timestamps and timing-dependent kernel messages, one entry per line. */
export function comparable(consoleText: string): string[] {
  const out: string[] = [];
  for (const raw of consoleText.replace(/\r/g, "").split("\n")) {
    const m = /^\[\s*\d+\.\d+\] ?(.*)$/.exec(raw);
    if (m !== null) {
      if (TIMING_DEPENDENT.some((re) => re.test(m[1]!))) continue;
      out.push(`[kernel] ${m[1]}`);
    } else if (raw.trim() !== "") out.push(raw);
  }
  return out;
}

const outputs = (lines: string[]): Map<string, string> =>
  new Map(lines.flatMap((l) => { const m = /^OUT ([a-z_0-9]+)=(.*)$/.exec(l); return m ? [[m[1]!, m[2]!] as [string, string]] : []; }));

test("the stock kernel boots to the same console log and results on the JIT as on the interpreter", { timeout: 2 * BOOT_TIMEOUT_MS }, async (t) => {
  const interp = await boot(false);
  const ctx = (b: EmuBoot): string => `console tail:\n${b.console.slice(-3000)}\nlog:\n${b.log.slice(-20).join("\n")}`;
  assert.equal(interp.reason, "poweroff", ctx(interp));
  assert.equal(interp.profile?.jit, false);
  const jit = await boot(true);
  assert.equal(jit.reason, "poweroff", ctx(jit));
  assert.equal(jit.profile?.jit, true);
  const a = comparable(interp.console), b = comparable(jit.console);
  assert.ok(a.includes("TSXEN-JIT-BOOT-DONE") && b.includes("TSXEN-JIT-BOOT-DONE"), `${ctx(interp)}\n---\n${ctx(jit)}`);
  const oa = outputs(a), ob = outputs(b);
  for (const [k, v] of Object.entries(EXPECTED)) {
    assert.equal(oa.get(k), v, `interpreter: ${k}`);
    assert.equal(ob.get(k), v, `JIT: ${k}`);
  }
  assert.equal(oa.get("memtotal_kb"), ob.get("memtotal_kb"));
  assert.equal(oa.size, 11, [...oa.keys()].join(","));
  assert.deepEqual(b, a, "the JIT's console log (timestamps and timing-dependent kernel messages removed) differs from the interpreter's");
  const js = jit.profile?.jitStats ?? {};
  assert.ok((js.blocksCompiled ?? 0) > 0 && (js.blockRuns ?? 0) > 0, `the JIT ran blocks: ${JSON.stringify(js)}`);
  const mips = (b: EmuBoot): string => b.profile === null ? "?" : `${(b.profile.instructions / 1e6).toFixed(0)} M instructions, ${(b.profile.instructions / 1e6 / b.seconds).toFixed(1)} MIPS`;
  t.diagnostic(`interpreter: ${interp.seconds.toFixed(1)} s to poweroff, ${mips(interp)}; JIT: ${jit.seconds.toFixed(1)} s, ${mips(jit)} ` +
    `(instruction counts differ run to run: timers follow the host clock); ${a.length} console lines compared`);
});
