// npm run bench:hypercall — Xen guest-interface latencies from the tiny PVH guest (test/guests/tiny, "bench"
// mode) on emu and kvm, through the daemon's wiring (XenHost + xenstored, as test/support/xen_guest.ts):
//   - hypercall round trip: N × xen_version(XENVER_version) in a loop (served on the vCPU thread);
//   - event-channel notify → upcall: N × EVTCHNOP_send on an IPI port bound to vCPU 0 (an owner-thread
//     hypercall), each waited for as the upcall interrupt on vector 0xf3 whose handler acknowledges it as
//     Linux's 2-level handler does.
// Each phase is timed by host timestamps of the guest's "BENCH … begin/end" console lines (and by the guest's
// TSC, reported as cycles per operation). Prints a Markdown table; `--write` (the npm script) updates
// docs/benchmarks.md between the bench:hypercall markers.
// Usage: node --import tsx bench/hypercall.ts [--n N] [--runs R] [--write] [--skip-kvm] [--skip-emu]
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { emuBackend } from "../src/accel/emu/backend.ts";
import { kvmBackend } from "../src/accel/kvm/backend.ts";
import type { ExecutionBackend } from "../src/hv/ports.ts";
import { launchTiny, ROOT, startDom0 } from "../test/support/xen_guest.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = opt("--n", 3000);
const RUNS = opt("--runs", 3);

interface Sample { hcUs: number; evUs: number; hcCycles: number; evCycles: number }

async function runOnce(backend: ExecutionBackend, domid: number): Promise<Sample> {
  const dom0 = await startDom0();
  const stamps = new Map<string, number>();
  const tsc = new Map<string, number>();
  try {
    const dom = await launchTiny({
      backend, dom0, domid, name: `bench${domid}`, cmdline: `bench=${N}`,
      onConsole: (text) => {
        for (const m of text.matchAll(/^BENCH (hc|ev) (begin|end)(?: tsc=(\d+))?/gm)) {
          const key = `${m[1]} ${m[2]}`;
          if (!stamps.has(key)) stamps.set(key, performance.now());
          if (m[3] !== undefined) tsc.set(m[1]!, Number(m[3]));
        }
      },
    });
    const outcome = await Promise.race([dom.outcome, new Promise<string>((r) => setTimeout(() => r("timeout"), 600_000).unref())]);
    await dom.destroy();
    if (outcome !== "poweroff" || !dom.console().includes("RESULT: PASS")) {
      throw new Error(`bench guest on ${backend.kind}: ${outcome}\n${dom.console().slice(-1500)}\n${dom.log.slice(-10).join("\n")}`);
    }
    const span = (k: string): number => (stamps.get(`${k} end`)! - stamps.get(`${k} begin`)!) * 1000 / N;
    return { hcUs: span("hc"), evUs: span("ev"), hcCycles: tsc.get("hc")! / N, evCycles: tsc.get("ev")! / N };
  } finally {
    await dom0.stop();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: string[] = [];
const backends: [string, ExecutionBackend, string | false][] = [];
if (!args.includes("--skip-emu")) backends.push(["emu", emuBackend, false]);
if (!args.includes("--skip-kvm")) {
  const probe = existsSync("/dev/kvm") ? kvmBackend.probe() : null;
  backends.push(["kvm", kvmBackend, probe === null ? "no /dev/kvm" : probe.usable ? false : probe.reason ?? "unusable"]);
}
let domid = 1;
for (const [name, backend, skip] of backends) {
  if (skip) {
    rows.push(`| ${name} | — | — | — | — | skipped: ${skip} |`);
    continue;
  }
  const samples: Sample[] = [];
  for (let r = 0; r < RUNS; r++) {
    const s = await runOnce(backend, domid++);
    process.stderr.write(`${name} run ${r + 1}: xen_version ${s.hcUs.toFixed(2)} µs (${s.hcCycles.toFixed(0)} TSC cycles), EVTCHNOP_send→upcall ${s.evUs.toFixed(2)} µs (${s.evCycles.toFixed(0)} cycles)\n`);
    samples.push(s);
  }
  const m = (f: (s: Sample) => number): number => median(samples.map(f));
  const range = (f: (s: Sample) => number): string => `${Math.min(...samples.map(f)).toFixed(0)}–${Math.max(...samples.map(f)).toFixed(0)}`;
  rows.push(`| ${name} | ${m((s) => s.hcUs).toFixed(2)} | ${m((s) => s.hcCycles).toFixed(0)} | ${m((s) => s.evUs).toFixed(2)} | ${m((s) => s.evCycles).toFixed(0)} | median of ${RUNS} runs × ${N} (µs ranges ${range((s) => s.hcUs)} / ${range((s) => s.evUs)}) |`);
}

const probe = existsSync("/dev/kvm") ? kvmBackend.probe() : null;
const table = [
  `Measured ${new Date().toISOString().slice(0, 10)} on this host (${(await import("node:os")).cpus()[0]?.model ?? "cpu"}, ${(await import("node:os")).cpus().length} cores, shared with other work)${probe && !probe.fullGuests && probe.usable ? `; kvm: ${probe.reason}` : ""}.`,
  "Host-timed per operation (guest TSC cycles per operation alongside). Tiny PVH guest, 1 vCPU, 16 MiB.",
  "",
  "| backend | xen_version round trip (µs) | (TSC cycles) | EVTCHNOP_send → upcall handled (µs) | (TSC cycles) | runs |",
  "|---|---|---|---|---|---|",
  ...rows,
  "",
  "xen_version is answered on the vCPU thread; EVTCHNOP_send is an owner-thread hypercall (ADR 0040: the vCPU thread",
  "forwards it to the main thread and waits), then the main thread raises the upcall vector on the vCPU's LAPIC.",
  "The guest waits for each upcall with `sti; hlt` on kvm and spins with interrupts open on emu (with `hlt` on emu,",
  "`bench=N benchhlt`, the engine's idle wait dominates: ≈1.5 ms per operation). The host is shared: runs vary by 2× or more.",
].join("\n");
process.stdout.write(`${table}\n`);

if (args.includes("--write")) {
  const path = join(ROOT, "docs/benchmarks.md");
  let doc = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
  const begin = "<!-- bench:hypercall begin -->", end = "<!-- bench:hypercall end -->";
  const block = `${begin}\n${table}\n${end}`;
  const re = /<!-- bench:hypercall begin -->[\s\S]*?<!-- bench:hypercall end -->/;
  doc = re.test(doc) ? doc.replace(re, block) : `${doc.trimEnd()}\n\n## Hypercall and event-channel latency (npm run bench:hypercall)\n\n${block}\n`;
  writeFileSync(path, doc);
  process.stderr.write(`updated ${path}\n`);
}
process.exit(0);
