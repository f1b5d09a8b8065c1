// The block JIT against the interpreter: the same random instruction sequences (run in a loop so blocks are
// compiled and re-run) give identical registers, flags, memory and instruction counts; self-modifying code
// inside a block, faults in the middle of a block and code rewritten by a loader behave as in the interpreter.

import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuState } from "../cpu_state.ts";
import { EmuCpu } from "../cpu.ts";
import { FlatEmuSystem, setFlat64 } from "../../../testing/emu_flat_system.ts";
import { asm, hasAssembler } from "../../../testing/emu_asm.ts";

const CODE = 0x10000, DATA = 0x40000, STACK = 0x80000;

let seed = 1;
function rnd(): number { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; }
function pick<T>(a: readonly T[]): T { return a[rnd() % a.length]!; }

const R: Record<number, string[]> = {
  8: ["rax", "rbx", "rcx", "rdx", "r8", "r9"], 4: ["eax", "ebx", "ecx", "edx", "r8d", "r9d"],
  2: ["ax", "bx", "cx", "dx", "r8w"], 1: ["al", "bl", "cl", "dl", "ah", "bh"],
};
const PTR: Record<number, string> = { 8: "qword ptr", 4: "dword ptr", 2: "word ptr", 1: "byte ptr" };
const CC = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

let label = 0;
function mem(size: number): string {
  const d = rnd() % 200;
  switch (rnd() % 4) {
    case 0: return `${PTR[size]} [rsi+${d}]`;
    case 1: return `${PTR[size]} [rsi+rdi*${pick([1, 2, 4, 8])}+${d}]`;
    case 2: return `${PTR[size]} [rip+data+${d}]`;
    default: return `${PTR[size]} [rsi]`;
  }
}

function insn(): string {
  const size = pick([8, 4, 2, 1, 8, 4]);
  let regs = R[size]!;
  const r1 = pick(regs), r2 = pick(regs);
  const m = mem(size);
  if (size === 1 && /r\d/.test(m)) regs = ["al", "bl", "cl", "dl"];
  const dst = rnd() % 4 === 0 ? m : r1;
  const src = dst === m ? pick([r2, String(rnd() % 100)]) : pick([r2, m, String((rnd() | 0) % 1000)]);
  switch (rnd() % 16) {
    case 0: case 1: case 2: return `${pick(["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"])} ${dst}, ${src}`;
    case 3: return `test ${dst}, ${dst === m ? r2 : pick([r2, "17"])}`;
    case 4: return `${pick(["inc", "dec", "neg", "not"])} ${dst}`;
    case 5: return `${pick(["shl", "shr", "sar", "rol", "ror", "rcl", "rcr"])} ${dst}, ${pick(["1", "cl", String(rnd() % 40)])}`;
    case 6: return size === 1 ? `set${pick(CC)} ${dst}` : `cmov${pick(CC)} ${r1}, ${pick([r2, m])}`;
    case 7: return `mov ${dst}, ${src}`;
    case 8: { const l = ++label; return `j${pick(CC)} L${l}\n  add rax, 3\nL${l}:`; }
    case 9: return size === 1 ? "clc" : `lea ${r1}, [${pick(["rsi", "rax", "rbx"])}+${pick(["rcx", "rdx"])}*${pick([1, 2, 4, 8])}+${rnd() % 999}]`;
    case 10: return size >= 2 ? `imul ${r1}, ${pick([r2, m])}${rnd() % 2 ? `, ${rnd() % 300}` : ""}` : "stc";
    case 11: return size >= 2 ? `${pick(["movzx", "movsx"])} ${size === 2 ? "eax" : r1}, ${pick(["byte ptr [rsi+3]", "bl", "word ptr [rsi+6]", "cx"])}` : "cmc";
    case 12: return `push ${pick(R[8]!)}\n  pop ${pick(R[8]!)}`;
    case 13: { const l = ++label; return `call F${l}\n  jmp E${l}\nF${l}:\n  add rbx, rax\n  ret\nE${l}:`; }
    case 14: return `xchg ${pick([r1, m])}, ${r2}`;
    default: return pick(["cdqe", "cqo", "cdq", "movsxd rax, ebx", "nop", "pause", "nop dword ptr [rax+rax+0]"]);
  }
}

interface Run { rlo: number[]; rhi: number[]; rip: number; flags: number; icount: number; data: number[]; halted: boolean }

function runOn(code: Uint8Array, jit: boolean, init: (st: CpuState) => void, budget = 1_000_000): Run {
  const st = new CpuState(0);
  setFlat64(st);
  const sys = new FlatEmuSystem(st, 1 << 20);
  sys.ram.set(code, CODE);
  for (let i = 0; i < 4096; i++) sys.ram[DATA + i] = (i * 37 + 11) & 0xff;
  st.ripLo = CODE; st.rlo[4] = STACK; st.rlo[6] = DATA; st.rlo[7] = 5;
  init(st);
  const cpu = new EmuCpu(st, sys, { jit });
  if (jit) { assert.ok(cpu.jit !== null); cpu.jit!.hotThreshold = 1; }
  let n = 0;
  while (n < budget && !st.halted && sys.events.length === 0) n += cpu.run(Math.min(1000, budget - n));
  if (jit) assert.ok(cpu.jit!.stats.blocksCompiled > 0, "the JIT compiled blocks");
  return {
    rlo: [...st.rlo], rhi: [...st.rhi], rip: st.ripLo, flags: cpu.getEflags(), icount: st.icount,
    data: [...sys.ram.subarray(DATA, DATA + 4096)].concat([...sys.ram.subarray(STACK - 256, STACK)]), halted: st.halted,
  };
}

test("random instruction sequences give the same state on the JIT as on the interpreter", { skip: !hasAssembler() }, () => {
  seed = Number(process.env.EMU_JIT_SEED ?? 4242) | 1;
  const cases = Number(process.env.EMU_JIT_CASES ?? 60);
  for (let c = 0; c < cases; c++) {
    const body: string[] = [];
    for (let i = 0; i < 24; i++) body.push(insn());
    const src = `  mov r15, 4\nloop:\n  ${body.join("\n  ")}\n  dec r15\n  jnz loop\n  hlt\n.balign 4096\ndata:\n.zero 256\n`;
    const code = asm(src);
    const regs: number[] = [];
    for (let i = 0; i < 6; i++) regs.push(rnd() | 0, (rnd() % 3 === 0 ? rnd() : 0) | 0);
    const f = rnd() & 0x8d5;
    const init = (st: CpuState): void => {
      for (let i = 0; i < 4; i++) { st.rlo[i] = regs[2 * i]!; st.rhi[i] = regs[2 * i + 1]!; }
      st.rlo[8] = regs[8]!; st.rlo[9] = regs[10]!;
    };
    const a = runOn(code, false, (st) => { init(st); });
    const b = runOn(code, true, (st) => { init(st); });
    // EFLAGS compared in full: both sides compute them with the same lazy-flag records.
    assert.equal(a.halted, true, `case ${c} ran to hlt`);
    assert.deepEqual(b, a, `case ${c} (flags ${f}):\n${src}`);
  }
});

test("a store into the next instruction of the running block takes effect (self-modifying code)", { skip: !hasAssembler() }, () => {
  // The loop body patches the immediate of `add eax, imm32` that follows in the same block.
  const src = `
    mov ecx, 50
    xor eax, eax
  1:
    mov dword ptr [rip+2f+1], ecx
  2:
    add eax, 0x11111111
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.rlo[0], (50 * 51) / 2);
  assert.deepEqual(b, a);
});

test("a fault in the middle of a block restarts at the faulting instruction with earlier results kept", { skip: !hasAssembler() }, () => {
  const src = `
    mov ecx, 20
  1:
    add rax, 1
    mov rbx, rax
    cmp ecx, 1
    jne 2f
    mov rdx, qword ptr [r10]
  2:
    add rbx, 5
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const init = (st: CpuState): void => { st.rlo[10] = 0x7000_0000; }; // outside the flat RAM: #PF
  const a = runOn(code, false, init);
  const b = runOn(code, true, init);
  assert.equal(a.halted, false);
  assert.deepEqual(b, a);
});

test("flushCodeCache drops compiled blocks after a loader rewrites guest code", { skip: !hasAssembler() }, () => {
  const st = new CpuState(0);
  setFlat64(st);
  const sys = new FlatEmuSystem(st, 1 << 20);
  const cpu = new EmuCpu(st, sys, { jit: true });
  cpu.jit!.hotThreshold = 0;
  const prog = (v: number): Uint8Array => asm(`mov eax, ${v}\n add eax, 1\n hlt`);
  sys.ram.set(prog(5), CODE);
  st.ripLo = CODE; st.rlo[4] = STACK;
  cpu.run(100);
  assert.equal(st.rlo[0], 6);
  sys.ram.set(prog(41), CODE);
  cpu.flushCodeCache();
  st.halted = false; st.ripLo = CODE;
  cpu.run(100);
  assert.equal(st.rlo[0], 42);
});
