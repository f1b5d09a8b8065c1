// MC146818-compatible RTC and CMOS NVRAM at ports 0x70/0x71, IRQ8 (MC146818A data sheet).
//
// Design: the time of day is baseSeconds (Unix time at domain time 0, injected for determinism) plus
// the domain clock, converted on each read of a time register; BCD/binary and 12/24-hour formats
// follow register B. UIP is reported during the last 244 µs of every second. Guest writes to time
// registers move baseSeconds; while REG_B.SET is on the time is frozen. Periodic, alarm and
// update-ended interrupts set register C and assert IRQ8 until register C is read; one scheduler
// timer serves them, armed only when one is enabled.
import type { IrqLine, PioDevice } from "../../hv/ports.ts";
import type { Clock, Timer, TimerScheduler } from "../../platform/timers.ts";
import * as Registers from "./registers.ts";
import type { RtcState } from "./state.ts";

// Hot paths read constants from a plain object: module-namespace loads were measured far slower under tsx.
const R = { ...Registers };

export interface RtcOptions {
  readonly clock: Clock;
  readonly timers: TimerScheduler;
  readonly irq: IrqLine;
  /** Wall-clock time at domain time 0, in Unix seconds. */
  readonly startUnixSeconds: number;
}

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | v % 10;
}

function fromBcd(v: number): number {
  return (v >> 4) * 10 + (v & 0x0f);
}

export class Rtc implements PioDevice {
  readonly name = "rtc";
  private index = 0;
  private readonly cmos = new Uint8Array(R.CMOS_SIZE);
  private baseSeconds: number;
  private frozenSeconds = -1;
  private irqAsserted = false;
  private nextPeriodicNs = Infinity;
  private nextUpdateNs = Infinity;
  private readonly timer: Timer;

  constructor(private readonly opts: RtcOptions) {
    this.baseSeconds = Math.floor(opts.startUnixSeconds);
    this.cmos[R.REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
    this.cmos[R.REG_B] = R.B_24H;
    this.cmos[R.REG_D] = R.D_VRT;
    this.timer = opts.timers.createTimer("rtc", (now) => this.timerFired(now));
  }

  /** CMOS NVRAM byte (for the machine to preset, e.g. memory sizes). */
  setCmos(index: number, value: number): void {
    if (index >= 0x0e) this.cmos[index & 0x7f] = value;
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    if (offset !== 1) return 0xff;
    return this.readRegister(this.index);
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    if (offset === 0) {
      this.index = value & 0x7f; // bit 7 is the NMI mask, not modelled
      return;
    }
    if (offset === 1) this.writeRegister(this.index, value);
  }

  private nowSeconds(nowNs: number): number {
    if (this.frozenSeconds >= 0) return this.frozenSeconds;
    return this.baseSeconds + Math.floor(nowNs / 1e9);
  }

  private encode(v: number): number {
    return this.cmos[R.REG_B]! & R.B_DM_BINARY ? v : toBcd(v);
  }

  private decode(v: number): number {
    return this.cmos[R.REG_B]! & R.B_DM_BINARY ? v : fromBcd(v);
  }

  private encodeHour(h: number): number {
    if (this.cmos[R.REG_B]! & R.B_24H) return this.encode(h);
    const pm = h >= 12 ? 0x80 : 0;
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.encode(h12) | pm;
  }

  private decodeHour(v: number): number {
    if (this.cmos[R.REG_B]! & R.B_24H) return this.decode(v);
    const h12 = this.decode(v & 0x7f) % 12;
    return v & 0x80 ? h12 + 12 : h12;
  }

  private readRegister(index: number): number {
    const now = this.opts.clock.nowNs();
    if (index <= R.YEAR || index === R.CENTURY) {
      if (index === R.SECONDS_ALARM || index === R.MINUTES_ALARM || index === R.HOURS_ALARM) return this.cmos[index]!;
      const d = new Date(this.nowSeconds(now) * 1000);
      switch (index) {
        case R.SECONDS:
          return this.encode(d.getUTCSeconds());
        case R.MINUTES:
          return this.encode(d.getUTCMinutes());
        case R.HOURS:
          return this.encodeHour(d.getUTCHours());
        case R.DAY_OF_WEEK:
          return this.encode(d.getUTCDay() + 1);
        case R.DAY_OF_MONTH:
          return this.encode(d.getUTCDate());
        case R.MONTH:
          return this.encode(d.getUTCMonth() + 1);
        case R.YEAR:
          return this.encode(d.getUTCFullYear() % 100);
        default:
          return this.encode(Math.floor(d.getUTCFullYear() / 100));
      }
    }
    switch (index) {
      case R.REG_A: {
        const inUpdate = this.frozenSeconds < 0 && now % 1e9 >= 1e9 - R.UIP_WINDOW_NS;
        return (this.cmos[R.REG_A]! & 0x7f) | (inUpdate ? R.A_UIP : 0);
      }
      case R.REG_C: {
        const v = this.cmos[R.REG_C]!;
        this.cmos[R.REG_C] = 0;
        if (this.irqAsserted) {
          this.irqAsserted = false;
          this.opts.irq.lower();
        }
        return v;
      }
      default:
        return this.cmos[index]!;
    }
  }

  private writeRegister(index: number, value: number): void {
    const now = this.opts.clock.nowNs();
    if (index <= R.YEAR || index === R.CENTURY) {
      if (index === R.SECONDS_ALARM || index === R.MINUTES_ALARM || index === R.HOURS_ALARM) {
        this.cmos[index] = value;
        return;
      }
      this.setTimeField(index, value, now);
      return;
    }
    switch (index) {
      case R.REG_A:
        this.cmos[R.REG_A] = value & 0x7f;
        this.rearm(now);
        return;
      case R.REG_B: {
        const old = this.cmos[R.REG_B]!;
        let v = value;
        if (v & R.B_SET) v &= ~R.B_UIE; // SET clears UIE (data sheet)
        this.cmos[R.REG_B] = v;
        if (v & R.B_SET && !(old & R.B_SET)) this.frozenSeconds = this.nowSeconds(now);
        if (!(v & R.B_SET) && old & R.B_SET) {
          this.baseSeconds = this.frozenSeconds - Math.floor(now / 1e9);
          this.frozenSeconds = -1;
        }
        this.rearm(now);
        return;
      }
      case R.REG_C:
      case R.REG_D:
        return; // read-only
      default:
        this.cmos[index] = value;
    }
  }

  private setTimeField(index: number, value: number, now: number): void {
    const current = this.nowSeconds(now);
    const d = new Date(current * 1000);
    let year = d.getUTCFullYear();
    let month = d.getUTCMonth();
    let day = d.getUTCDate();
    let hours = d.getUTCHours();
    let minutes = d.getUTCMinutes();
    let seconds = d.getUTCSeconds();
    switch (index) {
      case R.SECONDS: seconds = this.decode(value); break;
      case R.MINUTES: minutes = this.decode(value); break;
      case R.HOURS: hours = this.decodeHour(value); break;
      case R.DAY_OF_WEEK: return; // derived from the date
      case R.DAY_OF_MONTH: day = this.decode(value); break;
      case R.MONTH: month = this.decode(value) - 1; break;
      case R.YEAR: year = Math.floor(year / 100) * 100 + this.decode(value); break;
      default: year = this.decode(value) * 100 + (year % 100); break;
    }
    const updated = Math.floor(Date.UTC(year, month, day, hours, minutes, seconds) / 1000);
    if (Number.isNaN(updated)) return;
    if (this.frozenSeconds >= 0) this.frozenSeconds = updated;
    else this.baseSeconds += updated - current;
  }

  private periodNs(): number {
    const rate = this.cmos[R.REG_A]! & 0x0f;
    if (rate === 0) return 0;
    const hz = 32768 >> (rate <= 2 ? rate + 6 : rate - 1);
    return 1e9 / hz;
  }

  private rearm(now: number): void {
    const b = this.cmos[R.REG_B]!;
    this.nextPeriodicNs = Infinity;
    this.nextUpdateNs = Infinity;
    if (b & R.B_PIE) {
      const p = this.periodNs();
      if (p > 0) this.nextPeriodicNs = (Math.floor(now / p) + 1) * p;
    }
    if (b & (R.B_UIE | R.B_AIE) && !(b & R.B_SET)) this.nextUpdateNs = (Math.floor(now / 1e9) + 1) * 1e9;
    const next = Math.min(this.nextPeriodicNs, this.nextUpdateNs);
    if (next === Infinity) this.opts.timers.cancel(this.timer);
    else this.opts.timers.arm(this.timer, next);
  }

  private alarmMatches(now: number): boolean {
    const d = new Date(this.nowSeconds(now) * 1000);
    const match = (alarm: number, actual: number) => (alarm & 0xc0) === 0xc0 || alarm === actual;
    return (
      match(this.cmos[R.SECONDS_ALARM]!, this.encode(d.getUTCSeconds())) &&
      match(this.cmos[R.MINUTES_ALARM]!, this.encode(d.getUTCMinutes())) &&
      match(this.cmos[R.HOURS_ALARM]!, this.encodeHour(d.getUTCHours()))
    );
  }

  private timerFired(now: number): void {
    const b = this.cmos[R.REG_B]!;
    let flags = 0;
    if (now >= this.nextPeriodicNs) flags |= R.C_PF;
    if (now >= this.nextUpdateNs) {
      if (b & R.B_UIE) flags |= R.C_UF;
      if (b & R.B_AIE && this.alarmMatches(now)) flags |= R.C_AF;
    }
    if (flags) {
      this.cmos[R.REG_C]! |= flags | R.C_IRQF;
      if (!this.irqAsserted) {
        this.irqAsserted = true;
        this.opts.irq.raise();
      }
    }
    this.rearm(now);
  }

  save(): RtcState {
    return {
      version: 1,
      index: this.index,
      cmos: Array.from(this.cmos),
      baseSeconds: this.baseSeconds,
      frozenSeconds: this.frozenSeconds,
    };
  }

  restore(s: RtcState): void {
    if (s.version !== 1) throw new Error(`Cannot restore rtc state version "${String(s.version)}"`);
    this.index = s.index;
    this.cmos.set(s.cmos);
    this.baseSeconds = s.baseSeconds;
    this.frozenSeconds = s.frozenSeconds;
    this.rearm(this.opts.clock.nowNs());
  }
}
