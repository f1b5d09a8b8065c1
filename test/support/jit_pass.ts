// Runs a differential test file a second time on the block JIT: every block compiled on first use
// (TSXEN_EMU_JIT_HOT=0), with fewer cases than the interpreter pass (the JIT pass pays for `new Function` per block)
// and other seeds (more coverage). Used by the *_jit.test.ts wrappers next to each differential test file.
//
// The environment must be set before any emu module loads (jit/cache.ts reads TSXEN_EMU_JIT_HOT at load time), so
// the emu modules and the wrapped test file are imported dynamically here. A last test checks that the JIT really
// ran: it counts the blocks compiled by every core that turned the JIT on (a spy on Interp.enableJit).
import { test } from "node:test";
import assert from "node:assert/strict";

export async function jitPass(testFile: string, env: Record<string, string>): Promise<void> {
  process.env.TSXEN_EMU_JIT = "1";
  process.env.TSXEN_EMU_JIT_HOT = "0";
  for (const [k, v] of Object.entries(env)) process.env[k] ??= v;
  const { Interp } = await import("../../src/accel/emu/interp.ts");
  type Cache = NonNullable<InstanceType<typeof Interp>["jit"]>;
  const caches = new Set<Cache>();
  const enable = Interp.prototype.enableJit;
  Interp.prototype.enableJit = function (this: InstanceType<typeof Interp>, on: boolean): boolean {
    const r = enable.call(this, on);
    if (this.jit !== null) caches.add(this.jit);
    return r;
  };
  await import(testFile);
  test("the block JIT compiled and ran blocks in the tests above (TSXEN_EMU_JIT=1, TSXEN_EMU_JIT_HOT=0)", (t) => {
    let compiled = 0, runs = 0;
    for (const c of caches) { compiled += c.stats.blocksCompiled; runs += c.stats.blockRuns; }
    t.diagnostic(`${caches.size} JIT caches, ${compiled} blocks compiled, ${runs} block runs`);
    if (caches.size === 0) {
      // Every test above was skipped (no gcc / no KVM): nothing ran on either core.
      t.skip("no emu core ran");
      return;
    }
    assert.ok(compiled > 0 && runs > 0, `${caches.size} caches, ${compiled} blocks compiled, ${runs} block runs`);
  });
}
