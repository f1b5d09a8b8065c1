// Paging and the software TLB of the emulated x86-64 CPU (Intel SDM vol. 3 ch. 4; AMD APM vol. 2 ch. 5).
//
// Design:
//  - Paging modes: off, 32-bit (4 KiB + 4 MiB PSE pages), PAE (4 KiB + 2 MiB), 4-level long mode (4 KiB,
//    2 MiB, 1 GiB). MAXPHYADDR is 40 (CPUID 0x80000008), so entry bits 51:40 are reserved.
//  - TLB: direct-mapped, TLB_SIZE entries per set and six sets: {read, write, exec} x {supervisor, user}.
//    A set only holds translations that passed that access kind's permission checks, so a hit needs no
//    permission logic: index, compare tag lo/hi, add the page offset, read the RAM byte array. The current
//    CPL selects the sets (rBase/wBase/xBase); implicit supervisor accesses (GDT, IDT, TSS, interrupt
//    stacks) use the sys* accessors with user = false.
//  - Layout: one flat Int32Array `tlb`, TLB_STRIDE (4) ints per entry: linear tag lo (page aligned, INVALID_TAG
//    when empty), tag hi, RAM offset of the 4 KiB page, flags. Entry k of set s is at (s * TLB_SIZE + k) * 4;
//    the set bases are pre-multiplied. The JIT probes it inline (jit/mem_src.ts) through `jitTlb` with the
//    aligned views ram16/ram32: everything a hit needs is in one array, and the write sets never hold code
//    pages, MMIO or clean (D=0) pages, so an inline write hit needs no further checks.
//  - A/D bits: a walk sets A in every entry used once it succeeds; a write walk sets D in the leaf. The write
//    set is only filled after D is set, so the first write to a clean page always walks.
//  - Only RAM pages enter the TLB; MMIO (non-RAM) pages walk on every access and go to CpuIo.mmio*.
//  - Flushes: a fill log remembers which entries were filled since the last flush, so the CR3 writes of a
//    context switch clear only those (global entries are kept when CR4.PGE); an overflowing log falls back
//    to a full scan.
//  - Code pages: the core marks physical pages holding decoded code (markCodePage); writes to those never
//    hit the TLB, and the slow path calls codePageWritten(ppn, offsetInPage, length) after storing.
//  - cpu.tlbGen is bumped on every flush/invlpg (and by updateMode on a mode change): the core keys its
//    instruction-fetch page cache on it.
//  - Values: readLin8/16 return 0..0xff/0xffff, readLin32 an int32, readLin64 the low int32 and hiResult.

import { type CpuState, globalCodeSlot, Mode } from "./cpu_state.ts";
import type { CpuIo, GuestRam } from "../../hv/ports.ts";
import { PfErr, raise, Vec } from "./fault.ts";

export const TLB_BITS = 12;
export const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;
const TLB_SETS = 6;
/** Int32s per TLB entry: tag lo, tag hi, RAM offset of the page, flags. */
export const TLB_STRIDE = 4;
/** Int32s of the whole TLB (every set). */
export const TLB_INTS = TLB_SETS * TLB_SIZE * TLB_STRIDE;
/** Counting every TLB hit costs a little on the hottest path: TSXEN_EMU_TLB_STATS=1 turns it on. */
const COUNT_HITS = ((): boolean => {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return g.process?.env?.TSXEN_EMU_TLB_STATS === "1";
})();
/** Typed-array views are little-endian here (the JIT's aligned Int32Array/Uint16Array accesses assume it). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
// Empty entry: never page aligned, and bit 11 set, so never equal to a masked address (the JIT compares the tag
// with `ea & (-4096 | (size - 1))` to check page and alignment at once).
const INVALID_TAG = 0x800;
const FILL_LOG_SIZE = 8192;
const TWO32 = 4294967296;

/** Access kinds (also the TLB set pair). */
export const enum Access { Read = 0, Write = 1, Exec = 2 }

// CR0 / CR4 / EFER bits used here.
export const CR0_PE = 1 << 0, CR0_WP = 1 << 16, CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4, CR4_PAE = 1 << 5, CR4_PGE = 1 << 7;
export const EFER_SCE = 1 << 0, EFER_LME = 1 << 8, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11;

/** Start of the MMIO window below 4 GiB (IOAPIC 0xfec00000 .. LAPIC 0xfee00000 .. 4 GiB). */
const MMIO_HOLE_START = 0xfec00000;
const TLB_GLOBAL = 1, TLB_LARGE = 2, TLB_HUGE = 4;
/** Buckets of 2 MiB regions holding cached slices of large pages (hash of the region number). */
const REGION_BUCKETS = 1 << 16;

/** TLB statistics (Mmu.stats): for profiles. */
export interface TlbStats {
  /** Fast-path hits (interpreter accessors and inline JIT probes); counted only with TSXEN_EMU_TLB_STATS=1. */
  hits: number;
  /** Page walks (TLB misses of any access kind, including ones that fault). */
  walks: number;
  /** Data accesses that left the fast path: misses, page-crossing, MMIO, writes to code pages, misaligned
   * accesses from JIT code. */
  slowReads: number;
  slowWrites: number;
  /** Flushes: CR3 writes (global entries kept with CR4.PGE) / full (CR0, CR4, EFER changes) / invlpg. */
  flushes: number;
  fullFlushes: number;
  invlpgs: number;
  /** Writes to pages holding translated code (codePageWritten calls). */
  codeWrites: number;
}

/** Bucket of the large-page region holding (lo, hi): shift 21 (2 MiB), 22 (4 MiB, 32-bit paging) or 30 (1 GiB). */
function regionBucket(lo: number, hi: number, shift: number): number {
  return ((lo >>> shift) ^ (hi << 11) ^ (hi >>> 5)) & (REGION_BUCKETS - 1);
}

export class Mmu {
  readonly bytes: Uint8Array;
  /** Guest RAM (same array as bytes): EmuSystem.ram for the core's fetchPage/dataPage fast paths. */
  readonly ram: Uint8Array;
  readonly view: DataView;
  readonly ramEnd: number;
  /** High half of the last readLin64 / sysRead64. */
  hiResult = 0;

  /** Set by the core: called (after the store) when a guest write hits a page marked with markCodePage, with the
   * written bytes' offset in the page and their count (dataPage, which stores later, reports the page's rest). */
  codePageWritten: (ppn: number, offset: number, length: number) => void = () => {};
  /** Per RAM page: 1 when the core holds decoded code from it. */
  readonly codePages: Uint8Array;

  /** Aligned views of guest RAM for the JIT's inline accesses (RAM offset >> 1 / >> 2). */
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  /** The TLB for inline probes in JIT code: `tlb`, or undefined when the RAM views cannot be used (big-endian
   * host, RAM not 4-byte aligned in its buffer), and JIT code calls readLin and writeLin for everything. */
  readonly jitTlb: Int32Array | undefined;

  // TLB (see Design): TLB_STRIDE int32s per entry.
  readonly tlb: Int32Array;
  /** Indices of non-global fills since the last flush (a CR3 write drops exactly these), and of global fills since
   * the last full flush (kept by CR3 writes: a separate log so that they are not walked at every CR3 write). */
  private readonly fillLog = new Int32Array(FILL_LOG_SIZE);
  private fillCount = 0;
  private fillOverflow = false;
  private readonly globalLog = new Int32Array(FILL_LOG_SIZE);
  private globalCount = 0;
  private globalOverflow = false;
  /** Buckets of 2/4 MiB regions (largeRegions) and 1 GiB regions (hugeRegions) with cached slices of a large page
   * (false positives only; cleared on full flushes): invlpg of a 4 KiB-mapped address skips the large-page search. */
  private readonly largeRegions = new Uint8Array(REGION_BUCKETS);
  private readonly hugeRegions = new Uint8Array(REGION_BUCKETS);
  private largeFills = 0;
  /** Set bases (index of entry 0 in tlb) for the current CPL. */
  rBase = 0;
  wBase = 2 * TLB_SIZE * TLB_STRIDE;
  xBase = 4 * TLB_SIZE * TLB_STRIDE;
  /** CPL == 3. */
  user = false;

  // Walk scratch (no allocation): entry addresses whose A bit is to be set.
  private readonly walkEntries = new Float64Array(4);
  private walkDepth = 0;
  private walkFlags = 0;

  /** TLB statistics, for profiles (TlbStats). */
  readonly stats: TlbStats = {
    hits: 0, walks: 0, slowReads: 0, slowWrites: 0, flushes: 0, fullFlushes: 0, invlpgs: 0, codeWrites: 0,
  };
  /** Page walks so far (stats.walks). */
  get tlbMisses(): number { return this.stats.walks; }

  /** codePages: pass one array to every vCPU of a domain to share the marks (see markCodePage for SMP). */
  /** tlbStorage: TLB_INTS int32s for the TLB (the JIT's wasm tier places it in the domain's WebAssembly.Memory,
   * next to guest RAM); default: a private array. */
  constructor(readonly cpu: CpuState, ram: GuestRam, readonly io: CpuIo, codePages?: Uint8Array, tlbStorage?: Int32Array) {
    if (tlbStorage !== undefined && tlbStorage.length !== TLB_INTS) throw new RangeError(`TLB storage needs ${TLB_INTS} int32s`);
    this.tlb = tlbStorage ?? new Int32Array(TLB_INTS);
    this.bytes = ram.bytes;
    this.ram = ram.bytes;
    this.view = new DataView(ram.bytes.buffer, ram.bytes.byteOffset, ram.bytes.byteLength);
    this.ramEnd = ram.bytes.byteLength;
    this.codePages = codePages ?? new Uint8Array(Math.ceil(this.ramEnd / 4096));
    const b = ram.bytes;
    const aligned = b.byteOffset % 4 === 0 && LITTLE_ENDIAN;
    this.ram16 = aligned ? new Uint16Array(b.buffer, b.byteOffset, b.byteLength >>> 1) : new Uint16Array(0);
    this.ram32 = aligned ? new Int32Array(b.buffer, b.byteOffset, b.byteLength >>> 2) : new Int32Array(0);
    for (let i = 0; i < this.tlb.length; i += TLB_STRIDE) this.tlb[i] = INVALID_TAG;
    this.jitTlb = aligned ? this.tlb : undefined;
  }

  /** Re-selects the TLB sets after a CPL change. */
  protected setUserMode(user: boolean): void {
    this.user = user;
    const u = user ? TLB_SIZE * TLB_STRIDE : 0;
    this.rBase = u;
    this.wBase = 2 * TLB_SIZE * TLB_STRIDE + u;
    this.xBase = 4 * TLB_SIZE * TLB_STRIDE + u;
  }

  isRam(p: number): boolean {
    return p < this.ramEnd && !(p >= MMIO_HOLE_START && p < TWO32);
  }

  // ---------------------------------------------------------------- fast accessors (current CPL)
  // A hit: tag lo/hi equal and the access within the page; the value comes straight from guest RAM.

  readLin8(lo: number, hi: number): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.rBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi) {
      if (COUNT_HITS) this.stats.hits++;
      return this.bytes[t[i + 2] + (lo & 0xfff)];
    }
    return this.readSlow(lo, hi, 1, this.user);
  }

  readLin16(lo: number, hi: number): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.rBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi && (lo & 0xfff) !== 0xfff) {
      if (COUNT_HITS) this.stats.hits++;
      return this.view.getUint16(t[i + 2] + (lo & 0xfff), true);
    }
    return this.readSlow(lo, hi, 2, this.user);
  }

  readLin32(lo: number, hi: number): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.rBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi && (lo & 0xfff) <= 0xffc) {
      if (COUNT_HITS) this.stats.hits++;
      return this.view.getInt32(t[i + 2] + (lo & 0xfff), true);
    }
    return this.readSlow(lo, hi, 4, this.user);
  }

  readLin64(lo: number, hi: number): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.rBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi && (lo & 0xfff) <= 0xff8) {
      if (COUNT_HITS) this.stats.hits++;
      const p = t[i + 2] + (lo & 0xfff);
      this.hiResult = this.view.getInt32(p + 4, true);
      return this.view.getInt32(p, true);
    }
    return this.readSlow(lo, hi, 8, this.user);
  }

  writeLin8(lo: number, hi: number, v: number): void {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.wBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi) {
      if (COUNT_HITS) this.stats.hits++;
      this.bytes[t[i + 2] + (lo & 0xfff)] = v;
      return;
    }
    this.writeSlow(lo, hi, 1, v, 0, this.user);
  }

  writeLin16(lo: number, hi: number, v: number): void {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.wBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi && (lo & 0xfff) !== 0xfff) {
      if (COUNT_HITS) this.stats.hits++;
      this.view.setUint16(t[i + 2] + (lo & 0xfff), v, true);
      return;
    }
    this.writeSlow(lo, hi, 2, v, 0, this.user);
  }

  writeLin32(lo: number, hi: number, v: number): void {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.wBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi && (lo & 0xfff) <= 0xffc) {
      if (COUNT_HITS) this.stats.hits++;
      this.view.setInt32(t[i + 2] + (lo & 0xfff), v, true);
      return;
    }
    this.writeSlow(lo, hi, 4, v, 0, this.user);
  }

  writeLin64(lo: number, hi: number, vLo: number, vHi: number): void {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.wBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi && (lo & 0xfff) <= 0xff8) {
      if (COUNT_HITS) this.stats.hits++;
      const p = t[i + 2] + (lo & 0xfff);
      this.view.setInt32(p, vLo, true);
      this.view.setInt32(p + 4, vHi, true);
      return;
    }
    this.writeSlow(lo, hi, 8, vLo, vHi, this.user);
  }

  fetch8(lo: number, hi: number): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.xBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi) return this.bytes[t[i + 2] + (lo & 0xfff)];
    const p = this.translate(lo, hi, Access.Exec, this.user);
    return this.physRead(p, 1);
  }

  /** Instruction-fetch translation for a decoder that reads RAM directly: the physical address of the byte at
   * (lo, hi), or -1 when it is not RAM (execution from MMIO). Checks execute permission; may throw FAULT. */
  translateFetch(lo: number, hi: number): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.xBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi) return t[i + 2] + (lo & 0xfff);
    const p = this.translate(lo, hi, Access.Exec, this.user);
    return this.isRam(p) ? p : -1;
  }

  /** EmuSystem.fetchPage: RAM offset of the 4 KiB page holding (lo, hi) for instruction fetch at the current CPL,
   * or -1 when it is not RAM. Throws FAULT (#PF, #GP) when not executable. */
  fetchPage(lo: number, hi: number): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.xBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi) return t[i + 2];
    const p = this.translate(lo, hi, Access.Exec, this.user);
    return this.isRam(p) ? p - (lo & 0xfff) : -1;
  }

  /** EmuSystem.fetchProbe: fetchPage without faulting (-1 when (lo, hi) is not executable RAM at the current CPL).
   * Fills the TLB on success, as a fetch would (the JIT asks for the page after a block's last one). */
  fetchProbe(lo: number, hi: number): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.xBase;
    if (t[i] === (lo & -4096) && t[i + 1] === hi) return t[i + 2];
    const p = this.probe(lo & -4096, hi, Access.Exec, this.user);
    return p >= 0 && this.isRam(p) ? p : -1;
  }

  /** Whether the instruction-fetch translation of (lo, hi) at the current CPL is in the TLB as a global entry
   * (it then survives CR3 writes: cpu.globalGen, not tlbGen, says when it may change). */
  fetchGlobal(lo: number, hi: number): boolean {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + this.xBase;
    return t[i] === (lo & -4096) && t[i + 1] === hi && (t[i + 3]! & TLB_GLOBAL) !== 0;
  }

  /** EmuSystem.dataPage: RAM offset of the 4 KiB page holding (lo, hi) for a data access at the current CPL
   * (A/D bits set), or -1 when it is not RAM. For writes to a page marked with markCodePage, codePageWritten is
   * called here, before the caller stores into the page, for the rest of the page from (lo, hi) on. */
  dataPage(lo: number, hi: number, write: boolean): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) << 2) + (write ? this.wBase : this.rBase);
    if (t[i] === (lo & -4096) && t[i + 1] === hi) return t[i + 2];
    const p = this.translate(lo, hi, write ? Access.Write : Access.Read, this.user);
    if (!this.isRam(p)) return -1;
    const page = p - (lo & 0xfff);
    if (write) {
      const ppn = page / 4096;
      if (this.codePages[ppn] !== 0) {
        this.stats.codeWrites++;
        this.codePageWritten(ppn, lo & 0xfff, 4096 - (lo & 0xfff));
      }
    }
    return page;
  }

  // ---------------------------------------------------------------- implicit supervisor accesses

  sysRead8(lo: number, hi: number): number { return this.readSlow(lo, hi, 1, false); }
  sysRead16(lo: number, hi: number): number { return this.readSlow(lo, hi, 2, false); }
  sysRead32(lo: number, hi: number): number { return this.readSlow(lo, hi, 4, false); }
  sysRead64(lo: number, hi: number): number { return this.readSlow(lo, hi, 8, false); }
  sysWrite8(lo: number, hi: number, v: number): void { this.writeSlow(lo, hi, 1, v, 0, false); }
  sysWrite16(lo: number, hi: number, v: number): void { this.writeSlow(lo, hi, 2, v, 0, false); }
  sysWrite32(lo: number, hi: number, v: number): void { this.writeSlow(lo, hi, 4, v, 0, false); }
  sysWrite64(lo: number, hi: number, vLo: number, vHi: number): void { this.writeSlow(lo, hi, 8, vLo, vHi, false); }

  // ---------------------------------------------------------------- slow paths

  /** Linear address of the next page, wrapping at 4 GiB outside 64-bit mode. Result hi in hiResult. */
  private nextPage(lo: number, hi: number): number {
    const nlo = ((lo & -4096) + 4096) | 0;
    let nhi = hi;
    if (nlo === 0) nhi = this.cpu.mode === Mode.Long64 ? (hi + 1) | 0 : 0;
    this.hiResult = nhi;
    return nlo;
  }

  readSlow(lo: number, hi: number, size: number, user: boolean): number {
    this.stats.slowReads++;
    const off = lo & 0xfff;
    if (off + size <= 4096) {
      const p = this.translate(lo, hi, Access.Read, user);
      return this.physRead(p, size);
    }
    const p1 = this.translate(lo, hi, Access.Read, user);
    const lo2 = this.nextPage(lo, hi);
    const p2 = this.translate(lo2, this.hiResult, Access.Read, user);
    const n1 = 4096 - off;
    let vlo = 0, vhi = 0;
    for (let k = 0; k < size; k++) {
      const b = this.physRead(k < n1 ? p1 + k : p2 + (k - n1), 1);
      if (k < 4) vlo |= b << (8 * k);
      else vhi |= b << (8 * (k - 4));
    }
    this.hiResult = vhi;
    return size === 4 || size === 8 ? vlo | 0 : vlo;
  }

  writeSlow(lo: number, hi: number, size: number, vlo: number, vhi: number, user: boolean): void {
    this.stats.slowWrites++;
    const off = lo & 0xfff;
    if (off + size <= 4096) {
      const p = this.translate(lo, hi, Access.Write, user);
      this.physWrite(p, size, vlo, vhi);
      return;
    }
    // Translate both pages before storing anything, so a fault on the second leaves memory untouched.
    const p1 = this.translate(lo, hi, Access.Write, user);
    const lo2 = this.nextPage(lo, hi);
    const p2 = this.translate(lo2, this.hiResult, Access.Write, user);
    const n1 = 4096 - off;
    for (let k = 0; k < size; k++) {
      const b = (k < 4 ? vlo >>> (8 * k) : vhi >>> (8 * (k - 4))) & 0xff;
      this.physWrite(k < n1 ? p1 + k : p2 + (k - n1), 1, b, 0);
    }
  }

  /** Reads guest-physical memory (RAM or MMIO). Size 8 returns the low half and sets hiResult. */
  physRead(p: number, size: number): number {
    if (this.isRam(p) && p + size <= this.ramEnd) {
      switch (size) {
        case 1: return this.bytes[p];
        case 2: return this.view.getUint16(p, true);
        case 4: return this.view.getInt32(p, true);
        default:
          this.hiResult = this.view.getInt32(p + 4, true);
          return this.view.getInt32(p, true);
      }
    }
    if (size === 8) {
      const vlo = this.io.mmioRead(p, 4) | 0;
      this.hiResult = this.io.mmioRead(p + 4, 4) | 0;
      return vlo;
    }
    const v = this.io.mmioRead(p, size as 1 | 2 | 4);
    return size === 4 ? v | 0 : v;
  }

  physWrite(p: number, size: number, vlo: number, vhi: number): void {
    if (this.isRam(p) && p + size <= this.ramEnd) {
      switch (size) {
        case 1: this.bytes[p] = vlo; break;
        case 2: this.view.setUint16(p, vlo & 0xffff, true); break;
        case 4: this.view.setInt32(p, vlo, true); break;
        default:
          this.view.setInt32(p, vlo, true);
          this.view.setInt32(p + 4, vhi, true);
      }
      const ppn = Math.floor(p / 4096);
      if (this.codePages[ppn] !== 0) {
        this.stats.codeWrites++;
        this.codePageWritten(ppn, p & 0xfff, size);
      }
      return;
    }
    if (size === 8) {
      this.io.mmioWrite(p, 4, vlo >>> 0);
      this.io.mmioWrite(p + 4, 4, vhi >>> 0);
      return;
    }
    this.io.mmioWrite(p, size as 1 | 2 | 4, size === 4 ? vlo >>> 0 : vlo & (size === 1 ? 0xff : 0xffff));
  }

  // ---------------------------------------------------------------- translation

  /** Translates a linear address for an access, filling the TLB; throws FAULT (#PF, #GP/#SS) on failure. */
  translate(lo: number, hi: number, access: Access, user: boolean): number {
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) + (access * 2 + (user ? 1 : 0)) * TLB_SIZE) * TLB_STRIDE;
    if (t[i] === (lo & -4096) && t[i + 1] === hi) return t[i + 2] + (lo & 0xfff);
    const p = this.walk(lo, hi, access, user);
    if (p < 0) this.pageFault(lo, hi, access, user, -p - 1);
    return p;
  }

  /** Translates without faulting (for hypercall buffers and debuggers): physical address or -1. */
  probe(lo: number, hi: number, access: Access, user: boolean): number {
    if (!this.canonical(hi)) return -1;
    const p = this.walk(lo, hi, access, user);
    return p < 0 ? -1 : p;
  }

  private canonical(hi: number): boolean {
    return (this.cpu.efer & EFER_LMA) === 0 || ((hi << 16) >> 16) === hi;
  }

  private pageFault(lo: number, hi: number, _access: Access, _user: boolean, errorCode: number): never {
    const cpu = this.cpu;
    if (errorCode === -1 >>> 0) {
      // Non-canonical: #SS for stack accesses, #GP otherwise.
      return raise(cpu, cpu.accessSeg === 2 ? Vec.SS : Vec.GP, true, 0);
    }
    cpu.cr2Lo = lo;
    cpu.cr2Hi = (cpu.efer & EFER_LMA) !== 0 ? hi : 0;
    return raise(cpu, Vec.PF, true, errorCode);
  }

  /** Returns the physical address, or -(errorCode + 1) on a page fault (errorCode 0xffffffff: non-canonical).
   * Fills the TLB on success for RAM pages. */
  private walk(lo: number, hi: number, access: Access, user: boolean): number {
    const cpu = this.cpu;
    this.stats.walks++;
    if ((cpu.cr0 & CR0_PG) === 0) {
      const p = lo >>> 0;
      this.walkFlags = 0;
      this.fill(lo, hi, access, user, (lo & -4096) >>> 0);
      return p;
    }
    if (!this.canonical(hi)) return -(0xffffffff + 1);
    const wr = access === Access.Write;
    const ex = access === Access.Exec;
    const nxe = (cpu.efer & EFER_NXE) !== 0;
    this.walkDepth = 0;
    let allowU = 4, allowW = 2, nx = false, global = 0;
    let base: number; // physical page (or large page) base
    let pageMask: number; // offset bits of the final page, below 4 GiB
    let leafAddr: number;
    const errBase = (wr ? PfErr.W : 0) | (user ? PfErr.U : 0);

    if ((cpu.cr4 & CR4_PAE) === 0) {
      // 32-bit paging.
      const pdeAddr = ((cpu.cr3Lo & 0xfffff000) >>> 0) + ((lo >>> 22) << 2);
      const pde = this.physRead(pdeAddr, 4);
      if ((pde & 1) === 0) return -(errBase + 1);
      this.walkEntries[this.walkDepth++] = pdeAddr;
      allowU &= pde; allowW &= pde;
      if ((pde & 0x80) !== 0 && (cpu.cr4 & CR4_PSE) !== 0) {
        if ((pde & 0x003fe000) !== 0) return -(errBase | PfErr.P | PfErr.RSVD) - 1;
        base = (pde & 0xffc00000) >>> 0;
        pageMask = 0x3fffff;
        global = pde & 0x100;
        leafAddr = pdeAddr;
      } else {
        const pteAddr = ((pde & 0xfffff000) >>> 0) + (((lo >>> 12) & 0x3ff) << 2);
        const pte = this.physRead(pteAddr, 4);
        if ((pte & 1) === 0) return -(errBase + 1);
        this.walkEntries[this.walkDepth++] = pteAddr;
        allowU &= pte; allowW &= pte;
        base = (pte & 0xfffff000) >>> 0;
        pageMask = 0xfff;
        global = pte & 0x100;
        leafAddr = pteAddr;
      }
    } else {
      const errX = errBase | (ex && nxe ? PfErr.I : 0);
      const rsvdHi = nxe ? 0x7fffff00 : 0xffffff00 | 0;
      let tableAddr: number;
      let level: number;
      if ((cpu.efer & EFER_LMA) !== 0) {
        tableAddr = ((cpu.cr3Lo & 0xfffff000) >>> 0) + (cpu.cr3Hi & 0xff) * TWO32;
        level = 4;
      } else {
        // PAE: the PDPTE (read here on each walk rather than cached at CR3 load).
        const pdpteAddr = ((cpu.cr3Lo & 0xffffffe0) >>> 0) + ((lo >>> 30) << 3);
        const elo = this.physRead(pdpteAddr, 8);
        const ehi = this.hiResult;
        if ((elo & 1) === 0) return -(errX + 1);
        if ((elo & 0x1e6) !== 0 || (ehi & 0xffffff00) !== 0) return -(errX | PfErr.P | PfErr.RSVD) - 1;
        tableAddr = ((elo & 0xfffff000) >>> 0) + (ehi & 0xff) * TWO32;
        level = 2;
      }
      for (;;) {
        let index: number;
        if (level === 4) index = (hi >>> 7) & 0x1ff;
        else if (level === 3) index = ((lo >>> 30) | (hi << 2)) & 0x1ff;
        else if (level === 2) index = (lo >>> 21) & 0x1ff;
        else index = (lo >>> 12) & 0x1ff;
        const entryAddr = tableAddr + index * 8;
        const elo = this.physRead(entryAddr, 8);
        const ehi = this.hiResult;
        if ((elo & 1) === 0) return -(errX + 1);
        if ((ehi & rsvdHi) !== 0) return -(errX | PfErr.P | PfErr.RSVD) - 1;
        this.walkEntries[this.walkDepth++] = entryAddr;
        allowU &= elo; allowW &= elo;
        if (ehi < 0) nx = true;
        const ps = (elo & 0x80) !== 0;
        if (level === 4 && ps) return -(errX | PfErr.P | PfErr.RSVD) - 1;
        if (level === 3 && ps) {
          if ((elo & 0x3fffe000) !== 0) return -(errX | PfErr.P | PfErr.RSVD) - 1;
          base = ((elo & 0xc0000000) >>> 0) + (ehi & 0xff) * TWO32;
          pageMask = 0x3fffffff;
          global = elo & 0x100;
          leafAddr = entryAddr;
          break;
        }
        if (level === 2 && ps) {
          if ((elo & 0x1fe000) !== 0) return -(errX | PfErr.P | PfErr.RSVD) - 1;
          base = ((elo & 0xffe00000) >>> 0) + (ehi & 0xff) * TWO32;
          pageMask = 0x1fffff;
          global = elo & 0x100;
          leafAddr = entryAddr;
          break;
        }
        tableAddr = ((elo & 0xfffff000) >>> 0) + (ehi & 0xff) * TWO32;
        if (level === 1) {
          base = tableAddr;
          pageMask = 0xfff;
          global = elo & 0x100;
          leafAddr = entryAddr;
          break;
        }
        level--;
      }
      // PAE's PDPTE has no U/S and R/W bits (treated as 1 above since it is not in walkEntries' AND).
      if (ex && nx && nxe) return -(errX | PfErr.P) - 1;
    }

    // Permission checks (no SMEP/SMAP: not advertised).
    if (user && allowU === 0) return -(errBase | PfErr.P | (ex && nxe && (cpu.cr4 & CR4_PAE) !== 0 ? PfErr.I : 0)) - 1;
    if (wr && allowW === 0 && (user || (cpu.cr0 & CR0_WP) !== 0)) return -(errBase | PfErr.P) - 1;

    // Accessed bits, then dirty on writes.
    for (let k = 0; k < this.walkDepth; k++) {
      const a = this.walkEntries[k];
      const v = this.physRead(a, 4);
      if ((v & 0x20) === 0) this.physWriteRaw(a, v | 0x20);
    }
    if (wr) {
      const v = this.physRead(leafAddr, 4);
      if ((v & 0x40) === 0) this.physWriteRaw(leafAddr, v | 0x40);
    }
    const pageOffset = (lo & pageMask) >>> 0;
    const p = base + pageOffset;
    this.walkFlags = ((global !== 0 && (cpu.cr4 & CR4_PGE) !== 0) ? TLB_GLOBAL : 0) |
      (pageMask === 0xfff ? 0 : pageMask === 0x3fffffff ? TLB_LARGE | TLB_HUGE : TLB_LARGE);
    this.fill(lo, hi, access, user, p - (pageOffset & 0xfff));
    return p;
  }

  /** Page-table updates: bypass the code-page hook. */
  private physWriteRaw(p: number, v: number): void {
    if (this.isRam(p)) this.view.setInt32(p, v, true);
    else this.io.mmioWrite(p, 4, v >>> 0);
  }

  private fill(lo: number, hi: number, access: Access, user: boolean, physPage: number): void {
    // Int32 physical page bases: RAM above 2 GiB stays on the slow path.
    if (!this.isRam(physPage) || physPage >= 0x80000000) return;
    if (access === Access.Write && this.codePages[physPage / 4096] !== 0) return;
    const t = this.tlb;
    const i = ((((lo >>> 12) ^ hi) & TLB_MASK) + (access * 2 + (user ? 1 : 0)) * TLB_SIZE) * TLB_STRIDE;
    t[i] = lo & -4096;
    t[i + 1] = hi;
    t[i + 2] = physPage;
    t[i + 3] = this.walkFlags;
    if ((this.walkFlags & TLB_LARGE) !== 0) {
      this.largeFills++;
      if ((this.walkFlags & TLB_HUGE) !== 0) this.hugeRegions[regionBucket(lo, hi, 30)] = 1;
      else this.largeRegions[regionBucket(lo, hi, (this.cpu.cr4 & CR4_PAE) !== 0 ? 21 : 22)] = 1;
    }
    if ((this.walkFlags & TLB_GLOBAL) !== 0) {
      if (this.globalCount < FILL_LOG_SIZE) this.globalLog[this.globalCount++] = i;
      else this.globalOverflow = true;
    } else if (this.fillCount < FILL_LOG_SIZE) this.fillLog[this.fillCount++] = i;
    else this.fillOverflow = true;
  }

  // ---------------------------------------------------------------- invalidation

  /** Drops every translation (CR0.PG/WP, CR4 paging bits, EFER changes); keepGlobal for CR3 writes. */
  flushTlb(keepGlobal: boolean): void {
    this.cpu.tlbGen++;
    if (!keepGlobal) { this.cpu.globalGen++; this.cpu.globalCode.fill(0); }
    if (keepGlobal) this.stats.flushes++;
    else this.stats.fullFlushes++;
    const t = this.tlb;
    if (keepGlobal) {
      // non-global entries only: each was logged in fillLog when filled (a slot refilled with a global entry is in
      // globalLog too and is kept)
      if (this.fillOverflow) {
        for (let i = 0; i < TLB_INTS; i += TLB_STRIDE) if ((t[i + 3] & TLB_GLOBAL) === 0) t[i] = INVALID_TAG;
      } else {
        const log = this.fillLog;
        for (let k = 0; k < this.fillCount; k++) {
          const i = log[k]!;
          if ((t[i + 3] & TLB_GLOBAL) === 0) t[i] = INVALID_TAG;
        }
      }
    } else if (this.fillOverflow || this.globalOverflow) {
      for (let i = 0; i < TLB_INTS; i += TLB_STRIDE) t[i] = INVALID_TAG;
    } else {
      const log = this.fillLog, glog = this.globalLog;
      for (let k = 0; k < this.fillCount; k++) t[log[k]!] = INVALID_TAG;
      for (let k = 0; k < this.globalCount; k++) t[glog[k]!] = INVALID_TAG;
    }
    this.fillCount = 0;
    this.fillOverflow = false;
    if (!keepGlobal) { this.globalCount = 0; this.globalOverflow = false; }
    if (!keepGlobal && this.largeFills > 0) {
      this.largeFills = 0;
      this.largeRegions.fill(0);
      this.hugeRegions.fill(0);
    }
  }

  /** invlpg: drops the translations of the page holding (lo, hi) in every set, global or not; a large page is
   * dropped whole (with any other large-page entries in the same 1 GiB region). */
  invalidatePage(lo: number, hi: number): void {
    const cpu = this.cpu;
    cpu.tlbGen++;
    // code chained by the JIT under globalGen is only affected when it is in this 2 MiB region (or the address is
    // in a 1 GiB page, dropped whole)
    if (cpu.globalCode[globalCodeSlot(lo, hi)] !== 0 || (this.largeFills !== 0 && this.hugeRegions[regionBucket(lo, hi, 30)] !== 0)) {
      cpu.globalGen++;
      cpu.globalCode.fill(0);
    }
    this.stats.invlpgs++;
    const t = this.tlb;
    const idx = ((lo >>> 12) ^ hi) & TLB_MASK;
    const tag = lo & -4096;
    for (let s = 0; s < TLB_SETS; s++) {
      const i = (s * TLB_SIZE + idx) * TLB_STRIDE;
      if (t[i] === tag && t[i + 1] === hi) t[i] = INVALID_TAG;
    }
    if (this.largeFills === 0) return;
    const pae = (this.cpu.cr4 & CR4_PAE) !== 0;
    if (this.hugeRegions[regionBucket(lo, hi, 30)] !== 0) {
      // Possibly a slice of a 1 GiB page: drop every large-page slice in the same 1 GiB region.
      for (let i = 0; i < TLB_SETS * TLB_SIZE * TLB_STRIDE; i += TLB_STRIDE) {
        if ((t[i + 3] & TLB_LARGE) !== 0 && t[i + 1] === hi && ((t[i] ^ lo) & 0xc0000000) === 0) {
          t[i] = INVALID_TAG;
        }
      }
    } else if (this.largeRegions[regionBucket(lo, hi, pae ? 21 : 22)] !== 0) {
      // Slices of a 2 MiB (or 4 MiB) page: look up each 4 KiB slice of the region.
      const span = pae ? 512 : 1024;
      const base = pae ? lo & 0xffe00000 : lo & 0xffc00000;
      for (let k = 0; k < span; k++) {
        const tagLo = (base + k * 4096) | 0;
        const idx = ((tagLo >>> 12) ^ hi) & TLB_MASK;
        for (let s = 0; s < TLB_SETS; s++) {
          const i = (s * TLB_SIZE + idx) * TLB_STRIDE;
          if (t[i] === tagLo && t[i + 1] === hi && (t[i + 3] & TLB_LARGE) !== 0) t[i] = INVALID_TAG;
        }
      }
    }
  }

  /** Core: the page holds decoded code; later writes to it call codePageWritten. With a codePages array shared
   * between vCPUs, the other vCPUs' systems must also run dropWriteTranslations(ppn) (their write TLBs may
   * still map the page). */
  markCodePage(ppn: number): void {
    if (ppn >= this.codePages.length || this.codePages[ppn] !== 0) return;
    this.codePages[ppn] = 1;
    this.dropWriteTranslations(ppn);
  }

  /** Removes write-TLB entries that map physical page ppn, so the next write takes the slow path. */
  dropWriteTranslations(ppn: number): void {
    const phys = ppn * 4096;
    const t = this.tlb;
    for (let i = 2 * TLB_SIZE * TLB_STRIDE; i < 4 * TLB_SIZE * TLB_STRIDE; i += TLB_STRIDE) {
      if (t[i + 2] === phys) t[i] = INVALID_TAG;
    }
  }

  /** Core: the page's decoded code was dropped; writes need not be reported any more. */
  unmarkCodePage(ppn: number): void {
    if (ppn < this.codePages.length) this.codePages[ppn] = 0;
  }
}
