// npm run bench:start — how fast a tiny guest starts under tsxen, and what idle domains cost in host
// memory, side by side in one run with QEMU (microvm, -accel kvm) booting the same tiny PVH ELF through
// its own PVH loader. Everything is timed from outside, as a user sees it:
//   - tsxen: spawn `bin/xl create -c CFG`, timestamp the first console line and the exit of xl (the guest
//     powered off and the domain is gone); with the daemon already running ("warm") and with no daemon
//     ("cold": xl starts it), for accel=kvm and accel=emu;
//   - QEMU: spawn qemu-system-x86_64, first line on stdout (isa-debugcon at port 0xe9), exit (the guest
//     writes to isa-debug-exit); the tiny guest's `qemu` mode uses no Xen interface at all.
// Warm tsxen-kvm and QEMU runs alternate (A B A B ...), so a drift in the shared host's load hits both.
// Memory: VmRSS (and Pss) of the daemon with 1 and 20 idle tiny domains on kvm (`idle` mode: cli; hlt)
// against the sum over 1 and 20 QEMU processes. A breakdown of where tsxen's start time goes follows.
// Prints a Markdown section; `--write` also puts it into docs/benchmarks.md between
// <!-- bench:start begin --> and <!-- bench:start end -->. Raw samples go to bench/out/start.json.
// Usage: node --import tsx bench/start.ts [--runs N] [--cold-runs N] [--idle N] [--skip-emu] [--skip-qemu] [--write]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DaemonClient } from "../src/cli/xl/daemon_client.ts";
import { loadDomainConfig } from "../src/dom0/toolstack/load_config.ts";
import { buildTinyGuest } from "../test/guests/build.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const XL = join(ROOT, "bin/xl");
const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const flag = (name: string): boolean => args.includes(name);
const RUNS = opt("--runs", 10);
const COLD_RUNS = opt("--cold-runs", 5);
const IDLE = opt("--idle", 20);
/** Pause before each warm start, so the daemon is idle with its spare vCPU thread ready, as between a user's commands. */
const GAP_MS = opt("--gap-ms", 1500);
const MEMORY_MIB = 16;
const QEMU = "qemu-system-x86_64";

const say = (s: string): void => void process.stderr.write(`bench:start: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------- setup

const home = mkdtempSync(join(tmpdir(), "tsxen-bench-start-"));
const env: NodeJS.ProcessEnv = { ...process.env, TSXEN_HOME: home };
const paths = { socket: join(home, "tsxend.sock"), pid: join(home, "tsxend.pid"), log: join(home, "daemon.log"), console: join(home, "console") };
const elf = buildTinyGuest().elf64;
const cfg = join(home, "tiny.cfg");
writeFileSync(cfg, [`name = "bench"`, `kernel = "${elf}"`, `memory = ${MEMORY_MIB}`, `vcpus = 1`, `extra = "reason=poweroff"`, `accel = "kvm"`, ""].join("\n"));

function qemuAvailable(): boolean {
  if (spawnSync(QEMU, ["--version"], { stdio: "ignore" }).status === 0) return true;
  if (process.getuid?.() !== 0) {
    say(`${QEMU} is missing and we are not root: install it with "apt-get install -y qemu-system-x86"`);
    return false;
  }
  say(`${QEMU} is missing: apt-get install -y qemu-system-x86`);
  const apt = (a: string[]): boolean => spawnSync("apt-get", a, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status === 0;
  if (!apt(["install", "-y", "qemu-system-x86"])) apt(["update"]) && apt(["install", "-y", "qemu-system-x86"]);
  return spawnSync(QEMU, ["--version"], { stdio: "ignore" }).status === 0;
}
const withQemu = !flag("--skip-qemu") && qemuAvailable();

/** QEMU's own PVH loader on a microvm; the guest's port 0xe9 goes to stdout, a write to 0xf4 ends QEMU. */
function qemuArgs(mode: string): string[] {
  return [
    "-M", "microvm,x-option-roms=off", "-accel", "kvm", "-m", String(MEMORY_MIB), "-smp", "1",
    "-nodefaults", "-no-user-config", "-nographic", "-display", "none",
    "-chardev", "stdio,id=con", "-device", "isa-debugcon,iobase=0xe9,chardev=con",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=1",
    "-kernel", elf, "-append", mode,
  ];
}

// ------------------------------------------------------------------------------------------- measuring

interface StartSample { firstMs: number; exitMs: number }
interface ProbedSample extends StartSample { spawnEpoch: number; stderr: string }

/** Spawns a command, timestamps its first stdout line and its exit; `ok` checks the whole output. */
function timeProcess(cmd: string, argv: string[], ok: (out: string, code: number | null) => boolean, extraEnv: NodeJS.ProcessEnv = {}): Promise<ProbedSample> {
  return new Promise((resolve, reject) => {
    const childEnv = { ...env, ...extraEnv };
    const spawnEpoch = performance.timeOrigin + performance.now();
    const t0 = performance.now();
    const child = spawn(cmd, argv, { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "", first = -1;
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      if (first < 0 && out.includes("\n")) first = performance.now();
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    child.on("error", reject);
    let exit = -1;
    child.on("exit", () => (exit = performance.now()));
    // "close" comes after "exit" and after stdout and stderr have ended.
    child.on("close", (code) => {
      if (first < 0 || !ok(out, code)) reject(new Error(`${cmd} ${argv.join(" ")}: exit ${code}, unexpected output:\n${out}\n${err}`));
      else resolve({ firstMs: first - t0, exitMs: exit - t0, spawnEpoch, stderr: err });
    });
  });
}

let seq = 0;
const PROBE = join(ROOT, "bench/start_probe.mjs");
const tsxenStart = (accel: "kvm" | "emu", prefix = "bench", extraEnv: NodeJS.ProcessEnv = {}): Promise<ProbedSample> =>
  timeProcess(XL, ["create", "-c", cfg, `name=${prefix}-${accel}-${++seq}`, `accel=${accel}`], (out, code) => code === 0 && out.includes("RESULT: PASS") && out.includes("shutdown reason 0"), extraEnv);
const qemuStart = (): Promise<StartSample> => timeProcess(QEMU, qemuArgs("qemu"), (out, code) => code === 1 && out.includes("RESULT: PASS"));

/** Times a command to its exit (for the breakdown). */
function timeExit(cmd: string, argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { env, stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed (${r.status})`);
  return performance.now() - t0;
}

/** Wall-clock times (ms since the epoch) of one start, from xl (bench/start_probe.mjs) and the daemon's log. */
interface Timeline { spawn: number; processStart: number; nodeReady: number; connectStart: number; connected: number; created: number; xenReady: number; running: number; firstReply: number; firstStdout: number; firstLine: number; shutdown: number; destroyed: number; exit: number }

/** A warm kvm start with the probe preloaded into xl, joined with the daemon log's lines for that domain. */
async function probedStart(): Promise<Timeline> {
  const s = await tsxenStart("kvm", "probe", { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${PROBE}`.trim() });
  const m = /^BENCHPROBE (.*)$/m.exec(s.stderr);
  if (!m) throw new Error(`xl printed no BENCHPROBE line:\n${s.stderr}`);
  const p = JSON.parse(m[1]!) as Record<string, number>;
  const d = daemonLog().get(`probe-kvm-${seq}`) ?? {};
  return {
    spawn: s.spawnEpoch, firstLine: s.spawnEpoch + s.firstMs, exit: s.spawnEpoch + s.exitMs,
    processStart: p.processStart!, nodeReady: p.nodeReady!, connectStart: p.connectStart!, connected: p.connected!, firstReply: p.firstReply!, firstStdout: p.firstStdout!,
    created: d.created ?? NaN, xenReady: d.xenReady ?? NaN, running: d.running ?? NaN, shutdown: d.shutdown ?? NaN, destroyed: d.destroyed ?? NaN,
  };
}

function xl(...a: string[]): string {
  return execFileSync(XL, a, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
const daemonRunning = (): boolean => spawnSync(XL, ["daemon", "status"], { env, stdio: "ignore" }).status === 0;
function stopDaemon(): void {
  if (daemonRunning()) xl("daemon", "stop");
}

/** utime+stime (fields 14, 15) or cutime+cstime (16, 17: reaped children) of /proc/PID/stat, in ms. */
function cpuMs(pid: number | "self", children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3
  const i = children ? 13 : 11;
  return (Number(f[i]) + Number(f[i + 1])) * (1000 / CLK_TCK);
}
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
const daemonPid = (): number => Number(readFileSync(paths.pid, "utf8").trim());

interface Mem { rssKiB: number; pssKiB: number }
function memOf(pid: number): Mem {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (text: string, key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rssKiB: kib(status, "VmRSS"), pssKiB: kib(rollup, "Pss") };
}
const sumMem = (ms: Mem[]): Mem => ({ rssKiB: ms.reduce((a, m) => a + m.rssKiB, 0), pssKiB: ms.reduce((a, m) => a + m.pssKiB, 0) });

async function waitFor(what: string, test: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The in-daemon part of a start: create with console from this (already running) process, no xl start-up. */
async function inProcessStart(): Promise<StartSample> {
  const { config } = loadDomainConfig(cfg, [`name=bench-ip-${++seq}`], ROOT);
  const client = await DaemonClient.connect(paths.socket);
  const t0 = performance.now();
  let first = -1;
  let text = "";
  await new Promise<void>((resolve, reject) => {
    client.openConsole("create", { config, console: true }, {
      data: (b) => {
        text += Buffer.from(b).toString("utf8");
        if (first < 0 && text.includes("\n")) first = performance.now();
      },
      end: () => resolve(),
    }).catch(reject);
  });
  const exit = performance.now();
  client.close();
  if (first < 0 || !text.includes("RESULT: PASS")) throw new Error(`in-process create: unexpected console:\n${text}`);
  return { firstMs: first - t0, exitMs: exit - t0 };
}

/** Each domain's milestones in the daemon's log (ISO timestamps, ms resolution), by domain name. */
function daemonLog(): Map<string, Record<string, number>> {
  const lines = existsSync(paths.log) ? readFileSync(paths.log, "utf8").split("\n") : [];
  const byDom = new Map<string, Record<string, number>>();
  const byName = new Map<string, Record<string, number>>();
  for (const l of lines) {
    const m = /^(\S+Z) \(XEN\) \[[^\]]*\] d(\d+): (.*)$/.exec(l);
    if (!m) continue;
    const [, iso, dom, msg] = m as unknown as [string, string, string, string];
    const t = Date.parse(iso);
    const created = /^created "([^"]+)"/.exec(msg);
    if (created) {
      const rec = { created: t };
      byDom.set(dom, rec); // domids are not reused within one daemon, but a new daemon starts again at 1
      byName.set(created[1]!, rec);
      continue;
    }
    const rec = byDom.get(dom);
    if (!rec) continue;
    if (msg.startsWith("Xen interface ready")) rec.xenReady ??= t;
    else if (/^running on /.test(msg)) rec.running ??= t;
    else if (/requested shutdown/.test(msg)) rec.shutdown ??= t;
    else if (msg === "destroyed") rec.destroyed ??= t;
  }
  return byName;
}

// ----------------------------------------------------------------------------------------- statistics

interface Stat { min: number; median: number; max: number; n: number }
function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { min: s[0] ?? NaN, median, max: s[n - 1] ?? NaN, n };
}
const ms = (x: number): string => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : "–");
const fmt = (s: Stat): string => (s.n ? `${ms(s.median)} (${ms(s.min)}–${ms(s.max)})` : "–");
const mib = (kib: number): string => (Number.isFinite(kib) ? (kib / 1024).toFixed(1) : "–");
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : "–");

// ----------------------------------------------------------------------------------------------- runs

/** Stops the benchmark's own daemon and removes its $TSXEN_HOME, also when interrupted. */
let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  try {
    stopDaemon();
  } catch (e) {
    say(`could not stop the benchmark's daemon: ${e instanceof Error ? e.message : String(e)}`);
  }
  rmSync(home, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(130));

const load0 = loadavg();
const t0 = Date.now();
const raw: Record<string, unknown> = {};
try {
  // Warm daemon: started by hand, one create as a warm-up (as after any first use).
  stopDaemon();
  xl("daemon", "start");
  await tsxenStart("kvm");
  if (withQemu) await qemuStart();
  const kvmWarm: StartSample[] = [], qemu: StartSample[] = [], kvmCpu: number[] = [], qemuCpu: number[] = [], xlCpu: number[] = [], daemonCreateCpu: number[] = [];
  say(`warm daemon: ${RUNS} kvm starts${withQemu ? " alternating with QEMU" : ""}, ${GAP_MS} ms apart`);
  const dpid = daemonPid();
  for (let i = 0; i < RUNS; i++) {
    await sleep(GAP_MS);
    // CPU: xl's (a reaped child of ours) plus the daemon's, up to the next start (refilling its spare thread included).
    let c0 = cpuMs("self", true), d0 = cpuMs(dpid);
    kvmWarm.push(await tsxenStart("kvm"));
    const c1 = cpuMs("self", true), d1 = cpuMs(dpid);
    await sleep(GAP_MS);
    kvmCpu.push(cpuMs("self", true) - c0 + cpuMs(dpid) - d0);
    xlCpu.push(c1 - c0);
    daemonCreateCpu.push(d1 - d0);
    if (!withQemu) continue;
    c0 = cpuMs("self", true);
    qemu.push(await qemuStart());
    qemuCpu.push(cpuMs("self", true) - c0);
  }
  say(`warm daemon: ${RUNS} kvm starts back to back`);
  const kvmBackToBack: StartSample[] = [];
  for (let i = 0; i < RUNS; i++) kvmBackToBack.push(await tsxenStart("kvm"));
  let emuWarm: StartSample[] = [];
  if (!flag("--skip-emu")) {
    say(`warm daemon: ${RUNS} emu starts, ${GAP_MS} ms apart`);
    await tsxenStart("emu");
    for (let i = 0; i < RUNS; i++) {
      await sleep(GAP_MS);
      emuWarm.push(await tsxenStart("emu"));
    }
  }

  // Breakdown (kvm, warm daemon).
  say("breakdown");
  const nodeBare: number[] = [], xlHelp: number[] = [], inProc: StartSample[] = [], timelines: Timeline[] = [];
  for (let i = 0; i < RUNS; i++) {
    nodeBare.push(timeExit(process.execPath, ["-e", "0"]));
    xlHelp.push(timeExit(XL, ["help"]));
    await sleep(GAP_MS);
    inProc.push(await inProcessStart());
    await sleep(GAP_MS);
    timelines.push(await probedStart());
  }

  // Cold: no daemon; xl starts it.
  const kvmCold: StartSample[] = [];
  say(`cold daemon: ${COLD_RUNS} kvm starts`);
  for (let i = 0; i < COLD_RUNS; i++) {
    stopDaemon();
    kvmCold.push(await tsxenStart("kvm"));
  }
  const emuCold: StartSample[] = [];
  if (!flag("--skip-emu")) {
    say(`cold daemon: ${COLD_RUNS} emu starts`);
    for (let i = 0; i < COLD_RUNS; i++) {
      stopDaemon();
      emuCold.push(await tsxenStart("emu"));
    }
  }

  // Memory: a fresh daemon, then 1 and IDLE idle domains.
  say(`memory: 1 and ${IDLE} idle domains`);
  stopDaemon();
  xl("daemon", "start");
  const pid = Number(readFileSync(paths.pid, "utf8").trim());
  await sleep(1000);
  const daemon0 = memOf(pid);
  const idleUp = (name: string): boolean => {
    const f = join(paths.console, `guest-${name}.log`);
    return existsSync(f) && readFileSync(f, "utf8").includes("tiny: idle");
  };
  const tsxenIdle: Mem[] = [];
  for (let i = 1; i <= IDLE; i++) {
    const name = `bench-idle-${i}`;
    xl("create", cfg, `name=${name}`, `extra=idle`);
    await waitFor(`${name} to be idle`, () => idleUp(name));
    if (i === 1) (await sleep(500), tsxenIdle.push(memOf(pid)));
  }
  await sleep(500);
  tsxenIdle.push(memOf(pid));
  const domains = xl("list").split("\n").filter((l) => l.startsWith("bench-idle-")).length;
  if (domains !== IDLE) throw new Error(`expected ${IDLE} idle domains, xl list shows ${domains}`);
  for (let i = 1; i <= IDLE; i++) xl("destroy", `bench-idle-${i}`);

  const qemuIdle: Mem[] = [];
  if (withQemu) {
    const procs: ReturnType<typeof spawn>[] = [];
    try {
      for (let i = 1; i <= IDLE; i++) {
        const p = spawn(QEMU, qemuArgs("qemu idle"), { stdio: ["ignore", "pipe", "ignore"] });
        procs.push(p);
        let out = "";
        p.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s));
        await waitFor(`QEMU ${i} to be idle`, () => out.includes("RESULT: PASS"));
        if (i === 1) (await sleep(500), qemuIdle.push(sumMem([memOf(p.pid!)])));
      }
      await sleep(500);
      qemuIdle.push(sumMem(procs.map((p) => memOf(p.pid!))));
    } finally {
      for (const p of procs) p.kill("SIGTERM");
    }
  }
  const load1 = loadavg();

  // ------------------------------------------------------------------------------------------- report

  const q = { first: stat(qemu.map((s) => s.firstMs)), exit: stat(qemu.map((s) => s.exitMs)) };
  const row = (what: string, xs: StartSample[]): string => {
    const f = stat(xs.map((s) => s.firstMs)), e = stat(xs.map((s) => s.exitMs));
    return `| ${what} | ${fmt(f)} | ${withQemu ? ratio(f.median, q.first.median) : "–"} | ${fmt(e)} | ${withQemu ? ratio(e.median, q.exit.median) : "–"} |`;
  };
  const memRow = (what: string, t: Mem | undefined, qm: Mem | undefined): string =>
    `| ${what} | ${mib(t?.rssKiB ?? NaN)} | ${mib(qm?.rssKiB ?? NaN)} | ${ratio(t?.rssKiB ?? NaN, qm?.rssKiB ?? NaN)} | ${mib(t?.pssKiB ?? NaN)} | ${mib(qm?.pssKiB ?? NaN)} | ${ratio(t?.pssKiB ?? NaN, qm?.pssKiB ?? NaN)} |`;
  const perDomain = (m: Mem[]): Mem | undefined => (m.length === 2 ? { rssKiB: (m[1]!.rssKiB - m[0]!.rssKiB) / (IDLE - 1), pssKiB: (m[1]!.pssKiB - m[0]!.pssKiB) / (IDLE - 1) } : undefined);
  const medianOf = (xs: number[]): number => stat(xs).median;
  const st = (xs: number[]): string => fmt(stat(xs));
  const kvmFirst = medianOf(kvmWarm.map((s) => s.firstMs));
  const seg = (from: keyof Timeline, to: keyof Timeline): number[] => timelines.map((t) => t[to] - t[from]).filter(Number.isFinite);
  const SEGMENTS: [string, keyof Timeline, keyof Timeline][] = [
    ["spawn → Node's clock starts (exec, loading the node binary)", "spawn", "processStart"],
    ["Node bootstrap, up to the first preloaded module", "processStart", "nodeReady"],
    ["loading xl and parsing the config, up to opening the socket", "nodeReady", "connectStart"],
    ["socket connect", "connectStart", "connected"],
    ["request reaches the daemon, domain created (daemon log)", "connected", "created"],
    ["domain build: memory, loader, Xen interface, xenstore (daemon log)", "created", "xenReady"],
    ["vCPU thread start up to running on kvm (daemon log)", "xenReady", "running"],
    ["create reply and first console bytes reach xl", "running", "firstReply"],
    ["xl writes them to stdout", "firstReply", "firstStdout"],
    ["the first line reaches the reader (pipe)", "firstStdout", "firstLine"],
    ["= spawn → first console line", "spawn", "firstLine"],
    ["guest runs to its shutdown hypercall (daemon log)", "running", "shutdown"],
    ["shutdown → domain destroyed (daemon log)", "shutdown", "destroyed"],
    ["destroyed → xl has exited", "destroyed", "exit"],
    ["= spawn → exit", "spawn", "exit"],
  ];
  const medSeg = (from: keyof Timeline, to: keyof Timeline): number => medianOf(seg(from, to));
  const qemuVersion = withQemu ? execFileSync(QEMU, ["--version"], { encoding: "utf8" }).split("\n")[0] : "not run";
  const pvm = existsSync("/sys/module/kvm_pvm") ? "PVM KVM (kvm_pvm)" : existsSync("/sys/module/kvm_intel") ? "KVM (kvm_intel)" : existsSync("/sys/module/kvm_amd") ? "KVM (kvm_amd)" : "KVM";
  const cpu = cpus()[0]?.model ?? "?";
  const dirty = execFileSync("git", ["-C", ROOT, "status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).split("\n").filter(Boolean).length;
  const commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim() + (dirty ? ` (+${dirty} modified files in the working tree)` : "");

  const lines = [
    `Run ${new Date(t0).toISOString().slice(0, 16).replace("T", " ")} UTC at ${commit}: ${cpus().length} cores (${cpu}), ${pvm}, Linux ${execFileSync("uname", ["-r"], { encoding: "utf8" }).trim()}, Node ${process.version}, ${qemuVersion}. ` +
      `Load average ${load0.map((x) => x.toFixed(1)).join(" ")} at the start, ${load1.map((x) => x.toFixed(1)).join(" ")} at the end: a shared, busy host, so quote medians and ratios. ` +
      `Guest: test/guests/tiny (${MEMORY_MIB} MiB, 1 vCPU). tsxen: \`bin/xl create -c\` spawned, timed to the first console line and to xl's exit (guest powered off, domain destroyed). ` +
      `QEMU: \`${QEMU} ${qemuArgs("qemu").map((a) => (a === elf ? "tiny64.elf" : a)).join(" ")}\`, timed to the first line on stdout and to its exit. ` +
      `ms, median (min–max); ${RUNS} runs warm (alternating with QEMU, ${GAP_MS} ms pause before each), ${COLD_RUNS} cold.`,
    "",
    "| start | first console line, ms | ÷ QEMU | exit, ms | ÷ QEMU |",
    "|---|---|---|---|---|",
    row("tsxen kvm, daemon running", kvmWarm),
    row("tsxen kvm, daemon running, starts back to back", kvmBackToBack),
    row(`tsxen kvm, cold (xl starts the daemon)`, kvmCold),
    ...(emuWarm.length ? [row("tsxen emu, daemon running", emuWarm), row("tsxen emu, cold", emuCold)] : []),
    withQemu ? row("QEMU microvm, -accel kvm", qemu) : "| QEMU | not run | | | |",
    "",
    `CPU time per warm kvm start (xl plus the daemon, including refilling its spare vCPU thread) ${fmt(stat(kvmCpu))} ms against QEMU's ${fmt(stat(qemuCpu))} ms ` +
      `(${withQemu ? ratio(medianOf(kvmCpu), medianOf(qemuCpu)) : "–"}; ${1000 / CLK_TCK} ms clock ticks): xl ${fmt(stat(xlCpu))}, the daemon until xl exits ${fmt(stat(daemonCreateCpu))}, ` +
      `the daemon afterwards (starting the next spare vCPU thread) ${fmt(stat(kvmCpu.map((c, i) => c - xlCpu[i]! - daemonCreateCpu[i]!)))}. CPU time is what the host's load does not stretch.`,
    "",
    `Host memory with idle tiny domains (\`idle\` mode: \`cli; hlt\`), MiB. tsxen: the daemon process (all its threads; ${mib(daemon0.rssKiB)} MiB RSS with no domain). QEMU: the sum over its processes.`,
    "",
    "| idle domains | tsxen VmRSS | QEMU VmRSS | ÷ | tsxen Pss | QEMU Pss | ÷ |",
    "|---|---|---|---|---|---|---|",
    memRow("1", tsxenIdle[0], qemuIdle[0]),
    memRow(String(IDLE), tsxenIdle[1], qemuIdle[1]),
    memRow(`each one more (from 1 to ${IDLE})`, perDomain(tsxenIdle), perDomain(qemuIdle)),
    "",
    `Where tsxen's warm kvm start goes, ${RUNS} more starts with a timestamping module preloaded into xl (\`bench/start_probe.mjs\`) joined with the daemon log (1 ms resolution); ms, median (min–max):`,
    "",
    "| segment | ms |",
    "|---|---|",
    ...SEGMENTS.map(([what, from, to]) => `| ${what} | ${st(seg(from, to))} |`),
    `| for comparison: \`node -e 0\` to its exit | ${st(nodeBare)} |`,
    `| for comparison: \`xl help\` to its exit (Node + loading xl, no daemon) | ${st(xlHelp)} |`,
    `| for comparison: create → first line / → end from a client already running (no xl start-up) | ${fmt(stat(inProc.map((s) => s.firstMs)))} / ${fmt(stat(inProc.map((s) => s.exitMs)))} |`,
    "",
    `Of the ${ms(kvmFirst)} ms median to the first line: xl's process start-up (exec, Node, loading xl) about ${ms(medSeg("spawn", "connectStart"))} ms, ` +
      `the daemon from the request to a running vCPU about ${ms(medSeg("connectStart", "running"))} ms (of which the vCPU thread ${ms(medSeg("xenReady", "running"))} ms), ` +
      `and getting the output to the user about ${ms(medSeg("running", "firstLine"))} ms (medians of different runs do not add up exactly).`,
  ];
  const section = lines.join("\n");
  process.stdout.write(section + "\n");
  raw.samples = { kvmWarm, kvmBackToBack, kvmCpu, xlCpu, daemonCreateCpu, qemuCpu, qemu, emuWarm, kvmCold, emuCold, nodeBare, xlHelp, inProc, timelines, daemon0, tsxenIdle, qemuIdle, load0, load1 };
  mkdirSync(join(ROOT, "bench/out"), { recursive: true });
  writeFileSync(join(ROOT, "bench/out/start.json"), JSON.stringify(raw, null, 1));

  if (flag("--write")) {
    const path = join(ROOT, "docs/benchmarks.md");
    const begin = "<!-- bench:start begin -->", end = "<!-- bench:start end -->";
    let doc = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
    const block = `${begin}\n${section}\n${end}`;
    const i = doc.indexOf(begin), j = doc.indexOf(end);
    doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n## Start time and idle memory: tsxen vs QEMU microvm (npm run bench:start)\n\n${block}\n`;
    writeFileSync(path, doc);
    say(`wrote ${path}`);
  }
} finally {
  cleanup();
}
