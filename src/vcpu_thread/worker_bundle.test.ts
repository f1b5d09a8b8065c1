import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { threadBoot } from "./worker_bundle.ts";

const SCRIPTED = new URL("./scripted_engine.ts", import.meta.url).href;

test("an engine under src/ starts from a JavaScript bundle of the worker and the engine", () => {
  const boot = threadBoot(SCRIPTED);
  if (process.env.TSXEN_VCPU_FROM_SOURCE === "1") return assert.equal(boot.bundled, false);
  assert.equal(boot.bundled, true);
  assert.match(boot.code, /^import\("file:.*\/worker\.js"\)$/);
  assert.match(boot.engineModule ?? "", /\/scripted_engine\.js$/);
  assert.ok(existsSync(fileURLToPath(boot.engineModule!)));
});

test("the answer for an engine stays the same for the life of the process", () => {
  assert.equal(threadBoot(SCRIPTED), threadBoot(SCRIPTED));
});

test("an engine outside src/ or no engine at all starts through tsx with its own URL", () => {
  const outside = new URL("../../test/guests/build.ts", import.meta.url).href;
  for (const e of [outside, undefined]) {
    const boot = threadBoot(e);
    assert.equal(boot.bundled, false);
    assert.equal(boot.engineModule, e);
    assert.match(boot.code, /tsImport/);
  }
});
