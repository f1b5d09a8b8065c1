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

/** Spawns a command, timestamps its first stdout line and its exit; `ok` checks the whole output. */
function timeProcess(cmd: string, argv: string[], ok: (out: string, code: number | null) => boolean): Promise<StartSample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
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
      else resolve({ firstMs: first - t0, exitMs: exit - t0 });
    });
  });
}

let seq = 0;
const tsxenStart = (accel: "kvm" | "emu"): Promise<StartSample> =>
  timeProcess(XL, ["create", "-c", cfg, `name=bench-${accel}-${++seq}`, `accel=${accel}`], (out, code) => code === 0 && out.includes("RESULT: PASS") && out.includes("shutdown reason 0"));
const qemuStart = (): Promise<StartSample> => timeProcess(QEMU, qemuArgs("qemu"), (out, code) => code === 1 && out.includes("RESULT: PASS"));

/** Times a command to its exit (for the breakdown). */
function timeExit(cmd: string, argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { env, stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed (${r.status})`);
  return performance.now() - t0;
}

function xl(...a: string[]): string {
  return execFileSync(XL, a, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
const daemonRunning = (): boolean => spawnSync(XL, ["daemon", "status"], { env, stdio: "ignore" }).status === 0;
function stopDaemon(): void {
  if (daemonRunning()) xl("daemon", "stop");
}

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

/** Phases of each domain's start from the daemon's log (ISO timestamps, ms resolution). */
function logPhases(prefix: string): Record<string, number[]> {
  const lines = existsSync(paths.log) ? readFileSync(paths.log, "utf8").split("\n") : [];
  const byDom = new Map<string, Record<string, number>>();
  const names = new Map<string, string>();
  for (const l of lines) {
    const m = /^(\S+Z) \(XEN\) \[[^\]]*\] d(\d+): (.*)$/.exec(l);
    if (!m) continue;
    const [, iso, dom, msg] = m as unknown as [string, string, string, string];
    const t = Date.parse(iso);
    const rec = byDom.get(dom) ?? {};
    byDom.set(dom, rec);
    const created = /^created "([^"]+)"/.exec(msg);
    if (created) (names.set(dom, created[1]!), (rec.created = t));
    else if (msg.startsWith("Xen interface ready")) rec.xenReady = t;
    else if (/^running on /.test(msg)) rec.running = t;
    else if (/requested shutdown/.test(msg)) rec.shutdown ??= t;
    else if (msg === "destroyed") rec.destroyed = t;
  }
  const out: Record<string, number[]> = { build: [], thread: [], guest: [], teardown: [] };
  for (const [dom, r] of byDom) {
    if (!names.get(dom)?.startsWith(prefix)) continue;
    if (r.created !== undefined && r.xenReady !== undefined) out.build!.push(r.xenReady - r.created);
    if (r.xenReady !== undefined && r.running !== undefined) out.thread!.push(r.running - r.xenReady);
    if (r.running !== undefined && r.shutdown !== undefined) out.guest!.push(r.shutdown - r.running);
    if (r.shutdown !== undefined && r.destroyed !== undefined) out.teardown!.push(r.destroyed - r.shutdown);
  }
  return out;
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

const load0 = loadavg();
const t0 = Date.now();
const raw: Record<string, unknown> = {};
try {
  // Warm daemon: started by hand, one create as a warm-up (as after any first use).
  stopDaemon();
  xl("daemon", "start");
  await tsxenStart("kvm");
  if (withQemu) await qemuStart();
  const kvmWarm: StartSample[] = [], qemu: StartSample[] = [];
  say(`warm daemon: ${RUNS} kvm starts${withQemu ? " alternating with QEMU" : ""}`);
  for (let i = 0; i < RUNS; i++) {
    kvmWarm.push(await tsxenStart("kvm"));
    if (withQemu) qemu.push(await qemuStart());
  }
  let emuWarm: StartSample[] = [];
  if (!flag("--skip-emu")) {
    say(`warm daemon: ${RUNS} emu starts`);
    await tsxenStart("emu");
    for (let i = 0; i < RUNS; i++) emuWarm.push(await tsxenStart("emu"));
  }

  // Breakdown (kvm, warm daemon).
  say("breakdown");
  const nodeBare: number[] = [], xlHelp: number[] = [], xlList: number[] = [], inProc: StartSample[] = [];
  for (let i = 0; i < RUNS; i++) {
    nodeBare.push(timeExit(process.execPath, ["-e", "0"]));
    xlHelp.push(timeExit(XL, ["help"]));
    xlList.push(timeExit(XL, ["list"]));
    inProc.push(await inProcessStart());
  }
  const kvmPhases = logPhases("bench-kvm-");
  const ipPhases = logPhases("bench-ip-");

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
  const xlStartup = medianOf(xlHelp) - medianOf(nodeBare);
  const socketRt = medianOf(xlList) - medianOf(xlHelp);
  const kvmFirst = medianOf(kvmWarm.map((s) => s.firstMs));
  const ipFirst = medianOf(inProc.map((s) => s.firstMs));
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
      `ms, median (min–max); ${RUNS} runs warm (alternating with QEMU), ${COLD_RUNS} cold.`,
    "",
    "| start | first console line, ms | ÷ QEMU | exit, ms | ÷ QEMU |",
    "|---|---|---|---|---|",
    row("tsxen kvm, daemon running", kvmWarm),
    row(`tsxen kvm, cold (xl starts the daemon)`, kvmCold),
    ...(emuWarm.length ? [row("tsxen emu, daemon running", emuWarm), row("tsxen emu, cold", emuCold)] : []),
    withQemu ? row("QEMU microvm, -accel kvm", qemu) : "| QEMU | not run | | | |",
    "",
    `Host memory with idle tiny domains (\`idle\` mode: \`cli; hlt\`), MiB. tsxen: the daemon process (all its threads; ${mib(daemon0.rssKiB)} MiB RSS with no domain). QEMU: the sum over its processes.`,
    "",
    "| idle domains | tsxen VmRSS | QEMU VmRSS | ÷ | tsxen Pss | QEMU Pss | ÷ |",
    "|---|---|---|---|---|---|---|",
    memRow("1", tsxenIdle[0], qemuIdle[0]),
    memRow(String(IDLE), tsxenIdle[1], qemuIdle[1]),
    memRow(`each one more (from 1 to ${IDLE})`, perDomain(tsxenIdle), perDomain(qemuIdle)),
    "",
    `Where tsxen's warm kvm start goes (ms, median (min–max), ${RUNS} runs each):`,
    "",
    "| part | ms |",
    "|---|---|",
    `| Node start-up alone (\`node -e 0\`) | ${st(nodeBare)} |`,
    `| \`xl help\` (Node + loading xl, no daemon contact) | ${st(xlHelp)} |`,
    `| \`xl list\` (+ socket connect and one request) | ${st(xlList)} |`,
    `| create → first console line from an already running client (no xl start-up) | ${fmt(stat(inProc.map((s) => s.firstMs)))} |`,
    `| create → exit from an already running client | ${fmt(stat(inProc.map((s) => s.exitMs)))} |`,
    `| daemon log: created → Xen interface ready (config, memory, loader, xenstore) | ${st(kvmPhases.build!.concat(ipPhases.build!))} |`,
    `| daemon log: Xen interface ready → running on the backend (vCPU thread start) | ${st(ipPhases.thread!.concat(kvmPhases.thread!))} |`,
    `| daemon log: running → guest's shutdown hypercall | ${st(kvmPhases.guest!.concat(ipPhases.guest!))} |`,
    `| daemon log: shutdown → destroyed | ${st(kvmPhases.teardown!.concat(ipPhases.teardown!))} |`,
    "",
    `So of the ${ms(kvmFirst)} ms to the first line, about ${ms(xlStartup + medianOf(nodeBare))} ms is xl's own start-up (Node ${ms(medianOf(nodeBare))} + loading xl ${ms(xlStartup)}), ` +
      `${ms(socketRt)} ms a socket round trip, and ${ms(ipFirst)} ms the daemon's create up to the guest's first line (daemon log phases above; times in the log have 1 ms resolution).`,
  ];
  const section = lines.join("\n");
  process.stdout.write(section + "\n");
  raw.samples = { kvmWarm, qemu, emuWarm, kvmCold, emuCold, nodeBare, xlHelp, xlList, inProc, daemon0, tsxenIdle, qemuIdle, kvmPhases, ipPhases, load0, load1 };
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
  try {
    stopDaemon();
  } catch (e) {
    say(`could not stop the benchmark's daemon: ${e instanceof Error ? e.message : String(e)}`);
  }
  rmSync(home, { recursive: true, force: true });
}
