// Diagnostic: boots a PVH guest on emu whose init loops on timers (sleep) and console output, and dumps the
// owner-side Xen event state when the heartbeat stops (a lost timer or upcall).
// Usage: node --import tsx scripts/pvh-stress.ts [iterations] [stallSeconds]
import { emuBackend } from "../src/accel/emu/backend.ts";
import { loadKernel } from "../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../src/devices/acpi/tables.ts";
import { XenHost } from "../src/dom0/xen/xen_host.ts";
import { startXenstoredService } from "../src/dom0/xenstored/service.ts";
import { KERNEL, ensureGuest, testInitramfs } from "../test/support/guest.ts";

const iterations = Number(process.argv[2] ?? "400");
const stallS = Number(process.argv[3] ?? "30");
const vcpus = Number(process.env.VCPUS ?? "1");
ensureGuest();
const initrd = testInitramfs(`
i=0; while [ $i -lt ${iterations} ]; do i=$((i+1)); ${process.env.BODY ?? "echo tsxen$i | md5sum >/dev/null; usleep $((1000 + (i % 7) * 3000))"}; echo "HB $i"; done
echo STRESS-DONE
poweroff -f
`);
const memoryBytes = 256 << 20;
const image = loadKernel({ kernelPath: KERNEL, ramdiskPath: initrd, memoryBytes, vcpus, type: "pvh", cmdline: "console=hvc0 cryptomgr.notests panic=-1 quiet", rsdpPaddr: ACPI_REGION_GPA });
const log: string[] = [];
const xs = await startXenstoredService({ log: (l) => log.push(l) });
const host = new XenHost(xs, (l) => log.push(l));
const domid = 3;
let text = "";
let lastHb = performance.now();
let lastHbLine = "";
const t0 = performance.now();
const exec = await emuBackend.launch(
  { domid, name: "stress", type: "pvh", memoryBytes, vcpus, image, xen: host.domainPort({ domid, name: "stress", memoryBytes, vcpus }) },
  {
    console: (b) => {
      text += Buffer.from(b).toString("latin1");
      const m = text.match(/HB (\d+)\r?\n(?![\s\S]*HB \d)/);
      if (m && m[0] !== lastHbLine) { lastHbLine = m[0]; lastHb = performance.now(); }
      if (text.length > 20000) text = text.slice(-5000);
    },
    log: (l) => log.push(l),
    shutdown: (reason) => { console.log(`shutdown ${reason} after ${((performance.now() - t0) / 1000).toFixed(1)} s, ${lastHbLine.trim()}`); void exec.destroy().then(() => xs.stop()).then(() => process.exit(0)); },
    crashed: (why, dump) => { console.log(`crashed: ${why}\n${dump}`); process.exit(2); },
  },
);
const timer = setInterval(() => {
  if (performance.now() - lastHb < stallS * 1000) return;
  clearInterval(timer);
  console.log(`STALL after ${lastHbLine.trim()} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n${host.describeEvents(domid)}`);
  console.log(`log tail:\n${log.slice(-15).join("\n")}\nconsole tail:\n${text.slice(-800)}`);
  process.exit(3);
}, 1000);
