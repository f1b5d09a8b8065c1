import { test } from "node:test";
import assert from "node:assert/strict";
import type { ExecutionProfile } from "./ports.ts";
import { cacheHitRate, formatProfile, parseKallsyms, profileDelta } from "./profile_format.ts";

const KALLSYMS = `ffffffff81000000 T _stext
ffffffff81001000 T start_kernel
ffffffff81001000 D some_data
ffffffff81002000 t helper
ffffffffc0000000 t mod_fn	[mymod]
`;

const profile = (over: Partial<ExecutionProfile> = {}): ExecutionProfile => ({
  backend: "emu", runSeconds: 10, busySeconds: 8, instructions: 80e6, jit: true,
  exits: { pio: 1000, mmio: 500, interrupts: 100, hypercalls: 0 },
  jitStats: { blocksCompiled: 10, blockRuns: 900, interpSteps: 100, lookups: 1000, lookupHits: 950 },
  mmuStats: {},
  hotBlocks: [{ rip: "ffffffff81001010", runs: 500, insns: 4 }],
  ripSamples: [{ rip: "ffffffff81002008", count: 30 }, { rip: "ffffffff81001004", count: 10 }, { rip: "0000000000401000", count: 10 }],
  sampleCount: 50, notes: [], ...over,
});

test("kallsyms text symbols name guest addresses as symbol+offset; data symbols and far addresses do not", () => {
  const s = parseKallsyms(KALLSYMS);
  assert.equal(s.lookup("ffffffff81001010"), "start_kernel+0x10");
  assert.equal(s.lookup("ffffffff81002000"), "helper+0x0");
  assert.equal(s.name("ffffffff81000fff"), "_stext");
  assert.equal(s.lookup("ffffffff80000000"), null, "below every symbol");
  assert.equal(s.lookup("0000000000401000"), null, "user space");
  assert.equal(s.lookup("ffffffffc0000010"), "mod_fn+0x10");
});

test("the cache hit rate comes from lookup counters when the JIT keeps them, else from block runs vs interpreted steps", () => {
  assert.deepEqual(cacheHitRate({ lookups: 1000, lookupHits: 950 })?.rate, 0.95);
  assert.deepEqual(cacheHitRate({ hits: 3, misses: 1 })?.rate, 0.75);
  assert.deepEqual(cacheHitRate({ blockRuns: 900, interpSteps: 100 })?.rate, 0.9);
  assert.equal(cacheHitRate({ blocksCompiled: 5 }), null);
});

test("the report has MIPS, exits per second, the hit rate, hot blocks and sampled RIPs with symbols and per-function sums", () => {
  const text = formatProfile(profile(), { syms: parseKallsyms(KALLSYMS) });
  assert.match(text, /80,000,000 instructions retired in 10\.0 s \(8\.0 s busy\): 10\.00 MIPS busy, 8\.00 MIPS overall; block JIT/);
  assert.match(text, /exits: 1,600 \(160\/s\): pio 1,000 \(100\/s\), mmio 500 \(50\/s\), interrupts 100 \(10\/s\), hypercalls 0 \(0\/s\)/);
  assert.match(text, /JIT cache hit rate: 95\.0 % \(table lookups/);
  assert.match(text, /JIT coverage: 90\.0 % of dispatches/);
  assert.match(text, /ffffffff81001010 start_kernel\+0x10 +runs +500 x +4/);
  assert.match(text, /ffffffff81002008 helper\+0x8 +60\.0 %/);
  assert.match(text, /hottest functions[\s\S]*helper +60\.0 %[\s\S]*start_kernel +20\.0 %[\s\S]*\(lower half: user space or an image without symbols\) +20\.0 %/);
  const interp = formatProfile(profile({ jit: false, jitStats: {}, hotBlocks: [] }));
  assert.doesNotMatch(interp, /JIT cache/);
  assert.match(interp, /; interpreter/);
});

test("the difference of two snapshots gives the interval's figures", () => {
  const a = profile();
  const b = profile({
    runSeconds: 12, busySeconds: 9, instructions: 100e6, exits: { pio: 1200, mmio: 500, interrupts: 120, hypercalls: 0 },
    ripSamples: [{ rip: "ffffffff81002008", count: 31 }, { rip: "ffffffff81001004", count: 20 }], sampleCount: 61,
  });
  const d = profileDelta(b, a);
  assert.equal(d.runSeconds, 2);
  assert.equal(d.busySeconds, 1);
  assert.equal(d.instructions, 20e6);
  assert.deepEqual(d.exits, { pio: 200, mmio: 0, interrupts: 20, hypercalls: 0 });
  assert.deepEqual(d.ripSamples, [{ rip: "ffffffff81001004", count: 10 }, { rip: "ffffffff81002008", count: 1 }]);
  assert.equal(d.sampleCount, 11);
});
