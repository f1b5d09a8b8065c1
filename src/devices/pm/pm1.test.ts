import { test } from "node:test";
import assert from "node:assert/strict";
import { Pm1 } from "./pm1.ts";
import { ManualClock } from "../../platform/timers.ts";
import { RecordingIrq } from "../fakes.ts";

function make() {
  const clock = new ManualClock();
  const sci = new RecordingIrq();
  let poweroffs = 0;
  const pm = new Pm1({ clock, sci, poweroff: () => poweroffs++ });
  return { clock, sci, pm, poweroffs: () => poweroffs };
}

test("SLP_TYP=S5 with SLP_EN in PM1a_CNT powers off; SLP_TYP alone does not", () => {
  const { pm, poweroffs } = make();
  assert.equal(pm.read(4, 2) & 1, 1); // SCI_EN: always in ACPI mode
  pm.write(4, 2, (5 << 10) | 1);
  assert.equal(poweroffs(), 0);
  pm.write(4, 2, (5 << 10) | (1 << 13) | 1);
  assert.equal(poweroffs(), 1);
  pm.write(4, 2, (1 << 10) | (1 << 13)); // S1: ignored
  assert.equal(poweroffs(), 1);
});

test("a byte write of the high half carries SLP_EN with SLP_TYP", () => {
  const { pm, poweroffs } = make();
  pm.write(5, 1, (5 << 2) | (1 << 5));
  assert.equal(poweroffs(), 1);
});

test("power button sets PWRBTN_STS, asserts SCI when enabled, and clears on write-1", () => {
  const { pm, sci } = make();
  pm.write(2, 2, 1 << 8);
  pm.pressPowerButton();
  assert.equal(pm.read(0, 2), 1 << 8);
  assert.equal(sci.level, true);
  pm.write(0, 2, 1 << 8);
  assert.equal(pm.read(0, 2), 0);
  assert.equal(sci.level, false);
});

test("the PM timer runs at 3.579545 MHz and wraps at 24 bits", () => {
  const { pm, clock } = make();
  clock.set(1e9);
  assert.equal(pm.read(8, 4), 3579545);
  clock.set(5e9);
  assert.equal(pm.read(8, 4), (5 * 3579545) % 0x1000000);
});
