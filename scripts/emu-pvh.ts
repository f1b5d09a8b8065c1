// Boots a kernel as a PVH domain on the emu backend with the whole Xen guest interface (hypercalls on the
// owner thread, event channels, PV console, xenstored): the daemon's path without the daemon.
// Usage: node --import tsx scripts/emu-pvh.ts [--kernel F] [--initrd F] [--mem MiB] [--vcpus N]
//        [--append "cmdline"] [--max-seconds S] [--shutdown-after S] [--no-acpi]
import { existsSync } from "node:fs";
import { emuBackend } from "../src/accel/emu/backend.ts";
import { loadKernel } from "../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../src/devices/acpi/tables.ts";
import { XenHost } from "../src/dom0/xen/xen_host.ts";
import { startXenstoredService } from "../src/dom0/xenstored/service.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const kernelPath = opt("--kernel", ".cache/guest/vmlinuz");
const initrdPath = opt("--initrd", ".cache/guest/initramfs.cpio.gz");
const memMiB = Number(opt("--mem", "256"));
const vcpus = Number(opt("--vcpus", "1"));
const maxSeconds = Number(opt("--max-seconds", "600"));
const shutdownAfter = Number(opt("--shutdown-after", "0"));
const cmdline = opt("--append", "console=hvc0 earlyprintk=xen cryptomgr.notests panic=-1");
const t0 = performance.now();
const log = (line: string): void => void process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(2)}] ${line}\n`);

const memoryBytes = memMiB << 20;
const acpi = !args.includes("--no-acpi");
const image = loadKernel({
  kernelPath, ramdiskPath: existsSync(initrdPath) ? initrdPath : undefined, cmdline, memoryBytes, vcpus, type: "pvh",
  ...(acpi ? { rsdpPaddr: ACPI_REGION_GPA } : {}),
});
log(`loaded: ${image.description}`);
const xs = await startXenstoredService({ log });
const host = new XenHost(xs, log);
const domid = 1;
let exitCode = 0;
const done = async (code: number): Promise<void> => {
  exitCode = code;
  await exec?.destroy();
  await xs.stop();
  log(`done after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(exitCode);
};
const exec = await emuBackend.launch(
  { domid, name: "pvh", type: "pvh", memoryBytes, vcpus, image, xen: host.domainPort({ domid, name: "pvh", memoryBytes, vcpus }) },
  {
    console: (b) => void process.stdout.write(b),
    log: (l) => log(`hv: ${l}`),
    shutdown: (r) => { log(`guest shutdown: ${r}`); void done(0); },
    crashed: (why, dump) => { log(`CRASHED: ${why}\n${dump}`); void done(1); },
  },
);
process.stdin.on("data", (d: Buffer) => exec.consoleInput(new Uint8Array(d)));
if (process.stdin.isTTY) process.stdin.setRawMode(true);
if (shutdownAfter > 0) setTimeout(() => { log("xl shutdown: writing control/shutdown = poweroff"); host.requestShutdown(domid, "poweroff"); }, shutdownAfter * 1000);
setTimeout(() => { log(`timeout after ${maxSeconds}s`); void done(2); }, maxSeconds * 1000).unref();
