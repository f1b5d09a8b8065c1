// LaunchSpec.emu.jit (xl.cfg emu_jit) reaches the emu CPU on its vCPU thread, and the execution profile
// (xl emu-stats) comes back from that thread: the tiny guest spins, the test asks the running domain.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { emuBackend } from "../../src/accel/emu/backend.ts";
import { loadKernel } from "../../src/boot/load.ts";
import type { DomainExecution, ExecutionProfile } from "../../src/hv/ports.ts";
import { formatProfile } from "../../src/hv/profile_format.ts";
import { buildTinyGuest } from "../guests/build.ts";

const MEMORY = 16 << 20;

async function spinning(jit: boolean | undefined): Promise<{ exec: DomainExecution; logs: string[] }> {
  const image = loadKernel({ kernelPath: buildTinyGuest().elf64, cmdline: "spin", memoryBytes: MEMORY, vcpus: 1, type: "pvh" });
  const logs: string[] = [];
  let text = "";
  const exec = await emuBackend.launch({ domid: 900, name: "jit-switch", type: "pvh", memoryBytes: MEMORY, vcpus: 1, image, ...(jit !== undefined ? { emu: { jit } } : {}) }, {
    console: (b) => { text += new TextDecoder().decode(b); },
    log: (l) => logs.push(l),
    shutdown: () => {},
    crashed: (why) => logs.push(`crashed: ${why}`),
  });
  const until = Date.now() + 30_000;
  while (!text.includes("tiny: spinning") && Date.now() < until) await delay(20);
  assert.match(text, /tiny: spinning/, `console: ${text}\nlogs: ${logs.join("\n")}`);
  return { exec, logs };
}

async function profileAfterSpin(exec: DomainExecution): Promise<ExecutionProfile> {
  await delay(300);
  const p = await exec.profile!();
  assert.ok(p !== null, "a running emu domain answers");
  return p;
}

test("emu: LaunchSpec.emu.jit = true runs the block JIT on the vCPU thread, and the profile says so", async () => {
  const { exec, logs } = await spinning(true);
  try {
    const p = await profileAfterSpin(exec);
    assert.equal(p.backend, "emu");
    assert.equal(p.jit, true);
    assert.ok(p.instructions > 10_000, `instructions ${p.instructions}`);
    assert.ok(typeof p.jitStats.blockRuns === "number" && typeof p.jitStats.interpSteps === "number", JSON.stringify(p.jitStats));
    assert.ok(p.jitStats.blockRuns! + p.jitStats.interpSteps! > 0);
    assert.ok(p.sampleCount > 0 && p.ripSamples.length > 0, "RIPs are sampled");
    assert.ok(p.ripSamples[0]!.rip.startsWith("00000000001"), `the spin loop is in the guest's 1 MiB image: ${p.ripSamples[0]!.rip}`);
    for (const k of ["pio", "mmio", "interrupts", "hypercalls", "msr"]) assert.equal(typeof p.exits[k], "number", k);
    assert.ok(p.exits.hypercalls! > 0, "the tiny guest's hypercalls are counted");
    assert.ok(logs.some((l) => /emu: block JIT \(emu_jit = 1\)/.test(l)), logs.join("\n"));
    const text = formatProfile(p);
    assert.match(text, /MIPS busy/);
    assert.match(text, /JIT cache hit rate: \d+\.\d %/);
  } finally {
    await exec.destroy();
  }
});

test("emu: LaunchSpec.emu.jit = false interprets; a paused domain gives its last snapshot, marked so", async () => {
  const { exec, logs } = await spinning(false);
  try {
    const p = await profileAfterSpin(exec);
    assert.equal(p.jit, false);
    assert.deepEqual(p.jitStats, {});
    assert.deepEqual(p.hotBlocks, []);
    assert.ok(logs.some((l) => /emu: interpreter \(emu_jit = 0\)/.test(l)), logs.join("\n"));
    await exec.pause();
    const q = await exec.profile!();
    assert.ok(q !== null && q.instructions >= p.instructions);
    assert.ok(q.notes.some((n) => /did not answer/.test(n)), q.notes.join("; "));
    await exec.unpause();
    await delay(100);
    const r = await exec.profile!();
    assert.ok(r !== null && r.instructions > q.instructions && !r.notes.some((n) => /did not answer/.test(n)));
  } finally {
    await exec.destroy();
  }
});
