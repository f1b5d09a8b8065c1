// The differential driver: generate sequences, run each batch natively (KVM ring 3) and on emu from the same
// memory image, compare final GPRs, defined flags, XMM registers and the scratch data, and shrink every
// mismatch to its shortest failing prefix (re-run on both sides) for the report.
import { EmuRunner, type EmuSystemKind } from "./emu_runner.ts";
import { ARITH, DF, Rng, genSequence, genStart, type GenOptions } from "./gen.ts";
import { KvmRunner, type SeqFault } from "./kvm_runner.ts";
import { KNOWN_FAILING } from "./known_failing.ts";
import * as L from "./layout.ts";
import { assemble, readEndState, writeImage, type AssembledBatch, type EndState, type Sequence } from "./program.ts";

export interface Mismatch {
  seq: number;
  /** Shortest failing prefix (items) of the sequence, the last item is the likely culprit. */
  prefix: Sequence;
  /** Bytes of each item of the prefix (hex). */
  bytes: string[];
  diffs: string[];
}

export interface DiffResult {
  sequences: number;
  instructions: number;
  mismatches: Mismatch[];
  nativeMs: number;
  emuMs: number;
  asmMs: number;
  kvmEntries: number;
}

const h64 = (v: bigint): string => "0x" + v.toString(16).padStart(16, "0");
const FLAG_NAMES: [number, string][] = [[0x1, "CF"], [0x4, "PF"], [0x10, "AF"], [0x40, "ZF"], [0x80, "SF"], [0x400, "DF"], [0x800, "OF"]];
export function flagText(f: number, mask = ARITH | DF): string {
  return FLAG_NAMES.filter(([b]) => mask & b).map(([b, n]) => `${n}=${f & b ? 1 : 0}`).join(" ");
}
const hexBytes = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

/** Differences between native (expected) and emu (got) end states; empty when they agree. */
export function compare(seq: Sequence, nat: EndState, emu: EndState, natFault?: SeqFault, emuFault?: SeqFault): string[] {
  const out: string[] = [];
  if (natFault || emuFault) {
    const f = (x?: SeqFault): string => (x
      ? `vector ${x.vector} at rip 0x${x.rip.toString(16)}${x.errorCode !== undefined ? ` error 0x${x.errorCode.toString(16)}` : ""}${x.cr2 !== undefined ? ` cr2 0x${x.cr2.toString(16)}` : ""}`
      : "no fault");
    if (f(natFault) !== f(emuFault)) out.push(`fault: native ${f(natFault)}, emu ${f(emuFault)}`);
    else if (natFault?.regs && emuFault?.regs) {
      L.GPR_NAMES.forEach((n, k) => {
        if (natFault.regs![k] !== emuFault.regs![k]) out.push(`${n} at the fault: native ${h64(natFault.regs![k]!)} emu ${h64(emuFault.regs![k]!)}`);
      });
    }
    return out;
  }
  L.GPR_NAMES.forEach((n, k) => {
    if (nat.regs[k] !== emu.regs[k]) out.push(`${n}: native ${h64(nat.regs[k]!)} emu ${h64(emu.regs[k]!)}`);
  });
  const undef = seq.items.length > 0 ? seq.items[seq.items.length - 1]!.undefAfter : 0;
  const mask = (ARITH | DF) & ~undef;
  if ((nat.rflags & mask) !== (emu.rflags & mask)) {
    out.push(`rflags (defined ${flagText(mask, mask).replace(/=\d/g, "")}): native ${flagText(nat.rflags, mask)} emu ${flagText(emu.rflags, mask)}`);
  }
  for (let x = 0; x < 16; x++) {
    const a = nat.xmm.subarray(16 * x, 16 * x + 16), b = emu.xmm.subarray(16 * x, 16 * x + 16);
    if (a.some((v, i) => v !== b[i])) out.push(`xmm${x}: native ${hexBytes(a)} emu ${hexBytes(b)}`);
  }
  if (nat.mxcsr !== emu.mxcsr) out.push(`mxcsr: native 0x${nat.mxcsr.toString(16)} emu 0x${emu.mxcsr.toString(16)}`);
  // x87 state from fxsave: FCW, FSW, abridged FTW and the valid registers (FOP/FIP/FDP are not compared:
  // AMD saves them only with an exception pending). MMX registers only when no x87 code ran (they alias).
  const usesX87 = seq.items.some((it) => it.family === "x87");
  const fdv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const nf = fdv(nat.fx), ef = fdv(emu.fx);
  const fswMask = ~(seq.items.length > 0 ? seq.items[seq.items.length - 1]!.fswUndefAfter ?? 0 : 0) & 0xffff;
  for (const [name, off, mask] of [["fcw", 0, 0xffff], ["fsw", 2, fswMask]] as const) {
    if ((nf.getUint16(off, true) & mask) !== (ef.getUint16(off, true) & mask)) {
      out.push(`${name}${mask !== 0xffff ? ` (mask 0x${mask.toString(16)})` : ""}: native 0x${nf.getUint16(off, true).toString(16)} emu 0x${ef.getUint16(off, true).toString(16)}`);
    }
  }
  if (nat.fx[4] !== emu.fx[4]) out.push(`ftw (abridged): native 0x${nat.fx[4]!.toString(16)} emu 0x${emu.fx[4]!.toString(16)}`);
  const top = (nf.getUint16(2, true) >> 11) & 7;
  for (let i = 0; i < 8; i++) {
    if (((nat.fx[4]! >> ((top + i) & 7)) & 1) === 0) continue;
    const a = nat.fx.subarray(32 + 16 * i, 42 + 16 * i), b = emu.fx.subarray(32 + 16 * i, 42 + 16 * i);
    if (a.some((v, j) => v !== b[j])) out.push(`st(${i}): native ${hexBytes(a)} emu ${hexBytes(b)}`);
  }
  for (let x = 0; usesX87 ? false : x < 8; x++) {
    const a = nat.mm.subarray(8 * x, 8 * x + 8), b = emu.mm.subarray(8 * x, 8 * x + 8);
    if (a.some((v, i) => v !== b[i])) out.push(`mm${x}: native ${hexBytes(a)} emu ${hexBytes(b)}`);
  }
  for (let i = 0; i < L.SCRATCH_BYTES; i++) {
    if (nat.data[i] !== emu.data[i]) {
      let j = i;
      while (j < L.SCRATCH_BYTES && nat.data[j] !== emu.data[j]) j++;
      out.push(`scratch+0x${i.toString(16)}..0x${j.toString(16)}: native ${hexBytes(nat.data.subarray(i, Math.min(j, i + 16)))} emu ${hexBytes(emu.data.subarray(i, Math.min(j, i + 16)))}`);
      i = j;
    }
  }
  return out;
}

export function itemBytes(batch: AssembledBatch, code: Uint8Array, s: number, j: number): string {
  const q = batch.seqs[s]!;
  const a = q.items[j]!, b = q.items[j + 1] ?? q.end;
  return hexBytes(code.subarray(a - L.CODE, b - L.CODE));
}

/** Runs native and emu on one batch; returns per-sequence differences and timings. */
export class DiffHarness {
  readonly native = new KvmRunner();
  readonly emu: EmuRunner;
  nativeMs = 0;
  emuMs = 0;
  asmMs = 0;
  kvmEntries = 0;

  constructor(emuKind: EmuSystemKind = "paged") {
    this.emu = new EmuRunner(emuKind);
  }

  runBatch(seqs: readonly Sequence[]): { batch: AssembledBatch; diffs: string[][]; faults: { native: SeqFault[]; emu: SeqFault[] } } {
    let t = performance.now();
    const batch = assemble(seqs);
    this.asmMs += performance.now() - t;
    writeImage(this.native.ram, batch, seqs);
    writeImage(this.emu.ram, batch, seqs);
    t = performance.now();
    const nat = this.native.run(batch);
    this.nativeMs += performance.now() - t;
    this.kvmEntries += nat.entries;
    t = performance.now();
    const emu = this.emu.run(batch);
    this.emuMs += performance.now() - t;
    const diffs = seqs.map((s, i) =>
      compare(s, readEndState(this.native.ram, i), readEndState(this.emu.ram, i),
        nat.faults.find((f) => f.seq === i), emu.faults.find((f) => f.seq === i)));
    return { batch, diffs, faults: { native: nat.faults, emu: emu.faults } };
  }

  /** Shrinks a mismatching sequence: the shortest failing prefix, then greedily drops earlier items while it
   * still fails (one batch of candidates per round, on both sides). */
  minimize(seq: Sequence, index: number, fullDiffs: string[], fullBatch: AssembledBatch, batchIndex = index): Mismatch {
    const prefixes = seq.items.map((_, k) => ({ items: seq.items.slice(0, k + 1), start: seq.start }));
    let { batch, diffs } = this.runBatch(prefixes);
    const k = diffs.findIndex((d) => d.length > 0);
    if (k < 0) {
      return { seq: index, prefix: seq, bytes: seq.items.map((_, j) => itemBytes(fullBatch, fullBatch.code, batchIndex, j)), diffs: fullDiffs };
    }
    let best = prefixes[k]!, bestDiffs = diffs[k]!, bestBatch = batch, bestIdx = k;
    for (let round = 0; round < 16 && best.items.length > 1; round++) {
      // Drop one earlier item; the undefined-flags mask of the rest is kept conservative (union).
      // x87 items stay: dropping one would change the stack depth the rest relies on.
      const cands = best.items.slice(0, -1).flatMap((it, j) => (it.family === "x87" ? [] : [j])).map((j) => {
        const items = best.items.filter((_, i) => i !== j);
        const undef = best.items.reduce((a, it) => a | it.undefAfter, 0);
        return { items: items.map((it, i) => (i === items.length - 1 ? { ...it, undefAfter: undef } : it)), start: seq.start };
      });
      if (cands.length === 0) break;
      ({ batch, diffs } = this.runBatch(cands));
      const j = diffs.findIndex((d) => d.length > 0);
      if (j < 0) break;
      best = cands[j]!; bestDiffs = diffs[j]!; bestBatch = batch; bestIdx = j;
    }
    return { seq: index, prefix: best, bytes: best.items.map((_, j) => itemBytes(bestBatch, bestBatch.code, bestIdx, j)), diffs: bestDiffs };
  }

  close(): void {
    this.native.close();
  }
}

export interface RunOptions extends GenOptions {
  seed: number;
  count: number;
  batchSize?: number;
  /** Emu system side: the real X86System with paging (default) or the flat test double. */
  emu?: EmuSystemKind;
  /** Known-failing classes recognised by their `matches` are counted here instead of failing. */
  classify?: boolean;
  /** Stop minimizing after this many mismatches (the rest are counted only). */
  maxReports?: number;
  onBatch?: (done: number, mismatches: number) => void;
}

export function runDifferential(opts: RunOptions): DiffResult & { unminimized: number; known: Record<string, number> } {
  const rng = new Rng(opts.seed);
  const h = new DiffHarness(opts.emu);
  const mismatches: Mismatch[] = [];
  let unminimized = 0, instructions = 0;
  const known: Record<string, number> = {};
  const classes = opts.classify ?? true ? Object.entries(KNOWN_FAILING).filter(([n, k]) => k.matches && (opts.avoid ?? []).includes(n)) : [];
  try {
    const batchSize = Math.min(opts.batchSize ?? 500, L.MAX_BATCH);
    for (let done = 0; done < opts.count;) {
      const n = Math.min(batchSize, opts.count - done);
      // The flat double has no paging: #PF error codes and unmapped memory are not modelled there.
      const seqs = Array.from({ length: n }, () => genSequence(rng, { ...opts, faults: opts.faults ?? opts.emu !== "flat" }));
      for (const s of seqs) instructions += s.items.length;
      const { batch, diffs } = h.runBatch(seqs);
      diffs.forEach((d, i) => {
        if (d.length === 0) return;
        const cls = classes.find(([, k]) => k.matches!(seqs[i]!, d));
        if (cls) { known[cls[0]] = (known[cls[0]] ?? 0) + 1; return; }
        if (mismatches.length < (opts.maxReports ?? 50)) mismatches.push(h.minimize(seqs[i]!, done + i, d, batch, i));
        else unminimized++;
      });
      done += n;
      opts.onBatch?.(done, mismatches.length + unminimized);
    }
  } finally {
    h.close();
  }
  return { sequences: opts.count, instructions, mismatches, unminimized, known, nativeMs: h.nativeMs, emuMs: h.emuMs, asmMs: h.asmMs, kvmEntries: h.kvmEntries };
}

/** Human-readable reproduction of one mismatch. */
export function formatMismatch(m: Mismatch): string {
  const s = m.prefix.start;
  const lines = [`sequence #${m.seq}, minimal failing sequence (${m.prefix.items.length} items):`];
  m.prefix.items.forEach((it, j) => lines.push(`  ${it.lines.join("; ")}    [${m.bytes[j]}]`));
  lines.push(`  start: ${L.GPR_NAMES.map((n, k) => (n === "rsp" ? "" : `${n}=${h64(s.regs[k]!)}`)).filter(Boolean).join(" ")}`);
  lines.push(`  start flags: ${flagText(s.rflags)}`);
  const usesXmm = m.prefix.items.some((it) => it.lines.some((l) => l.includes("xmm")));
  if (usesXmm) for (let x = 0; x < 16; x++) lines.push(`  start xmm${x}: ${hexBytes(s.xmm.subarray(16 * x, 16 * x + 16))}`);
  if (usesXmm) lines.push(`  start mxcsr: 0x${s.mxcsr.toString(16)}`);
  if (m.prefix.items.some((it) => it.lines.some((l) => l.includes("%mm")))) {
    for (let x = 0; x < 8; x++) lines.push(`  start mm${x}: ${hexBytes(s.mm.subarray(8 * x, 8 * x + 8))}`);
  }
  const usesMem = m.prefix.items.some((it) => it.lines.some((l) => l.includes("(%r15") || /\b0x1[0-9a-f]{4}\b/.test(l)));
  if (usesMem) lines.push(`  scratch at 0x${L.SCRATCH.toString(16)} (r15 = 0x${L.SCRATCH_BASE_REG_VALUE.toString(16)}): ${hexBytes(s.data)}`);
  lines.push(...m.diffs.map((d) => `  DIFF ${d}`));
  return lines.join("\n");
}

/** Runs every known-failing reproduction once: the names that still fail (the rest are fixed). */
export function stillFailing(seed = 1): { failing: string[]; fixed: string[] } {
  const h = new DiffHarness();
  try {
    const names = Object.keys(KNOWN_FAILING);
    const rng = new Rng(seed);
    const seqs = names.map((n) => ({ items: KNOWN_FAILING[n]!.repro, start: { ...genStart(rng), ...KNOWN_FAILING[n]!.start } }));
    const { diffs } = h.runBatch(seqs);
    return { failing: names.filter((_, i) => diffs[i]!.length > 0), fixed: names.filter((_, i) => diffs[i]!.length === 0) };
  } finally {
    h.close();
  }
}
