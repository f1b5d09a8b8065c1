import { test } from "node:test";
import assert from "node:assert/strict";
import { HvLog, formatHvLogLine } from "./hv_log.ts";

test("the log ring keeps the newest lines and counts the dropped ones", () => {
  let now = 1000;
  const log = new HvLog(() => now, 1000, 3);
  for (let i = 0; i < 5; i++) {
    now += 10;
    log.write(`line ${i}`);
  }
  assert.deepEqual(log.read().map((l) => l.text), ["line 2", "line 3", "line 4"]);
  assert.equal(log.droppedLines, 2);
});

test("multi-line writes become one entry per line and lines format as Xen's console", () => {
  const log = new HvLog(() => 2500, 1000);
  log.write("a\nb\n");
  assert.equal(log.read().length, 2);
  assert.equal(formatHvLogLine(log.read()[0]!), "(XEN) [    1.500000] a");
});
