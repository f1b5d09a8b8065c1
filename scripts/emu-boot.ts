// Boots a kernel on the emu backend in this process, without the daemon: the tool for working on the
// software CPU (prints the console, MIPS, and a register dump when the guest crashes or stalls).
// Usage: node --import tsx scripts/emu-boot.ts [--kernel F] [--initrd F] [--type hvm|pvh] [--mem MiB]
//        [--vcpus N] [--append "cmdline"] [--max-seconds S] [--quiet]
import { existsSync } from "node:fs";
import { EmuMachine } from "../src/accel/emu/machine.ts";
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
const cmdline = opt(
  "--append",
  type === "hvm"
    ? "console=ttyS0 earlyprintk=serial reboot=t cryptomgr.notests panic=-1"
    : "console=hvc0 earlyprintk=xen reboot=t cryptomgr.notests panic=-1",
);

const memoryBytes = memMiB * 1024 * 1024;
const ram = { bytes: new Uint8Array(new SharedArrayBuffer(memoryBytes)), sizeBytes: memoryBytes };
let done = false;
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
});
log(`loaded: ${image.description}`);
const machine = new EmuMachine({
  ram,
  vcpus,
  type,
  entry: image.entry,
  console: (bytes) => { if (!quiet) process.stdout.write(bytes); },
  log,
  shutdown: (reason) => { log(`guest shutdown: ${reason}`); done = true; },
});
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
  const jit = machine.vcpus[0]?.cpu.jit ?? null;
  if (jit === null) { log("profile: JIT off (TSXEN_EMU_JIT=1 turns it on)"); return; }
  const s = jit.stats;
  const dispatches = s.blockRuns + s.interpSteps;
  log(`profile: blocks compiled ${s.blocksCompiled} (not translatable ${s.blocksUncompilable}, errors ${s.compileErrors}), live ${s.liveBlocks}, ` +
    `code ${(s.codeBytes / 1e6).toFixed(1)} MB source; block runs ${s.blockRuns} (${(100 * s.blockRuns / Math.max(1, dispatches)).toFixed(1)} % of dispatches), ` +
    `interpreted steps ${s.interpSteps}; invalidations ${s.invalidations} pages / ${s.blocksInvalidated} blocks, evictions ${s.evictions}; translate+new Function ${(s.compileMs / 1000).toFixed(1)} s (translate ${(s.translateMs / 1000).toFixed(1)} s)`);
  if (jit.lastCompileError !== "") log(`profile: last compile error: ${jit.lastCompileError.slice(0, 500)}`);
  for (const b of jit.hottest(15)) {
    log(`profile:   rip ${(b.ripHi >>> 0).toString(16)}${(b.ripLo >>> 0).toString(16).padStart(8, "0")} runs ${b.execs} insns ${b.native}`);
  }
  log(`profile: most invalidated code pages: ${jit.mostInvalidatedPages(8).map(([p, n]) => `${p} x${n}`).join(", ")}`);
  const hot = jit.hottestInterpreted(15);
  for (const [op, n] of hot) log(`profile:   left to the interpreter: ${op} x${n}`);
}

loop();
