// Local APIC (Intel SDM vol. 3A ch. 11): xAPIC MMIO registers at 0xfee00000, IRR/ISR/TMR,
// TPR/PPR, EOI, IPIs through the ICR, LVT timer (one-shot, periodic, TSC-deadline), LINT0/LINT1,
// the APIC_BASE / TSC_DEADLINE MSRs, and x2APIC mode (§11.12): registers as MSRs 0x800-0x8ff once
// APIC_BASE.EXTD is set, 32-bit APIC IDs and destinations, cluster logical IDs, the 64-bit ICR, self-IPI.
//
// Design: one Lapic per vCPU. The CPU polls hasPendingInterrupt() at block boundaries (when RFLAGS.IF
// allows) and calls acknowledge() to take the vector, which moves it IRR→ISR (or runs the 8259's INTA
// for ExtINT via LINT0). The check is cheap: a pending-work counter short-circuits the common "nothing
// pending" case. The timer counts from the injected clock at 1 GHz / divider, and only arms a
// scheduler timer for its next expiry; the current-count register is computed on read.
//
// x2APIC: the register file is shared with xAPIC mode (the MSR for offset X is 0x800 + (X >> 4)); the MSR
// path only adds the x2APIC access rules (#GP for reserved addresses, read-only and write-only registers,
// reserved bits, non-zero EOI/ESR writes), follows KVM where the SDM leaves a choice, so that a guest sees
// the same on the kvm and emu backends. The mode transitions are those of SDM Figure 11-27 (xAPIC → x2APIC,
// x2APIC → disabled; x2APIC → xAPIC and disabled → x2APIC raise #GP). In x2APIC mode the MMIO page reads as
// all-ones and ignores writes. Whether the CPU *advertises* x2APIC (CPUID.1:ECX[21]) is the CPU model's
// choice (accel/emu/cpuid.ts); this LAPIC accepts EXTD regardless, like a part whose firmware hides the bit.
import type { MmioDevice } from "../../hv/ports.ts";
import type { Clock, Timer, TimerScheduler } from "../../platform/timers.ts";
import type { ApicBus } from "./apic_bus.ts";
import * as Registers from "./registers.ts";
import type { LapicState } from "./state.ts";

// Module-namespace loads are slow in hot code under the tsx loader (profiled: each `R.X` costs a getter
// call); a plain object with a fixed shape is a cheap monomorphic load.
const R = { ...Registers };

export interface LapicOptions {
  readonly apicId: number;
  readonly bsp: boolean;
  readonly clock: Clock;
  readonly timers: TimerScheduler;
  readonly bus: ApicBus;
  /** TSC frequency used to turn TSC_DEADLINE values into clock time (TSC = nowNs * tscKhz / 1e6). */
  readonly tscKhz: number;
}

function highestBit(words: Uint32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = words[i]!;
    if (w !== 0) return (i << 5) + 31 - Math.clz32(w);
  }
  return -1;
}

export class Lapic implements MmioDevice {
  readonly name = "lapic";
  /** xAPIC: 8-bit ID (writable); x2APIC: the 32-bit x2APIC ID (= the initial APIC ID, read-only). */
  apicId: number;
  private apicBase: number;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffffffff;
  private svr = 0xff;
  private esr = 0;
  private esrPending = 0;
  private icrLow = 0;
  /** xAPIC: ICR bits 63:32 (destination in 31:24); x2APIC: the 32-bit destination. */
  private icrHigh = 0;
  private readonly lvt = new Uint32Array(R.LVT_COUNT);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private readonly irr = new Uint32Array(8);
  /** Number of set IRR bits: the fast "nothing to do" test. */
  private irrCount = 0;
  private divideConfig = 0;
  private divideShift = 1;
  private timerInitialCount = 0;
  private timerStartNs = 0;
  private timerRunning = false;
  private tscDeadline = 0;
  private lint0Level = false;
  private extIntPending = false;
  private readonly timer: Timer;
  /** Index on the bus (= vCPU id). */
  readonly index: number;

  constructor(private readonly opts: LapicOptions) {
    this.apicId = opts.apicId;
    this.apicBase = R.LAPIC_BASE_GPA | R.APIC_BASE_ENABLE | (opts.bsp ? R.APIC_BASE_BSP : 0);
    this.timer = opts.timers.createTimer(`lapic${opts.apicId}`, (now) => this.timerFired(now));
    this.resetRegisters();
    this.index = opts.bus.attach(this);
  }

  // ---- CPU interface (hot) ----

  /** True when acknowledge() would return a real vector now (the caller checks RFLAGS.IF). */
  hasPendingInterrupt(): boolean {
    if (this.extIntPending) return true;
    if (this.irrCount === 0) return false;
    // A software-disabled APIC holds fixed interrupts in the IRR (SDM 11.4.7.2).
    if (!(this.svr & R.SVR_ENABLED)) return false;
    const vector = highestBit(this.irr);
    return (vector & 0xf0) > (this.processorPriority() & 0xf0);
  }

  /** Interrupt-acknowledge: returns the vector to deliver (the spurious vector if nothing is deliverable). */
  acknowledge(): number {
    if (this.extIntPending) return this.opts.bus.extIntAcknowledge() & 0xff;
    if (this.irrCount !== 0 && this.svr & R.SVR_ENABLED) {
      const vector = highestBit(this.irr);
      if ((vector & 0xf0) > (this.processorPriority() & 0xf0)) {
        const word = vector >> 5;
        const bit = 1 << (vector & 31);
        this.irr[word]! &= ~bit;
        this.irrCount--;
        this.isr[word]! |= bit;
        return vector;
      }
    }
    return this.svr & 0xff;
  }

  /** End of interrupt for the highest in-service vector (what a write to the EOI register does). */
  eoi(): void {
    const vector = highestBit(this.isr);
    if (vector < 0) return;
    const word = vector >> 5;
    const bit = 1 << (vector & 31);
    this.isr[word]! &= ~bit;
    if (this.tmr[word]! & bit) this.opts.bus.onLevelEoi(vector);
    if (this.irrCount !== 0) this.opts.bus.events.kick(this.index);
  }

  /** A fixed interrupt from the IOAPIC, an IPI or a LVT: sets the IRR bit. */
  acceptExternal(vector: number, levelTriggered = false): void {
    vector &= 0xff;
    if (vector < 16) {
      this.signalError(R.ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    const word = vector >> 5;
    const bit = 1 << (vector & 31);
    if (levelTriggered) this.tmr[word]! |= bit;
    else this.tmr[word]! &= ~bit;
    if (this.irr[word]! & bit) return; // already pending: nothing new to wake up for
    this.irr[word]! |= bit;
    this.irrCount++;
    this.opts.bus.events.kick(this.index);
  }

  /** LINT0 input level (the 8259's INTR on the BSP). ExtINT mode makes it an external interrupt. */
  setLint0(level: boolean): void {
    const rising = level && !this.lint0Level;
    this.lint0Level = level;
    this.localInterruptChanged(R.LVT_LINT0, rising);
  }

  /** Task priority (for lowest-priority arbitration). */
  get taskPriority(): number {
    return this.tpr;
  }

  /** True when the LAPIC is globally enabled (APIC_BASE bit 11). */
  get hardwareEnabled(): boolean {
    return (this.apicBase & R.APIC_BASE_ENABLE) !== 0;
  }

  /** True in x2APIC mode (APIC_BASE.EXTD). */
  get x2apicMode(): boolean {
    return (this.apicBase & R.APIC_BASE_EXTD) !== 0;
  }

  /**
   * Whether an interrupt message for `destination` targets this LAPIC. x2Format: the message carries a 32-bit
   * x2APIC destination (an ICR write in x2APIC mode); otherwise an 8-bit xAPIC one (IOAPIC, xAPIC ICR), whose
   * broadcast 0xff also reaches LAPICs in x2APIC mode (as KVM maps it).
   */
  matchesDestination(destination: number, logical: boolean, x2Format = false): boolean {
    if (this.x2apicMode) {
      destination >>>= 0;
      if (destination === R.X2APIC_BROADCAST || (!x2Format && destination === 0xff)) return true;
      if (!logical) return destination === this.apicId;
      // Cluster model: bits 31:16 = cluster, 15:0 = member bitmap (SDM §11.12.10.2).
      return destination >>> 16 === this.ldr >>> 16 && (destination & this.ldr & 0xffff) !== 0;
    }
    if (x2Format && destination >>> 0 === R.X2APIC_BROADCAST) return true;
    if (!logical) return destination === 0xff || destination === this.apicId;
    if (destination === 0xff) return true;
    const logicalId = this.ldr >>> 24;
    if ((this.dfr >>> 28) === 0xf) return (logicalId & destination) !== 0;
    // Cluster model: high nibble = cluster, low nibble = member bitmap.
    return (logicalId >>> 4) === (destination >>> 4) && (logicalId & destination & 0xf) !== 0;
  }

  // ---- MSRs ----

  /** Returns the MSR value, or undefined if this MSR is not the LAPIC's. */
  /**
   * Returns the MSR value, or undefined if this MSR is not the LAPIC's. An x2APIC MSR (0x800-0x8ff) that cannot
   * be read now (xAPIC mode, reserved, write-only) is also undefined: the CPU has no such MSR either and raises #GP.
   */
  readMsr(msr: number): bigint | undefined {
    if (msr === R.MSR_APIC_BASE) return BigInt(this.apicBase >>> 0);
    if (msr === R.MSR_TSC_DEADLINE) return BigInt(Math.floor(this.tscDeadline));
    if (msr >= R.MSR_X2APIC_FIRST && msr <= R.MSR_X2APIC_LAST) return this.readX2apicMsr((msr - R.MSR_X2APIC_FIRST) << 4);
    return undefined;
  }

  /** Returns false when the write must raise #GP (reserved bits, invalid mode transition). Unknown MSR: undefined. */
  writeMsr(msr: number, value: bigint): boolean | undefined {
    if (msr === R.MSR_APIC_BASE) return this.writeApicBase(value);
    if (msr === R.MSR_TSC_DEADLINE) {
      this.writeTscDeadline(Number(value));
      return true;
    }
    if (msr >= R.MSR_X2APIC_FIRST && msr <= R.MSR_X2APIC_LAST) {
      if (!this.x2apicMode) return false;
      const reg = (msr - R.MSR_X2APIC_FIRST) << 4;
      if (reg === R.REG_ICR_LOW) return this.writeX2apicIcr(value);
      // Bits 63:32 are reserved in every register but the ICR.
      if (value >> 32n !== 0n) return false;
      return this.writeX2apicRegister(reg, Number(value));
    }
    return undefined;
  }

  private writeApicBase(value: bigint): boolean {
    const v = Number(value & 0xffffffffn);
    // Bits 63:32 are above this CPU's physical address width; 7:0 and 9 are reserved.
    if (value >> 32n !== 0n || v & 0x2ff) return false;
    const enable = (v & R.APIC_BASE_ENABLE) !== 0;
    const extd = (v & R.APIC_BASE_EXTD) !== 0;
    const wasEnabled = this.hardwareEnabled;
    const wasX2 = this.x2apicMode;
    // SDM Figure 11-27: EXTD without EN is invalid; x2APIC → xAPIC and disabled → x2APIC must pass through
    // the other state (KVM refuses the same transitions).
    if (extd && !enable) return false;
    if (wasX2 && enable && !extd) return false;
    if (!wasEnabled && extd) return false;
    // The base address stays at 0xfee00000 (relocation is not modelled; Linux never moves it).
    this.apicBase = R.LAPIC_BASE_GPA | (v & (R.APIC_BASE_ENABLE | R.APIC_BASE_EXTD)) | (this.apicBase & R.APIC_BASE_BSP);
    if (wasEnabled && !this.hardwareEnabled) this.resetRegisters();
    if (!wasX2 && extd) {
      // Entering x2APIC mode: the x2APIC ID is the initial APIC ID and the logical ID derives from it.
      this.apicId = this.opts.apicId;
      this.ldr = (((this.apicId >>> 4) << 16) | (1 << (this.apicId & 0xf))) >>> 0;
      this.icrHigh = 0;
    } else if (wasX2 && !extd) {
      this.apicId = this.opts.apicId;
    }
    this.localInterruptChanged(R.LVT_LINT0, false);
    return true;
  }

  /** RDMSR of x2APIC register `reg` (its xAPIC offset); undefined raises #GP. */
  private readX2apicMsr(reg: number): bigint | undefined {
    if (!this.x2apicMode) return undefined;
    switch (reg) {
      case R.REG_ID:
        return BigInt(this.apicId >>> 0);
      case R.REG_LDR:
        return BigInt(this.ldr >>> 0);
      case R.REG_ICR_LOW:
        return (BigInt(this.icrHigh >>> 0) << 32n) | BigInt(this.icrLow >>> 0);
      case R.REG_VERSION:
      case R.REG_TPR:
      case R.REG_PPR:
      case R.REG_SVR:
      case R.REG_ESR:
      case R.REG_TIMER_INITIAL:
      case R.REG_TIMER_CURRENT:
      case R.REG_TIMER_DIVIDE:
        return BigInt(this.readRegister(reg) >>> 0);
    }
    if (reg >= R.REG_ISR && reg < R.REG_IRR + 0x80) return BigInt(this.readRegister(reg) >>> 0); // ISR, TMR, IRR
    if (reg >= R.REG_LVT_TIMER && reg <= R.REG_LVT_ERROR) return BigInt(this.readRegister(reg) >>> 0);
    // Reserved, DFR/APR/RRD/ICR-high (absent in x2APIC mode), CMCI (not implemented), EOI and SELF IPI (write-only).
    return undefined;
  }

  /** WRMSR of x2APIC register `reg` (not the ICR) with a 32-bit value; false raises #GP. */
  private writeX2apicRegister(reg: number, value: number): boolean {
    switch (reg) {
      case R.REG_EOI:
      case R.REG_ESR:
        // WRMSR of a non-zero value to EOI or ESR raises #GP (SDM Table 11-6).
        if (value !== 0) return false;
        this.writeRegister(reg, 0);
        return true;
      case R.REG_TPR:
      case R.REG_SVR:
      case R.REG_TIMER_INITIAL:
      case R.REG_TIMER_DIVIDE:
        this.writeRegister(reg, value >>> 0);
        return true;
      case R.REG_SELF_IPI:
        this.acceptExternal(value & 0xff);
        return true;
    }
    if (reg >= R.REG_LVT_TIMER && reg <= R.REG_LVT_ERROR) {
      this.writeRegister(reg, value >>> 0);
      return true;
    }
    // Read-only (ID, version, PPR, LDR, ISR/TMR/IRR, current count), reserved or absent in x2APIC mode.
    return false;
  }

  private writeX2apicIcr(value: bigint): boolean {
    const low = Number(value & 0xffffffffn);
    if (low & R.X2APIC_ICR_RESERVED) return false;
    this.icrHigh = Number(value >> 32n) >>> 0;
    this.icrLow = low & ~(1 << 12); // no delivery status in x2APIC mode
    this.sendIpi();
    return true;
  }

  // ---- MMIO ----

  read(offset: number, size: 1 | 2 | 4 | 8): number {
    // x2APIC mode: the MMIO interface is gone; reads float high, writes are dropped.
    if (this.x2apicMode) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    const within = offset & 0xf;
    if (within >= 4) return 0;
    const v = this.readRegister(offset & 0xff0);
    if (size >= 4) return v >>> 0;
    return (v >>> (within * 8)) & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, _size: 1 | 2 | 4 | 8, value: number): void {
    if ((offset & 0xf) !== 0 || this.x2apicMode) return;
    this.writeRegister(offset, value >>> 0);
  }

  readRegister(reg: number): number {
    switch (reg) {
      case R.REG_ID:
        return this.x2apicMode ? this.apicId >>> 0 : (this.apicId << 24) >>> 0;
      case R.REG_VERSION:
        return R.LAPIC_VERSION;
      case R.REG_TPR:
        return this.tpr;
      case R.REG_PPR:
        return this.processorPriority();
      case R.REG_LDR:
        return this.ldr;
      case R.REG_DFR:
        return this.dfr;
      case R.REG_SVR:
        return this.svr;
      case R.REG_ESR:
        return this.esr;
      case R.REG_ICR_LOW:
        return this.icrLow;
      case R.REG_ICR_HIGH:
        return this.icrHigh;
      case R.REG_TIMER_INITIAL:
        return this.timerInitialCount;
      case R.REG_TIMER_CURRENT:
        return this.currentCount(this.opts.clock.nowNs());
      case R.REG_TIMER_DIVIDE:
        return this.divideConfig;
    }
    if (reg >= R.REG_ISR && reg < R.REG_ISR + 0x80) return this.isr[(reg - R.REG_ISR) >> 4]!;
    if (reg >= R.REG_TMR && reg < R.REG_TMR + 0x80) return this.tmr[(reg - R.REG_TMR) >> 4]!;
    if (reg >= R.REG_IRR && reg < R.REG_IRR + 0x80) return this.irr[(reg - R.REG_IRR) >> 4]!;
    if (reg >= R.REG_LVT_TIMER && reg <= R.REG_LVT_ERROR) return this.lvt[(reg - R.REG_LVT_TIMER) >> 4]!;
    return 0;
  }

  writeRegister(reg: number, value: number): void {
    switch (reg) {
      case R.REG_ID:
        this.apicId = value >>> 24;
        return;
      case R.REG_TPR:
        this.tpr = value & 0xff;
        if (this.irrCount !== 0) this.opts.bus.events.kick(this.index);
        return;
      case R.REG_EOI:
        this.eoi();
        return;
      case R.REG_LDR:
        this.ldr = value & 0xff000000;
        return;
      case R.REG_DFR:
        this.dfr = (value | 0x0fffffff) >>> 0;
        return;
      case R.REG_SVR:
        // Focus checking (bit 9) is stored but not modelled; EOI-broadcast suppression (bit 12) is not
        // offered (version bit 24 = 0), so that bit stays reserved.
        this.svr = value & 0x3ff;
        if (!(this.svr & R.SVR_ENABLED)) {
          for (let i = 0; i < R.LVT_COUNT; i++) this.lvt[i]! |= R.LVT_MASKED;
        }
        this.localInterruptChanged(R.LVT_LINT0, false);
        return;
      case R.REG_ESR:
        this.esr = this.esrPending;
        this.esrPending = 0;
        return;
      case R.REG_ICR_LOW:
        this.icrLow = value & ~(1 << 12);
        this.sendIpi();
        return;
      case R.REG_ICR_HIGH:
        this.icrHigh = value & 0xff000000;
        return;
      case R.REG_TIMER_INITIAL:
        this.writeInitialCount(value);
        return;
      case R.REG_TIMER_DIVIDE: {
        const now = this.opts.clock.nowNs();
        const remaining = this.timerRunning ? this.currentCount(now) : 0;
        this.divideConfig = value & 0xb;
        const code = (value & 3) | ((value & 8) >> 1);
        this.divideShift = code === 7 ? 0 : code + 1;
        if (this.timerRunning && remaining > 0) {
          // Keep the remaining count; it now ticks at the new rate.
          this.timerStartNs = now - (this.timerInitialCount - remaining) * this.nsPerTick();
          this.armCountTimer();
        }
        return;
      }
    }
    if (reg >= R.REG_LVT_TIMER && reg <= R.REG_LVT_ERROR) {
      const index = (reg - R.REG_LVT_TIMER) >> 4;
      let v = value & R.LVT_WRITABLE[index]!;
      if (!(this.svr & R.SVR_ENABLED)) v |= R.LVT_MASKED;
      const old = this.lvt[index]!;
      this.lvt[index] = v;
      if (index === R.LVT_TIMER) this.timerModeChanged(old, v);
      else if (index === R.LVT_LINT0) this.localInterruptChanged(R.LVT_LINT0, false);
    }
  }

  // ---- internals ----

  private processorPriority(): number {
    const isrv = highestBit(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr : isrClass;
  }

  private signalError(bits: number): void {
    this.esrPending |= bits;
    const lvt = this.lvt[R.LVT_ERROR]!;
    if (!(lvt & R.LVT_MASKED)) this.acceptExternal(lvt & 0xff);
  }

  private sendIpi(): void {
    const low = this.icrLow;
    const vector = low & 0xff;
    const mode = (low >> 8) & 7;
    const logical = (low & (1 << 11)) !== 0;
    const assert = (low & (1 << 14)) !== 0;
    const levelTriggered = (low & (1 << 15)) !== 0;
    const shorthand = (low >> 18) & 3;
    const x2 = this.x2apicMode;
    // INIT level de-assert only synchronises arbitration IDs on old parts: nothing to do.
    if (mode === R.DM_INIT && !assert && levelTriggered) return;
    if ((mode === R.DM_FIXED || mode === R.DM_LOWEST) && vector < 16) {
      this.signalError(R.ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    this.opts.bus.deliver(x2 ? this.icrHigh >>> 0 : this.icrHigh >>> 24, logical, mode, vector, false, shorthand, this.index, x2);
  }

  private localInterruptChanged(index: number, rising: boolean): void {
    if (index !== R.LVT_LINT0) return;
    const lvt = this.lvt[R.LVT_LINT0]!;
    const mode = (lvt >> 8) & 7;
    let ext = false;
    if (!this.hardwareEnabled) {
      ext = this.lint0Level; // APIC off: INTR goes straight to the CPU
    } else if (!(lvt & R.LVT_MASKED)) {
      if (mode === R.DM_EXTINT) ext = this.lint0Level;
      else if (rising && mode === R.DM_FIXED) this.acceptExternal(lvt & 0xff);
      else if (rising && mode === R.DM_NMI) this.opts.bus.events.nmi(this.index);
    }
    if (ext !== this.extIntPending) {
      this.extIntPending = ext;
      if (ext) this.opts.bus.events.kick(this.index);
    }
  }

  /** LINT1 input (NMI on PCs); edge-sensitive here. */
  pulseLint1(): void {
    const lvt = this.lvt[R.LVT_LINT1]!;
    if (lvt & R.LVT_MASKED) return;
    const mode = (lvt >> 8) & 7;
    if (mode === R.DM_NMI) this.opts.bus.events.nmi(this.index);
    else if (mode === R.DM_FIXED) this.acceptExternal(lvt & 0xff);
  }

  private nsPerTick(): number {
    return R.APIC_BUS_NS_PER_TICK << this.divideShift;
  }

  private timerMode(): number {
    return (this.lvt[R.LVT_TIMER]! >> R.LVT_TIMER_MODE_SHIFT) & 3;
  }

  private currentCount(nowNs: number): number {
    if (!this.timerRunning || this.timerInitialCount === 0) return 0;
    const elapsed = Math.floor((nowNs - this.timerStartNs) / this.nsPerTick());
    if (this.timerMode() === R.TIMER_MODE_PERIODIC) {
      return this.timerInitialCount - (elapsed % this.timerInitialCount);
    }
    return elapsed >= this.timerInitialCount ? 0 : this.timerInitialCount - elapsed;
  }

  private writeInitialCount(value: number): void {
    if (this.timerMode() === R.TIMER_MODE_TSC_DEADLINE) return;
    this.timerInitialCount = value;
    if (value === 0) {
      this.timerRunning = false;
      this.opts.timers.cancel(this.timer);
      return;
    }
    this.timerStartNs = this.opts.clock.nowNs();
    this.timerRunning = true;
    this.armCountTimer();
  }

  private armCountTimer(): void {
    this.opts.timers.arm(this.timer, this.timerStartNs + this.timerInitialCount * this.nsPerTick());
  }

  private writeTscDeadline(tsc: number): void {
    if (this.timerMode() !== R.TIMER_MODE_TSC_DEADLINE) return;
    this.tscDeadline = tsc;
    if (tsc === 0) {
      this.opts.timers.cancel(this.timer);
      return;
    }
    this.opts.timers.arm(this.timer, (tsc * 1e6) / this.opts.tscKhz);
  }

  private timerModeChanged(oldLvt: number, newLvt: number): void {
    const oldMode = (oldLvt >> R.LVT_TIMER_MODE_SHIFT) & 3;
    const newMode = (newLvt >> R.LVT_TIMER_MODE_SHIFT) & 3;
    if (oldMode === newMode) return;
    // Switching between count-down and TSC-deadline disarms the timer (SDM 11.5.4.1).
    this.opts.timers.cancel(this.timer);
    this.timerRunning = false;
    this.timerInitialCount = 0;
    this.tscDeadline = 0;
  }

  private timerFired(nowNs: number): void {
    const lvt = this.lvt[R.LVT_TIMER]!;
    const mode = (lvt >> R.LVT_TIMER_MODE_SHIFT) & 3;
    if (mode === R.TIMER_MODE_TSC_DEADLINE) {
      this.tscDeadline = 0;
    } else if (mode === R.TIMER_MODE_PERIODIC && this.timerRunning) {
      const period = this.timerInitialCount * this.nsPerTick();
      const periods = Math.max(1, Math.floor((nowNs - this.timerStartNs) / period));
      this.timerStartNs += periods * period;
      this.armCountTimer();
    } else {
      this.timerRunning = false;
      this.timerStartNs = nowNs - this.timerInitialCount * this.nsPerTick();
    }
    if (!(lvt & R.LVT_MASKED)) this.acceptExternal(lvt & 0xff);
  }

  /** Power-on / INIT reset of the registers (SDM 11.4.7.1); ID and APIC_BASE survive. */
  initReset(): void {
    const ldr = this.ldr;
    this.resetRegisters();
    // In x2APIC mode the mode, the x2APIC ID and the logical ID survive INIT (SDM §11.12.5.1).
    if (this.x2apicMode) this.ldr = ldr;
  }

  private resetRegisters(): void {
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffffffff;
    this.svr = 0xff;
    this.esr = 0;
    this.esrPending = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.lvt.fill(R.LVT_MASKED);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.irr.fill(0);
    this.irrCount = 0;
    this.divideConfig = 0;
    this.divideShift = 1;
    this.timerInitialCount = 0;
    this.timerRunning = false;
    this.tscDeadline = 0;
    this.opts.timers.cancel(this.timer);
    this.extIntPending = false;
  }

  /**
   * What a PC BIOS leaves behind on the BSP: LINT0 = ExtINT (virtual-wire mode, so the 8259 reaches
   * the CPU) and LINT1 = NMI, APIC software-enabled. Direct kernel boot has no BIOS, so the machine
   * calls this once after power-on.
   */
  setupVirtualWire(): void {
    this.svr = R.SVR_ENABLED | 0xff;
    this.lvt[R.LVT_LINT0] = R.DM_EXTINT << 8;
    this.lvt[R.LVT_LINT1] = R.DM_NMI << 8;
    this.localInterruptChanged(R.LVT_LINT0, false);
  }

  save(): LapicState {
    return {
      version: 1,
      apicId: this.apicId,
      apicBase: this.apicBase,
      tpr: this.tpr,
      ldr: this.ldr,
      dfr: this.dfr,
      svr: this.svr,
      esr: this.esr,
      esrPending: this.esrPending,
      icrLow: this.icrLow,
      icrHigh: this.icrHigh,
      lvt: Array.from(this.lvt),
      isr: Array.from(this.isr),
      tmr: Array.from(this.tmr),
      irr: Array.from(this.irr),
      divideConfig: this.divideConfig,
      timerInitialCount: this.timerInitialCount,
      timerStartNs: this.timerStartNs,
      timerRunning: this.timerRunning,
      tscDeadline: this.tscDeadline,
      lint0Level: this.lint0Level,
    };
  }

  restore(s: LapicState): void {
    if (s.version !== 1) throw new Error(`Cannot restore lapic state version "${String(s.version)}"`);
    this.apicId = s.apicId;
    this.apicBase = s.apicBase;
    this.tpr = s.tpr;
    this.ldr = s.ldr;
    this.dfr = s.dfr;
    this.svr = s.svr;
    this.esr = s.esr;
    this.esrPending = s.esrPending;
    this.icrLow = s.icrLow;
    this.icrHigh = s.icrHigh;
    this.lvt.set(s.lvt);
    this.isr.set(s.isr);
    this.tmr.set(s.tmr);
    this.irr.set(s.irr);
    this.irrCount = 0;
    for (let i = 0; i < 8; i++) {
      let w = this.irr[i]!;
      while (w !== 0) {
        w &= w - 1;
        this.irrCount++;
      }
    }
    this.divideConfig = s.divideConfig;
    const code = (s.divideConfig & 3) | ((s.divideConfig & 8) >> 1);
    this.divideShift = code === 7 ? 0 : code + 1;
    this.timerInitialCount = s.timerInitialCount;
    this.timerStartNs = s.timerStartNs;
    this.timerRunning = s.timerRunning;
    this.tscDeadline = s.tscDeadline;
    this.lint0Level = s.lint0Level;
    this.opts.timers.cancel(this.timer);
    if (this.timerMode() === R.TIMER_MODE_TSC_DEADLINE) {
      if (this.tscDeadline !== 0) this.opts.timers.arm(this.timer, (this.tscDeadline * 1e6) / this.opts.tscKhz);
    } else if (this.timerRunning) {
      this.armCountTimer();
    }
    this.extIntPending = false;
    this.localInterruptChanged(R.LVT_LINT0, false);
  }
}
