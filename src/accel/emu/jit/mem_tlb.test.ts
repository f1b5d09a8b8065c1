// The JIT's inline TLB probes on the real MMU (X86System, 4-level paging) against the interpreter: random memory
// instructions of every size at aligned, misaligned and page-crossing addresses, self-modifying code through a
// write-TLB entry filled before the page held code, and a CR3 switch between runs of the same blocks.

import { test } from "node:test";
import assert from "node:assert/strict";
import { EmuCpu } from "../cpu.ts";
import { enterLongMode, makeMachine, type Machine, put64 } from "../test_fixture.ts";
import { asm, hasAssembler } from "../../../testing/emu_asm.ts";
import { INLINE_TLB, setInlineTlb } from "./mem_src.ts";

// The fixture maps the first 32 MiB with 2 MiB user pages: code at 0x100000, data at 0x201000 (next to a page
// boundary), stack below 0x300000.
const CODE = 0x100000, DATA = 0x201000, STACK = 0x300000;

let seed = 7;
function rnd(): number { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; }
function pick<T>(a: readonly T[]): T { return a[rnd() % a.length]!; }
const R: Record<number, string[]> = { 8: ["rax", "rbx", "rcx", "rdx"], 4: ["eax", "ebx", "ecx", "edx"], 2: ["ax", "bx", "cx", "dx"], 1: ["al", "bl", "cl", "dl"] };
const PTR: Record<number, string> = { 8: "qword ptr", 4: "dword ptr", 2: "word ptr", 1: "byte ptr" };

function insn(): string {
  const size = pick([8, 4, 2, 1]);
  const r = pick(R[size]!);
  // rsi points 64 bytes before a page end: displacements 0..127 give aligned, misaligned and page-crossing accesses.
  const m = `${PTR[size]} [rsi+${pick([0, 8, 16, 56, 60, 62, 63, 64, 3, 5, 7, 100])}]`;
  switch (rnd() % 8) {
    case 0: return `mov ${m}, ${r}`;
    case 1: return `mov ${r}, ${m}`;
    case 2: return `${pick(["add", "xor", "sub", "or", "and"])} ${m}, ${r}`;
    case 3: return `${pick(["add", "xor", "cmp"])} ${r}, ${m}`;
    case 4: return `push ${pick(R[8]!)}\n  pop ${pick(R[8]!)}`;
    case 5: return `${pick(["inc", "not", "neg"])} ${m}`;
    case 6: return `mov ${m}, ${rnd() % 1000}`;
    default: return size === 1 ? `movzx eax, ${m}` : `lea ${pick(R[8]!)}, [${pick(R[8]!)}+${rnd() % 99}]`;
  }
}

interface Result { regs: number[]; data: number[]; icount: number; events: string[] }

/** Runs on the interpreter (jit false) or the JIT with inline TLB probes on or off in the blocks it compiles. */
function run(code: Uint8Array, jit: boolean | "inline", setup?: (m: Machine) => void, budget = 200_000): Result {
  const saved = INLINE_TLB;
  setInlineTlb(jit === "inline");
  try { return runOn(code, jit !== false, setup, budget); } finally { setInlineTlb(saved); }
}

function runOn(code: Uint8Array, jit: boolean, setup: ((m: Machine) => void) | undefined, budget: number): Result {
  const m = makeMachine();
  enterLongMode(m);
  m.ram.bytes.set(code, CODE);
  for (let i = 0; i < 8192; i++) m.ram.bytes[DATA - 4096 + i] = (i * 29 + 3) & 0xff;
  m.cpu.ripLo = CODE;
  m.cpu.rlo[4] = STACK;
  m.cpu.rlo[6] = DATA - 64;
  setup?.(m);
  const cpu = new EmuCpu(m.cpu, m.sys, { jit });
  if (jit) { assert.ok(cpu.jit !== null); cpu.jit!.hotThreshold = 1; }
  let n = 0;
  while (n < budget && !m.cpu.halted) n += cpu.run(Math.min(1000, budget - n));
  if (jit) assert.ok(cpu.jit!.stats.blocksCompiled > 0);
  return {
    regs: [...m.cpu.rlo, ...m.cpu.rhi, m.cpu.ripLo], icount: m.cpu.icount,
    data: [...m.ram.bytes.subarray(DATA - 4096, DATA + 4096), ...m.ram.bytes.subarray(STACK - 128, STACK)],
    events: m.logs.concat(m.tripleFaults),
  };
}

test("random memory accesses through the inline TLB give the interpreter's state on the real MMU", { skip: !hasAssembler() }, () => {
  for (let c = 0; c < 25; c++) {
    const body: string[] = [];
    for (let i = 0; i < 20; i++) body.push(insn());
    const code = asm(`  mov r15, 6\nloop:\n  ${body.join("\n  ")}\n  dec r15\n  jnz loop\n  hlt\n`);
    const a = run(code, false);
    assert.deepEqual(run(code, "inline"), a, `case ${c} (inline probes):\n${body.join("\n")}`);
    if (c % 5 === 0) assert.deepEqual(run(code, true), a, `case ${c} (calls):\n${body.join("\n")}`);
  }
});

test("a store into a code page whose write entry was filled earlier still invalidates the running code", { skip: !hasAssembler() }, () => {
  // The loop first stores to its own page (fills the write TLB before any block exists), then, once compiled,
  // rewrites the immediate of `add eax, imm32` ahead of it: every pass must see the new immediate.
  const code = asm(`
    mov ecx, 50
    xor eax, eax
    lea rdi, [rip+patch+1]
    mov dword ptr [rdi], 1
  1:
    mov dword ptr [rdi], ecx
  patch:
    add eax, 0x11111111
    dec ecx
    jnz 1b
    hlt`);
  const a = run(code, false);
  assert.deepEqual(run(code, "inline"), a);
  assert.deepEqual(run(code, true), a);
  assert.equal(a.regs[0], (50 * 51) / 2);
});

test("blocks re-run after a CR3 switch read the new address space, not stale inline-TLB entries", { skip: !hasAssembler() }, () => {
  // VA 0x40000000 maps to 0x400000 in the first tables and to 0x600000 in the second; the program reads it,
  // switches CR3 with `mov cr3, rbx` (kept in rbx/rbp) and reads again in the same loop.
  const code = asm(`
    mov r15, 8
    xor eax, eax
  1:
    mov edx, dword ptr [r12]
    add eax, edx
    mov dword ptr [r12+8], eax
    xchg rbx, rbp
    mov cr3, rbx
    dec r15
    jnz 1b
    hlt`);
  const setup = (m: Machine): void => {
    // A copy of the fixture's tables at 0x30000 (PML4) with PML4[0] -> PDPT 0x31000 -> PD 0x32000 for VA 1 GiB.
    for (let i = 0; i < 4096; i += 4) m.dv.setUint32(0x30000 + i, m.dv.getUint32(0x10000 + i, true), true);
    for (let i = 0; i < 4096; i += 4) m.dv.setUint32(0x31000 + i, m.dv.getUint32(0x11000 + i, true), true);
    put64(m.dv, 0x30000, 0x31000 | 7);
    put64(m.dv, 0x11000 + 8, 0x20000 | 7); // old tables: VA 1 GiB -> PD 0x20000 -> 2 MiB page at 0x400000
    put64(m.dv, 0x20000, 0x400000 | 0x87);
    put64(m.dv, 0x31000 + 8, 0x32000 | 7); // new tables: -> 0x600000
    put64(m.dv, 0x32000, 0x600000 | 0x87);
    m.dv.setUint32(0x400000, 1000, true);
    m.dv.setUint32(0x600000, 7, true);
    m.cpu.rlo[12] = 0x40000000;
    m.cpu.rlo[3] = 0x30000; // rbx: the other tables
    m.cpu.rlo[5] = 0x10000; // rbp: these
  };
  const a = run(code, false, setup);
  assert.deepEqual(run(code, "inline", setup), a);
  assert.deepEqual(run(code, true, setup), a);
  assert.deepEqual(a.events, []);
  assert.equal(a.regs[0], 5 * 1000 + 3 * 7);
});
