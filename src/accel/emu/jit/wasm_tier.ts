// The emu JIT's WebAssembly tier (wasm_translate.ts): compiles blocks into wasm modules over the domain's shared
// WebAssembly.Memory and wraps each in a BlockFn with the JavaScript blocks' contract (translate.ts), so the cache
// and the dispatcher treat both alike. Chaining (CHAIN): the wrapper does not call its block alone but the host
// module's run loop (chainRunCode), which goes on from block to block inside wasm through the vCPU's lookup table
// (remember/release) until it needs the dispatcher; see ADR 0038, session-7 addendum.
//
// Memory layout (wasmGuestMemory): guest RAM at address 0 (RAM offset = wasm address), then one area per vCPU
// holding its MMU's TLB (Mmu tlbStorage) followed by its scratch area (SCR_*), whose first 128 bytes are the vCPU's
// registers (CpuState rlo/rhi built on regStorageFor: wasm code loads and stores them in place). The wrapper copies
// the lazy-flag record into the scratch area, calls the function, and copies it back (on a fault too, then adds the
// instructions retired in earlier loop iterations and sets c.bi, as a JavaScript block does); for a core whose
// registers live elsewhere (test doubles) it copies the registers the block uses too.
// Host calls (slow-path memory, faults, flags of an unknown record) go to the core being run (`cur`).

import { TLB_INTS } from "../mmu.ts";
import { globalCodeSlot } from "../cpu_state.ts";
import { probeWrite } from "../exec/alu.ts";
import type { BlockFn, JitCore } from "./cache.ts";
import {
  IMPORTS, LKP_ENTRIES, SCR_ATTN, SCR_BI, SCR_BYTES, SCR_CTX, SCR_EXTRA, SCR_GEN, SCR_GGEN, SCR_LF, SCR_LKP, SCR_POLLS, SCR_REGS, SCR_RIP,
  SCR_DF, SCR_FSBASE, SCR_RUNS, SCR_SLOT, SCR_TMP, SCR_TOTAL, translateWasm, CHAIN,
} from "./wasm_translate.ts";
import { Code, hostModuleBytes, Op, T } from "./wasm_bin.ts";

const ENV = ((): Record<string, string | undefined> => {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return g.process?.env ?? {};
})();
/** A WebAssembly.Memory (the project's TypeScript lib has no WebAssembly types: the few used are declared here). */
export interface WasmMemory { readonly buffer: ArrayBufferLike }
interface WasmTable { length: number; grow(n: number): number; set(i: number, f: unknown): void }
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
const WA = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
/** TSXEN_EMU_JIT_WASM=0 turns the wasm tier off (looping blocks are JavaScript like the rest). */
export const WASM_TIER = ENV.TSXEN_EMU_JIT_WASM !== "0" && WA !== undefined;
/** A run context no lookup entry has (chaining off for the run). */
export const NO_CTX = 0x7fffffff;

const PAGE = 65536;
/** Bytes per vCPU after RAM: the TLB, then the scratch area, rounded up to a 4 KiB multiple. */
export const VCPU_AREA_BYTES = Math.ceil((TLB_INTS * 4 + SCR_BYTES + LKP_ENTRIES * 16) / 4096) * 4096;

/** The FS and GS bases (wasm code adds them for FS/GS overrides) and EFLAGS.DF (rep movs/stos) into the scratch
 * area at int32 index b. */
function storeCpuState(m: Int32Array, b: number, cpu: { segBaseLo: Int32Array; segBaseHi: Int32Array; eflagsRest: number }): void {
  const f = b + (SCR_FSBASE >> 2);
  m[f] = cpu.segBaseLo[4]!; m[f + 1] = cpu.segBaseHi[4]!; m[f + 2] = cpu.segBaseLo[5]!; m[f + 3] = cpu.segBaseHi[5]!;
  m[b + (SCR_DF >> 2)] = cpu.eflagsRest & 0x400;
}

/** Byte offset of the lookup-table entry for RIP low half `lo` from the table's start (the run loop computes the same). */
function lkpEntry(lo: number): number { return ((lo ^ (lo >>> 12)) & (LKP_ENTRIES - 1)) << 4; }

/**
 * The chaining loop (host module export "run"(r, w, s, budget) -> instructions): runs the block in table slot
 * s[SCR_SLOT]; after it, unless a host function asked to leave (s[SCR_ATTN]), the budget is used up or the
 * interrupt poll is due (s[SCR_POLLS] dispatches), looks the RIP it left at up in the core's lookup table
 * (entries written by the JavaScript dispatcher when it ran that block there: rip lo, rip hi, generation,
 * slot | context << 20; valid for the run's context s[SCR_CTX] (CPL) while the generation is still
 * s[SCR_GEN] (cpu.tlbGen), or s[SCR_GGEN] (cpu.globalGen) for an entry whose context has bit 0 set: made for code
 * in a global page, whose translation CR3 writes keep) and runs that block next; anything else returns to the JavaScript dispatcher. s[SCR_SLOT] and s[SCR_TOTAL] say which block
 * runs and what the run retired before it, for a fault that unwinds out of the loop.
 */
function chainRunCode(): Code {
  const R = 0, W = 1, S = 2, BUDGET = 3, TOTAL = 4, SLOT = 5, POLLS = 6, LO = 7, E = 8, META = 9;
  const c = new Code();
  c.get(S).mem(Op.I32Load, 2, SCR_SLOT).set(SLOT);
  c.get(S).mem(Op.I32Load, 2, SCR_POLLS).set(POLLS);
  c.open(Op.Block);
  c.open(Op.Loop);
  c.get(S).get(SLOT).mem(Op.I32Store, 2, SCR_SLOT);
  c.get(S).get(TOTAL).mem(Op.I32Store, 2, SCR_TOTAL);
  c.get(R).get(W).get(S).get(SLOT).callIndirect(IMPORTS.length, 1);
  c.get(TOTAL).op(Op.I32Add).set(TOTAL);
  c.get(S).get(S).mem(Op.I32Load, 2, SCR_RUNS).i32(1).op(Op.I32Add).mem(Op.I32Store, 2, SCR_RUNS);
  c.get(S).mem(Op.I32Load, 2, SCR_ATTN).br(Op.BrIf, 1);
  c.get(TOTAL).get(BUDGET).op(Op.I32GeU).br(Op.BrIf, 1);
  c.get(POLLS).i32(1).op(Op.I32Sub).tee(POLLS).i32(1).op(Op.I32LtS).br(Op.BrIf, 1);
  c.get(S).mem(Op.I32Load, 2, SCR_RIP).set(LO);
  c.get(S).mem(Op.I32Load, 2, SCR_LKP);
  c.get(LO).get(LO).i32(12).op(Op.I32ShrU).op(Op.I32Xor).i32(LKP_ENTRIES - 1).op(Op.I32And).i32(4).op(Op.I32Shl);
  c.op(Op.I32Add).set(E);
  c.get(E).mem(Op.I32Load, 2, 0).get(LO).op(Op.I32Ne).br(Op.BrIf, 1);
  c.get(E).mem(Op.I32Load, 2, 4).get(S).mem(Op.I32Load, 2, SCR_RIP + 4).op(Op.I32Ne).br(Op.BrIf, 1);
  // context (CPL) must match; the generation is globalGen for an entry made in a global page, else tlbGen
  c.get(E).mem(Op.I32Load, 2, 12).tee(META).i32(20).op(Op.I32ShrU).i32(-2).op(Op.I32And);
  c.get(S).mem(Op.I32Load, 2, SCR_CTX).op(Op.I32Ne).br(Op.BrIf, 1);
  c.get(E).mem(Op.I32Load, 2, 8);
  c.get(S).mem(Op.I32Load, 2, SCR_GGEN).get(S).mem(Op.I32Load, 2, SCR_GEN).get(META).i32(1 << 20).op(Op.I32And).op(Op.Select);
  c.op(Op.I32Ne).br(Op.BrIf, 1);
  c.get(META).i32(0xfffff).op(Op.I32And).set(SLOT);
  c.br(Op.Br, 0);
  c.op(Op.End);
  c.op(Op.End);
  c.get(S).get(POLLS).mem(Op.I32Store, 2, SCR_POLLS);
  c.get(TOTAL);
  return c;
}

/** Guest RAM in a shared WasmMemory with room for `vcpus` TLB/scratch areas after it. */
export interface WasmGuestMemory {
  readonly memory: WasmMemory;
  /** Guest RAM bytes (the first ramBytes of the memory). */
  readonly ram: Uint8Array;
  readonly ramBytes: number;
}

/** Memories the tier may compile against, by their buffer (RAM views find their memory here). */
const memories = new WeakMap<ArrayBufferLike, WasmMemory>();

export function registerWasmMemory(memory: WasmMemory): void { memories.set(memory.buffer, memory); }

/** Byte offset of vCPU `id`'s area in a memory made by wasmGuestMemory for ramBytes of RAM. */
export function vcpuAreaOffset(ramBytes: number, id: number): number {
  return Math.ceil(ramBytes / 4096) * 4096 + id * VCPU_AREA_BYTES;
}

/** Allocates guest RAM (zeroed) in a shared wasm memory; null when the size does not fit wasm32 (4 GiB). */
export function wasmGuestMemory(ramBytes: number, vcpus: number): WasmGuestMemory | null {
  if (!WASM_TIER) return null;
  const total = vcpuAreaOffset(ramBytes, vcpus);
  const pages = Math.ceil(total / PAGE);
  if (pages > 65536) return null;
  let memory: WasmMemory;
  try { memory = new WA!.Memory({ initial: pages, maximum: pages, shared: true }); } catch { return null; }
  registerWasmMemory(memory);
  return { memory, ram: new Uint8Array(memory.buffer, 0, ramBytes), ramBytes };
}

/** vCPU `id`'s register storage (CpuState's regs: the start of its scratch area) in a memory holding `ramBytes`
 * of RAM; undefined when the memory is too small. */
export function regStorageFor(memory: WasmMemory, ramBytes: number, id: number): Int32Array | undefined {
  const off = vcpuAreaOffset(ramBytes, id);
  if (off + VCPU_AREA_BYTES > memory.buffer.byteLength) return undefined;
  return new Int32Array(memory.buffer, off + TLB_INTS * 4 + SCR_REGS, 32);
}

/** vCPU `id`'s TLB storage in a registered memory holding `ramBytes` of RAM (Mmu tlbStorage). */
export function tlbStorageFor(memory: WasmMemory, ramBytes: number, id: number): Int32Array | undefined {
  const off = vcpuAreaOffset(ramBytes, id);
  if (off + VCPU_AREA_BYTES > memory.buffer.byteLength) return undefined;
  return new Int32Array(memory.buffer, off, TLB_INTS);
}

/** What the wrapper needs of the core beyond JitCore (the Interp: LazyFlags fields, fault, cond, getArith). */
interface Core extends JitCore {
  pfxDirty: boolean;
  step(): void;
  lfOp: number; lfSize: number; lfResLo: number; lfResHi: number; lfS1Lo: number; lfS1Hi: number;
  lfS2Lo: number; lfS2Hi: number; lfAux: number; lfFlags: number;
  fault(vector: number, hasError: boolean, code: number): never;
  cond(cc: number): boolean;
  getArith(): number;
}
interface TlbSys { jitTlb?: Int32Array; rBase: number; wBase: number; hiResult: number }

export interface WasmBlock {
  fn: BlockFn;
  ripsLo: Int32Array;
  ripsHi: Int32Array;
  /** Instruction lengths (the region's instructions are not contiguous). */
  lens: Uint8Array;
  insns: number;
  /** Module size in bytes (for the cache's memory accounting). */
  bytes: number;
  /** Slot of the function in the shared table (chaining; 0: none). */
  slot: number;
  /** Bytes of the next linear page the block's last instruction reads (translateWasm's phys2; 0: none). */
  cross: number;
  /** Where the region falls through to when it leaves (translateWasm's conts). */
  conts: number[];
}

/** The tier for one domain memory. */
export class WasmTier {
  private readonly m32: Int32Array;
  private readonly pages: number;
  private cur: Core | null = null;
  /** Int32 index of the current core's scratch area. */
  private scr = 0;
  /** Registers the running block uses, copied around interpreter steps unless they live in the scratch area. */
  private usedRegs: Int8Array = new Int8Array(0);
  /** The core last entered (the running one, `cur`, while a block runs): byte offsets of its TLB and scratch area,
   * whether its registers must be copied (they are not in its scratch area). */
  private lastCore: Core | null = null;
  private lastTlb = 0;
  private lastScr = 0;
  private lastCopy = true;
  /** tlbGen and CPL when the running block was entered (an in-block step that changes them ends the block). */
  private gen0 = 0;
  private cpl0 = 0;
  /** Set while an in-block interpreter step runs: a fault then leaves the core's registers and flags as they are. */
  private stepping = false;
  private readonly imports: Record<string, unknown>;
  /** Chaining (CHAIN): the table of block functions (host module export "b"), the run loop, free slots, the
   * ripsLo/ripsHi of the block in each slot (fault unwinding), and the scratch areas (byte offsets) of the cores
   * entered (their lookup tables are cleared of a released slot). */
  private readonly table: WasmTable;
  private readonly runChain: ((r: number, w: number, s: number, budget: number) => number) | null = null;
  private readonly freeSlots: number[] = [];
  private readonly slotRips: (WasmBlock | undefined)[] = [];
  private readonly scrAreas = new Set<number>();
  /** Set by a chaining run whose fault unwound out of a block other than the one the dispatcher called: that
   * block's instruction starts (the dispatcher restarts at them[c.bi]). */
  faultRipsLo: Int32Array | null = null;
  faultRipsHi: Int32Array | null = null;
  /** For the next wrapper call (set by the dispatcher): context (CPL * 2; NO_CTX: no chaining),
   * instruction budget, dispatches before the interrupt poll; after it: dispatches left. */
  ctx = NO_CTX;
  budget = 0;
  polls = 0;
  /** Blocks the last chaining run completed (the first one included). */
  runs = 0;
  /** Modules made; translations that failed; milliseconds translating (including attempts the translator
   * refused), in `new WebAssembly.Module` and in `new WebAssembly.Instance`; module bytes; in-block interpreter
   * steps. */
  stats = { compiled: 0, failed: 0, lastError: "", translateMs: 0, moduleMs: 0, instanceMs: 0, bytes: 0, steps: 0 };

  static for(ram: Uint8Array): WasmTier | null {
    if (!WASM_TIER) return null;
    const memory = memories.get(ram.buffer);
    if (memory === undefined || ram.byteOffset !== 0) return null;
    return new WasmTier(memory);
  }

  /** Whether a core's TLB lives in this memory (the wrapper addresses it there). */
  holdsTlbOf(sys: unknown): boolean {
    const t = (sys as TlbSys).jitTlb;
    return t !== undefined && t.buffer === this.memory.buffer;
  }

  constructor(private readonly memory: WasmMemory) {
    this.m32 = new Int32Array(memory.buffer);
    this.pages = memory.buffer.byteLength / PAGE;
    const sys = (): Core["sys"] & TlbSys => this.cur!.sys as Core["sys"] & TlbSys;
    const smc = (): number => {
      if (!this.cur!.smc) return 0;
      this.m32[this.scr + (SCR_ATTN >> 2)] = 1;
      return 1;
    };
    const host: Record<string, unknown> = {
      rd8: (lo: number, hi: number) => sys().readLin8(lo, hi) & 255,
      rd16: (lo: number, hi: number) => sys().readLin16(lo, hi) & 65535,
      rd32: (lo: number, hi: number) => sys().readLin32(lo, hi) | 0,
      rd64: (lo: number, hi: number) => {
        const s = sys();
        const v = s.readLin64(lo, hi) | 0;
        this.m32[this.scr + (SCR_TMP >> 2)] = s.hiResult | 0;
        return v;
      },
      wr8: (lo: number, hi: number, v: number) => { sys().writeLin8(lo, hi, v & 255); return smc(); },
      wr16: (lo: number, hi: number, v: number) => { sys().writeLin16(lo, hi, v & 65535); return smc(); },
      wr32: (lo: number, hi: number, v: number) => { sys().writeLin32(lo, hi, v); return smc(); },
      wr64: (lo: number, hi: number, v: number, vh: number) => { sys().writeLin64(lo, hi, v, vh); return smc(); },
      fault: (vector: number) => { this.cur!.fault(vector, true, 0); },
      arith: () => { this.loadRecord(this.cur!, this.scr); return this.cur!.getArith(); },
      cond: (cc: number) => { this.loadRecord(this.cur!, this.scr); return this.cur!.cond(cc) ? 1 : 0; },
      pw: (size: number, lo: number, hi: number) => { probeWrite(this.cur! as unknown as Parameters<typeof probeWrite>[0], size, lo, hi); },
      step: (lo: number, hi: number, nlo: number, nhi: number) => this.step(lo, hi, nlo, nhi),
    };
    // The host functions go into a table once; block modules import the table (wasm_bin.ts: cheaper to compile
    // than function imports).
    const run = CHAIN ? {
      pages: this.pages, blockParams: [T.I32, T.I32, T.I32], blockResults: [T.I32],
      params: [T.I32, T.I32, T.I32, T.I32], results: [T.I32], locals: [T.I32, T.I32, T.I32, T.I32, T.I32, T.I32], code: chainRunCode(),
    } : undefined;
    const exp = new WA!.Instance(new WA!.Module(hostModuleBytes(IMPORTS, run)), { env: { ...host, mem: memory } }).exports;
    this.table = (exp.b ?? exp.t) as WasmTable;
    if (CHAIN) this.runChain = exp.run as (r: number, w: number, s: number, budget: number) => number;
    this.imports = { mem: memory, t: exp.t };
  }

  /** Compiles the region entered at ram[phys] for RIP (lo, hi); null when it is not one the tier translates (it
   * must loop unless `any`). phys2: RAM offset of the next linear page (-1: unknown), for an instruction that
   * crosses the page end. */
  compile(ram: Uint8Array, phys: number, lo: number, hi: number, any = false, phys2 = -1): WasmBlock | null {
    let t;
    try {
      const t0 = performance.now();
      t = translateWasm(ram, phys, lo, hi, this.pages, any, phys2);
      const t1 = performance.now();
      this.stats.translateMs += t1 - t0;
      if (t === null) return null;
      const mod = new WA!.Module(t.bytes);
      const t2 = performance.now();
      const inst = new WA!.Instance(mod, { env: this.imports });
      this.stats.moduleMs += t2 - t1; this.stats.instanceMs += performance.now() - t2; this.stats.bytes += t.bytes.length;
      const f = inst.exports.f as (r: number, w: number, s: number) => number;
      this.stats.compiled++;
      const slot = this.runChain !== null ? this.takeSlot(f) : 0;
      const blk: WasmBlock = { fn: this.wrap(f, t.used, t.written, slot), ripsLo: t.ripsLo, ripsHi: t.ripsHi, lens: t.lens, insns: t.insns, bytes: t.bytes.length, slot, cross: t.cross, conts: t.conts };
      if (slot !== 0) this.slotRips[slot] = blk;
      return blk;
    } catch (e) {
      this.stats.failed++;
      this.stats.lastError = String(e);
      return null;
    }
  }

  private takeSlot(f: unknown): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      const n0 = this.table.length; // at least 1: slot 0 stays empty
      this.table.grow(Math.max(256, n0));
      for (let i = this.table.length - 1; i > n0; i--) this.freeSlots.push(i);
      slot = n0;
    }
    this.table.set(slot, f);
    return slot;
  }

  /** The block in `slot` left the cache: no core's lookup table may lead to it any more; the slot is reused. */
  release(slot: number): void {
    if (slot === 0) return;
    const m = this.m32;
    for (const scr of this.scrAreas) {
      const t = (scr + SCR_BYTES) >> 2;
      for (let i = 0; i < LKP_ENTRIES * 4; i += 4) if ((m[t + i + 3]! & 0xfffff) === slot) m[t + i + 3] = -1;
    }
    this.table.set(slot, null);
    this.slotRips[slot] = undefined;
    this.freeSlots.push(slot);
  }

  /** The dispatcher found the wasm block in `slot` for RIP (lo, hi) through the current translation on core c,
   * in context `ctx` (this.ctx): chaining runs of c may go there too while that translation holds (and that of
   * the next page (lo2, hi) when the block's last instruction crosses into it; lo2 0: it does not). */
  remember(c: Core, lo: number, hi: number, ctx: number, slot: number, lo2 = 0): void {
    if (this.lastCore !== c) this.locate(c);
    const e = (this.lastScr + SCR_BYTES + lkpEntry(lo)) >> 2, m = this.m32;
    const sys = c.sys as { fetchGlobal?(lo: number, hi: number): boolean };
    const global = sys.fetchGlobal?.(lo, hi) === true && (lo2 === 0 || sys.fetchGlobal(lo2, hi));
    if (global) { // invlpg in these 2 MiB regions bumps globalGen
      c.cpu.globalCode[globalCodeSlot(lo, hi)] = 1;
      if (lo2 !== 0) c.cpu.globalCode[globalCodeSlot(lo2, hi)] = 1;
    }
    m[e] = lo; m[e + 1] = hi; m[e + 2] = global ? c.cpu.globalGen : c.cpu.tlbGen;
    m[e + 3] = slot | ((ctx + (global ? 1 : 0)) << 20);
  }

  /** An in-block interpreter step (translate.ts does the same in JavaScript blocks): the core runs the instruction
   * at (lo, hi) on the registers and flags of the scratch area; 1 when the block must leave (RIP is not at the next
   * instruction, or something it relies on changed: code written, mode, CPL, paging, halt, stop, interrupt shadow,
   * TF), else 0. */
  private step(lo: number, hi: number, nlo: number, nhi: number): number {
    this.stats.steps++;
    const c = this.cur!, cpu = c.cpu, m = this.m32, b = this.scr, regs = this.usedRegs;
    const rlo = cpu.rlo, rhi = cpu.rhi, copy = this.lastCopy;
    if (copy) for (let i = 0; i < regs.length; i++) { const r = regs[i]!; rlo[r] = m[b + r]!; rhi[r] = m[b + 16 + r]!; }
    this.loadRecord(c, b);
    cpu.ripLo = lo; cpu.ripHi = hi;
    c.pfxDirty = true;
    this.stepping = true;
    const if0 = cpu.eflagsRest & 0x200;
    c.step();
    this.stepping = false;
    // interrupts enabled: leave, so that the dispatcher delivers what is pending (a chain entered with IF clear
    // does not poll); disabling them needs nothing (a chain entered with IF set goes on polling)
    if ((cpu.eflagsRest & 0x200) > if0) m[b + (SCR_ATTN >> 2)] = 1;
    storeCpuState(m, b, cpu); // swapgs, wrmsr, cld/std/popf
    if (copy) for (let i = 0; i < regs.length; i++) { const r = regs[i]!; m[b + r] = rlo[r]!; m[b + 16 + r] = rhi[r]!; }
    this.storeRecord(c, b);
    const leave = cpu.ripLo !== nlo || cpu.ripHi !== nhi || c.smc || cpu.mode !== 5 || cpu.cpl !== this.cpl0 ||
      cpu.tlbGen !== this.gen0 || cpu.halted || cpu.stopRequest || cpu.interruptShadow || (cpu.eflagsRest & 256) !== 0;
    if (!leave) return 0;
    m[b + (SCR_RIP >> 2)] = cpu.ripLo; m[b + (SCR_RIP >> 2) + 1] = cpu.ripHi;
    m[b + (SCR_ATTN >> 2)] = 1;
    return 1;
  }

  private storeRecord(c: Core, scr: number): void {
    const m = this.m32, l = scr + (SCR_LF >> 2);
    m[l] = c.lfOp; m[l + 1] = c.lfSize; m[l + 2] = c.lfResLo; m[l + 3] = c.lfResHi;
    m[l + 4] = c.lfS1Lo; m[l + 5] = c.lfS1Hi; m[l + 6] = c.lfS2Lo; m[l + 7] = c.lfS2Hi;
    m[l + 8] = c.lfAux; m[l + 9] = c.lfFlags;
  }

  /** Copies the lazy-flag record from the scratch area at int32 index `scr` into the core. */
  private loadRecord(c: Core, scr: number): void {
    const m = this.m32, b = scr + (SCR_LF >> 2);
    c.lfOp = m[b]!; c.lfSize = m[b + 1]!; c.lfResLo = m[b + 2]!; c.lfResHi = m[b + 3]!;
    c.lfS1Lo = m[b + 4]!; c.lfS1Hi = m[b + 5]!; c.lfS2Lo = m[b + 6]!; c.lfS2Hi = m[b + 7]!;
    c.lfAux = m[b + 8]!; c.lfFlags = m[b + 9]!;
  }

  private locate(c: Core): void {
    const tlb = (c.sys as Core["sys"] & TlbSys).jitTlb!;
    this.lastTlb = tlb.byteOffset;
    this.lastScr = tlb.byteOffset + tlb.byteLength;
    this.lastCopy = c.cpu.rlo.byteOffset !== this.lastScr + SCR_REGS || c.cpu.rlo.buffer !== this.memory.buffer;
    this.lastCore = c;
    if (!this.scrAreas.has(this.lastScr)) {
      // a new core: its lookup table starts empty (meta -1: a context no run has)
      const t = (this.lastScr + SCR_BYTES) >> 2;
      for (let i = 0; i < LKP_ENTRIES * 4; i += 4) this.m32[t + i + 3] = -1;
      this.m32[(this.lastScr + SCR_LKP) >> 2] = this.lastScr + SCR_BYTES;
      this.scrAreas.add(this.lastScr);
    }
  }

  private wrap(f: (r: number, w: number, s: number) => number, used: number, written: number, slot: number): BlockFn {
    const m = this.m32;
    const usedRegs = Int8Array.from([...Array(16).keys()].filter((r) => (used >> r) & 1));
    const writtenRegs = Int8Array.from([...Array(16).keys()].filter((r) => (written >> r) & 1));
    const tier = this;
    return (core) => {
      const c = core as Core;
      const sys = c.sys as Core["sys"] & TlbSys;
      const cpu = c.cpu, rlo = cpu.rlo, rhi = cpu.rhi;
      // where the core's TLB and scratch area are, and whether its registers are there (typed arrays' byteOffset
      // and buffer getters are slow: looked up once per core)
      if (tier.lastCore !== c) tier.locate(c);
      const tlbOff = tier.lastTlb, scrByte = tier.lastScr, copy = tier.lastCopy;
      const b = scrByte >> 2;
      if (copy) for (let i = 0; i < usedRegs.length; i++) { const r = usedRegs[i]!; m[b + r] = rlo[r]!; m[b + 16 + r] = rhi[r]!; }
      tier.storeRecord(c, b);
      storeCpuState(m, b, cpu);
      tier.cur = c; tier.scr = b; tier.usedRegs = usedRegs; tier.gen0 = cpu.tlbGen; tier.cpl0 = cpu.cpl;
      tier.stepping = false;
      const ic0 = cpu.icount;
      let n: number;
      const run = tier.runChain;
      const chain = run !== null && !copy;
      try {
        if (chain) {
          m[b + (SCR_SLOT >> 2)] = slot; m[b + (SCR_ATTN >> 2)] = 0; m[b + (SCR_CTX >> 2)] = tier.ctx;
          m[b + (SCR_GEN >> 2)] = cpu.tlbGen; m[b + (SCR_GGEN >> 2)] = cpu.globalGen;
          m[b + (SCR_POLLS >> 2)] = tier.polls; m[b + (SCR_TOTAL >> 2)] = 0; m[b + (SCR_RUNS >> 2)] = 0;
          n = run(tlbOff + sys.rBase * 4, tlbOff + sys.wBase * 4, scrByte, tier.budget);
          tier.polls = m[b + (SCR_POLLS >> 2)]!;
          tier.runs = m[b + (SCR_RUNS >> 2)]!;
        } else {
          tier.runs = 1;
          n = f(tlbOff + sys.rBase * 4, tlbOff + sys.wBase * 4, scrByte);
        }
      } catch (e) {
        // a fault in an interpreter step left the core's state as the interpreter has it
        if (!tier.stepping) {
          if (copy) for (let i = 0; i < writtenRegs.length; i++) { const r = writtenRegs[i]!; rlo[r] = m[b + r]!; rhi[r] = m[b + 16 + r]!; }
          tier.loadRecord(c, b);
        }
        tier.stepping = false;
        cpu.icount += m[b + (SCR_EXTRA >> 2)]!;
        c.bi = m[b + (SCR_BI >> 2)]!;
        if (chain) {
          tier.runs = m[b + (SCR_RUNS >> 2)]!; // blocks completed before the fault
          // the block that faulted may be a later one of the run: the dispatcher restarts at its instruction
          const fs = m[b + (SCR_SLOT >> 2)]!;
          cpu.icount += m[b + (SCR_TOTAL >> 2)]!;
          if (fs !== slot) {
            const fb = tier.slotRips[fs]!;
            tier.faultRipsLo = fb.ripsLo; tier.faultRipsHi = fb.ripsHi;
          }
        }
        tier.cur = null;
        throw e;
      }
      tier.cur = null;
      // rep string steps add their extra iterations to cpu.icount: returned instead (the dispatcher adds the
      // result to cpu.icount as it was before the call)
      const stepIc = cpu.icount - ic0;
      cpu.icount = ic0;
      n += stepIc;
      if (copy) for (let i = 0; i < writtenRegs.length; i++) { const r = writtenRegs[i]!; rlo[r] = m[b + r]!; rhi[r] = m[b + 16 + r]!; }
      tier.loadRecord(c, b);
      cpu.ripLo = m[b + (SCR_RIP >> 2)]!; cpu.ripHi = m[b + (SCR_RIP >> 2) + 1]!;
      return n;
    };
  }
}
