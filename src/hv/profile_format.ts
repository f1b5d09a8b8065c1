// Prints an ExecutionProfile (ports.ts) as text: xl emu-stats, scripts/emu-boot.ts --profile, bench:emu --profile.
// With a symbol table (a /proc/kallsyms-format file, read by the caller) guest addresses are shown as
// symbol+offset and the RIP samples are also summed per function. With an earlier snapshot (`since`) the figures
// are for the interval between the two.
import type { ExecutionProfile } from "./ports.ts";

/** Low 48 bits of a hex address: canonical guest addresses compare correctly as numbers. */
const key48 = (hex: string): number => parseInt(hex.slice(-12), 16);

export interface Symbolizer {
  /** "name+0xoff" for a hex address, or null when it is below every symbol or far past the nearest. */
  lookup(hexAddr: string): string | null;
  /** The function name alone (for grouping). */
  name(hexAddr: string): string | null;
}

/** Text symbols from /proc/kallsyms lines ("ffffffff81000000 T _stext"); others are skipped. */
export function parseKallsyms(text: string): Symbolizer {
  const addrs: number[] = [];
  const names: string[] = [];
  const rows: [number, string][] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-fA-F]{8,16})\s+([tTwW])\s+(\S+)/.exec(line);
    if (m === null) continue;
    const a = key48(m[1]!);
    if (a === 0) continue;
    rows.push([a, m[3]!]);
  }
  rows.sort((x, y) => x[0] - y[0]);
  for (const [a, n] of rows) { addrs.push(a); names.push(n); }
  const find = (hex: string): number => {
    const k = key48(hex);
    let lo = 0, hi = addrs.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (addrs[mid]! <= k) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    // More than 1 MiB past the nearest symbol: not that symbol (modules, user space).
    return best >= 0 && k - addrs[best]! < 1 << 20 ? best : -1;
  };
  return {
    lookup: (hex) => {
      const i = find(hex);
      return i < 0 ? null : `${names[i]}+0x${(key48(hex) - addrs[i]!).toString(16)}`;
    },
    name: (hex) => {
      const i = find(hex);
      return i < 0 ? null : names[i]!;
    },
  };
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(1)} %` : "n/a");
const rate = (n: number, s: number): string => (s > 0 ? `${fmtInt(n / s)}/s` : "n/a");

/** The cache hit rate the stats allow: hits/(hits+misses) if counted, else block runs / all dispatches. */
export function cacheHitRate(s: Readonly<Record<string, number>>): { rate: number; how: string } | null {
  const hits = s.hits ?? s.lookupHits ?? s.cacheHits;
  const misses = s.misses ?? s.lookupMisses ?? s.cacheMisses;
  const lookups = s.lookups ?? (hits !== undefined && misses !== undefined ? hits + misses : undefined);
  if (hits !== undefined && lookups !== undefined && lookups > 0) return { rate: hits / lookups, how: "table lookups that found a compiled block" };
  const runs = s.blockRuns, steps = s.interpSteps;
  if (runs !== undefined && steps !== undefined && runs + steps > 0) {
    return { rate: runs / (runs + steps), how: "dispatches that ran a compiled block rather than the interpreter" };
  }
  return null;
}

function diffRecord(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(a)) out[k] = v - (b?.[k] ?? 0);
  return out;
}

/** `p` minus `since` (counters and lists; gauges such as liveBlocks become differences too). */
export function profileDelta(p: ExecutionProfile, since: ExecutionProfile): ExecutionProfile {
  const prevSamples = new Map(since.ripSamples.map((s) => [s.rip, s.count]));
  const prevBlocks = new Map(since.hotBlocks.map((b) => [b.rip, b.runs]));
  return {
    ...p,
    runSeconds: p.runSeconds - since.runSeconds,
    busySeconds: p.busySeconds < 0 || since.busySeconds < 0 ? -1 : p.busySeconds - since.busySeconds,
    instructions: p.instructions - since.instructions,
    exits: diffRecord(p.exits, since.exits),
    jitStats: diffRecord(p.jitStats, since.jitStats),
    mmuStats: diffRecord(p.mmuStats, since.mmuStats),
    hotBlocks: p.hotBlocks.map((b) => ({ ...b, runs: b.runs - (prevBlocks.get(b.rip) ?? 0) })).sort((x, y) => y.runs - x.runs),
    ripSamples: p.ripSamples.map((s) => ({ ...s, count: s.count - (prevSamples.get(s.rip) ?? 0) })).filter((s) => s.count > 0).sort((x, y) => y.count - x.count),
    sampleCount: p.sampleCount - since.sampleCount,
  };
}

export interface FormatOptions {
  readonly syms?: Symbolizer;
  /** Rows in each hot list (default 15). */
  readonly top?: number;
}

/** A multi-line report (no trailing newline). */
export function formatProfile(p: ExecutionProfile, opts: FormatOptions = {}): string {
  const top = opts.top ?? 15;
  const sym = (rip: string): string => {
    const s = opts.syms?.lookup(rip);
    return s ? `${rip} ${s}` : rip;
  };
  const lines: string[] = [];
  const busy = p.busySeconds >= 0 ? p.busySeconds : p.runSeconds;
  lines.push(`${p.backend} profile: ${fmtInt(p.instructions)} instructions retired in ${p.runSeconds.toFixed(1)} s` +
    `${p.busySeconds >= 0 ? ` (${p.busySeconds.toFixed(1)} s busy)` : ""}: ` +
    `${busy > 0 ? (p.instructions / busy / 1e6).toFixed(2) : "n/a"} MIPS busy, ${p.runSeconds > 0 ? (p.instructions / p.runSeconds / 1e6).toFixed(2) : "n/a"} MIPS overall; ` +
    `${p.jit ? "block JIT" : "interpreter"}`);
  const exitTotal = Object.values(p.exits).reduce((a, b) => a + b, 0);
  lines.push(`exits: ${fmtInt(exitTotal)} (${rate(exitTotal, p.runSeconds)}): ` +
    Object.entries(p.exits).map(([k, v]) => `${k} ${fmtInt(v)} (${rate(v, p.runSeconds)})`).join(", "));
  const js = p.jitStats;
  if (Object.keys(js).length > 0) {
    const hit = cacheHitRate(js);
    lines.push(`JIT cache hit rate: ${hit === null ? "n/a (no lookup counters)" : `${(hit.rate * 100).toFixed(1)} % (${hit.how})`}`);
    const runs = js.blockRuns, steps = js.interpSteps;
    if (runs !== undefined && steps !== undefined && runs + steps > 0 && hit?.how.startsWith("table")) {
      lines.push(`JIT coverage: ${pct(runs, runs + steps)} of dispatches ran a compiled block (${fmtInt(runs)} block runs, ${fmtInt(steps)} interpreted steps)`);
    }
    const known = ["blocksCompiled", "blocksUncompilable", "compileErrors", "liveBlocks", "codeBytes", "blockRuns", "interpSteps",
      "invalidations", "blocksInvalidated", "evictions", "compileMs", "translateMs"];
    const shown = known.filter((k) => js[k] !== undefined).map((k) => `${k} ${fmtInt(js[k]!)}`);
    const rest = Object.keys(js).filter((k) => !known.includes(k)).sort().map((k) => `${k} ${fmtInt(js[k]!)}`);
    lines.push(`JIT: ${[...shown, ...rest].join(", ")}`);
  }
  if (Object.keys(p.mmuStats).length > 0) {
    lines.push(`MMU: ${Object.keys(p.mmuStats).sort().map((k) => `${k} ${fmtInt(p.mmuStats[k]!)}`).join(", ")}`);
  }
  if (p.hotBlocks.length > 0) {
    const blockInsns = p.hotBlocks.reduce((a, b) => a + b.runs * b.insns, 0);
    lines.push(`hottest compiled blocks (runs x instructions; share of these ${top}):`);
    for (const b of p.hotBlocks.slice(0, top)) {
      lines.push(`  ${sym(b.rip).padEnd(opts.syms ? 52 : 16)} runs ${fmtInt(b.runs).padStart(14)} x ${String(b.insns).padStart(3)}  ${pct(b.runs * b.insns, blockInsns)}`);
    }
  }
  if (p.ripSamples.length > 0) {
    lines.push(`hottest guest RIPs (${fmtInt(p.sampleCount)} samples, one per vCPU slice):`);
    for (const s of p.ripSamples.slice(0, top)) lines.push(`  ${sym(s.rip).padEnd(opts.syms ? 52 : 16)} ${pct(s.count, p.sampleCount).padStart(7)}`);
    if (opts.syms !== undefined) {
      const byFn = new Map<string, number>();
      for (const s of p.ripSamples) {
        const n = opts.syms.name(s.rip) ?? (key48(s.rip) < 2 ** 47 ? "(lower half: user space or an image without symbols)" : "(no symbol)");
        byFn.set(n, (byFn.get(n) ?? 0) + s.count);
      }
      lines.push("hottest functions (from the sampled RIPs above):");
      for (const [n, c] of [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${n.padEnd(40)} ${pct(c, p.sampleCount).padStart(7)}`);
    }
  }
  for (const n of p.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}
