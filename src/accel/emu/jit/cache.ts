// The emu JIT's translation cache: guest basic blocks (64-bit mode) compiled to JavaScript functions, keyed by
// the physical address of their first byte (and checked against the linear RIP they were translated for, since
// RIP-relative operands and branch targets are compiled in as constants).
//
// - One cache per guest RAM array, shared by all vCPUs of a domain (cross-modifying code on SMP).
// - Direct-mapped table of TABLE_SIZE entries (a colliding compile evicts the old block): bounded memory.
// - Blocks are compiled once their start address was dispatched HOT times (hashed counters), so code that runs
//   once (most of the boot's init code) is interpreted and never pays for `new Function`.
// - Self-modifying code: pages holding compiled blocks are marked in every attached system's code-page map
//   (Mmu.markCodePage: writes to them leave the write TLB and call codePageWritten); a write drops every block
//   of the page and sets `smc` on the cores, which makes a running block leave after the writing instruction.
//   Systems without code-page tracking (test doubles) get their write entry points wrapped instead.
// - No flush is needed on CR3 or mode changes: the dispatcher looks blocks up through the current translation
//   of RIP and only runs them in 64-bit mode; code bytes are covered by the write tracking.

import type { EmuSystem } from "../cpu_state.ts";
import { alu, incDec, probeWrite } from "../exec/alu.ts";
import { execGroup2 } from "../exec/shift.ts";
import { imulTrunc } from "../exec/muldiv.ts";
import { opBytes, translate } from "./translate.ts";

const TABLE_BITS = 16;
export const TABLE_SIZE = 1 << TABLE_BITS;
const TABLE_MASK = TABLE_SIZE - 1;
/** Dispatches of a start address before it is compiled (TSXEN_EMU_JIT_HOT overrides; 0 = compile at once). */
const HOT = ((): number => {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  const v = Number(g.process?.env?.TSXEN_EMU_JIT_HOT ?? "1000");
  return Number.isFinite(v) && v >= 0 && v <= 65535 ? v : 1000;
})();
/** A page whose blocks were invalidated this often holds data written next to code: not compiled any more. */
const MAX_PAGE_INVALIDATIONS = 16;

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
  constructor(
    readonly phys: number, readonly ripLo: number, readonly ripHi: number,
    readonly fn: BlockFn | null, readonly ripsLo: Int32Array, readonly ripsHi: Int32Array, readonly native: number,
    readonly srcLength: number,
    /** Opcode bytes of the instruction the interpreter runs after (tail) or instead of (fn null) the block. */
    readonly tailOp: string,
  ) {}
}

interface TrackedSystem {
  codePages: Uint8Array;
  codePageWritten: (ppn: number) => void;
  dropWriteTranslations(ppn: number): void;
}

function isTracked(sys: unknown): sys is TrackedSystem {
  const s = sys as Partial<TrackedSystem>;
  return s.codePages instanceof Uint8Array && typeof s.dropWriteTranslations === "function" && "codePageWritten" in s;
}

function hashPhys(phys: number): number {
  return (phys ^ (phys >>> TABLE_BITS) ^ (phys >>> 27)) & TABLE_MASK;
}

export interface JitStats {
  blocksCompiled: number;
  blocksUncompilable: number;
  blockRuns: number;
  interpSteps: number;
  invalidations: number;
  blocksInvalidated: number;
  evictions: number;
  compileErrors: number;
  liveBlocks: number;
  codeBytes: number;
  /** Milliseconds spent translating and in `new Function` (V8's own lazy compile of a block is not included). */
  compileMs: number;
  /** Of which translating (decode + source generation). */
  translateMs: number;
}

const caches = new WeakMap<Uint8Array, JitCache>();

export class JitCache {
  readonly table: (Block | undefined)[] = new Array<Block | undefined>(TABLE_SIZE).fill(undefined);
  private readonly hot = new Uint16Array(TABLE_SIZE);
  /** Blocks per physical page number. */
  private readonly pages = new Map<number, Block[]>();
  private readonly pageInval = new Map<number, number>();
  private readonly tracked: TrackedSystem[] = [];
  private readonly cores: JitCore[] = [];
  stats: JitStats = {
    blocksCompiled: 0, blocksUncompilable: 0, blockRuns: 0, interpSteps: 0, invalidations: 0, blocksInvalidated: 0,
    evictions: 0, compileErrors: 0, liveBlocks: 0, codeBytes: 0, compileMs: 0, translateMs: 0,
  };
  lastCompileError = "";
  /** Dispatches of a start address before it is compiled (tests set 0). */
  hotThreshold = HOT;

  constructor(readonly ram: Uint8Array) {}

  /** The cache shared by every core running on this guest RAM (null if the system has no RAM fast path). */
  static forCore(core: JitCore): JitCache | null {
    const sys = core.sys;
    if (sys.ram === undefined || sys.fetchPage === undefined) return null;
    let c = caches.get(sys.ram);
    if (c === undefined) { c = new JitCache(sys.ram); caches.set(sys.ram, c); }
    c.attach(core);
    return c;
  }

  private attach(core: JitCore): void {
    if (this.cores.includes(core)) return;
    this.cores.push(core);
    const sys = core.sys;
    if (isTracked(sys)) {
      if (!this.tracked.includes(sys)) {
        this.tracked.push(sys);
        sys.codePageWritten = (ppn: number) => this.invalidatePage(ppn);
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
      if (a >= 0 && this.pages.has(a)) this.invalidatePage(a);
      if ((lo & 0xfff) + n > 4096) {
        const s2 = (lo >>> 0) + n - 1;
        const b = pageOf(s2 | 0, s2 > 0xffffffff ? (hi + 1) | 0 : hi);
        if (b >= 0 && this.pages.has(b)) this.invalidatePage(b);
      }
    };
    const w8 = sys.writeLin8.bind(sys), w16 = sys.writeLin16.bind(sys), w32 = sys.writeLin32.bind(sys), w64 = sys.writeLin64.bind(sys);
    s.writeLin8 = (lo: number, hi: number, v: number) => { w8(lo, hi, v); note(lo, hi, 1); };
    s.writeLin16 = (lo: number, hi: number, v: number) => { w16(lo, hi, v); note(lo, hi, 2); };
    s.writeLin32 = (lo: number, hi: number, v: number) => { w32(lo, hi, v); note(lo, hi, 4); };
    s.writeLin64 = (lo: number, hi: number, v: number, vh: number) => { w64(lo, hi, v, vh); note(lo, hi, 8); };
    if (sys.dataPage !== undefined) {
      const dp = sys.dataPage.bind(sys);
      s.dataPage = (lo: number, hi: number, write: boolean) => {
        const p = dp(lo, hi, write);
        if (write && p >= 0 && this.pages.has(Math.floor(p / 4096))) this.invalidatePage(Math.floor(p / 4096));
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
  lookup(phys: number, lo: number, hi: number): Block | undefined {
    const h = hashPhys(phys);
    const b = this.table[h];
    if (b !== undefined && b.phys === phys && b.ripLo === lo && b.ripHi === hi) return b;
    if (this.hot[h] < this.hotThreshold) { this.hot[h]++; return undefined; }
    this.hot[h] = 0;
    return this.compile(phys, lo, hi, h);
  }

  private compile(phys: number, lo: number, hi: number, h: number): Block | undefined {
    const ppn = Math.floor(phys / 4096);
    if ((this.pageInval.get(ppn) ?? 0) > MAX_PAGE_INVALIDATIONS) return undefined;
    let blk: Block;
    let t;
    const t0 = performance.now();
    try {
      t = translate(this.ram, phys, lo, hi);
      this.stats.translateMs += performance.now() - t0;
    } catch (e) {
      this.stats.compileErrors++;
      this.lastCompileError = String(e);
      t = null;
    }
    if (t === null) {
      blk = new Block(phys, lo, hi, null, new Int32Array(0), new Int32Array(0), 0, 0, opBytes(this.ram, phys));
      this.stats.blocksUncompilable++;
    } else {
      let fn: BlockFn;
      try {
        fn = new Function("c", "H", t.src) as BlockFn;
      } catch (e) {
        this.stats.compileErrors++;
        this.lastCompileError = `${String(e)}\n${t.src}`;
        return undefined;
      }
      blk = new Block(phys, lo, hi, fn, t.ripsLo, t.ripsHi, t.native, t.src.length, t.tailOp);
      this.stats.blocksCompiled++;
      this.stats.codeBytes += t.src.length;
    }
    this.stats.compileMs += performance.now() - t0;
    const old = this.table[h];
    if (old !== undefined) { this.evict(old); this.stats.evictions++; }
    this.table[h] = blk;
    this.stats.liveBlocks++;
    if (blk.fn === null) return blk; // not tracked: a stale "not translatable" marker only costs speed
    let list = this.pages.get(ppn);
    if (list === undefined) {
      list = [];
      this.pages.set(ppn, list);
      for (const s of this.tracked) this.markIn(s, ppn);
    }
    list.push(blk);
    return blk;
  }

  private evict(b: Block): void {
    this.stats.liveBlocks--;
    if (b.fn !== null) this.stats.codeBytes -= b.srcLength;
    const ppn = Math.floor(b.phys / 4096);
    const list = this.pages.get(ppn);
    if (list === undefined) return;
    const i = list.indexOf(b);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.unmarkPage(ppn);
  }

  private unmarkPage(ppn: number): void {
    this.pages.delete(ppn);
    for (const s of this.tracked) if (ppn < s.codePages.length) s.codePages[ppn] = 0;
  }

  /** A guest write hit physical page ppn: drop its blocks; running blocks leave after the current instruction. */
  invalidatePage(ppn: number): void {
    for (const c of this.cores) c.smc = true;
    const list = this.pages.get(ppn);
    if (list === undefined) { for (const s of this.tracked) if (ppn < s.codePages.length) s.codePages[ppn] = 0; return; }
    this.stats.invalidations++;
    this.pageInval.set(ppn, (this.pageInval.get(ppn) ?? 0) + 1);
    for (const b of list) {
      const h = hashPhys(b.phys);
      if (this.table[h] === b) { this.table[h] = undefined; this.stats.liveBlocks--; if (b.fn !== null) this.stats.codeBytes -= b.srcLength; }
      this.stats.blocksInvalidated++;
    }
    this.unmarkPage(ppn);
  }

  /** Drops every block. */
  flush(): void {
    for (const ppn of [...this.pages.keys()]) this.invalidatePage(ppn);
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
