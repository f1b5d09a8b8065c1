// npm run bench:emu — the emu backend (interpreter and block JIT) side by side with QEMU's TCG in one run, on the
// stock Debian kernel with the same initrd, memory, vCPUs and command line:
//   - boot-to-userspace time (HVM through the Linux 64-bit boot protocol, PVH as a Xen domU),
//   - guest MIPS on a CPU-bound integer loop with a known instruction count (bench/guest/intloop.c: 7 instructions
//     per iteration, built with gcc into the initramfs; its result is checked against the host's),
//   - md5sum over WORK_MIB MiB of zeros through a pipe (busybox dd | md5sum: two context switches per 4 KiB, so
//     mostly the kernel's scheduler and pipe code), and of a WORK_MIB MiB file in tmpfs (the md5 loop and read()),
//   - start to poweroff, and the guest MIPS over the whole emu run (from the execution profile).
// QEMU boots the same decompressed vmlinux through its PVH loader (-M pc), the way tsxen skips the bzImage
// decompressor; QEMU's side is the same for both emu guest types (it has no Xen guest interface under TCG).
// Prints Markdown tables; `--write` also updates docs/benchmarks.md (one marker block per guest type).
//
// Usage: node --import tsx bench/emu.ts [--runs N] [--work-mib N] [--loop-miters N] [--vcpus N]
//          [--types hvm,pvh] [--emu interp,jit] [--profile [--syms KALLSYMS]] [--write [--doc FILE]] [--skip-qemu]
// Defaults: 1 run, md5 of 32 MiB, 30 M loop iterations (210 M instructions), 1 vCPU, both types, both emu modes.
// With the interpreter on a quiet host each emu boot (boot + loop + md5 + poweroff) takes about 1.5-2 minutes;
// the whole default run (2 types x 2 modes + QEMU) about 6-8 minutes. --type pvh (old spelling) = --types pvh.
// --profile prints each emu run's profile (exits/s, JIT cache hit rate, hottest code; --syms names it).
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { emuBackend } from "../src/accel/emu/backend.ts";
import { extractVmlinux, parseBzImage } from "../src/boot/bzimage.ts";
import { buildInitramfs } from "../src/boot/initramfs.ts";
import { loadKernel } from "../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../src/devices/acpi/tables.ts";
import { XenHost } from "../src/dom0/xen/xen_host.ts";
import { startXenstoredService } from "../src/dom0/xenstored/service.ts";
import type { ExecutionProfile } from "../src/hv/ports.ts";
import { formatProfile, parseKallsyms } from "../src/hv/profile_format.ts";
import { GUEST_DIR, KERNEL, ROOT, ensureGuest } from "../test/support/guest.ts";

const args = process.argv.slice(2);
const optStr = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const opt = (name: string, dflt: number): number => Number(optStr(name, String(dflt)));
const RUNS = opt("--runs", 1);
const WORK_MIB = opt("--work-mib", 32);
const LOOP_ITERS = Math.round(opt("--loop-miters", 30) * 1e6);
const LOOP_INSNS_PER_ITER = 7;
const VCPUS = opt("--vcpus", 1);
const MEMORY_MIB = 256;
const TYPES = optStr("--types", optStr("--type", "hvm,pvh")).split(",").filter((t): t is "hvm" | "pvh" => t === "hvm" || t === "pvh");
const MODES = optStr("--emu", "interp,jit").split(",").filter((m): m is "interp" | "jit" => m === "interp" || m === "jit");
const PROFILE = args.includes("--profile");
const SYMS = optStr("--syms", "");
const CMDLINE = "console=ttyS0 reboot=t cryptomgr.notests panic=-1 quiet";
const emuCmdline = (type: "hvm" | "pvh"): string => (type === "pvh" ? CMDLINE.replace("console=ttyS0", "console=hvc0") : CMDLINE);
const INIT = `echo BENCH-USERSPACE-UP
echo BENCH-LOOP-START
/bin/intloop ${LOOP_ITERS}
echo BENCH-LOOP-DONE
echo BENCH-WORK-START
dd if=/dev/zero bs=1M count=${WORK_MIB} 2>/dev/null | md5sum
echo BENCH-WORK-DONE
dd if=/dev/zero of=/tmp/zeros bs=1M count=${WORK_MIB} 2>/dev/null
echo BENCH-FILE-START
md5sum /tmp/zeros
echo BENCH-FILE-DONE
poweroff -f
`;

interface Sample {
  userspaceS: number; loopS: number; workS: number; fileS: number; totalS: number; loopResult: string; md5: string; md5File: string;
  profile: ExecutionProfile | null;
}

/** Builds bench/guest/intloop.c (static, no libc) once per source. */
function buildIntloop(): string {
  const src = join(ROOT, "bench/guest/intloop.c");
  const flags = ["-O2", "-static", "-nostdlib", "-fno-pie", "-no-pie", "-fno-stack-protector"];
  const key = createHash("sha1").update(readFileSync(src)).update(flags.join(" ")).digest("hex").slice(0, 12);
  const dir = join(ROOT, ".cache/bench");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `intloop-${key}`);
  if (!existsSync(out)) execFileSync("gcc", [...flags, "-o", out, src], { stdio: "inherit" });
  return out;
}

function benchInitramfs(intloop: string): string {
  ensureGuest();
  const busybox = readFileSync(join(GUEST_DIR, "busybox"));
  const loop = readFileSync(intloop);
  const key = createHash("sha1").update(INIT).update(busybox).update(loop).digest("hex").slice(0, 12);
  const path = join(GUEST_DIR, `bench-initramfs-${key}.cpio.gz`);
  if (!existsSync(path)) {
    writeFileSync(path, buildInitramfs({
      busybox: new Uint8Array(busybox.buffer, busybox.byteOffset, busybox.byteLength),
      initBody: INIT,
      extraEntries: [{ type: "file", path: "bin/intloop", data: new Uint8Array(loop.buffer, loop.byteOffset, loop.byteLength), mode: 0o755 }],
    }));
  }
  return path;
}

/** Runs one boot; `start` launches it and feeds console text to `onText`; resolves when it ends. */
async function measure(start: (onText: (s: string) => void, done: (p?: ExecutionProfile | null) => void) => Promise<void>): Promise<Sample> {
  const t0 = performance.now();
  let text = "";
  const at: Record<string, number> = {};
  const markers = ["BENCH-USERSPACE-UP", "BENCH-LOOP-START", "BENCH-LOOP-DONE", "BENCH-WORK-START", "BENCH-WORK-DONE", "BENCH-FILE-START", "BENCH-FILE-DONE"];
  let profile: ExecutionProfile | null = null;
  await new Promise<void>((resolve, reject) => {
    start((s) => {
      text += s;
      const now = performance.now();
      for (const m of markers) if (at[m] === undefined && text.includes(m)) at[m] = now;
    }, (p) => { profile = p ?? null; resolve(); }).catch(reject);
  });
  const end = performance.now();
  if (markers.some((m) => at[m] === undefined)) throw new Error(`the guest did not reach its markers; console tail:\n${text.slice(-2000)}`);
  return {
    userspaceS: (at["BENCH-USERSPACE-UP"]! - t0) / 1000,
    // the guest's own clock around the loop (console markers add the console's latency, which differs between
    // hvc0 through the daemon and the serial port); the markers if it did not print one
    loopS: Number(/INTLOOP iterations=\d+ result=[0-9a-f]+ ns=(\d+)/.exec(text)?.[1] ?? NaN) / 1e9 ||
      (at["BENCH-LOOP-DONE"]! - at["BENCH-LOOP-START"]!) / 1000,
    workS: (at["BENCH-WORK-DONE"]! - at["BENCH-WORK-START"]!) / 1000,
    fileS: (at["BENCH-FILE-DONE"]! - at["BENCH-FILE-START"]!) / 1000,
    totalS: (end - t0) / 1000,
    loopResult: /INTLOOP iterations=\d+ result=([0-9a-f]+)/.exec(text)?.[1] ?? "missing",
    md5: /\b([0-9a-f]{32})\s+-/.exec(text)?.[1] ?? "missing",
    md5File: /\b([0-9a-f]{32})\s+\/tmp\/zeros/.exec(text)?.[1] ?? "missing",
    profile,
  };
}

function emuRun(initrd: string, type: "hvm" | "pvh", jit: boolean): Promise<Sample> {
  return measure(async (onText, done) => {
    const memoryBytes = MEMORY_MIB << 20;
    // Loading (including the XZ decode of the bzImage) counts: QEMU's timer includes its own loader.
    const image = loadKernel({ kernelPath: KERNEL, ramdiskPath: initrd, memoryBytes, vcpus: VCPUS, type, rsdpPaddr: ACPI_REGION_GPA, cmdline: emuCmdline(type) });
    // PVH: dom0's side as the daemon has it (xenstored and the Xen interface), in this process.
    const xs = type === "pvh" ? await startXenstoredService({ log: () => {} }) : undefined;
    const xen = xs === undefined ? undefined : new XenHost(xs, () => {}).domainPort({ domid: 1, name: "bench", memoryBytes, vcpus: VCPUS });
    let exec: Awaited<ReturnType<typeof emuBackend.launch>> | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      void (async () => {
        const p = (await exec?.profile?.()) ?? null;
        await exec?.destroy();
        await xs?.stop();
        done(p);
      })();
    };
    exec = await emuBackend.launch({ domid: 1, name: "bench", type, memoryBytes, vcpus: VCPUS, image, emu: { jit }, ...(xen !== undefined ? { xen } : {}) }, {
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
  const intloop = buildIntloop();
  const expectedLoop = /result=([0-9a-f]+)/.exec(execFileSync(intloop, [String(LOOP_ITERS)], { encoding: "utf8" }))?.[1] ?? "?";
  const expectedMd5 = createHash("md5").update(Buffer.alloc(WORK_MIB << 20)).digest("hex");
  const initrd = benchInitramfs(intloop);
  const vmlinux = join(GUEST_DIR, `vmlinux-${realpathSync(KERNEL).split("vmlinuz-").pop()}`);
  if (!existsSync(vmlinux)) {
    const bz = readFileSync(KERNEL);
    writeFileSync(vmlinux, extractVmlinux(parseBzImage(new Uint8Array(bz.buffer, bz.byteOffset, bz.byteLength))));
  }
  const syms = SYMS !== "" ? parseKallsyms(readFileSync(SYMS, "utf8")) : undefined;
  const haveQemu = !args.includes("--skip-qemu") && ensureQemu();
  const emu = new Map<string, Sample[]>();
  const qemu: Sample[] = [];
  const check = (who: string, s: Sample): void => {
    if (s.loopResult !== expectedLoop) throw new Error(`${who}: intloop result ${s.loopResult}, the host computed ${expectedLoop}`);
    if (s.md5 !== expectedMd5) throw new Error(`${who}: md5 ${s.md5}, the host computed ${expectedMd5}`);
    if (s.md5File !== expectedMd5) throw new Error(`${who}: md5 of the file ${s.md5File}, the host computed ${expectedMd5}`);
  };
  for (let i = 0; i < RUNS; i++) {
    for (const type of TYPES) {
      for (const mode of MODES) {
        const name = `emu ${type} ${mode}`;
        const s = await emuRun(initrd, type, mode === "jit");
        check(name, s);
        emu.set(`${type}/${mode}`, [...(emu.get(`${type}/${mode}`) ?? []), s]);
        const { profile, ...fig } = s;
        process.stderr.write(`${name} run ${i + 1}: ${JSON.stringify(fig)}\n`);
        if (PROFILE && profile !== null) process.stderr.write(`--- profile: ${name} run ${i + 1} ---\n${formatProfile(profile, syms ? { syms } : {})}\n`);
      }
    }
    if (haveQemu) {
      const s = await qemuRun(vmlinux, initrd);
      check("qemu", s);
      qemu.push(s);
      const { profile: _p, ...fig } = s;
      process.stderr.write(`qemu run ${i + 1}: ${JSON.stringify(fig)}\n`);
    }
  }
  const kernelVersion = readFileSync(join(GUEST_DIR, "config"), "utf8").match(/Linux\/x86 ([^ ]+)/)?.[1] ?? "6.1";
  const loopInsns = LOOP_ITERS * LOOP_INSNS_PER_ITER;
  const tables: [string, string][] = [];
  for (const type of TYPES) {
    const cols = MODES.map((m) => ({ mode: m, samples: emu.get(`${type}/${m}`)! }));
    const label = (m: "interp" | "jit"): string => (m === "jit" ? "emu JIT" : "emu interpreter");
    type Kind = "time" | "rate";
    const row = (name: string, kind: Kind, pick: (s: Sample) => number, fmt: (v: number) => string): string => {
      const q = haveQemu ? median(qemu.map(pick)) : NaN;
      const vals = cols.map((c) => median(c.samples.map(pick)));
      // Time: emu / QEMU (the target is <= 2x). Rate: emu / QEMU (the target is >= 0.5x).
      const ratio = (v: number): string => (!haveQemu ? "n/a" : `${(v / q).toFixed(kind === "time" ? 1 : 3)}x`);
      return `| ${name} | ${vals.map(fmt).join(" | ")} | ${haveQemu ? fmt(q) : "n/a"} | ${vals.map(ratio).join(" | ")} |`;
    };
    const sec = (v: number): string => `${v.toFixed(1)} s`;
    const mips = (v: number): string => `${v.toFixed(v < 100 ? 1 : 0)} MIPS`;
    const mbs = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)} MiB/s`;
    const wholeRun = (s: Sample): string => (s.profile === null ? "?" : `${(s.profile.instructions / 1e6 / s.totalS).toFixed(1)}`);
    const lines = [
      `Stock Debian kernel (${kernelVersion}), ${MEMORY_MIB} MiB, ${VCPUS} vCPU, emu guest type **${type.toUpperCase()}** ` +
        `(cmdline \`${emuCmdline(type)}\`), median of ${RUNS} run(s), ${new Date().toISOString().slice(0, 10)}, host load average ${(await import("node:os")).loadavg()[0]!.toFixed(1)} at the end.`,
      "QEMU: `qemu-system-x86_64 -M pc -accel tcg -cpu qemu64` with the same vmlinux (PVH loader), initrd and cmdline (console ttyS0).",
      `Integer loop: bench/guest/intloop.c, ${LOOP_ITERS / 1e6} M iterations x ${LOOP_INSNS_PER_ITER} instructions = ${(loopInsns / 1e6).toFixed(0)} M instructions, timed by the guest's CLOCK_MONOTONIC around the loop (the console's latency to the host is not included).`,
      "Ratios are emu / QEMU: for times lower is better (target <= 2x to userspace), for throughput higher is better (target >= 0.5x).",
      "",
      `| measure | ${cols.map((c) => label(c.mode)).join(" | ")} | QEMU TCG | ${cols.map((c) => `${label(c.mode)} / QEMU`).join(" | ")} |`,
      `|---|${cols.map(() => "---|").join("")}---|${cols.map(() => "---|").join("")}`,
      row("start to userspace marker", "time", (s) => s.userspaceS, sec),
      row(`integer loop, guest MIPS (${(loopInsns / 1e6).toFixed(0)} M instructions)`, "rate", (s) => loopInsns / 1e6 / s.loopS, mips),
      row(`md5sum of ${WORK_MIB} MiB of zeros from a pipe (dd to md5sum)`, "rate", (s) => WORK_MIB / s.workS, mbs),
      row(`md5sum of a ${WORK_MIB} MiB file (tmpfs)`, "rate", (s) => WORK_MIB / s.fileS, mbs),
      row("start to poweroff", "time", (s) => s.totalS, sec),
      `| emu guest MIPS over the whole run (profile) | ${cols.map((c) => wholeRun(c.samples[0]!)).join(" | ")} | n/a |${cols.map(() => " |").join("")}`,
    ];
    tables.push([type, lines.join("\n")]);
  }
  for (const [, t] of tables) process.stdout.write(`${t}\n\n`);
  if (args.includes("--write")) {
    const path = optStr("--doc", join(ROOT, "docs/benchmarks.md"));
    let doc = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
    const heading = "## emu backend vs QEMU TCG (npm run bench:emu)";
    for (const [type, table] of tables) {
      const tag = `type=${type} vcpus=${VCPUS} modes=${MODES.join("+")}`;
      const begin = `<!-- bench:emu ${tag} begin -->`, end = `<!-- bench:emu ${tag} end -->`;
      const block = `${begin}\n${table}\n${end}`;
      const esc = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const re = new RegExp(`${esc(begin)}[\\s\\S]*?${esc(end)}`);
      doc = re.test(doc) ? doc.replace(re, block) : `${doc.trimEnd()}\n\n${doc.includes(heading) ? "" : `${heading}\n\n`}${block}\n`;
    }
    writeFileSync(path, doc);
  }
}

await main();
