import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, TimerScheduler } from "./timers.ts";

test("nextDeadlineNs() tracks the earliest armed timer through arm, re-arm and cancel", () => {
  const t = new TimerScheduler(new ManualClock());
  const a = t.createTimer("a", () => {});
  const b = t.createTimer("b", () => {});
  assert.equal(t.nextDeadlineNs(), Infinity);
  t.arm(a, 100);
  t.arm(b, 50);
  assert.equal(t.nextDeadlineNs(), 50);
  t.arm(b, 200);
  assert.equal(t.nextDeadlineNs(), 100);
  t.cancel(a);
  assert.equal(t.nextDeadlineNs(), 200);
  t.cancel(b);
  assert.equal(t.nextDeadlineNs(), Infinity);
  assert.equal(t.isArmed(a), false);
});

test("runExpired() fires due timers in deadline order and lets callbacks re-arm", () => {
  const t = new TimerScheduler(new ManualClock());
  const fired: string[] = [];
  const periodic = t.createTimer("p", (now) => {
    fired.push(`p@${now}`);
    if (fired.length < 5) t.arm(periodic, now + 30);
  });
  const once = t.createTimer("o", () => fired.push("o"));
  t.arm(periodic, 30);
  t.arm(once, 10);
  t.runExpired(35);
  assert.deepEqual(fired, ["o", "p@35"]);
  assert.equal(t.nextDeadlineNs(), 65);
  t.runExpired(64);
  assert.equal(fired.length, 2);
});
