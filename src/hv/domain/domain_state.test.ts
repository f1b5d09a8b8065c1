import { test } from "node:test";
import assert from "node:assert/strict";
import { BUILDING, canTransition, transition, xlStateString, type DomainState } from "./domain_state.ts";
import { DomainError } from "./domain_errors.ts";

test("a domain goes building → running ⇄ paused → shutdown → dying → gone", () => {
  let s: DomainState = BUILDING;
  s = transition(s, { kind: "built" });
  assert.equal(s.kind, "running");
  s = transition(s, { kind: "pause" });
  assert.equal(s.kind, "paused");
  s = transition(s, { kind: "unpause" });
  assert.equal(s.kind, "running");
  s = transition(s, { kind: "shutdown", reason: "reboot" });
  assert.deepEqual(s, { kind: "shutdown", reason: "reboot" });
  s = transition(s, { kind: "destroy" });
  assert.equal(s.kind, "dying");
  s = transition(s, { kind: "released" });
  assert.equal(s.kind, "gone");
});

test("a paused domain can shut down and be destroyed", () => {
  const paused: DomainState = { kind: "paused" };
  assert.equal(transition(paused, { kind: "shutdown", reason: "poweroff" }).kind, "shutdown");
  assert.equal(transition(paused, { kind: "destroy" }).kind, "dying");
});

test("a domain still building can be destroyed but not paused", () => {
  assert.equal(transition(BUILDING, { kind: "destroy" }).kind, "dying");
  assert.equal(canTransition(BUILDING, { kind: "pause" }), false);
});

test("refused transitions throw DomainError bad_state with a sentence naming both sides", () => {
  assert.throws(
    () => transition({ kind: "running" }, { kind: "unpause" }),
    (e: unknown) => e instanceof DomainError && e.code === "bad_state" && e.message === "Cannot unpause the domain: it is running",
  );
  assert.throws(() => transition({ kind: "shutdown", reason: "crash" }, { kind: "pause" }), /shut down \(crash\)/);
  assert.throws(() => transition({ kind: "gone" }, { kind: "destroy" }), DomainError);
  assert.throws(() => transition({ kind: "dying" }, { kind: "shutdown", reason: "poweroff" }), DomainError);
});

test("xlStateString() gives xl list's six columns", () => {
  assert.equal(xlStateString({ kind: "running" }), "r-----");
  assert.equal(xlStateString({ kind: "paused" }), "--p---");
  assert.equal(xlStateString({ kind: "shutdown", reason: "poweroff" }), "---s--");
  assert.equal(xlStateString({ kind: "shutdown", reason: "crash" }), "----c-");
  assert.equal(xlStateString({ kind: "dying" }), "-----d");
});

test("the refusal names the domain when told which", () => {
  assert.throws(() => transition({ kind: "paused" }, { kind: "pause" }, 'domain "web" (id 3)'), { message: 'Cannot pause domain "web" (id 3): it is paused' });
});
