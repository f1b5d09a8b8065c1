import { test } from "node:test";
import assert from "node:assert/strict";
import { PcMachine } from "./pc_machine.ts";
import { ManualClock } from "./timers.ts";

/** xorshift32: deterministic operation streams. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const PORTS = [0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x43, 0x60, 0x61, 0x64, 0x70, 0x71, 0x92, 0x3f8, 0x3f9,
  0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x4d0, 0x4d1, 0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x608, 0xcf8, 0xe9];

test("random guest register traffic never throws and keeps IRQ/timer state consistent", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const next = rng(seed);
    const clock = new ManualClock();
    let shutdowns = 0;
    const m = new PcMachine({
      vcpus: 2, clock, tscKhz: 1_000_000, startUnixSeconds: 0,
      console: () => {}, shutdown: () => shutdowns++,
      apicEvents: { init: () => {}, startup: () => {}, nmi: () => {}, kick: () => {} },
    });
    const io = [m.cpuIo(0, () => 0n), m.cpuIo(1, () => 0n)];
    for (let i = 0; i < 5000; i++) {
      const r = next();
      const cpu = io[r & 1]!;
      const size = ([1, 1, 2, 4] as const)[(r >>> 1) & 3]!;
      const value = next();
      switch ((r >>> 3) & 7) {
        case 0:
        case 1: {
          const port = PORTS[(r >>> 6) % PORTS.length]!;
          // Leave the reset ports alone most of the time so the run is not all reboots.
          cpu.pioWrite(port, size, value & (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff));
          break;
        }
        case 2:
          cpu.pioRead(PORTS[(r >>> 6) % PORTS.length]!, size);
          break;
        case 3:
          cpu.mmioWrite(0xfee00000 + (((r >>> 6) & 0xff) << 4), 4, value >>> 0);
          break;
        case 4:
          cpu.mmioRead(0xfee00000 + (((r >>> 6) & 0xff) << 4), 4);
          break;
        case 5:
          cpu.mmioWrite(0xfec00000 + ((r >>> 6) & 1 ? 0x10 : 0), 4, value >>> 0);
          break;
        case 6: {
          clock.advance(value % 5_000_000);
          const now = clock.nowNs();
          if (now >= m.timers.nextDeadlineNs()) m.runTimers(now);
          assert.ok(m.timers.nextDeadlineNs() > now);
          break;
        }
        default: {
          const lapic = m.lapics[r & 1]!;
          if (lapic.hasPendingInterrupt()) {
            const v = lapic.acknowledge();
            assert.ok(v >= 0 && v <= 255);
          }
          m.consoleInput([value & 0xff]);
        }
      }
    }
    assert.ok(shutdowns >= 0);
  }
});
