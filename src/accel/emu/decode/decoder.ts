// Instruction decoding state and operand access for the emu interpreter: instruction fetch (with a cached
// code page), prefixes, ModRM/SIB effective addresses (16/32/64-bit, RIP-relative), segmentation to linear
// addresses, register/memory operand helpers and the stack. Everything works on int32 halves; nothing here
// allocates. 8/16-bit operand values are unsigned (masked); 32-bit values are int32; 64-bit values are
// (lo, hi) with the high half returned through `this.hi`.

import { type CpuState, type EmuSystem, FAULT } from "../cpu_state.ts";
import { LazyFlags } from "../flags.ts";

const EMPTY = new Uint8Array(0);

/** Segment indices as plain numbers (hot path: no enum objects). */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
/** Mode numbers (cpu_state.ts Mode). */
export const MODE_REAL = 0, MODE_LONG64 = 5;

export class CoreBase extends LazyFlags {
  readonly rlo: Int32Array;
  readonly rhi: Int32Array;

  // ---- per-instruction decode state ----
  startLo = 0; startHi = 0;
  /** Bytes consumed so far by the current instruction. */
  get ilen(): number { return this.fPtr - this.fStart; }
  is64 = false;
  /** 0xffff for 16-bit code segments, -1 (32 bits) otherwise; unused in 64-bit mode. */
  ipMask = -1;
  /** Operand size / address size in bytes. */
  os = 4;
  as = 4;
  rex = 0; rexR = 0; rexX = 0; rexB = 0;
  segOvr = -1;
  /** 0 = none, 0xf3 = rep/repe, 0xf2 = repne. */
  rep = 0;
  lock = false;
  /** The last of 66/F2/F3 seen (SSE mandatory prefix selection), 0 if none. */
  ssePfx = 0;
  has66 = false;
  modrm = 0; mod = 0; reg = 0; rm = 0;
  /** Effective address: offset (before segmentation) and linear address. */
  offLo = 0; offHi = 0;
  eaLo = 0; eaHi = 0;
  eaSeg = DS;
  /** Set by lea: compute the offset only (no segmentation, no canonical/limit faults). */
  noSeg = false;
  /** Second return value (high halves). */
  hi = 0;

  // ---- instruction fetch page cache ----
  fRam: Uint8Array = EMPTY;
  /** RAM offset of the cached code page, -1 when not cached. */
  fBase = -1;
  /** fRam index of the next instruction byte / of the instruction start / of the end of the cached page.
   * When the page is not cached, fStart = fLimit = 0 and fPtr just counts bytes (every fetch takes the slow
   * path). */
  fPtr = 0;
  fStart = 0;
  fLimit = 0;
  fPageLo = 1; fPageHi = 0; fGen = -1; fCpl = -1;

  constructor(cpu: CpuState, public sys: EmuSystem) {
    super(cpu);
    this.rlo = cpu.rlo;
    this.rhi = cpu.rhi;
  }

  // ------------------------------------------------------------------------------------------------ faults

  fault(vector: number, hasError: boolean, code: number): never {
    const c = this.cpu;
    c.faultVector = vector;
    c.faultHasError = hasError;
    c.faultErrorCode = code;
    throw FAULT;
  }
  ud(): never { return this.fault(6, false, 0); }
  gp0(): never { return this.fault(13, true, 0); }

  // ------------------------------------------------------------------------------------------------ fetch

  /** Prepares fetching at the current RIP (called at every instruction start). */
  beginFetch(): void {
    const cpu = this.cpu;
    let lo: number, hi: number;
    if (this.is64) { lo = cpu.ripLo; hi = cpu.ripHi; }
    else { lo = (cpu.segBaseLo[CS] + cpu.ripLo) | 0; hi = 0; }
    this.startLo = cpu.ripLo; this.startHi = cpu.ripHi;
    const page = lo & ~0xfff;
    if (page !== this.fPageLo || hi !== this.fPageHi || cpu.tlbGen !== this.fGen || cpu.cpl !== this.fCpl) {
      this.refillFetch(page, hi);
    }
    const base = this.fBase;
    if (base >= 0) { const st = base + (lo & 0xfff); this.fStart = st; this.fPtr = st; this.fLimit = base + 4096; }
    else { this.fStart = 0; this.fPtr = 0; this.fLimit = 0; }
  }

  refillFetch(page: number, hi: number): void {
    const sys = this.sys;
    this.fPageLo = page; this.fPageHi = hi; this.fGen = this.cpu.tlbGen; this.fCpl = this.cpu.cpl;
    this.fBase = -1;
    if (sys.fetchPage !== undefined && sys.ram !== undefined) {
      this.fRam = sys.ram;
      try {
        // | 0: the MMU may return an integral double (from a page walk); one stored double turns the field (and
        // fPtr/fStart/fLimit, computed from it) into boxed doubles for good, and every fetch into float math.
        this.fBase = sys.fetchPage(page, hi) | 0;
      } catch (e) {
        this.fPageLo = 1; // not cached; the slow path raises the fault on the exact byte
        if (e !== FAULT) throw e;
      }
    }
  }

  /** Drops the cached code page (after writes that may change the mapping). */
  flushFetch(): void { this.fPageLo = 1; }

  private f8slow(): number {
    const n = this.ilen;
    if (n >= 15) this.gp0();
    let lo: number, hi = 0;
    if (this.is64) {
      const s = (this.startLo >>> 0) + n;
      lo = s | 0; hi = s > 0xffffffff ? (this.startHi + 1) | 0 : this.startHi;
    } else {
      lo = (this.cpu.segBaseLo[CS] + ((this.startLo + n) & this.ipMask)) | 0;
    }
    const b = this.sys.fetch8(lo, hi);
    this.fPtr++;
    return b & 0xff;
  }

  f8(): number {
    const p = this.fPtr;
    if (p < this.fLimit) { this.fPtr = p + 1; return this.fRam[p]; }
    return this.f8slow();
  }
  /** Sign-extended imm8. */
  fs8(): number { return (this.f8() << 24) >> 24; }
  f16(): number {
    const p = this.fPtr;
    if (p + 2 <= this.fLimit) { const r = this.fRam; this.fPtr = p + 2; return r[p] | (r[p + 1] << 8); }
    const a = this.f8slowOrFast();
    return a | (this.f8slowOrFast() << 8);
  }
  /** imm32 as int32. */
  f32(): number {
    const p = this.fPtr;
    if (p + 4 <= this.fLimit) {
      const r = this.fRam;
      this.fPtr = p + 4;
      return r[p] | (r[p + 1] << 8) | (r[p + 2] << 16) | (r[p + 3] << 24);
    }
    const a = this.f8slowOrFast(), b = this.f8slowOrFast(), c = this.f8slowOrFast(), d = this.f8slowOrFast();
    return a | (b << 8) | (c << 16) | (d << 24);
  }
  private f8slowOrFast(): number { return this.f8(); }
  /** Immediate of operand size os (imm32 sign-extended for 64-bit): returns lo, sets this.hi. */
  fImm(os: number): number {
    if (os === 1) { this.hi = 0; return this.f8(); }
    if (os === 2) { this.hi = 0; return this.f16(); }
    const v = this.f32();
    this.hi = v >> 31;
    return v;
  }

  /** RIP of the next instruction: lo returned, hi in this.hi. */
  nextRip(): number {
    if (this.is64) {
      const s = (this.startLo >>> 0) + this.ilen;
      this.hi = s > 0xffffffff ? (this.startHi + 1) | 0 : this.startHi;
      return s | 0;
    }
    this.hi = 0;
    return (this.startLo + this.ilen) & this.ipMask;
  }

  /** Commits RIP = start + length (the normal end of an instruction). */
  advance(): void {
    const cpu = this.cpu;
    if (this.is64) {
      const lo = this.startLo, s = (lo + this.fPtr - this.fStart) | 0; // int32: a carry wraps below lo
      cpu.ripLo = s;
      if ((s >>> 0) < (lo >>> 0)) cpu.ripHi = (this.startHi + 1) | 0;
    } else {
      cpu.ripLo = (this.startLo + this.ilen) & this.ipMask;
    }
  }

  /** Near branch to (lo, hi) with operand size os (16-bit targets are truncated; 64-bit checked canonical). */
  jumpNear(lo: number, hi: number, os: number): void {
    const cpu = this.cpu;
    if (os === 8) {
      if (((hi << 16) >> 16) !== hi) this.gp0();
      cpu.ripLo = lo; cpu.ripHi = hi;
    } else if (os === 2) { cpu.ripLo = lo & 0xffff; cpu.ripHi = 0; }
    else { cpu.ripLo = lo; cpu.ripHi = 0; }
  }

  /** Relative branch: target = next RIP + disp. */
  jumpRel(disp: number): void {
    const cpu = this.cpu;
    if (this.is64) {
      const s = (this.startLo >>> 0) + this.ilen + disp;
      let hi = this.startHi;
      if (s > 0xffffffff) hi = (hi + 1) | 0; else if (s < 0) hi = (hi - 1) | 0;
      if (((hi << 16) >> 16) !== hi) this.gp0();
      cpu.ripLo = s | 0; cpu.ripHi = hi;
    } else {
      let t = (this.startLo + this.ilen + disp) | 0;
      if (this.os === 2) t &= 0xffff;
      cpu.ripLo = t & this.ipMask; cpu.ripHi = 0;
    }
  }

  // ------------------------------------------------------------------------------------------------ ModRM

  /** Reads the ModRM byte and, for memory forms, the SIB/displacement; immBytes = immediate bytes that follow
   * (needed for RIP-relative addressing). */
  decodeModrm(immBytes: number): void {
    const m = this.f8();
    this.modrm = m;
    const mod = m >> 6;
    this.mod = mod;
    this.reg = ((m >> 3) & 7) | this.rexR;
    let base = m & 7;
    if (mod === 3) { this.rm = base | this.rexB; return; }
    this.rm = base;
    // [base] / [base + disp] with 64-bit addressing and no segment override (the common long-mode forms, [rsp +
    // disp] through a SIB byte without an index included) are computed here, the rest in calcEA: this way they
    // cost no call where TurboFan inlines decodeModrm but not calcEA. Keep this function under V8's inlining size
    // limit (460 bytes of bytecode).
    if (this.as === 8 && this.segOvr < 0) {
      if (base === 4) {
        const p = this.fPtr;
        const sib = p < this.fLimit ? this.fRam[p] : 0; // 0 (has an index): off the cached page, calcEA
        if ((sib & 0x38) === 0x20 && this.rexX === 0 && ((sib & 7) !== 5 || mod !== 0)) { this.fPtr = p + 1; base = sib & 7; }
        else base = -1;
      } else if (base === 5 && mod === 0) base = -1; // RIP-relative
      if (base >= 0) {
        base |= this.rexB;
        let lo = this.rlo[base], hi = this.rhi[base];
        if (mod !== 0) {
          const d = mod === 1 ? this.fs8() : this.f32();
          const t = (lo + d) | 0;
          hi = (hi + (d >> 31) + ((t >>> 0) < (d >>> 0) ? 1 : 0)) | 0;
          lo = t;
        }
        this.offLo = lo; this.offHi = hi;
        if (this.noSeg) return;
        this.eaSeg = base === 4 || base === 5 ? SS : DS;
        if (((hi << 16) >> 16) !== hi) this.nonCanonical();
        this.eaLo = lo; this.eaHi = hi;
        return;
      }
    }
    this.calcEA(immBytes);
  }

  /** #SS(0) or #GP(0) for a non-canonical address in segment eaSeg. */
  private nonCanonical(): never {
    return this.fault(this.eaSeg === SS ? 12 : 13, true, 0);
  }

  calcEA(immBytes: number): void {
    if (this.as !== 8 || (this.rm === 5 && this.mod === 0)) { this.calcEAGeneral(immBytes); return; }
    // 64-bit addressing without RIP-relative (the common long-mode case; small enough to be inlined):
    // int32 halves with explicit carries (an unsigned lo sum below its addend means a carry out).
    const mod = this.mod, rlo = this.rlo, rhi = this.rhi;
    let lo: number, hi: number, seg = DS, base: number;
    if (this.rm === 4) { base = this.sib64(mod); lo = this.offLo; hi = this.offHi; }
    else {
      base = this.rm | this.rexB;
      lo = rlo[base]; hi = rhi[base];
    }
    if (mod !== 0) {
      const d = mod === 1 ? this.fs8() : this.f32();
      const t = (lo + d) | 0;
      hi = (hi + (d >> 31) + ((t >>> 0) < (d >>> 0) ? 1 : 0)) | 0;
      lo = t;
    }
    if (base === 4 || base === 5) seg = SS;
    this.offLo = lo; this.offHi = hi;
    if (this.noSeg) return;
    if (this.segOvr < 0) {
      // Flat 64-bit segment without override: only the canonical check.
      this.eaSeg = seg;
      if (((hi << 16) >> 16) !== hi) this.fault(seg === SS ? 12 : 13, true, 0);
      this.eaLo = lo; this.eaHi = hi;
      return;
    }
    this.segment(seg);
  }

  /** 64-bit SIB: base + scaled index (disp32 instead of the base for mod 0 / base 5) into offLo/offHi.
   * Returns the base register, -1 without one. */
  private sib64(mod: number): number {
    const rlo = this.rlo, rhi = this.rhi;
    const sib = this.f8();
    const sb = sib & 7;
    let lo: number, hi: number, base: number;
    if (sb === 5 && mod === 0) { lo = this.f32(); hi = lo >> 31; base = -1; }
    else { base = sb | this.rexB; lo = rlo[base]; hi = rhi[base]; }
    const idx = ((sib >> 3) & 7) | this.rexX;
    if (idx !== 4) {
      const scale = sib >> 6;
      let il = rlo[idx], ih = rhi[idx];
      if (scale !== 0) { ih = (ih << scale) | (il >>> (32 - scale)); il <<= scale; }
      const t = (lo + il) | 0;
      hi = (hi + ih + ((t >>> 0) < (il >>> 0) ? 1 : 0)) | 0;
      lo = t;
    }
    this.offLo = lo; this.offHi = hi;
    return base;
  }

  /** calcEA for 16/32-bit addressing and RIP-relative forms. */
  private calcEAGeneral(immBytes: number): void {
    const mod = this.mod, rm = this.rm, rlo = this.rlo;
    let seg = DS;
    if (this.as === 2) {
      let off: number;
      switch (rm) {
        case 0: off = rlo[3] + rlo[6]; break;
        case 1: off = rlo[3] + rlo[7]; break;
        case 2: off = rlo[5] + rlo[6]; seg = SS; break;
        case 3: off = rlo[5] + rlo[7]; seg = SS; break;
        case 4: off = rlo[6]; break;
        case 5: off = rlo[7]; break;
        case 6: if (mod === 0) { off = this.f16(); } else { off = rlo[5]; seg = SS; } break;
        default: off = rlo[3]; break;
      }
      if (mod === 1) off += this.fs8(); else if (mod === 2) off += this.f16();
      this.offLo = off & 0xffff; this.offHi = 0;
    } else {
      let base = -1, idx = -1, scale = 0, disp = 0;
      if (rm === 4) {
        const sib = this.f8();
        scale = sib >> 6;
        idx = ((sib >> 3) & 7) | this.rexX;
        if (idx === 4) idx = -1;
        base = (sib & 7) | this.rexB;
        if ((sib & 7) === 5 && mod === 0) { base = -1; disp = this.f32(); }
      } else if (rm === 5 && mod === 0) {
        disp = this.f32();
        if (this.is64) {
          // RIP-relative: relative to the end of the instruction (after the immediate).
          const s = (this.startLo >>> 0) + this.ilen + immBytes + disp;
          let hi = this.startHi;
          if (s > 0xffffffff) hi = (hi + 1) | 0; else if (s < 0) hi = (hi - 1) | 0;
          if (this.as === 4) { this.offLo = s | 0; this.offHi = 0; } else { this.offLo = s | 0; this.offHi = hi; }
          if (!this.noSeg) this.segment(DS);
          return;
        }
      } else {
        base = rm | this.rexB;
      }
      if (mod === 1) disp = this.fs8(); else if (mod === 2) disp = this.f32();
      if (base === 4 || base === 5) seg = SS;
      if (this.as === 4) {
        let off = disp;
        if (base >= 0) off += rlo[base];
        if (idx >= 0) off += rlo[idx] << scale;
        this.offLo = off | 0; this.offHi = 0;
      } else {
        // 64-bit: int32 halves with explicit carries (unsigned lo sum < addend <=> carry out).
        const rhi = this.rhi;
        let lo = disp, hi = disp >> 31;
        if (base >= 0) {
          const b = rlo[base];
          const s = (lo + b) | 0;
          hi = (hi + rhi[base] + ((s >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
          lo = s;
        }
        if (idx >= 0) {
          let il = rlo[idx], ih = rhi[idx];
          if (scale !== 0) { ih = (ih << scale) | (il >>> (32 - scale)); il <<= scale; }
          const s = (lo + il) | 0;
          hi = (hi + ih + ((s >>> 0) < (il >>> 0) ? 1 : 0)) | 0;
          lo = s;
        }
        this.offLo = lo; this.offHi = hi;
        if (this.noSeg) return;
        if (this.segOvr < 0 && this.is64) {
          // Flat 64-bit segment without override: only the canonical check.
          this.eaSeg = seg;
          if (((hi << 16) >> 16) !== hi) this.fault(seg === SS ? 12 : 13, true, 0);
          this.eaLo = lo; this.eaHi = hi;
          return;
        }
      }
    }
    if (!this.noSeg) this.segment(seg);
  }

  /** Applies segmentation (segment override, else `def`) to offLo/offHi giving eaLo/eaHi. */
  segment(def: number): void {
    const seg = this.segOvr >= 0 ? this.segOvr : def;
    this.eaSeg = seg;
    const cpu = this.cpu;
    if (this.is64) {
      let lo = this.offLo, hi = this.offHi;
      if (seg >= FS) {
        const s = (lo >>> 0) + (cpu.segBaseLo[seg] >>> 0);
        hi = (hi + cpu.segBaseHi[seg] + (s > 0xffffffff ? 1 : 0)) | 0;
        lo = s | 0;
      }
      if (((hi << 16) >> 16) !== hi) this.fault(seg === SS ? 12 : 13, true, 0);
      this.eaLo = lo; this.eaHi = hi;
    } else {
      const lim = cpu.segLimit[seg];
      if (lim !== -1 && (this.offLo >>> 0) > (lim >>> 0)) this.fault(seg === SS ? 12 : 13, true, 0);
      this.eaLo = (cpu.segBaseLo[seg] + this.offLo) | 0;
      this.eaHi = 0;
    }
  }

  /** Linear address of seg:offset (offset lo/hi already sized), with the same checks as `segment`. */
  linear(seg: number, lo: number, hi: number): number {
    this.offLo = lo; this.offHi = hi;
    const save = this.segOvr;
    this.segOvr = -1;
    this.segment(seg);
    this.segOvr = save;
    this.hi = this.eaHi;
    return this.eaLo;
  }

  // ------------------------------------------------------------------------------------------------ registers

  getReg8(r: number): number {
    if (r >= 4 && r < 8 && this.rex === 0) return (this.rlo[r - 4] >> 8) & 0xff;
    return this.rlo[r] & 0xff;
  }
  setReg8(r: number, v: number): void {
    const rlo = this.rlo;
    if (r >= 4 && r < 8 && this.rex === 0) rlo[r - 4] = (rlo[r - 4] & ~0xff00) | ((v & 0xff) << 8);
    else rlo[r] = (rlo[r] & ~0xff) | (v & 0xff);
  }
  getReg(os: number, r: number): number {
    switch (os) {
      case 1: return this.getReg8(r);
      case 2: return this.rlo[r] & 0xffff;
      case 4: return this.rlo[r];
      default: this.hi = this.rhi[r]; return this.rlo[r];
    }
  }
  setReg(os: number, r: number, lo: number, hi: number): void {
    switch (os) {
      case 1: this.setReg8(r, lo); return;
      case 2: this.rlo[r] = (this.rlo[r] & ~0xffff) | (lo & 0xffff); return;
      case 4: this.rlo[r] = lo; this.rhi[r] = 0; return;
      default: this.rlo[r] = lo; this.rhi[r] = hi; return;
    }
  }

  // ------------------------------------------------------------------------------------------------ memory

  rdMem(os: number, lo: number, hi: number): number {
    const sys = this.sys;
    switch (os) {
      case 1: return sys.readLin8(lo, hi) & 0xff;
      case 2: return sys.readLin16(lo, hi) & 0xffff;
      case 4: return sys.readLin32(lo, hi) | 0;
      default: { const v = sys.readLin64(lo, hi) | 0; this.hi = sys.hiResult | 0; return v; }
    }
  }
  wrMem(os: number, lo: number, hi: number, vLo: number, vHi: number): void {
    const sys = this.sys;
    switch (os) {
      case 1: sys.writeLin8(lo, hi, vLo & 0xff); return;
      case 2: sys.writeLin16(lo, hi, vLo & 0xffff); return;
      case 4: sys.writeLin32(lo, hi, vLo); return;
      default: sys.writeLin64(lo, hi, vLo, vHi); return;
    }
  }
  /** Linear address + n (n small, non-negative) honoring 32-bit wrap outside long mode; hi in this.hi. */
  linAdd(lo: number, hi: number, n: number): number {
    if (!this.is64) { this.hi = 0; return (lo + n) | 0; }
    const s = (lo >>> 0) + n;
    this.hi = s > 0xffffffff ? (hi + 1) | 0 : hi;
    return s | 0;
  }

  /** r/m operand read (after decodeModrm). */
  readE(os: number): number {
    if (this.mod === 3) return this.getReg(os, this.rm);
    return this.rdMem(os, this.eaLo, this.eaHi);
  }
  writeE(os: number, lo: number, hi: number): void {
    if (this.mod === 3) this.setReg(os, this.rm, lo, hi);
    else this.wrMem(os, this.eaLo, this.eaHi, lo, hi);
  }

  // ------------------------------------------------------------------------------------------------ stack

  /** Stack address size in bytes: 8 in long mode, else 4 or 2 by SS.B. */
  stackSize(): number {
    if (this.is64) return 8;
    return (this.cpu.segAttr[SS] & (1 << 14)) !== 0 ? 4 : 2;
  }

  push(os: number, lo: number, hi: number): void {
    const rlo = this.rlo, cpu = this.cpu;
    if (this.is64) {
      const s = (rlo[4] >>> 0) - os;
      const nlo = s | 0, nhi = s < 0 ? (this.rhi[4] - 1) | 0 : this.rhi[4];
      if (((nhi << 16) >> 16) !== nhi) this.fault(12, true, 0);
      this.wrMem(os, nlo, nhi, lo, hi);
      rlo[4] = nlo; this.rhi[4] = nhi;
    } else if ((cpu.segAttr[SS] & (1 << 14)) !== 0) {
      const sp = (rlo[4] - os) | 0;
      this.wrMem(os, (cpu.segBaseLo[SS] + sp) | 0, 0, lo, hi);
      rlo[4] = sp;
    } else {
      const sp = (rlo[4] - os) & 0xffff;
      this.wrMem(os, (cpu.segBaseLo[SS] + sp) | 0, 0, lo, hi);
      rlo[4] = (rlo[4] & ~0xffff) | sp;
    }
  }

  /** Reads the stack top (offset `skip` bytes above RSP) without popping. */
  peek(os: number, skip: number): number {
    const rlo = this.rlo, cpu = this.cpu;
    if (this.is64) {
      const s = (rlo[4] >>> 0) + skip;
      const hi = s > 0xffffffff ? (this.rhi[4] + 1) | 0 : this.rhi[4];
      if (((hi << 16) >> 16) !== hi) this.fault(12, true, 0);
      return this.rdMem(os, s | 0, hi);
    }
    const sp = (cpu.segAttr[SS] & (1 << 14)) !== 0 ? (rlo[4] + skip) | 0 : (rlo[4] + skip) & 0xffff;
    return this.rdMem(os, (cpu.segBaseLo[SS] + sp) | 0, 0);
  }

  /** Adds n to RSP/ESP/SP according to the stack size. */
  adjSp(n: number): void {
    const rlo = this.rlo;
    if (this.is64) {
      const s = (rlo[4] >>> 0) + n;
      rlo[4] = s | 0;
      if (s > 0xffffffff) this.rhi[4] = (this.rhi[4] + 1) | 0; else if (s < 0) this.rhi[4] = (this.rhi[4] - 1) | 0;
    } else if ((this.cpu.segAttr[SS] & (1 << 14)) !== 0) rlo[4] = (rlo[4] + n) | 0;
    else rlo[4] = (rlo[4] & ~0xffff) | ((rlo[4] + n) & 0xffff);
  }

  pop(os: number): number {
    const v = this.peek(os, 0);
    const h = this.hi;
    this.adjSp(os);
    this.hi = h;
    return v;
  }
}
