// Boots a PVH domain on the emu machine in this thread, with the Xen layer (XenHost) called directly instead of
// through the vCPU thread's owner-call mailbox: for debugging (register dumps on timeout, --dump-every S).
// Usage: node --import tsx scripts/emu-pvh-inproc.ts [--kernel F] [--initrd F] [--mem MiB] [--vcpus N]
//        [--append "cmdline"] [--max-seconds S] [--dump-every S]
import { existsSync } from "node:fs";
import { EmuMachine } from "../src/accel/emu/machine.ts";
import { loadKernel } from "../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../src/devices/acpi/tables.ts";
import { XenHost } from "../src/dom0/xen/xen_host.ts";
import { startXenstoredService } from "../src/dom0/xenstored/service.ts";
import { HypercallDispatcher } from "../src/hv/hypercall/dispatch.ts";
import type { ShutdownReason } from "../src/hv/ports.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const memoryBytes = Number(opt("--mem", "256")) << 20;
const vcpus = Number(opt("--vcpus", "1"));
const initrd = opt("--initrd", ".cache/guest/initramfs.cpio.gz");
const maxSeconds = Number(opt("--max-seconds", "600"));
const dumpEvery = Number(opt("--dump-every", "0"));
/** --trace-xen: log hvm_op, vcpu_op (but timers) and event-channel binds with their vCPU, and injections. */
const traceXen = args.includes("--trace-xen");
const t0 = performance.now();
const log = (l: string): void => void process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(2)}] ${l}\n`);

const image = loadKernel({
  kernelPath: opt("--kernel", ".cache/guest/vmlinuz"), ramdiskPath: existsSync(initrd) ? initrd : undefined, memoryBytes, vcpus,
  type: "pvh", rsdpPaddr: ACPI_REGION_GPA, cmdline: opt("--append", "console=hvc0 cryptomgr.notests panic=-1"),
});
const ram = { bytes: new Uint8Array(new SharedArrayBuffer(memoryBytes)), sizeBytes: memoryBytes };
for (const r of image.regions) ram.bytes.set(r.bytes, r.gpa);
const xs = await startXenstoredService({ log });
const host = new XenHost(xs, log);
let done: ShutdownReason | "crashed" | null = null;
let machine: EmuMachine | undefined;
let heldVectors: [number, number][] = [];
const events = {
  console: (b: Uint8Array) => void process.stdout.write(b),
  log,
  shutdown: (r: ShutdownReason) => { log(`guest shutdown: ${r}`); done = r; },
  crashed: (why: string) => { log(`crashed: ${why}`); done = "crashed"; },
};
const att = host.domainPort({ domid: 1, name: "pvh", memoryBytes, vcpus }).attach(ram, {
  inject: (v, vec) => {
    if (traceXen && v !== 0) log(`inject vcpu${v} vector 0x${vec.toString(16)}`);
    if (machine?.vcpus[v]?.waitingForSipi === true) heldVectors.push([v, vec]); // INIT would wipe it (see emu_engine)
    else machine?.pc.lapics[v]?.acceptExternal(vec);
  },
  guestClock: { tscKhz: 2_000_000, nowNs: () => machine?.nowNs() ?? 0 },
}, events);
const owner = new Set(att.ownerHypercalls.numbers);
const local = new HypercallDispatcher({ domid: 1, privileged: false, handle: new Uint8Array(16), features: att.xenFeatures }, events);
machine = new EmuMachine({
  ram, vcpus, type: "pvh", entry: image.entry, domid: 1,
  console: (b) => void process.stdout.write(b), log, shutdown: events.shutdown,
  hypercall: (req, mem) => {
    const r = owner.has(req.nr) ? att.ownerHypercalls.handle(req, mem) : local.dispatch(req, mem);
    const cmd = Number(req.args[0] & 0xffffn);
    if (traceXen && (req.nr === 34 || (req.nr === 24 && cmd !== 8 && cmd !== 9) || (req.nr === 32 && cmd !== 4 && cmd !== 9) || req.vcpuId !== 0)) {
      log(`v${req.vcpuId} hypercall ${req.nr} cmd ${cmd} arg1 ${req.args[1]} -> ${BigInt.asIntN(64, r)}`);
    }
    return r;
  },
});
machine.pc.writeAcpiTables(ram.bytes);
const m = machine;
const sab = new Int32Array(new SharedArrayBuffer(4));
let lastDump = performance.now();
function loop(): void {
  const end = performance.now() + 50;
  if (heldVectors.length > 0) {
    const now = heldVectors;
    heldVectors = [];
    for (const [v, vec] of now) {
      if (m.vcpus[v]?.waitingForSipi === true) heldVectors.push([v, vec]);
      else m.pc.lapics[v]?.acceptExternal(vec);
    }
  }
  while (done === null && performance.now() < end) {
    const r = m.runSlice();
    if (r.kind === "stopped") { if (m.crash) log(`CRASH ${m.crash.why}\n${m.crash.dump}`); done ??= "crashed"; break; }
    if (r.kind === "idle") Atomics.wait(sab, 0, 0, Math.min(r.sleepNs / 1e6, 5));
  }
  if (dumpEvery > 0 && performance.now() - lastDump > dumpEvery * 1000) { lastDump = performance.now(); log(m.registerDump()); }
  if ((performance.now() - t0) / 1000 > maxSeconds) { log(`timeout\n${m.registerDump()}`); done = "crashed"; }
  if (done !== null) { att.detach(); void xs.stop().then(() => process.exit(0)); return; }
  setImmediate(loop);
}
loop();
