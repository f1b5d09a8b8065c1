// The dispatcher's direct block chaining: links are followed (most block runs of a loop skip the lookup), never to
// a block that was overwritten since the link was made, and never across a change of the code mapping (tlbGen);
// results equal the interpreter's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuState } from "../cpu_state.ts";
import { EmuCpu } from "../cpu.ts";
import { FlatEmuSystem, setFlat64 } from "../../../testing/emu_flat_system.ts";
import { asm, hasAssembler } from "../../../testing/emu_asm.ts";

const CODE = 0x10000, STACK = 0x80000;

interface Result { rax: number; icount: number; rip: number; chained: number; blockRuns: number; lookups: number; steps: number }

function run(sys: FlatEmuSystem, st: CpuState, jit: boolean, chaining = true, hot = 1): Result {
  const cpu = new EmuCpu(st, sys, { jit });
  if (jit) { cpu.jit!.hotThreshold = hot; cpu.jit!.chaining = chaining; }
  for (let i = 0; i < 10_000 && !st.halted; i++) cpu.run(997);
  assert.equal(st.halted, true);
  const s = cpu.jit?.stats;
  return {
    rax: st.rlo[0]!, icount: st.icount, rip: st.ripLo, chained: s?.chainedRuns ?? 0, blockRuns: s?.blockRuns ?? 0,
    lookups: s?.lookups ?? 0, steps: s?.interpSteps ?? 0,
  };
}

function flat(code: Uint8Array, Sys: typeof FlatEmuSystem = FlatEmuSystem): { st: CpuState; sys: FlatEmuSystem } {
  const st = new CpuState(0);
  setFlat64(st);
  const sys = new Sys(st, 1 << 20);
  sys.ram.set(code, CODE);
  st.ripLo = CODE; st.rlo[4] = STACK;
  return { st, sys };
}

test("a loop of calls runs chained, and a linked block overwritten in between is not run again", { skip: !hasAssembler() }, () => {
  // f is called 100 times; after the 51st call the loop patches f's immediate (add eax, 1 -> 2). The loop's
  // block is linked to f by then: the link must not be followed to the stale translation. f sits on the next
  // page (cross-page link) in the second variant.
  for (const gap of ["", ".balign 4096"]) {
    const src = `
      mov ecx, 100
      xor eax, eax
    1:
      call f
      cmp ecx, 50
      jne 2f
      mov byte ptr [rip+f+2], 2
    2:
      dec ecx
      jnz 1b
      hlt
    ${gap}
    f:
      add eax, 1
      nop
      ret`;
    const code = asm(src);
    const f0 = flat(code);
    const a = run(f0.sys, f0.st, false);
    const { st, sys } = flat(code);
    const b = run(sys, st, true);
    assert.equal(a.rax, 51 + 2 * 49);
    assert.equal(b.rax, a.rax, `gap "${gap}"`);
    assert.equal(b.icount, a.icount);
    assert.ok(b.chained > 100, `block runs were chained (${b.chained} of ${b.blockRuns})`);
    const { st: st2, sys: sys2 } = flat(code);
    const c = run(sys2, st2, true, false);
    assert.equal(c.rax, a.rax);
    assert.equal(c.chained, 0);
  }
});

/** Virtual page 0x30000 maps to physical 0x30000 or 0x50000 (`alt`); `out 0x80` flips it and bumps tlbGen as a
 * CR3 write would. */
class RemapSystem extends FlatEmuSystem {
  alt = false;
  private map(lo: number): number { return this.alt && (lo & ~0xfff) === 0x30000 ? lo + 0x20000 : lo; }
  override fetchPage(lo: number, hi: number): number { return super.fetchPage(this.map(lo), hi); }
  override fetch8(lo: number, hi: number): number { return super.fetch8(this.map(lo), hi); }
  override portOut(port: number, size: 1 | 2 | 4, v: number): void {
    if (port === 0x80) { this.alt = !this.alt; this.cpu.tlbGen++; return; }
    super.portOut(port, size, v);
  }
}

test("links are not followed after the code mapping changed (tlbGen)", { skip: !hasAssembler() }, () => {
  const src = `
    mov ecx, 100
    xor eax, eax
    mov edx, 0x30000
  1:
    call rdx
    cmp ecx, 50
    jne 2f
    out 0x80, al
  2:
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const f1 = asm("add eax, 1\n ret"), f2 = asm("add eax, 2\n ret");
  const results: Result[] = [];
  for (const jit of [false, true]) {
    const { st, sys } = flat(code, RemapSystem as typeof FlatEmuSystem);
    sys.ram.set(f1, 0x30000);
    sys.ram.set(f2, 0x50000);
    results.push(run(sys, st, jit));
  }
  assert.equal(results[0]!.rax, 51 + 2 * 49);
  assert.equal(results[1]!.rax, results[0]!.rax);
  assert.ok(results[1]!.chained > 100, `block runs were chained (${results[1]!.chained})`);
});

test("with a hot threshold above 1, straight-line interpreted steps skip the lookup, loops still get compiled, results equal the interpreter's", { skip: !hasAssembler() }, () => {
  // A loop whose body is straight-line code, a short forward skip and a rep string instruction, run 200 times, and a
  // store into the loop body's immediate halfway through (the block is invalidated and recompiled).
  const src = `
    mov ecx, 200
    xor eax, eax
    xor ebx, ebx
  1:
    add eax, 3
    lea rbx, [rbx + rax*2]
    xor edx, edx
    test ecx, 1
    jz 3f
    inc edx
  3:
    add ebx, edx
    push rcx
    mov ecx, 4
    mov edi, 0x60000
    rep stosb
    pop rcx
    cmp ecx, 100
    jne 2f
    mov byte ptr [rip+1b+2], 5
  2:
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const f0 = flat(code);
  const a = run(f0.sys, f0.st, false);
  for (const hot of [2, 7, 50]) {
    const { st, sys } = flat(code);
    const b = run(sys, st, true, true, hot);
    assert.equal(b.rax, a.rax, `hot ${hot}`);
    assert.equal(st.rlo[3], f0.st.rlo[3], `rbx, hot ${hot}`);
    assert.equal(b.icount, a.icount, `hot ${hot}`);
    assert.ok(b.blockRuns > 0, `hot ${hot}: the loop ran as blocks`);
    assert.ok(b.lookups < b.steps, `hot ${hot}: ${b.lookups} lookups for ${b.steps} interpreted steps`);
  }
});
