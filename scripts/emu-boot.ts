// Boots a kernel on the emu backend in this process, without the daemon: the tool for working on the
// software CPU (prints the console, MIPS, and a register dump when the guest crashes or stalls).
// Usage: node --import tsx scripts/emu-boot.ts [--kernel F] [--initrd F] [--type hvm|pvh] [--mem MiB]
//        [--vcpus N] [--append "cmdline"] [--max-seconds S] [--quiet] [--jit 0|1]
//        [--profile [--syms KALLSYMS] [--profile-every S]] [--mark-cpu]
// --profile prints the execution profile at the end (instructions, MIPS, exits per second, JIT cache hit rate,
// hottest blocks and sampled RIPs); --syms names addresses from a /proc/kallsyms-format file; --profile-every S
// also prints the profile of each S-second interval while the guest runs.
import { dirname, join } from "node:path";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { EmuMachine } from "../src/accel/emu/machine.ts";
import { jitFromEnv } from "../src/accel/emu/cpu.ts";
import { wasmGuestMemory } from "../src/accel/emu/jit/wasm_tier.ts";
import { EmuProfiler } from "../src/accel/emu/profile.ts";
import { formatProfile, parseKallsyms, profileDelta } from "../src/hv/profile_format.ts";
import type { ExecutionProfile } from "../src/hv/ports.ts";
import { loadKernel } from "../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../src/devices/acpi/tables.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const kernelPath = opt("--kernel", ".cache/guest/vmlinuz");
const initrdPath = opt("--initrd", ".cache/guest/initramfs.cpio.gz");
const type = opt("--type", "hvm") as "hvm" | "pvh";
const memMiB = Number(opt("--mem", "256"));
const vcpus = Number(opt("--vcpus", "1"));
const maxSeconds = Number(opt("--max-seconds", "600"));
const quiet = args.includes("--quiet");
// --profile (or TSXEN_EMU_PROFILE=1): instructions retired, JIT blocks compiled, cache hit rate, hottest RIPs.
const profile = args.includes("--profile") || process.env.TSXEN_EMU_PROFILE === "1";
const jitArg = opt("--jit", "");
const jit = jitArg === "" ? jitFromEnv() : jitArg === "1";
const symsPath = opt("--syms", "");
const syms = symsPath !== "" ? parseKallsyms(readFileSync(symsPath, "utf8")) : undefined;
const profileEvery = Number(opt("--profile-every", "0"));
const cmdline = opt(
  "--append",
  type === "hvm"
    ? "console=ttyS0 earlyprintk=serial reboot=t cryptomgr.notests panic=-1"
    : "console=hvc0 earlyprintk=xen reboot=t cryptomgr.notests panic=-1",
);

const memoryBytes = memMiB * 1024 * 1024;
// With the JIT, RAM in a shared WebAssembly.Memory as the emu backend lays it out (the JIT's wasm tier needs it).
const wasm = jit ? wasmGuestMemory(memoryBytes, vcpus) : null;
const ram = { bytes: wasm?.ram ?? new Uint8Array(new SharedArrayBuffer(memoryBytes)), sizeBytes: memoryBytes };
let done = false;
// --mark-cpu: lines starting with BENCH- are echoed to stderr with this process's user CPU seconds (A/B runs of
// one phase on a busy host, where wall time says little) and the wall seconds since the start.
const markCpu = args.includes("--mark-cpu");
let lineBuf = "";
// --cpu-prof-between START END OUT: a V8 CPU profile (node:inspector) of this process from the console line holding START
// to the one holding END (one guest phase, e.g. BENCH-FILE-START .. BENCH-FILE-DONE), written to OUT.
const cpuProfArgs = ((): [string, string, string] | undefined => {
  const i = args.indexOf("--cpu-prof-between");
  return i >= 0 ? [args[i + 1]!, args[i + 2]!, args[i + 3]!] : undefined;
})();
const cpuProf = cpuProfArgs === undefined ? undefined : ((): { marker(line: string): void } => {
  const [start, end, out] = cpuProfArgs;
  const session = new Session();
  session.connect();
  return {
    marker(line: string): void {
      if (line.includes(start)) {
        session.post("Profiler.enable", () => session.post("Profiler.start"));
      } else if (line.includes(end)) {
        session.post("Profiler.stop", (err, r) => {
          if (err === null) writeFileSync(out, JSON.stringify(r.profile));
          process.stderr.write(`cpu profile ${start} .. ${end} written to ${out}\n`);
        });
      }
    },
  };
})();
function onConsoleText(s: string): void {
  lineBuf += s;
  let i: number;
  while ((i = lineBuf.indexOf("\n")) >= 0) {
    const line = lineBuf.slice(0, i).trim();
    lineBuf = lineBuf.slice(i + 1);
    if (markCpu && line.startsWith("BENCH-")) process.stderr.write(`[cpu ${(process.cpuUsage().user / 1e6).toFixed(2)} s, wall ${((performance.now() - t0) / 1000).toFixed(2)} s] ${line}\n`);
    if (cpuProf !== undefined) cpuProf.marker(line);
  }
}
const t0 = performance.now();
const log = (line: string): void => { process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(2)}] ${line}\n`); };

const image = loadKernel({
  kernelPath,
  ramdiskPath: existsSync(initrdPath) ? initrdPath : undefined,
  cmdline,
  memoryBytes,
  vcpus,
  type,
  rsdpPaddr: ACPI_REGION_GPA,
  // the decoded bzImage payload is kept next to the kernel, so only the first run pays the XZ decode
  cacheDir: join(dirname(kernelPath), "payloads"),
});
log(`loaded: ${image.description}`);
const machine = new EmuMachine({
  ram,
  ...(wasm !== null ? { wasmMemory: wasm.memory } : {}),
  vcpus,
  type,
  entry: image.entry,
  console: (bytes) => {
    if (!quiet) process.stdout.write(bytes);
    if (markCpu || cpuProf !== undefined) onConsoleText(Buffer.from(bytes).toString("latin1"));
  },
  log,
  shutdown: (reason) => { log(`guest shutdown: ${reason}`); done = true; },
  jit,
});
const profiler = new EmuProfiler(machine, jit);
let lastProfile: ExecutionProfile | null = null;
let lastProfileAt = performance.now();
for (const r of image.regions) ram.bytes.set(r.bytes, r.gpa);
const layout = machine.pc.writeAcpiTables(ram.bytes);
if (layout.rsdp !== ACPI_REGION_GPA) log(`warning: RSDP at ${layout.rsdp.toString(16)}, loader was told ${ACPI_REGION_GPA.toString(16)}`);
process.stdin.on("data", (d: Buffer) => machine.consoleInput(d));
if (process.stdin.isTTY) process.stdin.setRawMode(true);

// --trace N: single-step the first N instructions of vcpu0, printing RIP and the fault/exception state.
const traceCount = Number(opt("--trace", "0"));
if (traceCount > 0) {
  const v = machine.vcpus[0]!;
  for (let i = 0; i < traceCount && !done; i++) {
    const rip = (v.state.ripHi >>> 0).toString(16) + ":" + (v.state.ripLo >>> 0).toString(16).padStart(8, "0");
    process.stderr.write(`${i} ${rip} rax=${(v.state.rlo[0]! >>> 0).toString(16)} rsp=${(v.state.rlo[4]! >>> 0).toString(16)}\n`);
    v.cpu.step();
    if (v.state.tripleFault || machine.crash !== null) break;
  }
}

let lastReport = performance.now();
let lastInsns = 0;
const sab = new Int32Array(new SharedArrayBuffer(4));
function loop(): void {
  const sliceEnd = performance.now() + 50;
  while (!done && performance.now() < sliceEnd) {
    const r = machine.runSlice();
    if (r.kind === "stopped") {
      done = true;
      if (machine.crash !== null) {
        log(`CRASHED: ${machine.crash.why}`);
        log(machine.crash.dump);
        process.exitCode = 1;
      }
      break;
    }
    if (r.kind === "idle") {
      Atomics.wait(sab, 0, 0, Math.min(r.sleepNs / 1e6, 10));
    }
  }
  const now = performance.now();
  if (now - lastReport > 5000) {
    const insns = machine.instructions;
    log(`${((insns - lastInsns) / ((now - lastReport) * 1000)).toFixed(2)} MIPS, ${(insns / 1e6).toFixed(1)} M insns, rip ${machine.registerDump().split("\n")[0]}`);
    lastReport = now;
    lastInsns = insns;
  }
  if (profileEvery > 0 && now - lastProfileAt > profileEvery * 1000) {
    const p = profiler.snapshot();
    const shown = lastProfile === null ? p : profileDelta(p, lastProfile);
    process.stderr.write(`--- profile of the last ${((now - lastProfileAt) / 1000).toFixed(1)} s ---\n${formatProfile(shown, { ...(syms ? { syms } : {}), top: 10 })}\n`);
    lastProfile = p;
    lastProfileAt = now;
  }
  if ((now - t0) / 1000 > maxSeconds) {
    log(`timeout after ${maxSeconds}s`);
    log(machine.registerDump());
    done = true;
    process.exitCode = 2;
  }
  if (done) {
    log(`total ${(machine.instructions / 1e6).toFixed(1)} M instructions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (profile) printProfile();
    process.exit();
  }
  setImmediate(loop);
}
function printProfile(): void {
  const secs = (performance.now() - t0) / 1000;
  const cpuSecs = process.cpuUsage().user / 1e6;
  log(`profile: ${(machine.instructions / 1e6).toFixed(1)} M instructions retired, ${(machine.instructions / 1e6 / secs).toFixed(2)} MIPS wall, ` +
    `${(machine.instructions / 1e6 / cpuSecs).toFixed(2)} MIPS per CPU-second`);
  process.stderr.write(`${formatProfile(profiler.snapshot(), syms ? { syms } : {})}\n`);
  const jitCache = machine.vcpus[0]?.cpu.jit ?? null;
  if (jitCache === null) { log("profile: JIT off (--jit 1 or TSXEN_EMU_JIT=1 turns it on)"); return; }
  const ws = jitCache.wasm?.stats;
  if (ws) log(`profile: wasm tier: ${ws.compiled} modules, ${(ws.bytes / 1024).toFixed(0)} KiB; translating ${ws.translateMs.toFixed(0)} ms, new Module ${ws.moduleMs.toFixed(0)} ms, new Instance ${ws.instanceMs.toFixed(0)} ms; in-block interpreter steps ${ws.steps}`);
  log(`profile: most invalidated code pages: ${jitCache.mostInvalidatedPages(8).map(([p, n]) => `${p} x${n}`).join(", ")}`);
  for (const [op, n] of jitCache.hottestInterpreted(15)) log(`profile:   left to the interpreter: ${op} x${n}`);
}

loop();
