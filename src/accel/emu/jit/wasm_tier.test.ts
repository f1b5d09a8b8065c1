// The JIT's WebAssembly tier against the interpreter: random looping blocks of the instructions it translates
// (8/32/64-bit ALU on registers, immediates and memory, mov/lea/movzx/movsx/movsxd, imul, shifts and rotates by
// constants and CL, not/neg/inc/dec, test, cmovcc, setcc, push/pop, forward and backward jccs), with guest RAM and the TLB in a shared WebAssembly.Memory
// as the emu backend lays them out; registers, flags, memory and instruction counts must match. Also: a page
// fault inside a wasm loop restarts at the right instruction with the right count, and a store into the loop's
// own code leaves the block.

import { test } from "node:test";
import assert from "node:assert/strict";
import { EmuCpu } from "../cpu.ts";
import { enterLongMode, makeMachine, type Machine, writeGate64 } from "../test_fixture.ts";
import { asm, hasAssembler } from "../../../testing/emu_asm.ts";
import { regStorageFor, tlbStorageFor, wasmGuestMemory } from "./wasm_tier.ts";
import { CHAIN } from "./wasm_translate.ts";

const CODE = 0x100000, DATA = 0x201000, STACK = 0x300000;
const RAM = 32 << 20;

let seed = 99;
function rnd(): number { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; }
function pick<T>(a: readonly T[]): T { return a[rnd() % a.length]!; }
const R64 = ["rax", "rbx", "rdx", "rsi", "r8", "r9", "r10", "r11"];
const R32 = ["eax", "ebx", "edx", "esi", "r8d", "r9d", "r10d", "r11d"];
const IMM = ["0", "1", "-1", "0x7f", "-128", "0x7fffffff", "-0x80000000", "0x1234", "31", "0x80"];

function insn(): string {
  const w = rnd() % 2 === 0;
  const R = w ? R64 : R32;
  const a = pick(R), b = pick(R);
  const ptr = w ? "qword ptr" : "dword ptr";
  const m = `${ptr} [rdi+${pick([0, 8, 16, 24, 64, 4000, 4088, 4092])}]`;
  // 8-bit registers: ah..dh cannot be encoded with a REX prefix (sil, r8b...): one set per instruction
  const set8 = pick([["al", "bl", "dl", "ah", "bh", "dh"], ["al", "bl", "dl", "sil", "r8b", "r10b"]]);
  const b8 = pick(set8), c8 = pick(set8);
  switch (rnd() % 29) {
    case 0: return `${pick(["add", "sub", "and", "or", "xor", "cmp"])} ${a}, ${b}`;
    case 1: return `${pick(["add", "sub", "and", "or", "xor", "cmp"])} ${a}, ${pick(IMM)}`;
    case 2: return `${pick(["add", "sub", "and", "or", "xor", "cmp"])} ${a}, ${m}`;
    case 3: return `${pick(["add", "sub", "and", "or", "xor", "cmp"])} ${m}, ${a}`;
    case 4: return `mov ${a}, ${m}`;
    case 5: return `mov ${m}, ${a}`;
    case 6: return `lea ${a}, [${pick(R64)}+${pick(R64.filter((r) => r !== "rsp"))}*${pick([1, 2, 4, 8])}+${rnd() % 300 - 150}]`;
    case 7: return `${pick(["rol", "ror", "shl", "shr", "sar"])} ${a}, ${1 + (rnd() % (w ? 63 : 31))}`;
    case 8: return `imul ${a}, ${b}, ${pick(IMM)}`;
    case 9: return `imul ${a}, ${pick([b, m])}`;
    case 10: return `${pick(["not", "neg", "inc", "dec"])} ${pick([a, m])}`;
    case 11: return `test ${a}, ${pick([b, pick(IMM)])}`;
    case 12: return `${pick(["movzx", "movsx"])} ${pick(R32)}, ${pick(["byte ptr [rdi+5]", "word ptr [rdi+6]", "bl", "dx", "sil"])}`;
    case 13: return `movsxd ${pick(R64)}, ${pick([pick(R32), "dword ptr [rdi+12]"])}`;
    case 14: return `mov ${a}, ${pick(IMM)}`;
    case 16: return `mov ${m}, ${pick(IMM)}`;
    case 17: return `${pick(["add", "sub", "and", "or", "xor", "cmp", "test"])} ${m}, ${pick(IMM)}`;
    case 18: return `${pick(["test", "cmp"])} ${m}, ${a}`;
    case 19: return `j${pick(["e", "ne", "b", "ae", "be", "a", "l", "ge", "le", "g", "s", "ns", "o", "no", "p", "np"])} 2f\n  add ${b}, 3\n2:`;
    case 20: return `${pick(["add", "sub", "and", "or", "xor", "cmp", "test"])} ${pick([b8, "byte ptr [rdi+9]"])}, ${pick([c8, String(rnd() % 256)])}`;
    case 21: return `${pick(["add", "sub", "and", "or", "xor", "cmp", "mov"])} ${c8}, ${pick(["byte ptr [rdi+17]", b8])}`;
    case 22: return `mov ${pick(["byte ptr [rdi+33]", b8])}, ${pick([c8, String(rnd() % 256)])}`;
    case 23: return `${pick(["not", "neg", "inc", "dec"])} ${pick([b8, "byte ptr [rdi+3]"])}`;
    case 24: return `${pick(["rol", "ror", "shl", "shr", "sar"])} ${a}, cl`;
    case 25: return `cmov${pick(["e", "ne", "b", "a", "l", "ge", "s", "np", "o"])} ${a}, ${pick([b, m])}`;
    case 26: return `set${pick(["e", "ne", "b", "a", "l", "ge", "s", "np", "o", "le"])} ${pick([b8, "byte ptr [rdi+40]"])}`;
    case 27: // interpreted inside the block (in-block steps), and bswap
      return pick([`bt ${a}, ${b}`, `xchg ${a}, ${b}`, "cqo", "cdq", `bswap ${a}`, `bswap ${a}`, `bsf ${a}, ${b}`, `adc ${a}, ${b}`,
        `sbb ${a}, 7`, `mul ${b}`, `xchg ${a}, ${m}`, `btr ${m}, 5`, "pushfq\n  pop rax", "clc", "cmc", "stc", `lahf`]);
    case 28: return `${pick(["bsr", "bsf"])} ${a}, ${pick([b, m])}\n  ${pick(["jz", "jnz", "jc"])} 2f\n  inc ${b}\n2:`;
    case 15: return `push ${pick(R64)}\n  push ${pick([...R64, "rsp", "0x7f", "-3", "0x12345678", "-0x40000000"])}\n  pop ${pick(R64)}\n  pop ${pick(R64)}`;
    default: return `cmp ${a}, ${b}\n  j${pick(["e", "ne", "b", "ae", "be", "a", "l", "ge", "le", "g", "s", "ns", "o", "no", "p", "np"])} 2f\n  add ${b}, 3\n2:`;
  }
}

interface Result { regs: number[]; flags: number; data: number[]; icount: number; events: string[]; wasm: number }
/** The JIT statistics of the last run() with the JIT. */
let lastStats = { blockRuns: 0, chainedRuns: 0, lookups: 0, interpSteps: 0, blocksCompiled: 0, wasmBlocks: 0, wasmEntries: 0, inBlockSteps: 0 };

/** regsInPlace: the core's registers live in its scratch area, as the emu backend builds it (wasm code uses them in
 * place); else they are arrays of their own and the wrapper copies them. */
function run(code: Uint8Array, jit: boolean, setup?: (m: Machine) => void, budget = 100_000, regions = false, regsInPlace = true, hot = 1): Result {
  const g = wasmGuestMemory(RAM, 1);
  assert.ok(g !== null, "WebAssembly shared memory is available");
  const regs = regsInPlace ? regStorageFor(g.memory, RAM, 0)! : undefined;
  const m = makeMachine({ ram: { bytes: g.ram, sizeBytes: RAM }, tlbStorage: tlbStorageFor(g.memory, RAM, 0)! }, regs);
  enterLongMode(m);
  m.ram.bytes.set(code, CODE);
  for (let i = 0; i < 8192; i++) m.ram.bytes[DATA - 4096 + i] = (i * 29 + 3) & 0xff;
  m.cpu.ripLo = CODE;
  m.cpu.rlo[4] = STACK;
  m.cpu.rlo[7] = DATA - 64;
  for (let r = 0; r < 16; r++) if (r !== 4 && r !== 7) { m.cpu.rlo[r] = (r * 0x9e3779b1) | 0; m.cpu.rhi[r] = r * 77; }
  m.cpu.rlo[1] = 5; m.cpu.rhi[1] = 0; // loop counter
  setup?.(m);
  const cpu = new EmuCpu(m.cpu, m.sys, { jit });
  if (jit && hot !== 0) cpu.jit!.hotThreshold = hot; // 0: the cache's own thresholds
  // regions: every start is first offered to the wasm tier as a region, looping or not
  if (jit && regions) cpu.jit!.regionHot = 1;
  let n = 0;
  while (n < budget && !m.cpu.halted) n += cpu.run(Math.min(1000, budget - n));
  if (jit) lastStats = { ...cpu.jit!.stats, inBlockSteps: cpu.jit!.wasm?.stats.steps ?? 0 };
  return {
    regs: [...m.cpu.rlo, ...m.cpu.rhi, m.cpu.ripLo], flags: cpu.getEflags(), icount: m.cpu.icount,
    data: [...m.ram.bytes.subarray(DATA - 4096, DATA + 4096)],
    events: m.logs.concat(m.tripleFaults), wasm: jit ? cpu.jit!.stats.wasmBlocks : 0,
  };
}

test("random looping blocks on the wasm tier give the interpreter's registers, flags, memory and counts", { skip: !hasAssembler() }, () => {
  let wasm = 0;
  for (let c = 0; c < 40; c++) {
    const body: string[] = [];
    for (let i = 0; i < 12; i++) body.push(insn());
    const code = asm(`1:\n  ${body.join("\n  ")}\n  dec rcx\n  jnz 1b\n  hlt\n`);
    const a = run(code, false);
    const b = run(code, true, undefined, 100_000, false, c % 2 === 0);
    wasm += b.wasm;
    assert.deepEqual({ ...b, wasm: 0 }, a, `case ${c} (registers ${c % 2 === 0 ? "in place" : "copied"}):\n${body.join("\n")}`);
  }
  assert.ok(wasm >= 20, `most cases ran as wasm blocks (${wasm} of 40)`);
});

test("random multi-block regions (jumps forward and back, out-of-order code) on the wasm tier match the interpreter", { skip: !hasAssembler() }, () => {
  let wasm = 0;
  const chunk = (): string => Array.from({ length: 3 }, insn).join("\n  ");
  const cc = (): string => pick(["e", "ne", "b", "ae", "be", "a", "l", "ge", "le", "g", "s", "ns", "o", "no", "p", "np"]);
  for (let c = 0; c < 30; c++) {
    const loops = c % 2 === 0;
    // 1: A; jcc 3; B; jmp 4; 3: C; jmp 5; 4: D; jcc 5 (or back to 1 up to 3 times); 5: E; loop (5 times) or stop
    const back = loops ? `dec r12\n  jnz 1b` : `j${cc()} 5f`;
    const src = `0:\n  mov r12, 3\n1:\n  ${chunk()}\n  j${cc()} 3f\n  ${chunk()}\n  jmp 4f\n3:\n  ${chunk()}\n  jmp 5f\n` +
      `4:\n  ${chunk()}\n  ${back}\n5:\n  ${chunk()}\n  ${loops ? "dec rcx\n  jnz 0b\n  " : ""}hlt\n`;
    const code = asm(src);
    const a = run(code, false);
    const b = run(code, true, undefined, 100_000, true, c % 3 !== 0);
    wasm += b.wasm;
    assert.deepEqual({ ...b, wasm: 0 }, a, `case ${c}:\n${src}`);
  }
  assert.ok(wasm >= 30, `most cases ran as wasm regions (${wasm} blocks in 30 cases)`);
});

test("a page fault inside a wasm loop restarts at the faulting instruction with the right count", { skip: !hasAssembler() }, () => {
  // rdi walks up 4 KiB per iteration and leaves the 32 MiB identity map: #PF with no handler -> triple fault
  const code = asm(`1:\n  add rax, qword ptr [rdi]\n  add rdi, 0x100000\n  inc rbx\n  jmp 1b\n`);
  const setup = (m: Machine): void => { m.cpu.rlo[0] = 0; m.cpu.rhi[0] = 0; m.cpu.rlo[3] = 0; m.cpu.rhi[3] = 0; m.cpu.rlo[7] = 0x1000; };
  const a = run(code, false, setup, 10_000);
  const b = run(code, true, setup, 10_000);
  assert.ok(b.wasm >= 1);
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("a store into the loop's own code leaves the wasm block and runs the new code", { skip: !hasAssembler() }, () => {
  const code = asm(`
    mov ecx, 50
    xor eax, eax
    lea rdi, [rip+patch+1]
  1:
    mov dword ptr [rdi], ecx
  patch:
    add eax, 0x11111111
    dec ecx
    jnz 1b
    hlt`);
  const a = run(code, false);
  const b = run(code, true);
  assert.deepEqual({ ...b, wasm: 0 }, a);
  assert.equal(a.regs[0], (50 * 51) / 2);
});

test("a wasm block ends at call and ret with the interpreter's stack and RIP", { skip: !hasAssembler() }, () => {
  const code = asm(`
    mov ecx, 40
    xor eax, eax
  1:
    add eax, ecx
    call 2f
    dec ecx
    jnz 1b
    hlt
  2:
    imul eax, eax, 3
    push rax
    pop rdx
    xor edx, 5
    mov ebx, 3
  3:
    add edx, 7
    sub ebx, 1
    jnz 3b
    ret`);
  const a = run(code, false);
  const b = run(code, true);
  assert.ok(b.wasm >= 1);
  assert.ok(a.regs[32] !== 0 && a.events.length === 0);
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("indirect calls and jumps (register and memory) in wasm blocks, and #GP for a non-canonical target before the push", { skip: !hasAssembler() }, () => {
  const code = asm(`
    jmp 3f
    .org 0x20
    mov r15d, 13
    hlt
    .org 0x40
  3:
    lea r12, [rip+5f]
    mov qword ptr [rdi+8], r12
    lea r13, [rip+6f]
    lea rdx, [rip+7f]
    mov qword ptr [rdi+32], rdx
    mov ecx, 30
  1:
    call r12
    call qword ptr [rdi+8]
    jmp r13
  7:
    dec ecx
    jnz 1b
    mov rax, 0x0000800000000000
    mov qword ptr [rdi+24], rax
    call qword ptr [rdi+24]
    hlt
  5:
    add eax, 3
    ret
  6:
    add ebx, eax
    jmp qword ptr [rdi+32]`);
  const setup = (m: Machine): void => { m.cpu.rlo[15] = 0; m.cpu.rhi[15] = 0; writeGate64(m.dv, 13, CODE + 0x20, 0); };
  const a = run(code, false, setup, 10_000);
  const b = run(code, true, setup, 10_000);
  if (CHAIN) assert.equal(lastStats.wasmBlocks, lastStats.blocksCompiled, "every block is wasm");
  assert.equal(a.regs[15], 13, "the interpreter raised #GP");
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("instructions outside the subset run through the interpreter inside a wasm block, faults in them included", { skip: !hasAssembler() }, () => {
  // bt/xchg/mul and a short rep stosb are interpreter steps; xchg with [r12] faults once r12 leaves the identity map
  const code = asm(`
    mov r12, 0x1f00000
  1:
    add rax, rbx
    bt rax, 3
    adc rbx, 1
    xchg rdx, rbx
    mul rbx
    mov r8, rcx
    push rcx
    push rdi
    mov ecx, 5
    rep stosb
    pop rdi
    pop rcx
    xchg rsi, qword ptr [r12]
    add r12, 0x40000
    dec rcx
    jnz 1b
    hlt`);
  const setup = (m: Machine): void => { m.cpu.rlo[1] = 40; m.cpu.rhi[1] = 0; };
  const a = run(code, false, setup);
  const b = run(code, true, setup);
  assert.ok(b.wasm >= 1, "the loop ran as a wasm block");
  assert.deepEqual({ ...b, wasm: 0 }, a);
  assert.ok(a.events.length > 0, "r12 left the map and the guest faulted");
});

test("rep movs and rep stos in wasm blocks: page chunks, overlap, DF, zero and huge counts, code pages, a fault midway", { skip: !hasAssembler() }, () => {
  // A called function without loops (its spills store only the registers written before them), entered with a
  // movsb that goes on from a data page into the code page, over the first jmp (the write TLB leaves code pages
  // out: the rest is an interpreter step); DATA - 4096 ..
  // DATA + 4096 is compared (filled with bytes that do not repeat); r15 sums RSI, RDI and RCX after each one; the last iteration's movsb runs into the unmapped 32 MiB (#PF, which ends the run) after 16 bytes
  const S = DATA - 4096, D = DATA;
  const code = asm(`
    jmp 0f
    .org 0x40
  0:
    mov r14d, 3
  1:
    mov rsi, ${S + 0x300}
    mov rdi, ${CODE - 8}
    mov ecx, 24
    call 2f
    dec r14
    jmp 1b
  2:
    rep movsb
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov rsi, ${S + 0x10}
    mov rdi, ${D + 0x800}
    mov ecx, 100
    rep movsb
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov rsi, ${S + 0xf00}
    mov rdi, ${D + 0x108}
    mov ecx, 40
    rep movsq
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov rsi, ${D + 0x200}
    mov rdi, ${D + 0x201}
    mov ecx, 50
    rep movsb
    add r15, rsi
    add r15, rdi
    add r15, rcx
    xor ecx, ecx
    rep movsd
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov eax, 0x5a
    mov rdi, ${S + 0xff0}
    mov ecx, 40
    rep stosb
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov rax, r14
    shl rax, 40
    add rax, 0x11223344
    mov rdi, ${D + 0x300}
    mov ecx, 20
    rep stosq
    add r15, rsi
    add r15, rdi
    add r15, rcx
    xor eax, eax
    mov rdi, ${D + 0x400}
    mov ecx, 9
    rep stosd
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov eax, 0x778899aa
    mov ecx, 7
    rep stosd
    add r15, rsi
    add r15, rdi
    add r15, rcx
    std
    mov rsi, ${S + 0x100}
    mov rdi, ${D + 0x637}
    mov ecx, 30
    rep movsb
    add r15, rsi
    add r15, rdi
    add r15, rcx
    cld
    mov rsi, ${S + 0x200}
    mov rdi, ${S + 0xffc}
    mov ecx, 4
    rep movsq
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov rdi, 0x1000000
    mov ecx, 70000
    rep stosb
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov rdi, ${CODE + 0xf00}
    mov ecx, 16
    rep stosb
    add r15, rsi
    add r15, rdi
    add r15, rcx
    mov rsi, r14
    shl rsi, 12
    neg rsi
    add rsi, 0x2000ff0
    mov rdi, ${D + 0xa00}
    mov ecx, 64
    rep movsb
    add r15, rsi
    add r15, rdi
    add r15, rcx
    ret`);
  const setup = (m: Machine): void => {
    for (let i = 0; i < 8192; i++) m.ram.bytes[S + i] = Math.imul(i + 1, 0x9e3779b1) >>> 24;
  };
  const a = run(code, false, setup, 2_000_000);
  const b = run(code, true, setup, 2_000_000);
  assert.ok(a.events.length > 0 && a.regs[1] === 48, "the last movsb faulted after 16 bytes");
  assert.ok(b.wasm >= 1, "the loop ran as wasm");
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("invlpg retires chained lookups of code in global pages only for its own region: a remapped global code page runs its new code", { skip: !hasAssembler() }, () => {
  // runs at 0xffffffff80100000 (global 2 MiB pages onto RAM 0); f at 0xffffffff80601000 is in a 4 KiB global
  // page that maps RAM 0x601000, then RAM 0x681000 (f with another immediate). Every iteration also invalidates
  // an unrelated page (0x200000), which must not make chained calls to f miss their lookups.
  const code = asm(`
    mov ecx, 60
  1:
    invlpg [0x200000]
    movabs rax, 0xffffffff80601000
    call rax
    cmp ecx, 30
    jne 2f
    mov qword ptr [0x16008], 0x681103
    movabs rax, 0xffffffff80601000
    invlpg [rax]
  2:
    dec ecx
    jnz 1b
    hlt`);
  const f = (imm: number): Uint8Array => asm(`add edx, ${imm}\n  add ebx, edx\n  ret`);
  const setup = (m: Machine): void => {
    const dv = new DataView(m.ram.bytes.buffer, m.ram.bytes.byteOffset);
    dv.setBigUint64(0x14000 + 3 * 8, 0x16000n | 3n, true);
    for (let i = 0; i < 512; i++) dv.setBigUint64(0x16000 + i * 8, BigInt(0x600000 + i * 4096) | 0x103n, true);
    m.ram.bytes.set(f(3), 0x601000);
    m.ram.bytes.set(f(1000), 0x681000);
    m.cpu.ripLo = (0x80000000 + CODE) | 0; m.cpu.ripHi = -1;
    m.cpu.rlo[2] = 0; m.cpu.rhi[2] = 0; m.cpu.rlo[3] = 0; m.cpu.rhi[3] = 0;
  };
  const a = run(code, false, setup, 100_000);
  const b = run(code, true, setup, 100_000);
  assert.equal(a.regs[2], 31 * 3 + 29 * 1000, "edx: f's new code ran after the remap");
  assert.deepEqual({ ...b, wasm: 0 }, a);
  // each iteration leaves its block at the invlpg (an in-block step that changed tlbGen) and looks up what
  // follows: ~140 lookups; ~310 when every invlpg retired the chained entries of f too
  if (CHAIN) assert.ok(lastStats.lookups < 200, `calls to f stayed chained across the unrelated invlpgs (${lastStats.lookups} lookups)`);
});

test("a wasm block may start with an in-block interpreter step; cli inside a chain does not leave it", { skip: !hasAssembler() }, () => {
  // f (native_save_fl + pv_native_irq_disable's shape): pushf; cli; ... (a block starting with an in-block step);
  // g enables interrupts again (sti: the chain leaves for the interrupt shadow)
  const code = asm(`
    mov ecx, 200
  1:
    call 2f
    call 4f
    dec ecx
    jnz 1b
    hlt
    .balign 64
  2:
    pushf
    cli
    add eax, ecx
    cmp eax, 1000
    jb 3f
    sub eax, 999
  3:
    pop rdx
    ret
    .balign 64
  4:
    sti
    nop
    ret`);
  const setup = (m: Machine): void => { m.cpu.eflagsRest |= 0x200; };
  const a = run(code, false, setup);
  const b = run(code, true, setup);
  assert.deepEqual({ ...b, wasm: 0 }, a);
  if (CHAIN) {
    assert.equal(lastStats.wasmBlocks, lastStats.blocksCompiled, "every block is wasm, the one starting with pushf too");
    // one entry into wasm per iteration (after sti), not two
    assert.ok(lastStats.wasmEntries < 250, `entries into wasm ${lastStats.wasmEntries}`);
  }
});

test("bswap (32 and 64 bits) and push of immediates in wasm blocks match the interpreter", { skip: !hasAssembler() }, () => {
  const code = asm(`
    mov ecx, 50
    mov rax, 0x0123456789abcdef
    mov rbx, 0x1122334455667788
    mov r9, 0x8899aabbccddeeff
  1:
    bswap eax
    bswap rbx
    bswap r9
    add rax, rbx
    xor rbx, r9
    push 0x7f
    push -3
    push 0x12345678
    push -0x40000000
    pop rdx
    add r9, rdx
    pop rdx
    sub rax, rdx
    pop rdx
    add rbx, rdx
    pop rdx
    xor r9, rdx
    dec ecx
    jnz 1b
    hlt`);
  const a = run(code, false);
  const b = run(code, true);
  assert.deepEqual({ ...b, wasm: 0 }, a);
  if (CHAIN) assert.equal(lastStats.inBlockSteps, 0, "bswap and push imm are not interpreter steps inside the block");
});

// ---- when starts are compiled (the cache's own thresholds: WASM_HOT 500 dispatches, JavaScript 10000) ----

test("straight code longer than one wasm region becomes wasm at once, not one region per WASM_HOT calls", { skip: !hasAssembler() }, () => {
  // f: 480 adds (three regions of 160) called 600 times; the regions after the first are reached by falling
  // through, which counts only once the one before them is a block: the cache primes them
  const body = Array.from({ length: 480 }, (_, i) => `add ${["eax", "ebx", "edx", "esi"][i % 4]}, ${i + 1}`).join("\n    ");
  const code = asm(`
    mov ecx, 600
  1:
    call 2f
    dec ecx
    jnz 1b
    hlt
    .balign 64
  2:
    ${body}
    ret`);
  const a = run(code, false, undefined, 1_000_000);
  const b = run(code, true, undefined, 1_000_000, false, true, 0);
  assert.deepEqual({ ...b, wasm: 0 }, a);
  // up to the 500th call everything is interpreted; after it, (nearly) nothing
  assert.ok(lastStats.interpSteps < 505 * 482, `interpreted steps ${lastStats.interpSteps}`);
});

test("a hot block invalidated by a write is compiled again after a few dispatches, not at the JavaScript threshold", { skip: !hasAssembler() }, () => {
  // f runs 2000 times; at the 1000th the loop rewrites f's immediate (as text_poke rewrites a patch site in a page
  // of hot kernel code): f's block is dropped and must come back soon, with the new immediate
  const body = Array.from({ length: 40 }, (_, i) => `add ${["ebx", "edx", "esi"][i % 3]}, ${i + 1}`).join("\n    ");
  const code = asm(`
    mov ecx, 2000
  1:
    call 2f
    cmp ecx, 1000
    jne 3f
    mov byte ptr [rip+4f], 5
  3:
    dec ecx
    jnz 1b
    hlt
    .balign 64
  2:
    ${body}
    .byte 0x83, 0xc0
  4:
    .byte 1
    ret`);
  const a = run(code, false, undefined, 1_000_000);
  const b = run(code, true, undefined, 1_000_000, false, true, 0);
  assert.equal(a.regs[0], 1001 * 1 + 999 * 5, "eax: the immediate changed after 1001 calls");
  assert.deepEqual({ ...b, wasm: 0 }, a);
  assert.ok(lastStats.interpSteps < 600 * 42, `interpreted steps ${lastStats.interpSteps}`);
});

// ---- chaining: wasm blocks going on to wasm blocks inside wasm (wasm_tier.ts chainRunCode; non-looping blocks are
// wasm only with it, TSXEN_EMU_JIT_WASM_CHAIN=0 runs these as JavaScript blocks) ----

test("a fault in a later block of a chained wasm run restarts at that block's instruction with the right count", { skip: !hasAssembler() }, () => {
  // three blocks per iteration (call/ret/jmp end them); the load in the first one leaves the identity map after a
  // few iterations, reached through the chain from the last block
  const code = asm(`
  1:
    mov rax, qword ptr [rdi]
    call 3f
  2:
    add rbx, rax
    add rdi, 0x100000
    jmp 1b
  3:
    inc rdx
    ret`);
  const setup = (m: Machine): void => { m.cpu.rlo[7] = 0x1000; m.cpu.rlo[3] = 0; m.cpu.rhi[3] = 0; m.cpu.rlo[2] = 0; m.cpu.rhi[2] = 0; };
  const a = run(code, false, setup, 10_000);
  const b = run(code, true, setup, 10_000);
  if (CHAIN) {
    assert.ok(b.wasm >= 3, `the blocks ran as wasm (${b.wasm})`);
    // blocks run inside wasm count as (chained) block runs, without a table lookup each, up to the fault
    assert.ok(lastStats.chainedRuns > 2 * lastStats.lookups, JSON.stringify(lastStats));
  }
  assert.ok(a.events.length > 0, "the guest faulted");
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("a store into another block's code drops it from the chain: the rewritten code runs", { skip: !hasAssembler() }, () => {
  // the first block bumps the immediate of the `add eax, imm8` in the third block, which the chain reaches by
  // lookup: a stale entry would add the old immediate
  const code = asm(`
    lea rsi, [rip+3f]
    mov ecx, 40
    xor eax, eax
  1:
    inc byte ptr [rsi]
    jmp 2f
  2:
    add ebx, 1
    jmp 5f
  5:
    .byte 0x83, 0xc0
  3:
    .byte 1
    dec ecx
    jnz 1b
    hlt`);
  const a = run(code, false);
  const b = run(code, true);
  assert.equal(a.regs[0], 860, "eax = 2 + 3 + ... + 41");
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("FS- and GS-relative operands (per-CPU variables) in wasm blocks add the segment bases", { skip: !hasAssembler() }, () => {
  const code = asm(`
  1:
    mov rax, qword ptr gs:[0x10]
    add qword ptr gs:[8], rcx
    inc dword ptr gs:[0x20]
    sub rbx, qword ptr fs:[rdx*8+0x18]
    mov dword ptr fs:[0x40], ebx
    lea r8, [rdx+0x10]
    call 2f
    dec rcx
    jnz 1b
    hlt
  2:
    xor rax, qword ptr gs:[r8]
    ret`);
  const setup = (m: Machine): void => {
    m.cpu.rlo[1] = 30; m.cpu.rhi[1] = 0; m.cpu.rlo[2] = 3; m.cpu.rhi[2] = 0;
    m.cpu.segBaseLo[5] = DATA - 256; m.cpu.segBaseHi[5] = 0; // gs
    m.cpu.segBaseLo[4] = DATA + 512; m.cpu.segBaseHi[4] = 0; // fs
  };
  const a = run(code, false, setup);
  const b = run(code, true, setup);
  if (CHAIN) assert.ok(b.wasm >= 2);
  assert.deepEqual({ ...b, wasm: 0 }, a);
  assert.notDeepEqual(a.data, run(asm("hlt"), false, setup).data, "the loop stored through fs and gs");
});

test("16-bit movs, cdqe, leave, prefetch and fences in wasm blocks match the interpreter, a fault in leave included", { skip: !hasAssembler() }, () => {
  const code = asm(`
  1:
    mov word ptr [rdi+6], bx
    mov si, word ptr [rdi+10]
    mov ax, dx
    mov word ptr [rdi+2], 0x8001
    mov r9w, 0x7ffe
    prefetcht0 byte ptr [rdi+0x7000000]
    lfence
    mov word ptr [rdi+4095], cx
    mfence
    cdqe
    push rbp
    mov rbp, rsp
    sub rsp, 32
    mov qword ptr [rbp-8], rax
    leave
    add rdx, rsi
    dec rcx
    jnz 1b
    mov rbp, 0x7fffffffffff0
    leave
    hlt`);
  const setup = (m: Machine): void => { m.cpu.rlo[1] = 25; m.cpu.rhi[1] = 0; m.cpu.rlo[5] = 0x1234; m.cpu.rhi[5] = 0x55; };
  const a = run(code, false, setup);
  const b = run(code, true, setup);
  if (CHAIN) assert.ok(b.wasm >= 1);
  assert.ok(a.events.length > 0, "the last leave faulted (rbp outside RAM)");
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("cmpxchg (not locked) in wasm blocks: equal and not, register and memory, 32 and 64 bits", { skip: !hasAssembler() }, () => {
  const code = asm(`
  1:
    mov rax, qword ptr [rdi+16]
    cmpxchg qword ptr [rdi+16], rbx
    setz r8b
    add rbx, rcx
    mov eax, ecx
    and eax, 3
    cmpxchg dword ptr [rdi+24], edx
    jnz 2f
    inc r9
  2:
    add r11, rax
    cmpxchg rsi, rdx
    add r11, rax
    adc r10, 0
    cmpxchg eax, ebx
    adc r10, 0
    dec rcx
    jnz 1b
    hlt`);
  const setup = (m: Machine): void => { m.cpu.rlo[1] = 40; m.cpu.rhi[1] = 0; m.ram.bytes.fill(0, DATA - 64 + 24, DATA - 64 + 28); m.ram.bytes[DATA - 64 + 24] = 2; };
  const a = run(code, false, setup);
  const b = run(code, true, setup);
  if (CHAIN) assert.ok(b.wasm >= 1);
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("adc and sbb in wasm blocks: carry in from each kind of producer, flags after them", { skip: !hasAssembler() }, () => {
  const code = asm(`
  1:
    add rax, rbx
    adc rdx, rsi
    sbb esi, 5
    sbb eax, eax
    adc byte ptr [rdi+7], 0x93
    cmp rcx, 17
    sbb r8, r8
    add r9, r8
    adc qword ptr [rdi+8], rax
    jc 2f
    inc r10
  2:
    sbb r11d, dword ptr [rdi+12]
    jo 3f
    add r10, 7
  3:
    shr rbx, 1
    adc r12, -1
    dec rcx
    jnz 1b
    hlt`);
  const setup = (m: Machine): void => { m.cpu.rlo[1] = 60; m.cpu.rhi[1] = 0; };
  const a = run(code, false, setup);
  const b = run(code, true, setup);
  if (CHAIN) assert.ok(b.wasm >= 1);
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

test("a fault after register writes in a straight wasm block restarts with those writes (spills store what was written so far)", { skip: !hasAssembler() }, () => {
  const code = asm(`
  1:
    call 2f
    add rdi, 0x100000
    jmp 1b
  2:
    add rax, 5
    mov rbx, rax
    lea rdx, [rax+rbx*2]
    xor rsi, rdx
    push rsi
    pop r9
    mov rcx, qword ptr [rdi]
    add r8, rcx
    ret`);
  const setup = (m: Machine): void => { m.cpu.rlo[7] = 0x1000; };
  const a = run(code, false, setup, 10_000);
  const b = run(code, true, setup, 10_000);
  if (CHAIN) assert.ok(b.wasm >= 2);
  assert.ok(a.events.length > 0, "the guest faulted");
  assert.deepEqual({ ...b, wasm: 0 }, a);
});

for (const [base, what, vector] of [["rbx", "#GP", 13], ["rbp", "#SS", 12]] as const) {
  test(`a non-canonical ${base}-based operand in a wasm block raises ${what} before the access, as in the interpreter`, { skip: !hasAssembler() }, () => {
    // the address turns non-canonical after 10 iterations (cmovz); read, read-modify-write and write forms; the
    // #SS and #GP handlers put their vector in r15
    const loop = (op: string): string => `
      jmp 3f
      .org 0x10
      mov r15d, 12
      hlt
      .org 0x20
      mov r15d, 13
      hlt
      .org 0x40
    3:
      ${op}
      add rdx, rax
      dec r8
      cmovz ${base}, rcx
      jmp 3b`;
    for (const op of [`mov rax, qword ptr [${base}+8]`, `add qword ptr [${base}+8], rax`, `mov qword ptr [${base}+16], rdx`]) {
      const code = asm(loop(op));
      const setup = (m: Machine): void => {
        m.cpu.rlo[8] = 10; m.cpu.rhi[8] = 0; m.cpu.rlo[1] = 0; m.cpu.rhi[1] = 0x8000; // rcx = 0x0000800000000000
        m.cpu.rlo[base === "rbx" ? 3 : 5] = DATA - 64; m.cpu.rhi[base === "rbx" ? 3 : 5] = 0;
        m.cpu.rlo[15] = 0; m.cpu.rhi[15] = 0;
        writeGate64(m.dv, 12, CODE + 0x10, 0);
        writeGate64(m.dv, 13, CODE + 0x20, 0);
      };
      const a = run(code, false, setup, 10_000);
      const b = run(code, true, setup, 10_000);
      assert.ok(b.wasm >= 1, op);
      assert.equal(a.regs[15], vector, `${op}: the interpreter raised ${what}`);
      assert.deepEqual({ ...b, wasm: 0 }, a, op);
    }
  });
}

test("an instruction across a page end ends a wasm block: it reads the next linear page's RAM, and writes to those bytes or a new mapping of that page are seen", { skip: !hasAssembler() }, () => {
  // linear 0x400000-0x5fffff in 4 KiB pages; linear 0x401000 first maps to RAM 0x480000, then (phase 2) to RAM
  // 0x401000, which holds the same code with other bytes of the crossing add's immediate. Phase 1 bumps an
  // immediate byte on the next page (RAM 0x480000) from the code before the loop.
  const img = asm(`
    xor edi, edi
    xor eax, eax
    mov ecx, 20
    jmp 4f
  1:
    inc edi
    cmp edi, 3
    je 3f
    cmp edi, 2
    je 2f
    inc byte ptr [0x401000]
    jmp 5f
  2:
    mov qword ptr [0x15008], 0x401003
    invlpg [0x401000]
  5:
    mov ecx, 20
    jmp 4f
  3:
    hlt
  .org 0xe0, 0x90
  4:
    add ebx, eax
    imul ebx, ebx, 3
  .org 0xfd, 0x90
    add eax, 0x12345678
    dec ecx
    jnz 4b
    jmp 1b`);
  assert.equal(img.length > 0x102 && img[0xfd], 0x05, "the add starts 3 bytes before the page end");
  const setup = (m: Machine): void => {
    const dv = new DataView(m.ram.bytes.buffer, m.ram.bytes.byteOffset);
    dv.setBigUint64(0x12000 + 2 * 8, 0x15000n | 7n, true);
    for (let i = 0; i < 512; i++) dv.setBigUint64(0x15000 + i * 8, BigInt(0x400000 + i * 4096) | 3n, true);
    dv.setBigUint64(0x15000 + 8, 0x480000n | 3n, true);
    m.ram.bytes.set(img.subarray(0, 0x100), 0x400f00);
    m.ram.bytes.set(img.subarray(0x100), 0x480000);
    m.ram.bytes.set(img.subarray(0x100), 0x401000);
    m.ram.bytes[0x401000] = 0x99; m.ram.bytes[0x401001] = 0x01;
    m.cpu.ripLo = 0x400f00;
  };
  const a = run(new Uint8Array(0), false, setup, 10_000);
  const b = run(new Uint8Array(0), true, setup, 10_000);
  const steps = lastStats.interpSteps;
  const eax = (0x12345678 + 0x12355678 + 0x01995678) * 20;
  assert.equal(a.regs[0], eax | 0, "the interpreter added each phase's immediate 20 times");
  assert.deepEqual({ ...b, wasm: 0 }, a);
  if (CHAIN) {
    // without the next page's translation, the cache cannot take the crossing add into a block
    run(new Uint8Array(0), true, (m) => { setup(m); (m.sys as unknown as Record<string, unknown>).fetchProbe = undefined; }, 10_000);
    assert.ok(steps + 50 <= lastStats.interpSteps, `the crossing add ran inside blocks (${steps} interpreted steps, ${lastStats.interpSteps} without)`);
  }
});
