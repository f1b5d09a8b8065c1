// Architectural state of one emulated x86-64 vCPU, laid out for a fast interpreter (Intel SDM vol. 3 ch. 2-3).
//
// Design: 64-bit values are split into two int32 halves (lo, hi) held in typed arrays, so the hot path never
// allocates and never touches BigInt. A 32-bit result written to a 64-bit register zeroes `hi` (as hardware does).
// Unsigned views are taken with `>>> 0` where needed. Physical addresses are plain numbers (< 2^52).
//
// Ownership (two engineers work on the emu CPU in parallel):
//  - core (decode/, exec/, flags.ts, interp.ts): registers, lazy flags, instruction execution, the run loop.
//  - system (mmu.ts, segments.ts, exceptions.ts, system.ts, msr.ts, cpuid.ts): paging + TLB, descriptor loads,
//    exception/interrupt delivery, control registers, MSRs, CPUID, syscall/sysret, iret, far transfers.
// This file is shared: add fields only by appending, and say which side writes them.

/** Segment register indices (match the ModRM sreg encoding). */
export const enum Seg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7 }

/** GPR indices (match the ModRM/REX encoding). */
export const enum Reg { RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 }

/** Execution mode, recomputed by the system side whenever CR0/EFER/CS change (`updateMode`). */
export const enum Mode { Real = 0, Protected16 = 1, Protected32 = 2, Compat16 = 3, Compat32 = 4, Long64 = 5 }

/** EFLAGS bits. */
export const enum Fl {
  CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9, DF = 1 << 10,
  OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18, VIF = 1 << 19,
  VIP = 1 << 20, ID = 1 << 21,
}

/** Arithmetic flags computed lazily by the core. */
export const ARITH_FLAGS = Fl.CF | Fl.PF | Fl.AF | Fl.ZF | Fl.SF | Fl.OF;

/** Segment attribute word layout in `segAttr` (descriptor bits 40..55 shifted down by 8, as in VMX AR bytes). */
export const enum SegAttr {
  TypeMask = 0xf, S = 1 << 4, DplShift = 5, DplMask = 3 << 5, P = 1 << 7, AVL = 1 << 12, L = 1 << 13,
  DB = 1 << 14, G = 1 << 15, Unusable = 1 << 16,
}

/** Thrown (as the single preallocated instance `FAULT`) when an instruction raises an exception.
 * The thrower fills `cpu.faultVector/faultHasError/faultErrorCode` first; the run loop restores RIP to the
 * instruction start and calls the system side's `deliverException`. */
export class CpuFault {
  readonly name = "CpuFault";
}
export const FAULT = new CpuFault();

/** Size of CpuState.globalCode (a power of two). */
export const GLOBAL_CODE_SLOTS = 1024;
/** CpuState.globalCode slot of the 2 MiB region holding linear address (lo, hi). */
export function globalCodeSlot(lo: number, hi: number): number {
  return ((lo >>> 21) ^ (hi << 11) ^ (hi >>> 10)) & (GLOBAL_CODE_SLOTS - 1);
}

export class CpuState {
  // ---- core-owned ----
  /** GPR low halves, index Reg. */
  readonly rlo: Int32Array;
  /** GPR high halves, index Reg. */
  readonly rhi: Int32Array;
  ripLo = 0;
  ripHi = 0;
  /** EFLAGS bits other than ARITH_FLAGS (bit 1 always set). Arithmetic flags live in the lazy-flags state
   * owned by the core; always read/write the full value through the core's getEflags()/setEflags(). */
  eflagsRest = 0x2;

  // ---- system-owned (the core reads them) ----
  mode: Mode = Mode.Real;
  cpl = 0;
  /** Address-size and operand-size defaults derived from mode and CS.D: 16, 32 or 64 / 16 or 32. */
  defaultAddrSize = 16;
  defaultOpSize = 16;
  readonly segSel = new Int32Array(8);
  readonly segBaseLo = new Int32Array(8);
  readonly segBaseHi = new Int32Array(8);
  /** Effective (byte-granular) limit, unsigned via >>> 0. */
  readonly segLimit = new Int32Array(8);
  readonly segAttr = new Int32Array(8);
  gdtrBaseLo = 0; gdtrBaseHi = 0; gdtrLimit = 0;
  idtrBaseLo = 0; idtrBaseHi = 0; idtrLimit = 0x3ff;
  cr0 = 0x60000010;
  cr2Lo = 0; cr2Hi = 0;
  cr3Lo = 0; cr3Hi = 0;
  cr4 = 0;
  cr8 = 0;
  efer = 0;
  readonly dr = new Float64Array(8);
  /** Hot MSRs; the rest live in the system side's table. */
  kernelGsBaseLo = 0; kernelGsBaseHi = 0;
  /** Interrupt shadow after STI / MOV SS / POP SS: no interrupt before the next instruction completes. */
  interruptShadow = false;
  halted = false;

  // ---- fault reporting (written by whoever raises, read by the run loop) ----
  faultVector = 0;
  faultHasError = false;
  faultErrorCode = 0;

  // ---- SSE / x87 (core-owned) ----
  /** xmm0..15 as little-endian dwords: xmm[i*4 + k]. */
  readonly xmm = new Int32Array(64);
  mxcsr = 0x1f80;
  /** x87 data registers st(0..7) by physical index, as doubles (80-bit precision is not modelled). */
  readonly fpr = new Float64Array(8);
  fpuControl = 0x37f;
  fpuStatus = 0;
  fpuTag = 0xffff;
  fpuTop = 0;

  // ---- counters ----
  /** Instructions retired (approximate when rep iterations are counted as one). */
  icount = 0;

  // ---- appended by the system side ----
  /** Core writes (before a memory access through EmuSystem): the segment (Seg) the linear address came from,
   * so a non-canonical address faults with #SS(0) for SS-based accesses and #GP(0) otherwise. Only read on the
   * slow path. */
  accessSeg = 3; // Seg.DS

  // ---- appended by the core side ----
  /** System-written: bumped whenever a cached linear->physical translation may have changed (CR0/CR3/CR4/EFER
   * writes, invlpg, mode changes). The core keys its instruction-fetch page cache on it (and on cpl). */
  tlbGen = 0;
  /** System-written: bumped when a global translation may have changed (full flushes, invlpg, mode changes; not
   * CR3 writes with CR4.PGE, which keep global TLB entries). The JIT's wasm chaining keys code in global pages on it. */
  globalGen = 0;
  /** Core-written, system-read: 2 MiB linear regions (hashed) holding code that the JIT's wasm chaining keyed on
   * globalGen; invlpg elsewhere leaves globalGen alone. Cleared when globalGen is bumped. */
  readonly globalCode = new Uint8Array(GLOBAL_CODE_SLOTS);
  /** Core-written: set when an exception could not be delivered even as #DF (triple fault); run() stops. */
  tripleFault = false;
  /** Core-written: set by anyone (e.g. another thread's kick or a device) to make run() return at the next
   * instruction boundary; run() clears it on return. */
  stopRequest = false;

  /** regs: 32 int32s to hold the GPRs (low halves, then high halves), e.g. in the JIT's wasm memory so that wasm
   * blocks use them in place (wasm_tier.ts regStorageFor); zeroed here. Default: arrays of their own. */
  constructor(readonly vcpuId: number, regs?: Int32Array) {
    if (regs !== undefined && regs.length !== 32) throw new RangeError("GPR storage needs 32 int32s");
    const r = regs ?? new Int32Array(32);
    r.fill(0);
    this.rlo = r.subarray(0, 16);
    this.rhi = r.subarray(16, 32);
    // Power-on/reset state (SDM vol. 3 table 9-1): CS = f000 base ffff0000, IP = fff0; data segments 0, limit ffff.
    for (let s = 0; s < 6; s++) {
      this.segLimit[s] = 0xffff;
      this.segAttr[s] = SegAttr.P | SegAttr.S | 3; // present, data read/write accessed
    }
    this.segSel[Seg.CS] = 0xf000;
    this.segBaseLo[Seg.CS] = 0xffff0000 | 0;
    this.segAttr[Seg.CS] = SegAttr.P | SegAttr.S | 0xb; // code, execute/read, accessed
    this.segLimit[Seg.LDTR] = 0xffff;
    this.segAttr[Seg.LDTR] = SegAttr.P | 2;
    this.segLimit[Seg.TR] = 0xffff;
    this.segAttr[Seg.TR] = SegAttr.P | 0xb;
    this.ripLo = 0xfff0;
    this.rlo[Reg.RDX] = 0x600; // family/model/stepping signature at reset
  }
}

/** What the system side exposes to the core (implemented in system.ts / mmu.ts / exceptions.ts).
 * All linear addresses are (lo, hi) int32 pairs; the core has already applied segmentation.
 * Every method may throw FAULT after filling cpu.fault*. */
export interface EmuSystem {
  // memory through paging (+ MMIO for non-RAM physical addresses)
  readLin8(lo: number, hi: number): number;
  readLin16(lo: number, hi: number): number;
  readLin32(lo: number, hi: number): number;
  /** Reads 64 bits: returns the low half, stores the high half in `this.hiResult`. */
  readLin64(lo: number, hi: number): number;
  readonly hiResult: number;
  writeLin8(lo: number, hi: number, v: number): void;
  writeLin16(lo: number, hi: number, v: number): void;
  writeLin32(lo: number, hi: number, v: number): void;
  writeLin64(lo: number, hi: number, vLo: number, vHi: number): void;
  /** Instruction fetch (checks execute permission / NX): returns one byte. */
  fetch8(lo: number, hi: number): number;

  /** Delivers an exception or interrupt through the IDT (real-mode IVT, protected or long mode gates). */
  deliverInterrupt(vector: number, kind: "exception" | "external" | "software", hasError: boolean, errorCode: number): void;

  // segment loads and far control transfers
  loadSegment(seg: number, selector: number): void; // mov sreg / pop sreg / lds...: checks + descriptor cache
  farJump(selector: number, offsetLo: number, offsetHi: number): void;
  farCall(selector: number, offsetLo: number, offsetHi: number, opSize: number): void;
  farReturn(opSize: number, popBytes: number): void;
  iret(opSize: number): void;
  syscall(): void;
  sysret(opSize: number): void;
  sysenter(): void;
  sysexit(opSize: number): void;
  swapgs(): void;

  // system instructions
  readCr(n: number): [number, number];
  writeCr(n: number, lo: number, hi: number): void;
  readDr(n: number): number;
  writeDr(n: number, v: number): void;
  rdmsr(index: number): [number, number];
  wrmsr(index: number, lo: number, hi: number): void;
  cpuid(leaf: number, subleaf: number): [number, number, number, number];
  rdtsc(): [number, number];
  invlpg(lo: number, hi: number): void;
  lgdt(lo: number, hi: number, opSize: number): void; // operand at linear address
  lidt(lo: number, hi: number, opSize: number): void;
  sgdt(lo: number, hi: number): void;
  sidt(lo: number, hi: number): void;
  lldt(selector: number): void;
  ltr(selector: number): void;
  /** Port I/O with IOPL/TSS permission checks. */
  portIn(port: number, size: 1 | 2 | 4): number;
  portOut(port: number, size: 1 | 2 | 4, v: number): void;
  /** vmcall/vmmcall: a Xen hypercall. */
  hypercall(): void;
  hlt(): void;
  /** Called by the run loop between instructions when `cpu.eflagsRest & IF` and no interrupt shadow:
   * asks the interrupt controller for a vector and delivers it. Returns true if one was delivered. */
  serviceInterrupts(): boolean;
  /** Host-time based: how many instructions the loop may run before it must call back (timers, kicks). */
  instructionBudget(): number;

  // ---- appended by the core side: optional fast paths (the core falls back to the methods above) ----
  /** Guest RAM as one byte array; offsets returned by fetchPage/dataPage index into it. */
  readonly ram?: Uint8Array;
  /** RAM offset of the 4 KiB page holding linear address (lo, hi) for instruction fetch at the current CPL, or
   * -1 if it is not plain RAM (MMIO, ...). Throws FAULT (#PF) like fetch8 when not executable. */
  fetchPage?(lo: number, hi: number): number;
  /** fetchPage without side effects on the CPU state: -1 instead of a fault. */
  fetchProbe?(lo: number, hi: number): number;
  /** RAM offset of the 4 KiB page holding linear address (lo, hi) for a data access at the current CPL (sets
   * accessed/dirty bits), or -1 if not plain RAM. Throws FAULT (#PF) like readLin8/writeLin8. Used by the core
   * for rep movs/stos fast paths. */
  dataPage?(lo: number, hi: number, write: boolean): number;
}
