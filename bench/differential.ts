// Large differential runs: emu vs the real CPU (ring 3 of a KVM guest), see test/differential/.
// Usage: npm run bench:diff -- [--seed N] [--count N] [--length N] [--batch N] [--families a,b] [--exclude a,b]
//                               [--no-avoid] [--reports N] [--emu paged|flat]
//   Known-failing classes (test/differential/known_failing.ts) whose reproduction still fails are steered
//   around (or counted separately); --no-avoid generates them too.
import { parseArgs } from "node:util";
import { formatMismatch, runDifferential, stillFailing } from "../test/differential/diff.ts";
import { FAMILIES } from "../test/differential/gen.ts";
import { kvmUnavailable } from "../test/differential/kvm_runner.ts";
import { hasBinutils } from "../test/differential/program.ts";

const { values: a } = parseArgs({
  options: {
    seed: { type: "string", default: String(Date.now() % 1_000_000_007) },
    count: { type: "string", default: "20000" },
    length: { type: "string", default: "8" },
    batch: { type: "string", default: "1000" },
    families: { type: "string" },
    exclude: { type: "string" },
    "no-avoid": { type: "boolean", default: false },
    reports: { type: "string", default: "20" },
    emu: { type: "string", default: "paged" },
  },
});
const why = !hasBinutils() ? "binutils (as, objcopy) not installed" : kvmUnavailable();
if (why) {
  console.error(`bench:diff: ${why}`);
  process.exit(2);
}
const list = (s?: string): string[] | undefined => s?.split(",").map((x) => x.trim()).filter(Boolean);
const families = list(a.families);
for (const f of [...(families ?? []), ...(list(a.exclude) ?? [])]) {
  if (!(f in FAMILIES)) { console.error(`unknown family ${f}; known: ${Object.keys(FAMILIES).join(", ")}`); process.exit(2); }
}
const seed = Number(a.seed), count = Number(a.count), length = Number(a.length);
console.log(`bench:diff seed ${seed}, ${count} sequences x ${length} instructions${families ? `, families ${families.join(",")}` : ""}`);
const probe = a["no-avoid"] ? { failing: [], fixed: [] } : stillFailing(seed);
if (probe.fixed.length) console.log(`known-failing entries that now pass (tested, remove them from known_failing.ts): ${probe.fixed.join(", ")}`);
const t0 = performance.now();
const r = runDifferential({
  seed, count, length, batchSize: Number(a.batch), emu: a.emu === "flat" ? "flat" : "paged", families, exclude: list(a.exclude),
  avoid: probe.failing, maxReports: Number(a.reports),
  onBatch: (done, bad) => process.stderr.write(`\r${done}/${count} sequences, ${bad} mismatches`),
});
process.stderr.write("\n");
for (const m of r.mismatches) console.log(formatMismatch(m) + "\n");
const total = r.mismatches.length + r.unminimized;
const secs = (performance.now() - t0) / 1000;
const known = Object.entries(r.known).map(([k, n]) => `${k} ${n}`).join(", ");
console.log(`${r.sequences} sequences (${r.instructions} instructions), ${total} mismatches` +
  (r.unminimized ? ` (${r.unminimized} not minimized)` : "") + (known ? `; known-failing classes seen: ${known}` : ""));
console.log(`time ${secs.toFixed(1)} s: native ${(r.nativeMs / 1000).toFixed(2)} s in ${r.kvmEntries} KVM_RUN calls, ` +
  `emu ${(r.emuMs / 1000).toFixed(2)} s, as ${(r.asmMs / 1000).toFixed(2)} s`);
process.exit(total === 0 ? 0 : 1);
