// The emu JIT's translation cache: guest basic blocks (64-bit mode) compiled to JavaScript functions, keyed by
// the physical address of their first byte (and checked against the linear RIP they were translated for, since
// RIP-relative operands and branch targets are compiled in as constants).
//
// - One cache per guest RAM array, shared by all vCPUs of a domain (cross-modifying code on SMP).
// - Direct-mapped table of TABLE_SIZE entries (a colliding compile evicts the old block), and a budget of
//   generated source (MAX_CODE_BYTES; over it the cache is flushed): bounded memory.
// - Blocks are compiled once their start address was dispatched HOT (10000) times (hashed counters), so code that runs
//   once (most of the boot's init code) is interpreted and never pays for `new Function`.
// - Self-modifying code: pages holding compiled blocks are marked in every attached system's code-page map
//   (Mmu.markCodePage: writes to them leave the write TLB and call codePageWritten(ppn, offset?, length?)).
//   Each block knows the byte intervals of its page it was translated from (cache_cover.ts); a write drops the
//   blocks it overlaps (no offset: the whole page), marks them dead (links to them are not followed any more)
//   and then sets `smc` on the cores, which makes a running block leave after the writing instruction. Writes
//   next to blocks keep them; the page stays marked while it holds blocks. Systems without code-page tracking
//   (test doubles) get their write entry points wrapped instead.
// - Direct block chaining (dispatch.ts): a block keeps two links "exit RIP -> successor block", valid for the
//   (core, tlbGen, CPL) they were made under and while the successor is not dead.
// - No flush is needed on CR3 or mode changes: the dispatcher looks blocks up through the current translation
//   of RIP and only runs them in 64-bit mode; code bytes are covered by the write tracking.
// - A wasm region may end with an instruction that crosses the page end (the region's only bytes on the next
//   page): the block remembers the next linear page's RAM (phys2) and is on both pages' lists, with the bytes it
//   read from each; the dispatcher runs it only while that page still translates to phys2 and drops it when the
//   translation changed.

import type { EmuSystem } from "../cpu_state.ts";
import { alu, incDec, probeWrite } from "../exec/alu.ts";
import { execGroup2 } from "../exec/shift.ts";
import { imulTrunc } from "../exec/muldiv.ts";
import { opBytes, translate } from "./translate.ts";
import { blockCoverage, covers } from "./cache_cover.ts";
import { WasmTier } from "./wasm_tier.ts";

/** The process environment (none outside Node). */
const ENV = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
/** log2 of the block table and hot-counter sizes (TSXEN_EMU_JIT_TABLE_BITS overrides, 12..22). 18: the boot's
 * ~50,000 block starts rarely share a slot (16: a colliding start's wasm offer at exactly WASM_HOT went to the
 * other one; interpreted steps of a boot 26.7 M at 16, 24.7 M at 18, 24.3 M at 20). ~2.5 MB per domain. */
const TABLE_BITS = ((): number => {
  const v = Number(ENV.TSXEN_EMU_JIT_TABLE_BITS ?? 18);
  return Number.isInteger(v) && v >= 12 && v <= 22 ? v : 18;
})();
export const TABLE_SIZE = 1 << TABLE_BITS;
const TABLE_MASK = TABLE_SIZE - 1;
/** A dispatch count from environment variable `name` (min..65535; `dflt` when unset or out of range). */
function envCount(name: string, dflt: number, min: number): number {
  const v = Number(ENV[name] ?? dflt);
  return Number.isFinite(v) && v >= min && v <= 65535 ? v : dflt;
}
/** Dispatches of a start address before it is compiled (TSXEN_EMU_JIT_HOT overrides; 0 = compile at once).
 * Not 1000: every compiled block costs `new Function` (~0.3 ms) plus V8's own parse, bytecode and tiering of one
 * more distinct closure, which the boot code's lukewarm blocks never repay (session 2, user CPU-s of the bench
 * boot: hot 1000 44.4 s, 8000 35.5 s, 30000 31.1 s; interpreter 40.7 s). Since the wasm tier takes the loops and
 * the dispatcher interprets straight-line code in bursts, 10000 is best (session 4, two boots at once, wall s to
 * userspace / to the end of both md5 runs of the bench initramfs: 10000 vs 30000 19.6/29.3 vs 20.8/30.0 and
 * 17.5/26.3 vs 18.6/27.0; vs 15000 16.8/25.4 vs 17.4/26.1; vs 6000 17.7/27.3 vs 18.0/28.6); md5 from a pipe
 * alone is 0.2-0.5 s slower (more kernel blocks compiled during it). */
const HOT = envCount("TSXEN_EMU_JIT_HOT", 10000, 0);
/** Dispatches of a start address before the wasm tier is asked whether it takes the block (TSXEN_EMU_JIT_WASM_HOT
 * overrides): a wasm module costs little next to interpreting a loop (see wasm_tier.ts). */
const WASM_HOT = envCount("TSXEN_EMU_JIT_WASM_HOT", 500, 1);
/** Dispatches of a start address before the wasm tier is asked for a region that does not loop
 * (TSXEN_EMU_JIT_WASM_REGION_HOT overrides; 0 = never). */
const REGION_HOT = envCount("TSXEN_EMU_JIT_WASM_REGION_HOT", 0, 0);
/** TSXEN_EMU_JIT_CHAIN=0 turns direct block chaining off (for measurements). */
const CHAIN = ENV.TSXEN_EMU_JIT_CHAIN !== "0";
/** Dispatches of an invalidated block's start before it is compiled again (rearm). */
const REARM = 16;
/** TSXEN_EMU_JIT_WASM_CROSS=0: wasm regions end before an instruction that crosses a page end (measurements). */
const CROSS = ENV.TSXEN_EMU_JIT_WASM_CROSS !== "0";
/** A start address whose block was invalidated this often is rewritten all the time: not compiled any more. So
 * is a whole page after this many writes reported without an offset (the writer's range unknown: they drop every
 * block of the page, typically data written next to code). */
const MAX_BLOCK_INVALIDATIONS = 16;

/** A key (block start, page) counted as "rewritten all the time" once invalidated more than
 * MAX_BLOCK_INVALIDATIONS times with the last one less than CHURN_WINDOW table lookups ago. Older counts are
 * forgotten: physical pages are reused (page cache, freed process text), and code that was rewritten during the
 * boot may be stable code of another program later. */
class Churn {
  private readonly counts = new Map<number, number>();
  private readonly last = new Map<number, number>();
  note(key: number, now: number): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.last.set(key, now);
  }
  rewritten(key: number, now: number): boolean {
    const n = this.counts.get(key);
    if (n === undefined || n <= MAX_BLOCK_INVALIDATIONS) return false;
    if (now - this.last.get(key)! < CHURN_WINDOW) return true;
    this.counts.delete(key);
    this.last.delete(key);
    return false;
  }
}
/** Table lookups (about one per taken branch outside chained blocks) after which invalidation counts lapse. */
const CHURN_WINDOW = 1 << 23;

/** Helpers a block calls (passed as its second argument). */
export const HELPERS = { alu, incDec, execGroup2, imulTrunc, probeWrite };
export type BlockFn = (c: JitCore, h: typeof HELPERS) => number;

/** What a block function needs from the core (the Interp). */
export interface JitCore {
  readonly cpu: import("../cpu_state.ts").CpuState;
  readonly sys: EmuSystem;
  smc: boolean;
  bi: number;
}

export class Block {
  execs = 0;
  /** Set when the block left the cache (invalidated, evicted, flushed): links to it are not followed. */
  dead = false;
  // Direct-chaining links (dispatch.ts): exit RIP (lo, hi) -> successor, valid under `key` (core, tlbGen, CPL).
  l0Lo = 0; l0Hi = 0; l0Key = -1; l0: Block | null = null;
  l1Lo = 0; l1Hi = 0; l1Key = -1; l1: Block | null = null;
  /** Which link slot the next new link replaces. */
  lNext = 0;
  /** A wasm block's slot in the tier's shared table (wasm_tier.ts chaining; 0: none). */
  slot = 0;
  /** A block whose last instruction goes on into the next linear page: that page's RAM offset (else -1), its
   * low RIP half (same high half) and the intervals of it the block was translated from. The dispatcher runs
   * the block only while the page still translates to phys2. */
  phys2 = -1;
  lo2 = 0;
  cover2: Int32Array | null = null;
  constructor(
    readonly phys: number, readonly ripLo: number, readonly ripHi: number,
    readonly fn: BlockFn | null, readonly ripsLo: Int32Array, readonly ripsHi: Int32Array, readonly native: number,
    readonly srcLength: number,
    /** Opcode bytes of the instruction the interpreter runs after (tail) or instead of (fn null) the block. */
    readonly tailOp: string,
    /** Page-offset intervals [start, end) of the guest code the block was translated from (cache_cover.ts). */
    readonly cover: Int32Array,
  ) {}

  /** Remembers that this block exited to (lo, hi), where `to` runs under link key `key`. */
  link(lo: number, hi: number, key: number, to: Block): void {
    if (this.lNext === 0) { this.l0Lo = lo; this.l0Hi = hi; this.l0Key = key; this.l0 = to; this.lNext = 1; }
    else { this.l1Lo = lo; this.l1Hi = hi; this.l1Key = key; this.l1 = to; this.lNext = 0; }
  }

  kill(): void {
    this.dead = true;
    this.l0 = null; this.l1 = null; this.l0Key = -1; this.l1Key = -1;
  }
}

/** Blocks of one physical page, with a coarse filter of the bytes they cover (bit per 32-byte chunk). */
class CodePage {
  readonly blocks: Block[] = [];
  readonly filter = new Int32Array(4);

  add(b: Block, cover: Int32Array): void {
    this.blocks.push(b);
    this.addFilter(cover);
  }
  /** The intervals of this page (number ppn) block b was translated from. */
  static coverIn(b: Block, ppn: number): Int32Array {
    return b.phys2 >= 0 && Math.floor(b.phys / 4096) !== ppn ? b.cover2! : b.cover;
  }
  private addFilter(cov: Int32Array): void {
    for (let i = 0; i < cov.length; i += 2) {
      for (let ch = cov[i]! >> 5, last = (cov[i + 1]! - 1) >> 5; ch <= last; ch++) this.filter[ch >> 5] |= 1 << (ch & 31);
    }
  }
  rebuildFilter(ppn: number): void {
    this.filter.fill(0);
    for (const b of this.blocks) this.addFilter(CodePage.coverIn(b, ppn));
  }
  /** Whether some block may cover a byte of [off, off + len) (false: certainly none). */
  mayCover(off: number, len: number): boolean {
    for (let ch = off >> 5, last = (off + len - 1) >> 5; ch <= last; ch++) if ((this.filter[ch >> 5]! & (1 << (ch & 31))) !== 0) return true;
    return false;
  }
}

interface TrackedSystem {
  codePages: Uint8Array;
  codePageWritten: (ppn: number, offset?: number, length?: number) => void;
  dropWriteTranslations(ppn: number): void;
}

function isTracked(sys: unknown): sys is TrackedSystem {
  const s = sys as Partial<TrackedSystem>;
  return s.codePages instanceof Uint8Array && typeof s.dropWriteTranslations === "function" && "codePageWritten" in s;
}

function hashPhys(phys: number): number {
  return (phys ^ (phys >>> TABLE_BITS) ^ (phys >>> 27)) & TABLE_MASK;
}

/** Generated source kept before the whole cache is flushed (V8's bytecode and machine code come on top). */
const MAX_CODE_BYTES = 96 * 1024 * 1024;
/** Rough V8 cost of a block besides its source (closure, bytecode, feedback, optimized code): for reports. */
const BLOCK_OVERHEAD_BYTES = 1024;

export interface JitStats {
  blocksCompiled: number;
  blocksUncompilable: number;
  blockRuns: number;
  interpSteps: number;
  /** Block runs entered through a link from the previous block (no lookup, no fetch-page check). */
  chainedRuns: number;
  /** Table lookups (dispatches in 64-bit mode that were not chained) and those that found a block. */
  lookups: number;
  lookupHits: number;
  /** Writes to marked pages that dropped blocks (invalidations) and the blocks dropped. */
  invalidations: number;
  blocksInvalidated: number;
  /** Writes to marked pages that hit no block (data next to code). */
  writesBesideCode: number;
  /** Pages that stopped holding blocks through invalidation. */
  pagesEmptied: number;
  evictions: number;
  /** Whole-cache flushes (flush() and source budget). */
  flushes: number;
  compileErrors: number;
  /** Translations not cached because their instructions were not all on one page. */
  crossPage: number;
  liveBlocks: number;
  codeBytes: number;
  /** Approximate memory of live blocks (memoryBytes()): an estimate, V8 does not tell. */
  memoryBytes: number;
  /** Milliseconds spent translating and in `new Function` (V8's own lazy compile of a block is not included). */
  compileMs: number;
  /** Of which translating (decode + source generation). */
  translateMs: number;
  /** Blocks compiled to WebAssembly (wasm_tier.ts; counted in blocksCompiled too). */
  wasmBlocks: number;
  /** Dispatches into wasm (each runs one block or a chain of them: wasm_tier.ts chaining). */
  wasmEntries: number;
}

const caches = new WeakMap<Uint8Array, JitCache>();

export class JitCache {
  readonly table: (Block | undefined)[] = new Array<Block | undefined>(TABLE_SIZE).fill(undefined);
  private readonly hot = new Uint16Array(TABLE_SIZE);
  /** Blocks per physical page number. */
  private readonly pages = new Map<number, CodePage>();
  private readonly pageInval = new Map<number, number>();
  /** Invalidations per block start (physical address). */
  private readonly blockInval = new Churn();
  /** Invalidations of whole pages by writes without an offset, per page number. */
  private readonly wholePageInval = new Churn();
  private readonly tracked: TrackedSystem[] = [];
  private readonly cores: JitCore[] = [];
  stats: JitStats = {
    blocksCompiled: 0, blocksUncompilable: 0, blockRuns: 0, interpSteps: 0, chainedRuns: 0, lookups: 0, lookupHits: 0,
    invalidations: 0, blocksInvalidated: 0, writesBesideCode: 0, pagesEmptied: 0, evictions: 0, flushes: 0,
    compileErrors: 0, crossPage: 0, liveBlocks: 0, codeBytes: 0, memoryBytes: 0, compileMs: 0, translateMs: 0,
    wasmBlocks: 0, wasmEntries: 0,
  };
  lastCompileError = "";
  /** Dispatches of a start address before it is compiled (tests set 0). */
  hotThreshold = HOT;
  /** Dispatches of a start address before the wasm tier is asked for it (WASM_HOT). */
  wasmHot = WASM_HOT;
  /** Dispatches of a start address before the wasm tier is asked for it even when it does not loop (REGION_HOT). */
  regionHot = REGION_HOT;
  /** Direct chaining on (tests and measurements turn it off). */
  chaining = CHAIN;

  /** The WebAssembly tier for looping blocks (wasm_tier.ts): null when guest RAM is not in a registered wasm
   * memory, or some attached core's TLB is not in it. */
  wasm: WasmTier | null;

  constructor(readonly ram: Uint8Array) {
    this.wasm = WasmTier.for(ram);
  }

  /** The cache shared by every core running on this guest RAM (null if the system has no RAM fast path). */
  static forCore(core: JitCore): JitCache | null {
    const sys = core.sys;
    if (sys.ram === undefined || sys.fetchPage === undefined) return null;
    let c = caches.get(sys.ram);
    if (c === undefined) { c = new JitCache(sys.ram); caches.set(sys.ram, c); }
    c.attach(core);
    return c;
  }

  /** Link-key tag of a core (0..63), or -1 when links are off for it. */
  coreTag(core: JitCore): number {
    const i = this.cores.indexOf(core);
    return this.chaining && i >= 0 && i < 64 ? i : -1;
  }

  private attach(core: JitCore): void {
    if (this.cores.includes(core)) return;
    this.cores.push(core);
    const sys = core.sys;
    if (this.wasm !== null && !this.wasm.holdsTlbOf(sys)) {
      // wasm blocks address the TLB inside the memory: not with this core
      this.wasm = null;
      this.flush();
    }
    if (isTracked(sys)) {
      if (!this.tracked.includes(sys)) {
        this.tracked.push(sys);
        sys.codePageWritten = (ppn: number, offset?: number, length?: number) => this.written(ppn, offset, length);
        for (const ppn of this.pages.keys()) this.markIn(sys, ppn);
      }
      return;
    }
    this.wrapWrites(sys);
  }

  /** Test doubles without code-page tracking: report writes from their write entry points. */
  private wrapWrites(sys: EmuSystem): void {
    const s = sys as unknown as Record<string, unknown> & EmuSystem;
    if (s.__jitWrapped === true) return;
    s.__jitWrapped = true;
    const pageOf = (lo: number, hi: number): number => {
      try { const p = sys.dataPage!(lo, hi, false); return p < 0 ? -1 : Math.floor(p / 4096); } catch { return -1; }
    };
    const note = (lo: number, hi: number, n: number): void => {
      if (this.pages.size === 0) return;
      const a = pageOf(lo, hi);
      const off = lo & 0xfff;
      if (a >= 0 && this.pages.has(a)) this.written(a, off, Math.min(n, 4096 - off));
      if (off + n > 4096) {
        const s2 = (lo >>> 0) + n - 1;
        const b = pageOf(s2 | 0, s2 > 0xffffffff ? (hi + 1) | 0 : hi);
        if (b >= 0 && this.pages.has(b)) this.written(b, 0, off + n - 4096);
      }
    };
    const w8 = sys.writeLin8.bind(sys), w16 = sys.writeLin16.bind(sys), w32 = sys.writeLin32.bind(sys), w64 = sys.writeLin64.bind(sys);
    s.writeLin8 = (lo: number, hi: number, v: number) => { w8(lo, hi, v); note(lo, hi, 1); };
    s.writeLin16 = (lo: number, hi: number, v: number) => { w16(lo, hi, v); note(lo, hi, 2); };
    s.writeLin32 = (lo: number, hi: number, v: number) => { w32(lo, hi, v); note(lo, hi, 4); };
    s.writeLin64 = (lo: number, hi: number, v: number, vh: number) => { w64(lo, hi, v, vh); note(lo, hi, 8); };
    if (sys.dataPage !== undefined) {
      const dp = sys.dataPage.bind(sys);
      // Callers store from (lo, hi) upwards within the page (forward string operations) or only probe.
      s.dataPage = (lo: number, hi: number, write: boolean) => {
        const p = dp(lo, hi, write);
        if (write && p >= 0 && this.pages.has(Math.floor(p / 4096))) this.written(Math.floor(p / 4096), lo & 0xfff, 4096 - (lo & 0xfff));
        return p;
      };
    }
  }

  private markIn(sys: TrackedSystem, ppn: number): void {
    if (ppn >= sys.codePages.length) return;
    sys.codePages[ppn] = 1;
    sys.dropWriteTranslations(ppn);
  }

  /** Block for the instruction at physical address `phys` / linear RIP (lo, hi): undefined when none (yet). */
  lookup(phys: number, lo: number, hi: number, sys?: EmuSystem): Block | undefined {
    const h = hashPhys(phys);
    const b = this.table[h];
    this.stats.lookups++;
    if (b !== undefined && b.phys === phys && b.ripLo === lo && b.ripHi === hi) { this.stats.lookupHits++; return b; }
    if (this.hot[h] < this.hotThreshold) {
      // A block the wasm tier takes (it loops) is worth compiling much earlier than a JavaScript one.
      const n = ++this.hot[h];
      if (this.wasm !== null && (n === this.wasmHot || n === this.regionHot)) return this.compile(phys, lo, hi, h, true, n === this.regionHot, sys);
      return undefined;
    }
    this.hot[h] = 0;
    return this.compile(phys, lo, hi, h, false, false, sys);
  }

  /** wasmOnly: compile only if the wasm tier takes the block (else leave it for later); anyRegion: the wasm tier
   * takes regions that do not loop too. */
  private compile(phys: number, lo: number, hi: number, h: number, wasmOnly: boolean, anyRegion = false, sys?: EmuSystem): Block | undefined {
    const ppn = Math.floor(phys / 4096);
    // The next linear page, for a wasm region whose last instruction crosses the page end (the fetch translation
    // at the current CPL, without faulting; not when both linear pages share one physical page).
    const lo2 = ((lo & ~0xfff) + 4096) | 0;
    let phys2 = -1;
    if (CROSS && this.wasm !== null && sys?.fetchProbe !== undefined && lo2 !== 0) {
      phys2 = sys.fetchProbe(lo2, hi);
      if (Math.floor(phys2 / 4096) === ppn) phys2 = -1;
    }
    const now = this.stats.lookups;
    if (this.blockInval.rewritten(phys, now) || this.wholePageInval.rewritten(ppn, now)) return undefined;
    let blk: Block;
    let t = null;
    const t0 = performance.now();
    // Blocks that loop within the wasm tier's subset become WebAssembly, the rest JavaScript.
    const w = this.wasm !== null ? this.wasm.compile(this.ram, phys, lo, hi, anyRegion, phys2) : null;
    if (w === null && wasmOnly) return undefined;
    if (w === null) {
      try {
        t = translate(this.ram, phys, lo, hi);
        this.stats.translateMs += performance.now() - t0;
      } catch (e) {
        this.stats.compileErrors++;
        this.lastCompileError = String(e);
        t = null;
      }
    }
    if (w !== null) {
      const cover = blockCoverage(this.ram, phys, w.ripsLo, w.ripsHi, 0, w.lens);
      if (cover === null) { this.stats.crossPage++; this.wasm!.release(w.slot); return undefined; }
      if (this.stats.codeBytes + w.bytes > MAX_CODE_BYTES) this.flush();
      blk = new Block(phys, lo, hi, w.fn, w.ripsLo, w.ripsHi, w.insns, w.bytes, "", cover);
      blk.slot = w.slot;
      if (w.cross > 0) { blk.phys2 = phys2; blk.lo2 = lo2; blk.cover2 = Int32Array.of(0, w.cross); }
      this.prime(w.conts, lo, phys, lo2, phys2);
      this.stats.blocksCompiled++;
      this.stats.wasmBlocks++;
      this.stats.codeBytes += w.bytes;
    } else if (t === null) {
      blk = new Block(phys, lo, hi, null, new Int32Array(0), new Int32Array(0), 0, 0, opBytes(this.ram, phys), new Int32Array(0));
      this.stats.blocksUncompilable++;
    } else {
      const cover = blockCoverage(this.ram, phys, t.ripsLo, t.ripsHi, t.bytes);
      if (cover === null) { this.stats.crossPage++; return undefined; }
      let fn: BlockFn;
      try {
        fn = new Function("c", "H", t.src) as BlockFn;
      } catch (e) {
        this.stats.compileErrors++;
        this.lastCompileError = `${String(e)}\n${t.src}`;
        return undefined;
      }
      if (this.stats.codeBytes + t.src.length > MAX_CODE_BYTES) this.flush();
      blk = new Block(phys, lo, hi, fn, t.ripsLo, t.ripsHi, t.native, t.src.length, t.tailOp, cover);
      this.stats.blocksCompiled++;
      this.stats.codeBytes += t.src.length;
    }
    this.stats.compileMs += performance.now() - t0;
    const old = this.table[h];
    if (old !== undefined) { this.evict(old); this.stats.evictions++; }
    this.table[h] = blk;
    this.stats.liveBlocks++;
    this.stats.memoryBytes = this.memoryBytes();
    if (blk.fn === null) return blk; // not tracked: a stale "not translatable" marker only costs speed
    this.track(ppn, blk, blk.cover);
    if (blk.phys2 >= 0) this.track(Math.floor(blk.phys2 / 4096), blk, blk.cover2!);
    return blk;
  }

  /** Puts block b on the list of page ppn (translated from `cover` there) and marks the page. */
  private track(ppn: number, b: Block, cover: Int32Array): void {
    let pg = this.pages.get(ppn);
    if (pg === undefined) {
      pg = new CodePage();
      this.pages.set(ppn, pg);
      for (const s of this.tracked) this.markIn(s, ppn);
    }
    pg.add(b, cover);
  }

  /** Takes block b off the list of page ppn (unmarking the page when that was its last block). */
  private untrack(ppn: number, b: Block): void {
    const pg = this.pages.get(ppn);
    if (pg === undefined) return;
    const i = pg.blocks.indexOf(b);
    if (i >= 0) pg.blocks.splice(i, 1);
    if (pg.blocks.length === 0) this.unmarkPage(ppn);
    else pg.rebuildFilter(ppn);
  }

  /** Block b goes on into a next page that the current translation maps elsewhere: drops it, so that the start
   * is compiled again for the mapping in use (a lookup finds one block per start). */
  remapped(b: Block): void {
    if (this.table[hashPhys(b.phys)] === b) this.evict(b);
  }

  /** A hot region falls through to RIPs `conts` (straight-line code it was cut from: instruction budget, page
   * end, an instruction outside the subset): they are offered to the wasm tier at their next dispatch instead of
   * WASM_HOT dispatches later (code reached by falling through counts only from then on: a long straight function
   * such as blake2s_compress_generic otherwise became wasm one 160-instruction piece per WASM_HOT calls). Only RIPs
   * on the block's page or the next one (when its RAM is known). */
  private prime(conts: number[], lo: number, phys: number, lo2: number, phys2: number): void {
    for (const c of conts) {
      let p = -1;
      if (((c ^ lo) & ~0xfff) === 0) p = phys - (phys & 0xfff) + (c & 0xfff);
      else if (phys2 >= 0 && ((c ^ lo2) & ~0xfff) === 0) p = phys2 + (c & 0xfff);
      if (p < 0) continue;
      const h = hashPhys(p);
      if (this.hot[h]! < this.wasmHot - 1) this.hot[h] = this.wasmHot - 1;
    }
  }

  /** Block b was invalidated: its start is compiled again after REARM more dispatches (it was hot; its hot
   * counter went on from the count it was compiled at, past which it would otherwise wait for the JavaScript
   * threshold: kernel code whose page another patch rewrote ran interpreted ~10,000 times, blake2s_compress_generic
   * a quarter of a boot's interpreted instructions). */
  private rearm(b: Block): void {
    const h = hashPhys(b.phys);
    const at = (b.slot !== 0 ? this.wasmHot : this.hotThreshold) - REARM;
    if (at > 0 && this.hot[h]! > at) this.hot[h] = at;
  }

  /** Takes a block out of the table (the caller fixes its page list). */
  private drop(b: Block): void {
    const h = hashPhys(b.phys);
    if (this.table[h] === b) {
      this.table[h] = undefined;
      this.stats.liveBlocks--;
      if (b.fn !== null) this.stats.codeBytes -= b.srcLength;
      this.stats.memoryBytes = this.memoryBytes();
    }
    if (b.slot !== 0 && !b.dead) this.wasm?.release(b.slot);
    b.kill();
  }

  private evict(b: Block): void {
    this.drop(b);
    this.untrack(Math.floor(b.phys / 4096), b);
    if (b.phys2 >= 0) this.untrack(Math.floor(b.phys2 / 4096), b);
  }

  private unmarkPage(ppn: number): void {
    this.pages.delete(ppn);
    for (const s of this.tracked) if (ppn < s.codePages.length) s.codePages[ppn] = 0;
  }

  /**
   * A guest write hit physical page ppn at [offset, offset + length) (offset undefined: anywhere in the page; a
   * missing length: 1 byte): drops the blocks translated from those bytes; if there were any, running blocks leave
   * after the current instruction (smc). Other blocks of the page stay, and so does its mark.
   */
  written(ppn: number, offset?: number, length?: number): void {
    const pg = this.pages.get(ppn);
    if (pg === undefined) { for (const s of this.tracked) if (ppn < s.codePages.length) s.codePages[ppn] = 0; return; }
    let off = 0, len = 4096;
    if (offset !== undefined) {
      off = offset & 0xfff;
      len = length === undefined ? 1 : Math.max(1, Math.min(length, 4096 - off));
      if (!pg.mayCover(off, len)) { this.stats.writesBesideCode++; return; }
    }
    const list = pg.blocks;
    let j = 0, dropped = 0;
    /** Blocks dropped here that are on a second page's list too. */
    let across: Block[] | null = null;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (covers(CodePage.coverIn(b, ppn), off, len)) {
        this.drop(b);
        dropped++;
        if (b.phys2 >= 0) (across ??= []).push(b);
        this.blockInval.note(b.phys, this.stats.lookups);
        this.rearm(b);
      } else list[j++] = b;
    }
    list.length = j;
    if (dropped === 0) { this.stats.writesBesideCode++; return; }
    for (const c of this.cores) c.smc = true;
    this.stats.invalidations++;
    this.stats.blocksInvalidated += dropped;
    this.pageInval.set(ppn, (this.pageInval.get(ppn) ?? 0) + 1);
    if (offset === undefined) this.wholePageInval.note(ppn, this.stats.lookups);
    if (j === 0) { this.unmarkPage(ppn); this.stats.pagesEmptied++; }
    else pg.rebuildFilter(ppn);
    if (across !== null) {
      for (const b of across) {
        const p1 = Math.floor(b.phys / 4096), p2 = Math.floor(b.phys2 / 4096);
        this.untrack(p1 === ppn ? p2 : p1, b);
      }
    }
  }

  /** A write anywhere in physical page ppn: drops all its blocks. */
  invalidatePage(ppn: number): void { this.written(ppn); }

  /** Drops every block (writes that bypassed the CPU, or the source budget is used up). */
  flush(): void {
    this.stats.flushes++;
    for (const c of this.cores) c.smc = true;
    for (const [ppn, pg] of [...this.pages]) {
      for (const b of pg.blocks) this.drop(b);
      this.unmarkPage(ppn);
    }
    for (let h = 0; h < TABLE_SIZE; h++) { // "not translatable" markers are not on pages
      const b = this.table[h];
      if (b !== undefined) this.drop(b);
    }
  }

  /** Approximate memory held by live blocks: the generated source (one-byte strings), about as much again for
   * its bytecode and feedback, plus a per-block estimate (closure, block record, tables). */
  memoryBytes(): number {
    return 2 * this.stats.codeBytes + BLOCK_OVERHEAD_BYTES * this.stats.liveBlocks;
  }

  /** Lines for a profile: compiles, cache and chaining rates, invalidations, memory. */
  profileLines(): string[] {
    const s = this.stats;
    const dispatches = s.blockRuns + s.interpSteps;
    const pct = (a: number, b: number): string => `${(100 * a / Math.max(1, b)).toFixed(1)} %`;
    return [
      `jit: dispatches ${dispatches} = block runs ${s.blockRuns} (${pct(s.blockRuns, dispatches)}) + interpreted steps ${s.interpSteps}; ` +
        `chained ${s.chainedRuns} (${pct(s.chainedRuns, s.blockRuns)} of block runs); lookups ${s.lookups}, hits ${s.lookupHits} (${pct(s.lookupHits, s.lookups)})`,
      `jit: compiled ${s.blocksCompiled} (not translatable ${s.blocksUncompilable}, cross-page ${s.crossPage}, errors ${s.compileErrors}) in ` +
        `${(s.compileMs / 1000).toFixed(1)} s (translate ${(s.translateMs / 1000).toFixed(1)} s); live ${s.liveBlocks} blocks, ` +
        `${(s.codeBytes / 1e6).toFixed(1)} MB source, ~${(this.memoryBytes() / 1e6).toFixed(0)} MB; evictions ${s.evictions}, flushes ${s.flushes}`,
      `jit: invalidations ${s.invalidations} dropping ${s.blocksInvalidated} blocks (${s.pagesEmptied} pages emptied); ` +
        `writes beside code ${s.writesBesideCode}; marked pages ${this.pages.size}`,
    ];
  }

  /** Physical pages whose blocks were invalidated most often: [page address hex, count]. */
  mostInvalidatedPages(n: number): [string, number][] {
    return [...this.pageInval.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([p, c]) => [(p * 4096).toString(16), c]);
  }

  /** Opcode bytes most often left to the interpreter by live blocks (weighted by block runs). */
  hottestInterpreted(n: number): [string, number][] {
    const m = new Map<string, number>();
    for (const b of this.table) {
      if (b === undefined || b.tailOp === "") continue;
      m.set(b.tailOp, (m.get(b.tailOp) ?? 0) + b.execs);
    }
    return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  }

  /** The most executed live blocks (for profiles). */
  hottest(n: number): Block[] {
    const all = this.table.filter((b): b is Block => b !== undefined && b.fn !== null);
    all.sort((a, b) => b.execs - a.execs);
    return all.slice(0, n);
  }
}
