// The JIT cache's byte-granular self-modifying-code tracking: which bytes a block covers (cache_cover.ts), writes
// beside a block keep it, writes into it drop it (and only it), a system reporting writes without an offset drops
// the whole page, and the running block leaves after a store into another live block.

import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuState } from "../cpu_state.ts";
import { EmuCpu } from "../cpu.ts";
import { FlatEmuSystem, setFlat64 } from "../../../testing/emu_flat_system.ts";
import { asm, hasAssembler } from "../../../testing/emu_asm.ts";
import { blockCoverage, branchLength } from "./cache_cover.ts";
import { JitCache, type JitCore } from "./cache.ts";

const CODE = 0x10000, STACK = 0x80000;

test("a block covers the bytes of its instructions, a followed jmp by its encoding", () => {
  const ram = new Uint8Array(0x3000);
  // At 0x1100: 48 01 d8 (add rax, rbx) | eb 10 (jmp +16, followed) ... at 0x1115: 90 (nop) c3 (ret).
  ram.set([0x48, 0x01, 0xd8, 0xeb, 0x10], 0x1100);
  ram.set([0x90, 0xc3], 0x1115);
  assert.equal(branchLength(ram, 0x1103, 0x2000), 2);
  assert.equal(branchLength(ram, 0x1100, 0x2000), 0);
  const rips = Int32Array.from([0x7000_1100, 0x7000_1103, 0x7000_1115, 0x7000_1116]);
  const cov = blockCoverage(ram, 0x1100, rips, new Int32Array(4), 0x17);
  assert.deepEqual([...cov!], [0x100, 0x105, 0x115, 0x117]);
  // Instructions on another page: not trackable by page.
  assert.equal(blockCoverage(ram, 0x1100, Int32Array.from([0x7000_1ffe, 0x7000_2000]), new Int32Array(2), 4), null);
});

/** A cache over `ram` for a fake core whose system reports writes like the MMU (codePageWritten). */
function trackedCache(ram: Uint8Array): { jit: JitCache; core: JitCore & { sys: { codePages: Uint8Array; codePageWritten: (p: number, o?: number, l?: number) => void } } } {
  const cpu = new CpuState(0);
  const sys = {
    ram, codePages: new Uint8Array(ram.length / 4096), codePageWritten: (_p: number, _o?: number, _l?: number): void => {},
    dropWriteTranslations: (_p: number): void => {}, fetchPage: (lo: number) => lo & ~0xfff,
  };
  const core = { cpu, sys, smc: false, bi: 0 } as unknown as JitCore & { sys: typeof sys };
  const jit = JitCache.forCore(core)!;
  jit.hotThreshold = 0;
  return { jit, core };
}

test("a write beside a block keeps it, a write into it drops it and marks it dead, a write without offset drops the page", () => {
  const ram = new Uint8Array(0x4000);
  // Two blocks on page 2: at 0x2100 "add rax, rbx; ret" and at 0x2200 "add rax, rcx; ret".
  ram.set([0x48, 0x01, 0xd8, 0xc3], 0x2100);
  ram.set([0x48, 0x01, 0xc8, 0xc3], 0x2200);
  const { jit, core } = trackedCache(ram);
  const a = jit.lookup(0x2100, 0x2100, 0)!, b = jit.lookup(0x2200, 0x2200, 0)!;
  assert.ok(a.fn !== null && b.fn !== null);
  assert.deepEqual([...a.cover], [0x100, 0x104]);
  assert.equal(core.sys.codePages[2], 1);
  core.sys.codePageWritten(2, 0x104, 4); // right after block a
  core.sys.codePageWritten(2, 0xf0, 0x10); // right before it
  assert.equal(a.dead, false);
  assert.equal(core.smc, false, "no live block was hit");
  assert.equal(jit.lookup(0x2100, 0x2100, 0), a);
  core.sys.codePageWritten(2, 0x102, 1); // into block a
  assert.equal(a.dead, true);
  assert.equal(b.dead, false);
  assert.equal(core.smc, true);
  assert.equal(core.sys.codePages[2], 1, "the page still holds block b");
  assert.equal(jit.stats.blocksInvalidated, 1);
  core.smc = false;
  core.sys.codePageWritten(2); // no offset: the whole page
  assert.equal(b.dead, true);
  assert.equal(core.smc, true);
  assert.equal(core.sys.codePages[2], 0, "no blocks left: the page is unmarked");
  // A recompiled block is a new one.
  const a2 = jit.lookup(0x2100, 0x2100, 0)!;
  assert.notEqual(a2, a);
  assert.equal(a2.dead, false);
  jit.flush();
  assert.equal(a2.dead, true);
  assert.equal(jit.stats.liveBlocks, 0);
  assert.equal(jit.stats.codeBytes, 0);
});

function flatCpu(code: Uint8Array): { st: CpuState; sys: FlatEmuSystem; cpu: EmuCpu } {
  const st = new CpuState(0);
  setFlat64(st);
  const sys = new FlatEmuSystem(st, 1 << 20);
  sys.ram.set(code, CODE);
  st.ripLo = CODE; st.rlo[4] = STACK;
  const cpu = new EmuCpu(st, sys, { jit: true });
  cpu.jit!.hotThreshold = 1;
  return { st, sys, cpu };
}

function runToHlt(cpu: EmuCpu, st: CpuState): void {
  for (let i = 0; i < 1000 && !st.halted; i++) cpu.run(10_000);
  assert.equal(st.halted, true);
}

test("stores into data on a code page keep the page's blocks (no invalidation, no recompiles)", { skip: !hasAssembler() }, () => {
  const src = `
    mov ecx, 2000
    xor eax, eax
  1:
    add eax, ecx
    mov dword ptr [rip+data], eax
    add dword ptr [rip+data+4], 3
    dec ecx
    jnz 1b
    hlt
  .balign 64
  data:
    .zero 16`;
  const { st, sys, cpu } = flatCpu(asm(src));
  runToHlt(cpu, st);
  const s = cpu.jit!.stats;
  assert.equal(st.rlo[0], (2000 * 2001) / 2);
  const dataOff = CODE + asm(src).length - 16;
  assert.equal(new DataView(sys.ram.buffer).getInt32(dataOff + 4, true), 6000);
  assert.equal(s.blocksInvalidated, 0);
  assert.ok(s.blockRuns > 0 && s.blocksCompiled <= 4, `blocks ran and were not recompiled (${s.blockRuns} runs, ${s.blocksCompiled} compiles)`);
  assert.ok(s.writesBesideCode >= 4000);
});

test("a store into another block of the same page drops only that block; the running block leaves", { skip: !hasAssembler() }, () => {
  // The loop calls f (indirectly: a direct call on the same page would be followed into the loop's block), then
  // patches f's immediate (add eax, imm32) on every iteration: f is dropped each time (and not compiled any more
  // after 16 invalidations), the loop's blocks stay.
  const src = `
    mov ecx, 100
    xor eax, eax
    lea rdx, [rip+f]
  1:
    call rdx
    mov dword ptr [rip+f+1], ecx
    dec ecx
    jnz 1b
    hlt
  f:
    add eax, 0x1000
    ret`;
  const code = asm(src);
  const { st, cpu } = flatCpu(code);
  runToHlt(cpu, st);
  // f adds 0x1000 first, then the ecx value stored in the previous iteration (100 .. 2).
  assert.equal(st.rlo[0], 0x1000 + (100 * 101) / 2 - 1);
  const s = cpu.jit!.stats;
  assert.ok(s.blocksInvalidated >= 16, `f was invalidated (${s.blocksInvalidated})`);
  assert.ok(s.blocksInvalidated <= 18, `only f (${s.blocksInvalidated})`);
  assert.ok(s.blockRuns >= 150, `the loop's blocks kept running (${s.blockRuns})`);
});
