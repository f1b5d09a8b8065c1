// npm run bench:emu — the emu backend side by side with QEMU's TCG in one run: boot-to-userspace time of the
// stock Debian kernel and a CPU-bound guest workload (md5sum over zeros), same kernel, initrd, memory,
// vCPUs and command line. QEMU boots the same decompressed vmlinux through its PVH loader (-M pc), the way
// tsxen skips the bzImage decompressor. Prints a Markdown table; `--write` also updates docs/benchmarks.md.
// Usage: node --import tsx bench/emu.ts [--runs N] [--work-mib N] [--vcpus N] [--type hvm|pvh] [--write] [--skip-qemu]
// --type pvh boots the emu guest as a Xen PVH domU (xenstored + Xen interface, console on hvc0) instead of through
// the Linux 64-bit boot protocol; QEMU's side is the same in both (it has no Xen guest interface under TCG).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { emuBackend } from "../src/accel/emu/backend.ts";
import { extractVmlinux, parseBzImage } from "../src/boot/bzimage.ts";
import { loadKernel } from "../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../src/devices/acpi/tables.ts";
import { XenHost } from "../src/dom0/xen/xen_host.ts";
import { startXenstoredService } from "../src/dom0/xenstored/service.ts";
import { GUEST_DIR, KERNEL, ROOT, ensureGuest, testInitramfs } from "../test/support/guest.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt("--runs", 1);
const WORK_MIB = opt("--work-mib", 16);
const VCPUS = opt("--vcpus", 1);
const MEMORY_MIB = 256;
/** TSXEN_EMU_JIT=1: the emu column runs with the block JIT (reported, and written to its own docs block). */
const JIT = process.env.TSXEN_EMU_JIT === "1";
const TYPE = args.includes("--type") && args[args.indexOf("--type") + 1] === "pvh" ? "pvh" : "hvm";
const CMDLINE = "console=ttyS0 reboot=t cryptomgr.notests panic=-1 quiet";
const EMU_CMDLINE = TYPE === "pvh" ? "console=hvc0 reboot=t cryptomgr.notests panic=-1 quiet" : CMDLINE;
const INIT = `echo BENCH-USERSPACE-UP
echo BENCH-WORK-START
dd if=/dev/zero bs=1M count=${WORK_MIB} 2>/dev/null | md5sum
echo BENCH-WORK-DONE
poweroff -f
`;

interface Sample { userspaceS: number; workS: number; totalS: number }

/** Runs one boot; `start` launches it and feeds console text to `onText`; resolves when it ends. */
async function measure(start: (onText: (s: string) => void, done: () => void) => Promise<void>): Promise<Sample> {
  const t0 = performance.now();
  let text = "";
  let up = -1, ws = -1, wd = -1;
  await new Promise<void>((resolve, reject) => {
    start((s) => {
      text += s;
      const now = performance.now();
      if (up < 0 && text.includes("BENCH-USERSPACE-UP")) up = now;
      if (ws < 0 && text.includes("BENCH-WORK-START")) ws = now;
      if (wd < 0 && text.includes("BENCH-WORK-DONE")) wd = now;
    }, resolve).catch(reject);
  });
  const end = performance.now();
  if (up < 0 || wd < 0) throw new Error(`the guest did not reach its markers; console tail:\n${text.slice(-2000)}`);
  return { userspaceS: (up - t0) / 1000, workS: (wd - ws) / 1000, totalS: (end - t0) / 1000 };
}

function emuRun(initrd: string): Promise<Sample> {
  return measure(async (onText, done) => {
    const memoryBytes = MEMORY_MIB << 20;
    // Loading (including the XZ decode of the bzImage) counts: QEMU's timer includes its own loader.
    const image = loadKernel({ kernelPath: KERNEL, ramdiskPath: initrd, memoryBytes, vcpus: VCPUS, type: TYPE, rsdpPaddr: ACPI_REGION_GPA, cmdline: EMU_CMDLINE });
    // PVH: dom0's side as the daemon has it (xenstored and the Xen interface), in this process.
    const xs = TYPE === "pvh" ? await startXenstoredService({ log: () => {} }) : undefined;
    const xen = xs === undefined ? undefined : new XenHost(xs, () => {}).domainPort({ domid: 1, name: "bench", memoryBytes, vcpus: VCPUS });
    let exec: Awaited<ReturnType<typeof emuBackend.launch>> | undefined;
    const finish = (): void => { void exec?.destroy().then(() => xs?.stop()).then(done); };
    exec = await emuBackend.launch({ domid: 1, name: "bench", type: TYPE, memoryBytes, vcpus: VCPUS, image, ...(xen !== undefined ? { xen } : {}) }, {
      console: (b) => onText(Buffer.from(b).toString("latin1")),
      log: () => {},
      shutdown: finish,
      crashed: (why, dump) => { onText(`\nCRASHED ${why}\n${dump}\n`); finish(); },
    });
  });
}

function qemuRun(vmlinux: string, initrd: string): Promise<Sample> {
  return measure(async (onText, done) => {
    const q = spawn("qemu-system-x86_64", [
      // microvm hangs here in TSC/PIT calibration under TCG (no HPET/PM timer): the PC machine boots the same
      // vmlinux through its PVH entry (SeaBIOS adds a fraction of a second).
      "-M", "pc", "-accel", "tcg", "-cpu", "qemu64", "-m", String(MEMORY_MIB), "-smp", String(VCPUS),
      "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
      "-kernel", vmlinux, "-initrd", initrd, "-append", CMDLINE,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    q.stdout.on("data", (d: Buffer) => onText(d.toString("latin1")));
    q.stderr.on("data", (d: Buffer) => onText(d.toString("latin1")));
    q.on("exit", () => done());
  });
}

function ensureQemu(): boolean {
  try {
    execFileSync("qemu-system-x86_64", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.getuid?.() === 0) {
      process.stderr.write("installing qemu-system-x86 from Debian's packages...\n");
      execFileSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-x86"], { stdio: "inherit" });
      return true;
    }
    return false;
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  ensureGuest();
  const initrd = testInitramfs(INIT);
  const vmlinux = join(GUEST_DIR, `vmlinux-${realpathSync(KERNEL).split("vmlinuz-").pop()}`);
  if (!existsSync(vmlinux)) {
    const bz = readFileSync(KERNEL);
    writeFileSync(vmlinux, extractVmlinux(parseBzImage(new Uint8Array(bz.buffer, bz.byteOffset, bz.byteLength))));
  }
  const haveQemu = !args.includes("--skip-qemu") && ensureQemu();
  const emu: Sample[] = [], qemu: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    emu.push(await emuRun(initrd));
    process.stderr.write(`emu run ${i + 1}: ${JSON.stringify(emu.at(-1))}\n`);
    if (haveQemu) {
      qemu.push(await qemuRun(vmlinux, initrd));
      process.stderr.write(`qemu run ${i + 1}: ${JSON.stringify(qemu.at(-1))}\n`);
    }
  }
  const row = (name: string, pick: (s: Sample) => number): string => {
    const e = median(emu.map(pick));
    if (!haveQemu) return `| ${name} | ${e.toFixed(1)} s | n/a | n/a |`;
    const q = median(qemu.map(pick));
    return `| ${name} | ${e.toFixed(1)} s | ${q.toFixed(1)} s | ${(e / q).toFixed(2)}x |`;
  };
  const table = [
    `Stock Debian kernel (${readFileSync(join(GUEST_DIR, "config"), "utf8").match(/Linux\/x86 ([^ ]+)/)?.[1] ?? "6.1"}), ${MEMORY_MIB} MiB, ${VCPUS} vCPU, emu guest type ${TYPE} with cmdline \`${EMU_CMDLINE}\`, median of ${RUNS} run(s), ${new Date().toISOString().slice(0, 10)}.`,
    "QEMU: `qemu-system-x86_64 -M pc -accel tcg -cpu qemu64` with the same vmlinux (PVH loader), initrd and cmdline.",
    "",
    `| measure | tsxen emu ${TYPE.toUpperCase()} (${JIT ? "block JIT, TSXEN_EMU_JIT=1" : "interpreter"}) | QEMU TCG | emu / QEMU (lower is better) |`,
    "|---|---|---|---|",
    row("start to userspace marker", (s) => s.userspaceS),
    row(`md5sum of ${WORK_MIB} MiB (CPU-bound)`, (s) => s.workS),
    row("start to poweroff", (s) => s.totalS),
  ].join("\n");
  process.stdout.write(`${table}\n`);
  if (args.includes("--write")) {
    const path = join(ROOT, "docs/benchmarks.md");
    const tag = `vcpus=${VCPUS}${JIT ? " jit=1" : ""}${TYPE === "pvh" ? " type=pvh" : ""}`;
    const begin = `<!-- bench:emu ${tag} begin -->`, end = `<!-- bench:emu ${tag} end -->`;
    let doc = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
    const block = `${begin}\n${table}\n${end}`;
    const re = new RegExp(`${begin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[\\s\\S]*?${end}`);
    const heading = "## emu backend vs QEMU TCG (npm run bench:emu)";
    doc = re.test(doc) ? doc.replace(re, block) : `${doc.trimEnd()}\n\n${doc.includes(heading) ? "" : `${heading}\n\n`}${block}\n`;
    writeFileSync(path, doc);
  }
}

await main();
