// The emu interpreter: prefix decoding, one-byte and 0f opcode dispatch, and the run(budget) loop
// (instruction boundaries, interrupt checks, faults -> exception delivery, instruction counting).
// Data movement, control transfer, stack and small misc instructions are executed inline here; the larger
// groups live in exec/*.ts.

import { setFlagsFromString } from "node:v8";
import { type CpuState, type EmuSystem, FAULT } from "./cpu_state.ts";
import { CoreBase, CS, DS, ES, FS, GS, SS } from "./decode/decoder.ts";
import {
  alu, ALU_ADD, ALU_SUB, execAluOp, execGroup1, execNotNeg, execTestEG, incDec, probeWrite, readRmw, setLogicFlags,
} from "./exec/alu.ts";
import { execBsx, execBswap, execBt, execPopcnt } from "./exec/bits.ts";
import { execDiv, execMul1, imulTrunc } from "./exec/muldiv.ts";
import { execGroup2, execShxd } from "./exec/shift.ts";
import { checkLock, execLocked } from "./exec/lock.ts";
import { execString } from "./exec/string.ts";
import {
  execCliSti, execGroup6, execGroup7, execInOut, execLarLsl, execLoadFar, execMovCrDr, execPopf, execPushf,
  farSel, type Features, loadSeg, needCpl0, readFarPtr,
} from "./exec/system.ts";
import { execGroup15, execSse, sseImmBytes } from "./exec/sse.ts";
import { execFwait, execX87 } from "./exec/x87.ts";
import { LF_NONE } from "./flags.ts";
import { JitCache } from "./jit/cache.ts";
import { runJit } from "./jit/dispatch.ts";

// TurboFan inlines a call only where it runs on at least 15 % of the caller's invocations (and within a 920-byte
// budget): in the opcode switches no case reaches that, so every small operand helper (decodeModrm, readE,
// push, jumpRel, cond...) stays a real call. Lower threshold and a larger budget: about +20 % MIPS on a Linux
// boot with the pure interpreter. Inlining heuristics only (read when a function is optimized; no effect on
// semantics), but process-wide, and they cost the block JIT (its generated code compiles bigger: -15 % MIPS
// measured), so they are set by the first run() without the JIT. TSXEN_EMU_V8_INLINING=0 keeps V8's defaults.
let inliningSet = false;
function setInterpInlining(): void {
  inliningSet = true;
  if (process.env.TSXEN_EMU_V8_INLINING === "0") return;
  setFlagsFromString("--min-inlining-frequency=0.01");
  setFlagsFromString("--max-inlined-bytecode-size-cumulative=3000");
}

/** Interrupt poll period in instructions executed with IF=1. */
const IRQ_POLL = 8;
const TF = 1 << 8, IF = 1 << 9, DF = 1 << 10, CF = 1, ZF = 0x40, AF = 0x10;

/** Prefix bytes: 1 = legacy prefix; 2 = REX (only in 64-bit mode, checked by the decoder). */
const PFX = new Uint8Array(256);
for (const b of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) PFX[b] = 1;
for (let b = 0x40; b < 0x50; b++) PFX[b] = 2;

/** ModRM pre-decode for the one-byte opcodes exec1() handles itself: exec1 decodes their ModRM (and SIB,
 * displacement, effective address) before its switch, through a single call site that TurboFan inlines (it runs on
 * most exec1 invocations; one call per case would not be). 0 = none or decoded by the handler (lea, pop Ev, group 3,
 * the rare opcodes); 1 = no immediate follows; 2 = imm8 follows; 3 = imm16/32 by operand size follows (the immediate
 * size matters for RIP-relative addresses). */
const MODRM1 = new Uint8Array(256);
for (let b = 0; b < 0x40; b++) if ((b & 7) < 4) MODRM1[b] = 1;
for (const b of [0x63, 0x84, 0x85, 0x88, 0x89, 0x8a, 0x8b, 0xd1, 0xd3, 0xff]) MODRM1[b] = 1;
for (const b of [0x80, 0x83, 0xc1, 0xc6]) MODRM1[b] = 2;
for (const b of [0x81, 0xc7]) MODRM1[b] = 3;
/** The same for the 0f opcodes exec0f() handles itself (0f 1f, the multi-byte nop, decodes with noSeg). */
const MODRM0F = new Uint8Array(256);
for (let b = 0x40; b < 0x50; b++) MODRM0F[b] = 1;
for (let b = 0x90; b < 0xa0; b++) MODRM0F[b] = 1;
for (const b of [0xaf, 0xb6, 0xb7, 0xbe, 0xbf]) MODRM0F[b] = 1;

export type UnknownOpcodeLog = (bytes: string, rip: string, mode: number) => void;

export class Interp extends CoreBase {
  features: Features = { rdtscp: false, popcnt: false, cx16: false };
  /** Instructions (with IF=1) until the next interrupt poll. */
  irqPoll = 0;
  /** Set when the current instruction had prefixes, so the next one resets the prefix state (JIT blocks set it
   * too: their helpers write the decoder fields). */
  pfxDirty = true;
  /** Block translation cache (null: pure interpreter). */
  jit: JitCache | null = null;
  /** JIT: index of the block instruction being executed (fault restart point). */
  bi = 0;
  /** JIT: set when a guest write hit a page holding translated code. */
  smc = false;
  onUnknownOpcode: UnknownOpcodeLog | null = null;
  private readonly seenUnknown = new Set<string>();

  constructor(cpu: CpuState, sys: EmuSystem) {
    super(cpu, sys);
  }

  // ------------------------------------------------------------------------------------------------ run loop

  /** Runs up to `budget` instructions (rep iterations count individually). Returns instructions retired.
   * Stops early on hlt (cpu.halted), cpu.stopRequest or a triple fault. */
  run(budget: number): number {
    if (this.jit !== null) return runJit(this, budget);
    if (!inliningSet) setInterpInlining();
    const cpu = this.cpu, sys = this.sys;
    const start = cpu.icount;
    const end = start + budget;
    while (cpu.icount < end) {
      if (cpu.stopRequest) { cpu.stopRequest = false; break; }
      if (cpu.tripleFault) break;
      if (cpu.halted) {
        if ((cpu.eflagsRest & IF) !== 0 && this.serviceInterrupts()) continue;
        break;
      }
      // Retired instructions are counted locally and added to cpu.icount when the inner loop ends (rep string
      // iterations are added to cpu.icount directly by the string code).
      const limit = end - cpu.icount;
      let n = 0;
      try {
        while (n < limit) {
          if (cpu.interruptShadow) cpu.interruptShadow = false;
          else if ((cpu.eflagsRest & IF) !== 0 && --this.irqPoll <= 0) {
            // Polled every IRQ_POLL instructions executed with IF=1 (the countdown only runs while IF=1, so
            // short sti..cli windows are still sampled): bounded latency at a fraction of the cost.
            this.irqPoll = IRQ_POLL;
            this.startLo = cpu.ripLo; this.startHi = cpu.ripHi; // a fault while delivering keeps this RIP
            if (sys.serviceInterrupts()) {
              cpu.halted = false;
              if (cpu.stopRequest) break;
            }
          }
          const tf = cpu.eflagsRest & TF;
          this.step();
          n++;
          if (tf !== 0) this.singleStepTrap();
          if (cpu.halted || cpu.stopRequest) break;
        }
        cpu.icount += n;
      } catch (e) {
        cpu.icount += n;
        this.noSeg = false; // a fetch fault inside lea/nop decoding
        if (e !== FAULT) throw e;
        cpu.ripLo = this.startLo; cpu.ripHi = this.startHi;
        this.deliverException();
      }
    }
    return cpu.icount - start;
  }


  /** Turns block translation on (shared cache per guest RAM) or off. Returns whether it is on. */
  enableJit(on: boolean): boolean {
    this.jit = on ? JitCache.forCore(this) : null;
    return this.jit !== null;
  }

  /** EFLAGS.TF was set when the instruction started: #DB trap after it, with DR6.BS. */
  singleStepTrap(): void {
    const cpu = this.cpu;
    cpu.dr[6] = (((cpu.dr[6]! >>> 0) | 0x4000) & ~0xf) >>> 0;
    this.startLo = cpu.ripLo; this.startHi = cpu.ripHi; // a fault while delivering keeps this RIP
    this.sys.deliverInterrupt(1, "exception", false, 0);
  }

  serviceInterrupts(): boolean {
    try {
      if (this.sys.serviceInterrupts()) { this.cpu.halted = false; return true; }
    } catch (e) {
      if (e !== FAULT) throw e;
      this.deliverException();
      this.cpu.halted = false;
      return true;
    }
    return false;
  }

  /** Delivers the exception described by cpu.fault*; escalates to #DF and then to a triple fault. */
  deliverException(): void {
    const cpu = this.cpu, sys = this.sys;
    const v1 = cpu.faultVector;
    try {
      sys.deliverInterrupt(v1, "exception", cpu.faultHasError, cpu.faultErrorCode);
      return;
    } catch (e) {
      if (e !== FAULT) throw e;
    }
    const v2 = cpu.faultVector;
    const contributory = (v: number): boolean => v === 0 || (v >= 10 && v <= 13);
    if (v1 !== 8 && ((contributory(v1) && contributory(v2)) || (v1 === 14 && (contributory(v2) || v2 === 14)))) {
      try {
        sys.deliverInterrupt(8, "exception", true, 0);
        return;
      } catch (e) {
        if (e !== FAULT) throw e;
        cpu.tripleFault = true;
        return;
      }
    }
    if (v1 === 8) { cpu.tripleFault = true; return; }
    // Benign combination: deliver the second exception.
    try {
      sys.deliverInterrupt(v2, "exception", cpu.faultHasError, cpu.faultErrorCode);
    } catch (e) {
      if (e !== FAULT) throw e;
      cpu.tripleFault = true;
    }
  }

  // ------------------------------------------------------------------------------------------------ decode

  /** Executes one instruction. Throws FAULT with cpu.fault* set; the caller restores RIP.
   * Fast path (small enough for TurboFan to inline into run()): 64-bit mode, code page cached, no prefix state
   * to reset, no prefix or a lone REX. Everything else restarts the decode in stepFull(). */
  step(): void {
    const cpu = this.cpu;
    const ripLo = cpu.ripLo, ripHi = cpu.ripHi, base = this.fBase;
    if (cpu.mode !== 5 || (ripLo & ~0xfff) !== this.fPageLo || ripHi !== this.fPageHi || base < 0 ||
      cpu.tlbGen !== this.fGen || cpu.cpl !== this.fCpl) { this.stepFull(); return; }
    if (this.pfxDirty) this.resetPrefixes();
    const ram = this.fRam, limit = base + 4096;
    let p = base + (ripLo & 0xfff), os = 4;
    let b = ram[p];
    const kind = PFX[b];
    if (kind !== 0) {
      if (kind !== 2 || p + 1 >= limit || PFX[ram[p + 1]] !== 0) { this.stepFull(); return; }
      this.rex = b;
      this.rexR = (b & 4) << 1; this.rexX = (b & 2) << 2; this.rexB = (b & 1) << 3;
      if ((b & 8) !== 0) os = 8;
      b = ram[++p];
    } else if (this.rex !== 0) { this.rex = 0; this.rexR = 0; this.rexX = 0; this.rexB = 0; }
    this.startLo = ripLo; this.startHi = ripHi; this.is64 = true;
    this.fStart = base + (ripLo & 0xfff); this.fPtr = p + 1; this.fLimit = limit;
    this.os = os; this.as = 8;
    this.exec1(b);
  }

  /** Clears the prefix state left by the previous instruction (legacy prefixes, or decoder fields written by a
   * JIT block). */
  private resetPrefixes(): void {
    this.rex = 0; this.rexR = 0; this.rexX = 0; this.rexB = 0;
    this.segOvr = -1; this.rep = 0; this.lock = false; this.ssePfx = 0; this.has66 = false;
    this.pfxDirty = false;
  }

  /** step() for every case: any mode, fetch page refill, prefixes. */
  private stepFull(): void {
    const cpu = this.cpu;
    const ripLo = cpu.ripLo, ripHi = cpu.ripHi;
    this.startLo = ripLo; this.startHi = ripHi;
    const is64 = cpu.mode === 5;
    this.is64 = is64;
    let os = 4, as = 8, lo = ripLo, hi = ripHi;
    if (!is64) {
      os = cpu.defaultOpSize === 16 ? 2 : 4;
      as = cpu.defaultAddrSize === 16 ? 2 : 4;
      this.ipMask = os === 2 ? 0xffff : -1;
      lo = (cpu.segBaseLo[CS] + ripLo) | 0; hi = 0;
    }
    // beginFetch() inline, with the first byte read straight from the cached page (it is always inside it).
    const page = lo & ~0xfff;
    if (page !== this.fPageLo || hi !== this.fPageHi || cpu.tlbGen !== this.fGen || cpu.cpl !== this.fCpl) {
      this.refillFetch(page, hi);
    }
    const base = this.fBase;
    let b: number;
    if (base >= 0) {
      const st = base + (lo & 0xfff);
      this.fStart = st; this.fLimit = base + 4096; this.fPtr = st + 1;
      b = this.fRam[st];
    } else {
      this.fStart = 0; this.fPtr = 0; this.fLimit = 0;
      b = this.f8();
    }
    if (this.pfxDirty) {
      this.rex = 0; this.rexR = 0; this.rexX = 0; this.rexB = 0;
      this.segOvr = -1; this.rep = 0; this.lock = false; this.ssePfx = 0; this.has66 = false;
      this.pfxDirty = false;
    }
    const kind = PFX[b];
    if (kind === 0 || (kind === 2 && !is64)) {
      // No prefix: only a REX left by the previous instruction needs clearing (legacy prefixes set pfxDirty).
      if (this.rex !== 0) { this.rex = 0; this.rexR = 0; this.rexX = 0; this.rexB = 0; }
    } else if (kind === 2 && is64) {
      // REX alone (the common 64-bit case) inline; REX followed by a legacy prefix takes the slow path.
      const rex = b;
      b = this.f8();
      if (PFX[b] === 0) {
        this.rex = rex;
        this.rexR = (rex & 4) << 1; this.rexX = (rex & 2) << 2; this.rexB = (rex & 1) << 3;
        if ((rex & 8) !== 0) os = 8;
      } else {
        if (this.rex !== 0) { this.rex = 0; this.rexR = 0; this.rexX = 0; this.rexB = 0; }
        b = this.prefixes(b, is64, os, as);
        os = this.os; as = this.as;
      }
    } else {
      if (this.rex !== 0) { this.rex = 0; this.rexR = 0; this.rexX = 0; this.rexB = 0; }
      b = this.prefixes(b, is64, os, as);
      os = this.os; as = this.as;
    }
    this.os = os; this.as = as;
    if (!this.lock || !execLocked(this, b)) this.exec1(b); // locked RMWs: atomic on guest RAM (exec/lock.ts)
  }

  /** Slow path of step(): legacy prefixes and REX. Returns the opcode byte; sets this.os / this.as. */
  private prefixes(b: number, is64: boolean, os: number, as: number): number {
      let rex = 0;
      this.pfxDirty = true;
      for (;;) {
        switch (b) {
          case 0x66: this.has66 = true; this.ssePfx = 0x66; rex = 0; b = this.f8(); continue;
          case 0x67: as = is64 ? 4 : as === 2 ? 4 : 2; rex = 0; b = this.f8(); continue;
          case 0xf2: case 0xf3: this.rep = b; this.ssePfx = b; rex = 0; b = this.f8(); continue;
          case 0xf0: this.lock = true; rex = 0; b = this.f8(); continue;
          case 0x26: case 0x2e: case 0x36: case 0x3e:
            if (!is64) this.segOvr = (b >> 3) & 3;
            rex = 0; b = this.f8(); continue;
          case 0x64: case 0x65: this.segOvr = b - 0x60; rex = 0; b = this.f8(); continue;
          default:
            if (is64 && (b & 0xf0) === 0x40) { rex = b; b = this.f8(); continue; }
        }
        break;
      }
      if (rex !== 0) {
        this.rex = rex;
        this.rexR = (rex & 4) << 1; this.rexX = (rex & 2) << 2; this.rexB = (rex & 1) << 3;
        if ((rex & 8) !== 0) os = 8;
        else if (this.has66) os = os === 2 ? 4 : 2;
      } else if (this.has66) os = os === 2 ? 4 : 2;
        this.os = os; this.as = as;
    if (this.lock) checkLock(this, b);
    return b;
  }

  private unknown(): never {
    const cpu = this.cpu, sys = this.sys;
    if (this.onUnknownOpcode !== null) {
      let bytes = "";
      const n = Math.max(this.ilen, 4);
      for (let i = 0; i < n && i < 15; i++) {
        let v: number;
        try {
          const lo = this.is64 ? this.linAdd(this.startLo, this.startHi, i) : (cpu.segBaseLo[CS] + ((this.startLo + i) & this.ipMask)) | 0;
          v = sys.fetch8(lo, this.is64 ? this.hi : 0);
        } catch { break; }
        bytes += (v & 0xff).toString(16).padStart(2, "0") + " ";
      }
      bytes = bytes.trim();
      const key = bytes.slice(0, 14);
      if (!this.seenUnknown.has(key)) {
        this.seenUnknown.add(key);
        const rip = (this.startHi >>> 0).toString(16).padStart(8, "0") + (this.startLo >>> 0).toString(16).padStart(8, "0");
        this.onUnknownOpcode(bytes, rip, cpu.mode);
      }
    }
    return this.ud();
  }

  /** Near-branch / stack operand size: 64 in long mode (16 with 66), else the operand size. */
  private stackOs(): number {
    return this.is64 ? (this.has66 ? 2 : 8) : this.os;
  }

  // ------------------------------------------------------------------------------------------------ one-byte map

  /** One-byte map, hot opcodes only (a small function TurboFan keeps optimized); the rest is in exec1Rare. */
  private exec1(b: number): void {
    const rlo = this.rlo, rhi = this.rhi;
    const mk = MODRM1[b];
    if (mk !== 0) this.decodeModrm(mk === 1 ? 0 : mk === 2 ? 1 : this.os === 2 ? 2 : 4);
    switch (b) {
      case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x05:
      case 0x08: case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d:
      case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15:
      case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d:
      case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25:
      case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d:
      case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35:
      case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d:
        execAluOp(this, b);
        break;
      case 0x0f: this.exec0f(this.f8()); return;
      case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
        this.pushReg(b);
        break;
      case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
        this.popReg(b);
        break;
      case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
      case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
        if (this.jcc8(b)) return;
        break;
      case 0x80: case 0x81: case 0x83: execGroup1(this, b); break;
      case 0x84: execTestEG(this, 1); break;
      case 0x85: execTestEG(this, this.os); break;
      case 0x88: this.writeE(1, this.getReg8(this.reg), 0); break;
      case 0x89: { // mov Ev, Gv (the memory stores call the system directly: no rdMem/wrMem level)
        const os = this.os;
        const r = this.reg;
        if (this.mod === 3) {
          const d = this.rm;
          if (os === 8) { rlo[d] = rlo[r]; rhi[d] = rhi[r]; }
          else if (os === 4) { rlo[d] = rlo[r]; rhi[d] = 0; }
          else rlo[d] = (rlo[d] & ~0xffff) | (rlo[r] & 0xffff);
        } else if (os === 8) this.sys.writeLin64(this.eaLo, this.eaHi, rlo[r], rhi[r]);
        else if (os === 4) this.sys.writeLin32(this.eaLo, this.eaHi, rlo[r]);
        else this.sys.writeLin16(this.eaLo, this.eaHi, rlo[r] & 0xffff);
        break;
      }
      case 0x63: { // movsxd (64-bit; arpl outside is not implemented)
        if (!this.is64) this.unknown();
        const v = this.readE(4);
        if (this.os === 8) { rlo[this.reg] = v; rhi[this.reg] = v >> 31; }
        else this.setReg(this.os, this.reg, v, 0);
        break;
      }
      case 0x8a: this.setReg8(this.reg, this.readE(1)); break;
      case 0x8b: { // mov Gv, Ev
        const os = this.os;
        const r = this.reg;
        if (this.mod === 3) {
          const m = this.rm;
          if (os === 8) { rlo[r] = rlo[m]; rhi[r] = rhi[m]; }
          else if (os === 4) { rlo[r] = rlo[m]; rhi[r] = 0; }
          else rlo[r] = (rlo[r] & ~0xffff) | (rlo[m] & 0xffff);
        } else {
          const sys = this.sys;
          if (os === 8) { const v = sys.readLin64(this.eaLo, this.eaHi) | 0; rhi[r] = sys.hiResult | 0; rlo[r] = v; }
          else if (os === 4) { rlo[r] = sys.readLin32(this.eaLo, this.eaHi) | 0; rhi[r] = 0; }
          else rlo[r] = (rlo[r] & ~0xffff) | (sys.readLin16(this.eaLo, this.eaHi) & 0xffff);
        }
        break;
      }
      case 0x8d: this.lea(); break;
      case 0xa8: setLogicFlags(this, 1, rlo[0] & this.f8() & 0xff, 0); break;
      case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
        const r = (b & 7) | this.rexB, os = this.os;
        if (os === 8) { const lo = this.f32(); rhi[r] = this.f32(); rlo[r] = lo; }
        else if (os === 4) { rlo[r] = this.f32(); rhi[r] = 0; }
        else this.setReg(2, r, this.f16(), 0);
        break;
      }
      case 0xc1: execGroup2(this, this.os, this.f8()); break;
      case 0xd1: execGroup2(this, this.os, 1); break;
      case 0xd3: execGroup2(this, this.os, rlo[1] & 0xff); break;
      case 0xc3: this.retNear(); return;
      case 0xc6: case 0xc7: { // mov Ev, imm
        const os = b === 0xc6 ? 1 : this.os;
        if (((this.modrm >> 3) & 7) !== 0) this.unknown();
        const v = this.fImm(os);
        this.writeE(os, v, this.hi);
        break;
      }
      case 0xe8: this.callRel(); return;
      case 0xe9: {
        const d = this.stackOs() === 2 ? (this.f16() << 16) >> 16 : this.f32();
        this.jumpRel(d);
        return;
      }
      case 0xeb: { const d = this.fs8(); this.jumpRel(d); return; }
      case 0xf6: case 0xf7: this.group3(b === 0xf6 ? 1 : this.os); break;
      case 0xff: if (this.group5()) return; break;
      default: this.exec1Rare(b); return;
    }
    this.advance();
  }

  /** One-byte map: every opcode (the cold ones reach here from exec1). */
  private exec1Rare(b: number): void {
    const rlo = this.rlo, rhi = this.rhi, cpu = this.cpu;
    switch (b) {
      // ---- ALU ----
      case 0x06: case 0x0e: case 0x16: case 0x1e: // push es/cs/ss/ds
        if (this.is64) this.unknown();
        this.push(this.os, cpu.segSel[b >> 3] & 0xffff, 0);
        break;
      case 0x07: case 0x17: case 0x1f: { // pop es/ss/ds
        if (this.is64) this.unknown();
        const v = this.peek(this.os, 0);
        loadSeg(this, b >> 3, v);
        this.adjSp(this.os);
        break;
      }
      case 0x27: case 0x2f: case 0x37: case 0x3f:
        if (this.is64) this.unknown();
        this.bcd(b);
        break;

      // ---- inc/dec r (legacy) ----
      case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
        const r = b & 7, os = this.os;
        const v = incDec(this, os, this.getReg(os, r), 0, b >= 0x48);
        this.setReg(os, r, v, 0);
        break;
      }

      // ---- push/pop r ----
      case 0x60: { // pusha
        if (this.is64) this.unknown();
        const os = this.os, sp = rlo[4];
        try {
          for (let r = 0; r < 8; r++) this.push(os, r === 4 ? sp : rlo[r], 0);
        } catch (e) { rlo[4] = sp; throw e; } // restartable after a stack fault
        break;
      }
      case 0x61: { // popa
        if (this.is64) this.unknown();
        const os = this.os;
        for (let i = 0; i < 8; i++) this.peek(os, i * os); // probe first: no register changes on a fault
        for (let r = 7; r >= 0; r--) {
          const v = this.peek(os, 0);
          this.adjSp(os);
          if (r !== 4) this.setReg(os, r, v, 0);
        }
        break;
      }
      case 0x68: { // push imm
        const os = this.stackOs();
        const v = os === 2 ? this.f16() : this.f32();
        this.push(os, v, v >> 31);
        break;
      }
      case 0x6a: {
        const v = this.fs8();
        this.push(this.stackOs(), v, v >> 31);
        break;
      }
      case 0x69: case 0x6b: { // imul Gv, Ev, imm
        const os = this.os;
        this.decodeModrm(b === 0x6b ? 1 : os === 2 ? 2 : 4);
        const a = this.readE(os), ah = this.hi;
        let m: number;
        if (b === 0x6b) m = this.fs8(); else m = os === 2 ? (this.f16() << 16) >> 16 : this.f32();
        const r = imulTrunc(this, os, a, ah, m, m >> 31);
        this.setReg(os, this.reg, r, this.hi);
        break;
      }
      case 0x6c: case 0x6d: case 0x6e: case 0x6f:
      case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
        if (!execString(this, b)) return; // rep not finished: run again
        break;

      // ---- jcc rel8 ----
      case 0x82: if (this.is64) this.unknown(); this.decodeModrm(1); execGroup1(this, b); break;
      case 0x86: case 0x87: { // xchg E, G
        if (execLocked(this, b)) return; // with memory: implicitly locked, atomic on guest RAM (exec/lock.ts)
        const os = b === 0x86 ? 1 : this.os;
        this.decodeModrm(0);
        const a = readRmw(this, os), ah = this.hi;
        const g = this.getReg(os, this.reg), gh = this.hi;
        this.writeE(os, g, gh);
        this.setReg(os, this.reg, a, ah);
        break;
      }
      case 0x8c: { // mov Ev, Sreg
        this.decodeModrm(0);
        const s = this.reg & 7;
        if (s > 5) this.unknown();
        const v = cpu.segSel[s] & 0xffff;
        if (this.mod === 3) this.setReg(this.os, this.rm, v, 0); else this.writeE(2, v, 0);
        break;
      }
      case 0x8e: { // mov Sreg, Ew
        this.decodeModrm(0);
        loadSeg(this, this.reg & 7, this.readE(2));
        break;
      }
      case 0x8f: { // pop Ev
        const os = this.stackOs();
        const v = this.peek(os, 0), h = this.hi;
        // The address is computed with RSP already incremented.
        this.adjSp(os);
        try {
          this.decodeModrm(0);
          if (((this.modrm >> 3) & 7) !== 0) this.unknown();
          this.writeE(os, v, h);
        } catch (e) {
          this.adjSp(-os);
          throw e;
        }
        break;
      }
      case 0x90:
        if (this.rexB !== 0) this.xchgAcc(8 | 0);
        break; // nop / pause
      case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
        this.xchgAcc((b & 7) | this.rexB);
        break;
      case 0x98: { // cbw/cwde/cdqe
        const os = this.os;
        if (os === 8) rhi[0] = rlo[0] >> 31;
        else if (os === 4) { rlo[0] = (rlo[0] << 16) >> 16; rhi[0] = 0; }
        else rlo[0] = (rlo[0] & ~0xffff) | (((rlo[0] << 24) >> 24) & 0xffff);
        break;
      }
      case 0x99: { // cwd/cdq/cqo
        const os = this.os;
        if (os === 8) { const s = rhi[0] >> 31; rlo[2] = s; rhi[2] = s; }
        else if (os === 4) { rlo[2] = rlo[0] >> 31; rhi[2] = 0; }
        else rlo[2] = (rlo[2] & ~0xffff) | ((((rlo[0] << 16) >> 31)) & 0xffff);
        break;
      }
      case 0x9a: { // call far ptr16:16/32
        if (this.is64) this.unknown();
        const off = this.os === 2 ? this.f16() : this.f32();
        const sel = this.f16();
        this.advance();
        this.sys.farCall(sel, off, 0, this.os);
        return;
      }
      case 0x9b: execFwait(this); break;
      case 0x9c: execPushf(this); break;
      case 0x9d: execPopf(this); break;
      case 0x9e: { // sahf
        const f = this.getArith();
        const ah = (rlo[0] >> 8) & 0xd5;
        this.lfOp = LF_NONE; this.lfFlags = (f & ~0xd5) | ah;
        break;
      }
      case 0x9f: { // lahf
        const f = (this.getArith() & 0xd5) | 2;
        rlo[0] = (rlo[0] & ~0xff00) | (f << 8);
        break;
      }
      case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // mov al/ax, moffs
        const os = (b & 1) === 0 ? 1 : this.os;
        if (this.as === 8) { this.offLo = this.f32(); this.offHi = this.f32(); }
        else if (this.as === 4) { this.offLo = this.f32(); this.offHi = 0; }
        else { this.offLo = this.f16(); this.offHi = 0; }
        this.segment(DS);
        if (b < 0xa2) { const v = this.rdMem(os, this.eaLo, this.eaHi); this.setReg(os, 0, v, this.hi); }
        else this.wrMem(os, this.eaLo, this.eaHi, rlo[0], rhi[0]);
        break;
      }
      case 0xa9: {
        const os = this.os;
        const v = this.fImm(os), h = this.hi;
        const a = this.getReg(os, 0), ah = this.hi;
        setLogicFlags(this, os, a & v, ah & h);
        break;
      }
      case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
        this.setReg8((b & 7) | this.rexB, this.f8());
        break;
      case 0xc0: {
        const os = b === 0xc0 ? 1 : this.os;
        this.decodeModrm(1);
        execGroup2(this, os, this.f8());
        break;
      }
      case 0xd0: this.decodeModrm(0); execGroup2(this, b === 0xd0 ? 1 : this.os, 1); break;
      case 0xd2: this.decodeModrm(0); execGroup2(this, b === 0xd2 ? 1 : this.os, rlo[1] & 0xff); break;
      case 0xc2: { // ret near
        const n = b === 0xc2 ? this.f16() : 0;
        const os = this.stackOs();
        const v = this.peek(os, 0), h = this.hi;
        this.jumpNear(v, h, os);
        this.adjSp(os + n);
        return;
      }
      case 0xc4: case 0xc5: // les / lds (VEX in 64-bit mode: not advertised)
        if (this.is64) this.unknown();
        this.decodeModrm(0);
        if (this.mod === 3) this.unknown();
        execLoadFar(this, b === 0xc4 ? ES : DS);
        break;
      case 0xc8: this.enter(); break;
      case 0xc9: { // leave
        const ss = this.stackSize();
        const spLo = rlo[4], spHi = rhi[4];
        if (ss === 8) { rlo[4] = rlo[5]; rhi[4] = rhi[5]; }
        else if (ss === 4) rlo[4] = rlo[5];
        else rlo[4] = (rlo[4] & ~0xffff) | (rlo[5] & 0xffff);
        const os = this.stackOs();
        let v: number, h: number;
        try {
          v = this.peek(os, 0); h = this.hi;
        } catch (e) { rlo[4] = spLo; rhi[4] = spHi; throw e; } // restartable after a stack fault
        this.adjSp(os);
        this.setReg(os, 5, v, h);
        break;
      }
      case 0xca: case 0xcb: { // retf
        const n = b === 0xca ? this.f16() : 0;
        this.advance();
        this.sys.farReturn(this.os, n);
        return;
      }
      case 0xcc: this.advance(); this.sys.deliverInterrupt(3, "software", false, 0); return;
      case 0xcd: { const v = this.f8(); this.advance(); this.sys.deliverInterrupt(v, "software", false, 0); return; }
      case 0xce:
        if (this.is64) this.unknown();
        if (this.of() !== 0) { this.advance(); this.sys.deliverInterrupt(4, "software", false, 0); return; }
        break;
      case 0xcf: this.advance(); this.sys.iret(this.os); return;
      case 0xd4: { // aam
        if (this.is64) this.unknown();
        const base = this.f8();
        if (base === 0) this.fault(0, false, 0);
        const al = rlo[0] & 0xff;
        const r = al % base;
        rlo[0] = (rlo[0] & ~0xffff) | (Math.floor(al / base) << 8) | r;
        setLogicFlags(this, 1, r, 0);
        break;
      }
      case 0xd5: { // aad
        if (this.is64) this.unknown();
        const base = this.f8();
        const r = ((rlo[0] & 0xff) + ((rlo[0] >> 8) & 0xff) * base) & 0xff;
        rlo[0] = (rlo[0] & ~0xffff) | r;
        setLogicFlags(this, 1, r, 0);
        break;
      }
      case 0xd6: { // salc
        if (this.is64) this.unknown();
        rlo[0] = (rlo[0] & ~0xff) | (this.cf() ? 0xff : 0);
        break;
      }
      case 0xd7: { // xlat
        const as = this.as;
        const al = rlo[0] & 0xff;
        if (as === 8) { const lo = this.linAdd(rlo[3], rhi[3], al); this.offLo = lo; this.offHi = this.hi; }
        else { this.offLo = as === 4 ? (rlo[3] + al) | 0 : (rlo[3] + al) & 0xffff; this.offHi = 0; }
        this.segment(DS);
        rlo[0] = (rlo[0] & ~0xff) | this.rdMem(1, this.eaLo, this.eaHi);
        break;
      }
      case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
        this.decodeModrm(0);
        if (!execX87(this, b)) this.unknown();
        break;
      case 0xe0: case 0xe1: case 0xe2: { // loopne / loope / loop
        const d = this.fs8();
        const as = this.as;
        let nz: boolean;
        if (as === 8) {
          const lo = rlo[1];
          rlo[1] = (lo - 1) | 0;
          if (lo === 0) rhi[1] = (rhi[1] - 1) | 0;
          nz = (rlo[1] | rhi[1]) !== 0;
        } else if (as === 4) { rlo[1] = (rlo[1] - 1) | 0; if (this.is64) rhi[1] = 0; nz = rlo[1] !== 0; }
        else { rlo[1] = (rlo[1] & ~0xffff) | ((rlo[1] - 1) & 0xffff); nz = (rlo[1] & 0xffff) !== 0; }
        let take = nz;
        if (b === 0xe0) take = nz && this.zf() === 0;
        else if (b === 0xe1) take = nz && this.zf() !== 0;
        if (take) { this.jumpRel(d); return; }
        break;
      }
      case 0xe3: { // jcxz / jecxz / jrcxz
        const d = this.fs8();
        const as = this.as;
        const z = as === 8 ? (rlo[1] | rhi[1]) === 0 : as === 4 ? rlo[1] === 0 : (rlo[1] & 0xffff) === 0;
        if (z) { this.jumpRel(d); return; }
        break;
      }
      case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed: case 0xee: case 0xef:
        execInOut(this, b);
        break;
      case 0xea: { // jmp far ptr
        if (this.is64) this.unknown();
        const off = this.os === 2 ? this.f16() : this.f32();
        const sel = this.f16();
        this.advance();
        this.sys.farJump(sel, off, 0);
        return;
      }
      case 0xf1: this.advance(); this.sys.deliverInterrupt(1, "exception", false, 0); return; // int1/icebp: #DB trap, no DPL check
      case 0xf4: // hlt
        needCpl0(this);
        this.advance();
        this.sys.hlt();
        return;
      case 0xf5: this.setCF(this.cf() ^ 1); break;
      case 0xf8: this.setCF(0); break;
      case 0xf9: this.setCF(1); break;
      case 0xfa: execCliSti(this, false); break;
      case 0xfb: execCliSti(this, true); break;
      case 0xfc: cpu.eflagsRest &= ~DF; break;
      case 0xfd: cpu.eflagsRest |= DF; break;
      case 0xfe: { // inc/dec Eb
        this.decodeModrm(0);
        const op = (this.modrm >> 3) & 7;
        if (op > 1) this.unknown();
        this.writeE(1, incDec(this, 1, readRmw(this, 1), 0, op === 1), 0);
        break;
      }
      default:
        this.unknown();
    }
    this.advance();
  }

  // Hot one-byte opcodes with their own small methods: each calls its helpers (push, peek, cond, jumpRel...) on
  // every invocation, so TurboFan inlines them here even with its default heuristics (the block JIT's dispatcher
  // runs with those), where a call site in one case of exec1's switch would stay a call.

  /** 50-57 push r. */
  private pushReg(b: number): void {
    const rlo = this.rlo, rhi = this.rhi;
    const r = (b & 7) | this.rexB;
    if (this.is64 && !this.has66) { this.push(8, rlo[r], rhi[r]); return; }
    const os = this.stackOs();
    this.push(os, os === 2 ? rlo[r] & 0xffff : rlo[r], 0);
  }

  /** 58-5f pop r. */
  private popReg(b: number): void {
    const r = (b & 7) | this.rexB, os = this.stackOs();
    const v = this.peek(os, 0), h = this.hi;
    this.adjSp(os);
    this.setReg(os, r, v, h);
  }

  /** 70-7f jcc rel8. Returns true when taken (RIP set). */
  private jcc8(b: number): boolean {
    const d = this.fs8();
    if (!this.cond(b & 15)) return false;
    this.jumpRel(d);
    return true;
  }

  /** 0f 80-8f jcc rel16/32. Returns true when taken (RIP set). */
  private jcc32(b: number): boolean {
    const d = this.stackOs() === 2 ? (this.f16() << 16) >> 16 : this.f32();
    if (!this.cond(b & 15)) return false;
    this.jumpRel(d);
    return true;
  }

  /** 8d lea: the offset only (no segmentation, no canonical or limit check). */
  private lea(): void {
    this.noSeg = true;
    this.decodeModrm(0);
    this.noSeg = false;
    if (this.mod === 3) this.unknown();
    const os = this.os;
    if (os === 8) { this.rlo[this.reg] = this.offLo; this.rhi[this.reg] = this.offHi; }
    else this.setReg(os, this.reg, os === 2 ? this.offLo & 0xffff : this.offLo, 0);
  }

  /** 0f 1f (and the other hint/nop forms): decodes the ModRM operand without touching memory. */
  private nopModrm(): void {
    this.noSeg = true;
    this.decodeModrm(0);
    this.noSeg = false;
  }

  /** c3 ret near. */
  private retNear(): void {
    const os = this.stackOs();
    const v = this.peek(os, 0), h = this.hi;
    this.jumpNear(v, h, os);
    this.adjSp(os);
  }

  /** e8 call rel16/32. */
  private callRel(): void {
    const os = this.stackOs();
    const d = os === 2 ? (this.f16() << 16) >> 16 : this.f32();
    const lo = this.nextRip(), hi = this.hi;
    if (this.is64) { // check the target before pushing, so a #GP leaves RSP alone
      const s = (lo >>> 0) + d;
      const th = s > 0xffffffff ? (hi + 1) | 0 : s < 0 ? (hi - 1) | 0 : hi;
      if (((th << 16) >> 16) !== th) this.gp0();
    }
    this.push(os, lo, hi);
    this.jumpRel(d);
  }

  private xchgAcc(r: number): void {
    const os = this.os, rlo = this.rlo, rhi = this.rhi;
    const a = this.getReg(os, 0), ah = this.hi;
    const v = this.getReg(os, r), vh = this.hi;
    this.setReg(os, 0, v, vh);
    this.setReg(os, r, a, ah);
    void rlo; void rhi;
  }

  private group3(os: number): void {
    const op0 = this.f8peekReg();
    this.decodeModrm(op0 < 2 ? (os === 1 ? 1 : os === 2 ? 2 : 4) : 0);
    const op = (this.modrm >> 3) & 7;
    switch (op) {
      case 0: case 1: { // test E, imm
        const a = this.readE(os), ah = this.hi;
        const v = this.fImm(os), vh = this.hi;
        setLogicFlags(this, os, a & v, ah & vh);
        return;
      }
      case 2: execNotNeg(this, os, false); return;
      case 3: execNotNeg(this, os, true); return;
      case 4: case 5: { const v = this.readE(os); execMul1(this, os, v, this.hi, op === 5); return; }
      default: { const v = this.readE(os); execDiv(this, os, v, this.hi, op === 7); return; }
    }
  }

  /** Peeks the reg field of the upcoming ModRM byte (to size the immediate for RIP-relative forms). */
  private f8peekReg(): number {
    const n = this.fPtr;
    const m = this.f8();
    this.fPtr = n;
    return (m >> 3) & 7;
  }

  /** ff group (ModRM decoded by exec1). Returns true when RIP was set. */
  private group5(): boolean {
    const op = (this.modrm >> 3) & 7;
    switch (op) {
      case 0: case 1: {
        const os = this.os;
        const v = readRmw(this, os), h = this.hi;
        const r = incDec(this, os, v, h, op === 1);
        this.writeE(os, r, this.hi);
        return false;
      }
      case 2: { // call near indirect
        const os = this.stackOs();
        const t = this.readE(os), th = os === 8 ? this.hi : 0;
        if (os === 8 && ((th << 16) >> 16) !== th) this.gp0(); // before the push: RSP unchanged on #GP
        const lo = this.nextRip(), hi = this.hi;
        this.push(os, lo, hi);
        this.jumpNear(t, th, os);
        return true;
      }
      case 3: { // call far indirect
        const off = readFarPtr(this), offHi = this.hi;
        this.advance();
        this.sys.farCall(farSel, off, offHi, this.os);
        return true;
      }
      case 4: { // jmp near indirect
        const os = this.stackOs();
        const t = this.readE(os), th = os === 8 ? this.hi : 0;
        this.jumpNear(t, th, os);
        return true;
      }
      case 5: {
        const off = readFarPtr(this), offHi = this.hi;
        this.advance();
        this.sys.farJump(farSel, off, offHi);
        return true;
      }
      case 6: { // push Ev
        const os = this.stackOs();
        const v = this.readE(os), h = this.hi;
        this.push(os, v, h);
        return false;
      }
      default: return this.unknown();
    }
  }

  private enter(): void {
    const rlo = this.rlo, rhi = this.rhi;
    const spLo = rlo[4], spHi = rhi[4];
    try {
      this.enterBody();
    } catch (e) { rlo[4] = spLo; rhi[4] = spHi; throw e; } // restartable after a stack fault
  }

  private enterBody(): void {
    const size = this.f16();
    const level = this.f8() & 31;
    const os = this.stackOs();
    const rlo = this.rlo, rhi = this.rhi;
    this.push(os, rlo[5], rhi[5]);
    const fLo = rlo[4], fHi = rhi[4];
    if (level > 0) {
      let bpLo = rlo[5], bpHi = rhi[5];
      for (let i = 1; i < level; i++) {
        if (this.is64) { const s = (bpLo >>> 0) - os; bpHi = s < 0 ? (bpHi - 1) | 0 : bpHi; bpLo = s | 0; }
        else bpLo = this.stackSize() === 2 ? (bpLo & ~0xffff) | ((bpLo - os) & 0xffff) : (bpLo - os) | 0;
        const a = this.stackSize() === 2 ? bpLo & 0xffff : bpLo;
        const lo = this.linear(SS, a, this.is64 ? bpHi : 0), hi = this.hi;
        const v = this.rdMem(os, lo, hi), vh = this.hi;
        this.push(os, v, vh);
      }
      this.push(os, fLo, fHi);
    }
    const ss = this.stackSize();
    if (ss === 8) { rlo[5] = fLo; rhi[5] = fHi; }
    else if (ss === 4) rlo[5] = fLo;
    else rlo[5] = (rlo[5] & ~0xffff) | (fLo & 0xffff);
    this.adjSp(-size);
  }

  /** daa / das / aaa / aas. */
  private bcd(b: number): void {
    const rlo = this.rlo;
    let al = rlo[0] & 0xff;
    const cf = this.cf(), af = this.af();
    let ncf = 0, naf = 0;
    switch (b) {
      case 0x27: case 0x2f: { // daa / das
        const sub = b === 0x2f;
        const old = al;
        if ((al & 0xf) > 9 || af) { al = sub ? al - 6 : al + 6; naf = 1; ncf = cf | ((sub ? al < 0 : al > 0xff) ? 1 : 0); al &= 0xff; }
        if (old > 0x99 || cf) { al = (sub ? al - 0x60 : al + 0x60) & 0xff; ncf = 1; }
        rlo[0] = (rlo[0] & ~0xff) | al;
        const f = this.getArith();
        setLogicFlags(this, 1, al, 0);
        const z = (this.getArith() & (ZF | 0x80 | 4));
        this.lfOp = LF_NONE; this.lfFlags = (f & 0x800) | z | ncf | (naf ? AF : 0);
        return;
      }
      default: { // aaa / aas
        const sub = b === 0x3f;
        let ax = rlo[0] & 0xffff;
        if ((al & 0xf) > 9 || af) {
          ax = sub ? ((ax - 6) & 0xff) | ((((ax >> 8) - 1) & 0xff) << 8) : (ax + 0x106) & 0xffff;
          ncf = 1; naf = 1;
        }
        ax = (ax & 0xff0f);
        rlo[0] = (rlo[0] & ~0xffff) | ax;
        const f = this.getArith();
        this.lfOp = LF_NONE; this.lfFlags = (f & ~(CF | AF)) | ncf | (naf ? AF : 0);
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------------------------ 0f map

  /** 0f map, hot opcodes only (small enough to stay optimized with its helpers inlined); the rest is in
   * exec0fRare. */
  private exec0f(b: number): void {
    const rhi = this.rhi;
    if (MODRM0F[b] !== 0) this.decodeModrm(0);
    switch (b) {
      case 0x1f: this.nopModrm(); break; // multi-byte nop: no access, no fault
      case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: { // cmovcc
        const os = this.os;
        const v = this.readE(os), h = this.hi;
        if (this.cond(b & 15)) this.setReg(os, this.reg, v, h);
        else if (os === 4) rhi[this.reg] = 0;
        break;
      }
      case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
      case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f:
        if (this.jcc32(b)) return;
        break;
      case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
      case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f:
        this.writeE(1, this.cond(b & 15) ? 1 : 0, 0);
        break;
      case 0xaf: {
        const os = this.os;
        const v = this.readE(os), h = this.hi;
        const a = this.getReg(os, this.reg), ah = this.hi;
        this.setReg(os, this.reg, imulTrunc(this, os, a, ah, v, h), this.hi);
        break;
      }
      case 0xb6: case 0xb7: case 0xbe: case 0xbf: { // movzx / movsx
        const os = this.os;
        const src = (b & 1) === 0 ? 1 : 2;
        let v = this.readE(src);
        let h = 0;
        if (b >= 0xbe) { v = src === 1 ? (v << 24) >> 24 : (v << 16) >> 16; h = v >> 31; }
        this.setReg(os, this.reg, os === 2 ? v & 0xffff : v, h);
        break;
      }
      default: this.exec0fRare(b); return;
    }
    this.advance();
  }

  /** 0f map: every opcode (the cold ones reach here from exec0f). */
  private exec0fRare(b: number): void {
    const rlo = this.rlo, rhi = this.rhi, cpu = this.cpu, sys = this.sys;
    switch (b) {
      case 0x00: this.decodeModrm(0); execGroup6(this); break;
      case 0x01: {
        this.decodeModrm(0);
        const r = execGroup7(this, this.features);
        if (r === 1) return;
        if (r === 2) this.unknown();
        break;
      }
      case 0x02: case 0x03: this.decodeModrm(0); execLarLsl(this, b === 0x03); break;
      case 0x05: this.advance(); sys.syscall(); return;
      case 0x06: needCpl0(this); sys.writeCr(0, cpu.cr0 & ~8, 0); break; // clts
      case 0x07: this.advance(); sys.sysret(this.os); return;
      case 0x08: case 0x09: needCpl0(this); break; // invd / wbinvd
      case 0x0b: case 0xb9: case 0xff: return this.ud(); // ud2 / ud1 / ud0
      case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e:
        this.noSeg = true; // prefetch hints, multi-byte nops, endbr64: no access, no fault
        this.decodeModrm(0);
        this.noSeg = false;
        break;
      case 0x20: case 0x21: case 0x22: case 0x23: execMovCrDr(this, b); break;
      case 0x30: { needCpl0(this); sys.wrmsr(rlo[1], rlo[0], rlo[2]); break; }
      case 0x31: {
        const [lo, hi] = sys.rdtsc();
        rlo[0] = lo; rhi[0] = 0; rlo[2] = hi; rhi[2] = 0;
        break;
      }
      case 0x32: {
        needCpl0(this);
        const [lo, hi] = sys.rdmsr(rlo[1]);
        rlo[0] = lo; rhi[0] = 0; rlo[2] = hi; rhi[2] = 0;
        break;
      }
      case 0x33: // rdpmc: no performance counters are modelled; reads as 0 (CPL 0 or CR4.PCE)
        if (cpu.cpl !== 0 && (cpu.cr4 & 0x100) === 0) this.gp0();
        rlo[0] = 0; rhi[0] = 0; rlo[2] = 0; rhi[2] = 0;
        break;
      case 0x34: this.advance(); sys.sysenter(); return;
      case 0x35: this.advance(); sys.sysexit(this.os); return;
      case 0xa0: case 0xa8: { // push fs/gs
        const os = this.stackOs();
        this.push(os, cpu.segSel[b === 0xa0 ? FS : GS] & 0xffff, 0);
        break;
      }
      case 0xa1: case 0xa9: { // pop fs/gs
        const os = this.stackOs();
        const v = this.peek(os, 0);
        loadSeg(this, b === 0xa1 ? FS : GS, v);
        this.adjSp(os);
        break;
      }
      case 0xa2: {
        const [a, bx, c, d] = sys.cpuid(rlo[0], rlo[1]);
        rlo[0] = a; rlo[3] = bx; rlo[1] = c; rlo[2] = d;
        rhi[0] = 0; rhi[3] = 0; rhi[1] = 0; rhi[2] = 0;
        break;
      }
      case 0xa3: this.decodeModrm(0); execBt(this, this.os, 0, true, 0); break;
      case 0xab: this.decodeModrm(0); execBt(this, this.os, 1, true, 0); break;
      case 0xb3: this.decodeModrm(0); execBt(this, this.os, 2, true, 0); break;
      case 0xbb: this.decodeModrm(0); execBt(this, this.os, 3, true, 0); break;
      case 0xba: {
        this.decodeModrm(1);
        const op = (this.modrm >> 3) & 7;
        const imm = this.f8();
        if (op < 4) this.unknown();
        execBt(this, this.os, op - 4, false, imm);
        break;
      }
      case 0xa4: case 0xac: this.decodeModrm(1); execShxd(this, this.os, this.f8(), b === 0xa4); break;
      case 0xa5: case 0xad: this.decodeModrm(0); execShxd(this, this.os, rlo[1] & 0xff, b === 0xa5); break;
      case 0xae:
        this.decodeModrm(0);
        if (!execGroup15(this)) this.unknown();
        break;
      case 0xb0: case 0xb1: this.cmpxchg(b === 0xb0 ? 1 : this.os); break;
      case 0xb2: this.decodeModrm(0); execLoadFar(this, SS); break;
      case 0xb4: this.decodeModrm(0); execLoadFar(this, FS); break;
      case 0xb5: this.decodeModrm(0); execLoadFar(this, GS); break;
      case 0xb8: // popcnt (f3) when advertised
        if (this.rep !== 0xf3 || !this.features.popcnt) this.unknown();
        this.decodeModrm(0); execPopcnt(this, this.os);
        break;
      case 0xbc: case 0xbd: this.decodeModrm(0); execBsx(this, this.os, b === 0xbd); break; // also tzcnt/lzcnt
      case 0xc0: case 0xc1: { // xadd
        const os = b === 0xc0 ? 1 : this.os;
        this.decodeModrm(0);
        const d = readRmw(this, os), dh = this.hi;
        const s = this.getReg(os, this.reg), sh = this.hi;
        const r = alu(this, ALU_ADD, os, d, dh, s, sh), rh = this.hi;
        this.writeE(os, r, rh);
        this.setReg(os, this.reg, d, dh);
        if (this.mod === 3 && this.rm === this.reg) this.setReg(os, this.reg, r, rh);
        break;
      }
      case 0xc7: this.group9(); break;
      case 0x77: // emms (no ModRM)
        if (this.ssePfx !== 0 || !execSse(this, 0x77)) this.unknown();
        break;
      case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf:
        execBswap(this, (b & 7) | this.rexB, this.os);
        break;
      default:
        if ((b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || (b >= 0x50 && b <= 0x7f) ||
          (b >= 0xc2 && b <= 0xc6) || b >= 0xd0) {
          this.decodeModrm(sseImmBytes(b));
          if (!execSse(this, b)) this.unknown();
          break;
        }
        this.unknown();
    }
    this.advance();
  }

  private cmpxchg(os: number): void {
    this.decodeModrm(0);
    const d = readRmw(this, os), dh = this.hi;
    const a = this.getReg(os, 0), ah = this.hi;
    alu(this, ALU_SUB, os, a, ah, d, dh);
    if (this.zf() !== 0) {
      const s = this.getReg(os, this.reg), sh = this.hi;
      this.writeE(os, s, sh);
    } else {
      if (this.mod !== 3) this.writeE(os, d, dh);
      this.setReg(os, 0, d, dh);
    }
  }

  /** 0f c7: cmpxchg8b / cmpxchg16b (/1). */
  private group9(): void {
    this.decodeModrm(0);
    const op = (this.modrm >> 3) & 7;
    if (op !== 1 || this.mod === 3) this.unknown();
    const rlo = this.rlo, rhi = this.rhi;
    const lo = this.eaLo, hi = this.eaHi;
    const f = this.getArith() & ~ZF;
    if (this.os === 8) {
      if (!this.features.cx16) this.unknown();
      if ((lo & 15) !== 0) this.gp0();
      probeWrite(this, 16, lo, hi);
      const m0 = this.rdMem(8, lo, hi), m0h = this.hi;
      const l2 = this.linAdd(lo, hi, 8), h2 = this.hi;
      const m1 = this.rdMem(8, l2, h2), m1h = this.hi;
      if (m0 === rlo[0] && m0h === rhi[0] && m1 === rlo[2] && m1h === rhi[2]) {
        this.wrMem(8, lo, hi, rlo[3], rhi[3]);
        this.wrMem(8, l2, h2, rlo[1], rhi[1]);
        this.lfOp = LF_NONE; this.lfFlags = f | ZF;
      } else {
        this.wrMem(8, lo, hi, m0, m0h);
        this.wrMem(8, l2, h2, m1, m1h);
        rlo[0] = m0; rhi[0] = m0h; rlo[2] = m1; rhi[2] = m1h;
        this.lfOp = LF_NONE; this.lfFlags = f;
      }
      return;
    }
    probeWrite(this, 8, lo, hi);
    const m = this.rdMem(8, lo, hi), mh = this.hi;
    if (m === rlo[0] && mh === rlo[2]) {
      this.wrMem(8, lo, hi, rlo[3], rlo[1]);
      this.lfOp = LF_NONE; this.lfFlags = f | ZF;
    } else {
      this.wrMem(8, lo, hi, m, mh);
      rlo[0] = m; rhi[0] = 0; rlo[2] = mh; rhi[2] = 0;
      this.lfOp = LF_NONE; this.lfFlags = f;
    }
  }
}

