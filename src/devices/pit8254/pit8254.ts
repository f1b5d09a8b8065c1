// Intel 8254 programmable interval timer (ports 0x40-0x43) with channel 0 on IRQ0 and channel 2's
// gate/output on port 0x61, as on a PC (8254 data sheet, modes 0-5, counter latch, read-back).
//
// Design: counters are not ticked; each channel remembers when its count was loaded (loadNs) and the
// count/output are computed from the injected clock on demand. Only channel 0 arms a scheduler timer,
// for the next rising edge of OUT0, and pulses IRQ0 there (edge-triggered on PIC and IOAPIC); a late
// timer skips missed periods rather than replaying them. BCD counting is stored but counts are binary.
import type { IrqLine, PioDevice } from "../../hv/ports.ts";
import type { Clock, Timer, TimerScheduler } from "../../platform/timers.ts";
import * as Registers from "./registers.ts";
import type { Pit8254State, PitChannelStateV1 } from "./state.ts";

// Hot paths read constants from a plain object: module-namespace loads were measured far slower under tsx.
const R = { ...Registers };

const NS_PER_SECOND = 1e9;
/**
 * Late periodic IRQ0 ticks are caught up only while the backlog is at most this many periods: enough to
 * cover a CPU loop that checks timers a little late, but not to replay ticks a real PC would also have
 * lost while the guest kept the interrupt masked (measured: a 1 s backlog made Linux's jiffies run 24 %
 * fast against the TSC during boot).
 */
const MAX_TICK_BACKLOG_PERIODS = 3;

function ticksBetween(fromNs: number, toNs: number): number {
  return Math.floor(((toNs - fromNs) * R.PIT_HZ) / NS_PER_SECOND);
}

function ticksToNs(ticks: number): number {
  return Math.ceil((ticks * NS_PER_SECOND) / R.PIT_HZ);
}

class Channel {
  mode = 0;
  rwMode = R.RW_WORD;
  bcd = false;
  reload = 0x10000;
  loaded = false;
  /** False while the gate holds a mode-0/4 count or before a mode-1/5 trigger. */
  counting = false;
  loadNs = 0;
  gate: boolean;
  stoppedAtNs = 0;
  writeLsbNext = true;
  pendingLsb = 0;
  readMsbNext = false;
  latchedCount = -1;
  latchedCountMsbNext = false;
  latchedStatus = -1;
  nullCount = true;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  /** Ticks elapsed since the count was loaded (frozen while stopped). */
  elapsed(nowNs: number): number {
    if (!this.loaded) return 0;
    return ticksBetween(this.loadNs, this.counting ? nowNs : this.stoppedAtNs);
  }

  count(nowNs: number): number {
    if (!this.loaded) return this.reload & 0xffff;
    const n = this.reload;
    const t = this.elapsed(nowNs);
    switch (this.mode) {
      case 2:
        return (n - (t % n)) & 0xffff;
      case 3: {
        const c = n - ((2 * t) % n);
        return c & 0xfffe;
      }
      default:
        return (((n - t) % 0x10000) + 0x10000) & 0xffff;
    }
  }

  output(nowNs: number): boolean {
    if (!this.loaded) return this.mode !== 0;
    const n = this.reload;
    const t = this.elapsed(nowNs);
    switch (this.mode) {
      case 0:
        return t >= n;
      case 1:
        return !this.counting || t >= n;
      case 2:
        return !this.gate || t % n !== n - 1;
      case 3:
        return !this.gate || t % n < (n + 1) >> 1;
      default: // 4, 5: one-tick low pulse at terminal count
        return t !== n;
    }
  }

  status(nowNs: number): number {
    return (
      (this.output(nowNs) ? 0x80 : 0) |
      (this.nullCount ? 0x40 : 0) |
      (this.rwMode << 4) |
      (this.mode << 1) |
      (this.bcd ? 1 : 0)
    );
  }

  save(): PitChannelStateV1 {
    return {
      mode: this.mode, rwMode: this.rwMode, bcd: this.bcd, reload: this.reload, loaded: this.loaded,
      counting: this.counting, loadNs: this.loadNs, gate: this.gate, stoppedAtNs: this.stoppedAtNs,
      writeLsbNext: this.writeLsbNext, pendingLsb: this.pendingLsb, readMsbNext: this.readMsbNext,
      latchedCount: this.latchedCount, latchedCountMsbNext: this.latchedCountMsbNext,
      latchedStatus: this.latchedStatus, nullCount: this.nullCount,
    };
  }
}

export class Pit8254 implements PioDevice {
  readonly name = "pit8254";
  private readonly channels = [new Channel(true), new Channel(true), new Channel(false)] as const;
  private portBBits = 0;
  /** PIT tick (since loadNs) of the OUT0 edge the channel-0 timer stands for. */
  private channel0EdgeTick = 0;
  private readonly timer: Timer;
  /** Port 0x61 (system control port B: gate 2, speaker, refresh toggle, OUT2). */
  readonly portB: PioDevice;

  constructor(
    private readonly clock: Clock,
    private readonly timers: TimerScheduler,
    private readonly irq0: IrqLine,
  ) {
    this.timer = timers.createTimer("pit0", (now) => this.channel0Fired(now));
    this.portB = {
      name: "port61",
      read: () => this.readPortB(),
      write: (_offset, _size, value) => this.writePortB(value),
    };
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    if (offset >= R.CONTROL_OFFSET) return 0xff; // the control port is write-only
    const ch = this.channels[offset as 0 | 1 | 2];
    const now = this.clock.nowNs();
    if (ch.latchedStatus >= 0) {
      const s = ch.latchedStatus;
      ch.latchedStatus = -1;
      return s;
    }
    if (ch.latchedCount >= 0) {
      const c = ch.latchedCount;
      if (ch.rwMode === R.RW_WORD && !ch.latchedCountMsbNext) {
        ch.latchedCountMsbNext = true;
        return c & 0xff;
      }
      ch.latchedCount = -1;
      ch.latchedCountMsbNext = false;
      return ch.rwMode === R.RW_LSB ? c & 0xff : (c >> 8) & 0xff;
    }
    const c = ch.count(now);
    switch (ch.rwMode) {
      case R.RW_LSB:
        return c & 0xff;
      case R.RW_MSB:
        return (c >> 8) & 0xff;
      default:
        ch.readMsbNext = !ch.readMsbNext;
        return ch.readMsbNext ? c & 0xff : (c >> 8) & 0xff;
    }
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    const now = this.clock.nowNs();
    if (offset === R.CONTROL_OFFSET) {
      this.writeControl(value, now);
      return;
    }
    if (offset > 2) return;
    const ch = this.channels[offset as 0 | 1 | 2];
    switch (ch.rwMode) {
      case R.RW_LSB:
        this.loadCount(offset, value, now);
        break;
      case R.RW_MSB:
        this.loadCount(offset, value << 8, now);
        break;
      default:
        if (ch.writeLsbNext) {
          ch.pendingLsb = value;
          ch.writeLsbNext = false;
          if (ch.mode === 0) {
            // Writing the first byte in mode 0 stops the count (data sheet).
            if (ch.loaded && ch.counting) ch.stoppedAtNs = now;
            ch.counting = false;
          }
        } else {
          ch.writeLsbNext = true;
          this.loadCount(offset, ch.pendingLsb | (value << 8), now);
        }
    }
  }

  private writeControl(value: number, now: number): void {
    const select = value >> 6;
    if (select === R.SELECT_READBACK) {
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        const ch = this.channels[i as 0 | 1 | 2];
        if (!(value & 0x20) && ch.latchedCount < 0) ch.latchedCount = ch.count(now);
        if (!(value & 0x10) && ch.latchedStatus < 0) ch.latchedStatus = ch.status(now);
      }
      return;
    }
    const ch = this.channels[select as 0 | 1 | 2];
    const rw = (value >> 4) & 3;
    if (rw === R.RW_LATCH) {
      if (ch.latchedCount < 0) ch.latchedCount = ch.count(now);
      return;
    }
    let mode = (value >> 1) & 7;
    if (mode > 5) mode -= 4;
    ch.mode = mode;
    ch.rwMode = rw;
    ch.bcd = (value & 1) !== 0;
    ch.loaded = false;
    ch.counting = false;
    ch.nullCount = true;
    ch.writeLsbNext = true;
    ch.readMsbNext = false;
    ch.latchedCount = -1;
    ch.latchedCountMsbNext = false;
    if (select === 0) this.timers.cancel(this.timer);
  }

  private loadCount(index: number, value: number, now: number): void {
    const ch = this.channels[index as 0 | 1 | 2];
    ch.reload = value === 0 ? 0x10000 : value;
    ch.loaded = true;
    ch.nullCount = false;
    ch.loadNs = now;
    // Modes 1 and 5 wait for a gate trigger; the others count while the gate is high.
    ch.counting = ch.mode === 1 || ch.mode === 5 ? false : ch.gate;
    ch.stoppedAtNs = now;
    if (index === 0) this.armChannel0(now);
  }

  private setGate(index: number, gate: boolean, now: number): void {
    const ch = this.channels[index as 0 | 1 | 2];
    if (ch.gate === gate) return;
    ch.gate = gate;
    if (!ch.loaded) return;
    if (gate) {
      if (ch.mode === 0 || ch.mode === 4) {
        ch.loadNs += now - ch.stoppedAtNs; // resume where it stopped
      } else {
        ch.loadNs = now; // rising gate edge (re)triggers modes 1, 2, 3, 5
      }
      ch.counting = true;
    } else if (ch.mode !== 1 && ch.mode !== 5) {
      ch.counting = false;
      ch.stoppedAtNs = now;
    }
    if (index === 0) this.armChannel0(now);
  }

  /** Arms the timer for the next rising edge of OUT0 after now. */
  private armChannel0(now: number): void {
    const ch = this.channels[0];
    if (!ch.loaded || !ch.counting) {
      this.timers.cancel(this.timer);
      return;
    }
    const n = ch.reload;
    let edgeTick: number;
    switch (ch.mode) {
      case 2:
      case 3:
        edgeTick = (Math.floor(ch.elapsed(now) / n) + 1) * n;
        break;
      case 0:
      case 1:
        edgeTick = n;
        break;
      default:
        edgeTick = n + 1;
    }
    this.channel0EdgeTick = edgeTick;
    const deadline = ch.loadNs + ticksToNs(edgeTick);
    if (deadline <= now && ch.mode !== 2 && ch.mode !== 3) {
      this.timers.cancel(this.timer); // one-shot already past
      return;
    }
    this.timers.arm(this.timer, deadline);
  }

  private channel0Fired(now: number): void {
    this.irq0.pulse();
    const ch = this.channels[0];
    if (ch.mode !== 2 && ch.mode !== 3) return;
    // Periodic: the next edge after the one that just fired, not after `now`, so ticks the CPU loop
    // was too late for are delivered one per timer check (Linux counts jiffies from them) instead of
    // being lost. A longer backlog (masked IRQ, paused domain, stalled host) is dropped.
    const nextTick = this.channel0EdgeTick + ch.reload;
    const nominalNs = ch.loadNs + ticksToNs(nextTick);
    if (nominalNs > now) {
      this.channel0EdgeTick = nextTick;
      this.timers.arm(this.timer, nominalNs);
    } else if (now - nominalNs > ticksToNs(MAX_TICK_BACKLOG_PERIODS * ch.reload)) {
      this.armChannel0(now);
    } else {
      this.channel0EdgeTick = nextTick;
      this.timers.arm(this.timer, now + 1);
    }
  }

  private readPortB(): number {
    const now = this.clock.nowNs();
    const refresh = Math.floor(now / R.REFRESH_PERIOD_NS) & 1 ? R.PORTB_REFRESH : 0;
    const out2 = this.channels[2].output(now) ? R.PORTB_OUT2 : 0;
    return (this.portBBits & 0x0f) | refresh | out2;
  }

  private writePortB(value: number): void {
    this.portBBits = value & 0x0f;
    this.setGate(2, (value & R.PORTB_GATE2) !== 0, this.clock.nowNs());
  }

  save(): Pit8254State {
    return { version: 1, channels: this.channels.map((c) => c.save()), portB: this.portBBits };
  }

  restore(s: Pit8254State): void {
    if (s.version !== 1) throw new Error(`Cannot restore pit8254 state version "${String(s.version)}"`);
    s.channels.forEach((cs, i) => Object.assign(this.channels[i as 0 | 1 | 2], cs));
    this.portBBits = s.portB;
    this.armChannel0(this.clock.nowNs());
  }
}
