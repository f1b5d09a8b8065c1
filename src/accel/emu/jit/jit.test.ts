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
  switch (rnd() % 20) {
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
    case 15: return pick(["cdqe", "cqo", "cdq", "movsxd rax, ebx", "nop", "pause", "nop dword ptr [rax+rax+0]"]);
    default: return rareInsn(size, r1, r2, m);
  }
}

/** Instructions the translator may leave to an in-block interpreter step (or translate natively later). */
function rareInsn(size: number, r1: string, r2: string, m: string): string {
  const w = size === 1 ? 4 : size; // bit ops, xadd, cmpxchg, shld: no 8-bit form (xadd/cmpxchg have one)
  const R1 = size === 1 ? R[4]![rnd() % 4]! : r1, R2 = size === 1 ? R[4]![rnd() % 4]! : r2;
  const M = size === 1 ? mem(4) : m;
  switch (rnd() % 22) {
    case 0: { // a register bit offset addresses memory outside the operand: only immediates for memory forms
      const dst = pick([R1, M]);
      return `${pick(["bt", "bts", "btr", "btc"])} ${dst}, ${dst === M ? String(rnd() % 70) : pick([R2, String(rnd() % 70)])}`;
    }
    case 1: return `xadd ${pick([r1, m])}, ${r2}`;
    case 2: return `cmpxchg ${pick([r1, m])}, ${r2}`;
    case 3: return w >= 4 ? `bswap ${R1}` : "bswap eax";
    case 4: return w >= 2 ? `${pick(["shld", "shrd"])} ${pick([R1, M])}, ${R2}, ${pick(["cl", String(rnd() % 70)])}` : "nop";
    case 5: return `${pick(["mul", "imul"])} ${pick([r1, m])}`;
    case 6: { // div/idiv with a divisor that cannot fault: dividend zero- or sign-extended from rax
      const bits = pick([8, 4, 2]);
      const d = { 8: "r10", 4: "r10d", 2: "r10w" }[bits]!;
      const ext = { 8: ["xor edx, edx", "cqo"], 4: ["xor edx, edx", "cdq"], 2: ["xor edx, edx", "cwd"] }[bits]!;
      const i = rnd() % 2;
      return `mov r10d, ${1 + (rnd() % 1000)}\n  ${ext[i]}\n  ${i ? "idiv" : "div"} ${d}`;
    }
    case 7: return `mov edi, ${DATA + 512 + (rnd() % 64)}\n  mov esi, ${DATA + (rnd() % 256)}\n  mov ecx, ${rnd() % 20}\n  ` +
      `${pick(["rep ", ""])}${pick(["stosb", "stosd", "stosq", "movsb", "movsq", "lodsb", "lodsq"])}\n  mov edi, 5\n  mov esi, ${DATA}`;
    case 8: return `pushfq\n  pop ${pick(R[8]!)}`;
    case 9: return `push ${pick(R[8]!)}\n  and qword ptr [rsp], 0x8d5\n  popfq`;
    case 10: return pick(["lfence", "mfence", "sfence"]);
    case 11: return `lock ${pick(["add", "sub", "and", "or", "xor", "adc"])} ${M}, ${R2}`;
    case 12: return `lock ${pick(["inc", "dec", "not", "neg"])} ${m}`;
    case 13: return `lock xadd ${M}, ${R2}`;
    case 14: return `lock cmpxchg ${M}, ${R2}`;
    case 15: return `lock ${pick(["bts", "btr", "btc"])} ${M}, ${rnd() % 64}`;
    case 16: return w >= 2 ? `${pick(["bsf", "bsr", "tzcnt", "lzcnt"])} ${R1}, ${pick([R2, M])}` : "nop";
    case 17: return pick(["lahf", "sahf", "cld", "clc", "stc", "cmc", "rdtsc", "cpuid"]);
    case 18: return `${pick(["adc", "sbb"])} ${pick([r1, m])}, ${pick([r2, String(rnd() % 100)])}`;
    case 19: return size === 8 ? `movzx ${r1}, ${pick(["word ptr [rsi+8]", "byte ptr [rsi+1]", "al", "cx"])}` : `movsx ${R1}, ${pick(["byte ptr [rsi+9]", "dl"])}`;
    case 20: return `test ${pick([r1, m])}, ${r2}`;
    default: return `xchg ${r1}, ${pick([r2, m])}`;
  }
}

interface Run { rlo: number[]; rhi: number[]; rip: number; flags: number; icount: number; data: number[]; halted: boolean; events: string[] }

function runOn(code: Uint8Array, jit: boolean, init: (st: CpuState) => void, budget = 1_000_000, hot = 1): Run {
  const st = new CpuState(0);
  setFlat64(st);
  const sys = new FlatEmuSystem(st, 1 << 20);
  sys.ram.set(code, CODE);
  for (let i = 0; i < 4096; i++) sys.ram[DATA + i] = (i * 37 + 11) & 0xff;
  st.ripLo = CODE; st.rlo[4] = STACK; st.rlo[6] = DATA; st.rlo[7] = 5;
  init(st);
  const cpu = new EmuCpu(st, sys, { jit });
  if (jit) { assert.ok(cpu.jit !== null); cpu.jit!.hotThreshold = hot; }
  let n = 0;
  while (n < budget && !st.halted && sys.events.length === 0) n += cpu.run(Math.min(1000, budget - n));
  if (jit) assert.ok(cpu.jit!.stats.blocksCompiled > 0, `the JIT compiled blocks (${JSON.stringify(cpu.jit!.stats)} ${cpu.jit!.lastCompileError.slice(0, 3000)})`);
  return {
    rlo: [...st.rlo], rhi: [...st.rhi], rip: st.ripLo, flags: cpu.getEflags(), icount: st.icount,
    data: [...sys.ram.subarray(DATA, DATA + 4096)].concat([...sys.ram.subarray(STACK - 256, STACK)]), halted: st.halted,
    events: sys.events.map((e) => `${e.kind} ${e.vector} at ${e.ripLo.toString(16)}`),
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

test("an interpreted rep string instruction that stops after a chunk is resumed, not skipped by the block", { skip: !hasAssembler() }, () => {
  // rep stosb over 70,000 bytes runs in two interpreter executions (65,536 per chunk): the block must leave after
  // the first one (RIP still at the instruction) instead of going on with the next instruction.
  const src = `
    mov r8d, 3
  1:
    mov edi, ${DATA}
    mov ecx, 70000
    mov eax, r8d
    rep stosb
    add ebx, ecx
    add ebx, edi
    lock add dword ptr [rsi+8], 1
    add ebx, dword ptr [rsi+8]
    dec r8d
    jnz 1b
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.halted, true);
  assert.equal(a.rlo[1], 0);
  assert.deepEqual(b, a);
});

test("an interpreted instruction that writes into the rest of its block makes the block leave (self-modifying code)", { skip: !hasAssembler() }, () => {
  // lock add (always interpreted) patches the immediate of the add that follows it in the same block.
  const src = `
    mov ecx, 40
    xor eax, eax
  1:
    lock add dword ptr [rip+2f+1], ecx
  2:
    add eax, 0x100
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.halted, true);
  assert.deepEqual(b, a);
});

test("popf setting TF inside a block traps after the next instruction, as in the interpreter", { skip: !hasAssembler() }, () => {
  const src = `
    mov ecx, 30
  1:
    add eax, ecx
    dec ecx
    jnz 1b
    pushfq
    or qword ptr [rsp], 0x100
    popfq
    add eax, 1
    add eax, 2
    add eax, 3
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.events.length, 1);
  assert.match(a.events[0]!, /^exception 1 at /);
  assert.deepEqual(b, a);
});

test("sti with interrupts disabled ends the block (interrupt shadow)", { skip: !hasAssembler() }, () => {
  const src = `
    mov ecx, 30
  1:
    cli
    add eax, ecx
    sti
    add eax, 1
    add eax, 2
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.deepEqual(b, a);
  // The block starting at `add eax, 1` exists only if blocks leave after sti.
  const st = new CpuState(0);
  setFlat64(st);
  const sys = new FlatEmuSystem(st, 1 << 20);
  sys.ram.set(code, CODE);
  st.ripLo = CODE; st.rlo[4] = STACK;
  const cpu = new EmuCpu(st, sys, { jit: true });
  cpu.jit!.hotThreshold = 1;
  while (!st.halted) cpu.run(1000);
  assert.ok(cpu.jit!.hottest(20).some((blk) => blk.ripLo === CODE + code.indexOf(0xfb) + 1), "a block starts after sti");
});

test("direct calls within the page are followed inside the block; fences are no-ops", { skip: !hasAssembler() }, () => {
  // A retpoline-style thunk (call; mov [rsp], reg; ret), a call whose push patches the code after it, and fences.
  const src = `
    mov ecx, 40
    lea r9, [rip+3f]
  1:
    lfence
    call 2f
  4:
    add eax, 7
    mfence
    dec ecx
    jnz 1b
    hlt
  2:
    sfence
    add eax, ecx
    mov qword ptr [rsp], r9
    ret
  3:
    add ebx, eax
    jmp 4b
    `;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.halted, true);
  assert.deepEqual(b, a);
});

test("a call whose return-address push overwrites the start of its target leaves the block before running stale code", { skip: !hasAssembler() }, () => {
  // RSP points into the code: the push of `call 2f` writes the return address over the target's first bytes.
  // What runs afterwards is whatever those bytes decode to; both must run the same.
  const src = `
    lea rsp, [rip+2f+8]
    call 2f
    hlt
  2:
    add eax, 1
    add eax, 2
    add eax, 3
    hlt`;
  const code = asm(src);
  // (Here: or al, 0; add [rax], eax, a #PF with RAX outside RAM.)
  const init = (st: CpuState): void => { st.rlo[0] = 0x7000_0000; };
  const a = runOn(code, false, init, 100, 0);
  const b = runOn(code, true, init, 100, 0);
  assert.equal(a.events.length, 1);
  assert.deepEqual(b, a);
  assert.deepEqual(b, a);
});

test("conditions right after cmp/sub/test/and/or/xor (inline in blocks) match the interpreter on edge values", { skip: !hasAssembler() }, () => {
  const V = ["0", "1", "-1", "0x7fffffff", "0x80000000", "0xffffffff", "0x100000000", "0x8000000000000000",
    "0x7fffffffffffffff", "0x8000000100000000", "0x180000000"];
  const pairs: [string, string][] = [];
  for (let i = 0; i < V.length; i++) for (let j = 0; j < V.length; j += 3) pairs.push([V[i]!, V[(i + j) % V.length]!]);
  const regs: Record<number, [string, string]> = { 8: ["r8", "r9"], 4: ["r8d", "r9d"], 2: ["r8w", "r9w"], 1: ["r8b", "r9b"] };
  const lines: string[] = ["  mov r15, 2", "loop:", "  xor r12d, r12d"];
  let n = 0;
  for (const [x, y] of pairs) {
    for (const op of ["cmp", "sub", "test", "and", "or", "xor"]) {
      for (const size of op === "test" ? [8, 4, 2, 1] : [8, 4]) {
        const [a, b] = regs[size]!;
        const cc = CC[n % 16]!;
        lines.push(`  mov r8, ${x}`, `  mov r9, ${y}`, `  ${op} ${a}, ${b}`);
        switch (n % 3) {
          case 0: lines.push(`  set${cc} byte ptr [rsi+${n % 4000}]`); break;
          case 1: lines.push(`  cmov${cc} r12, r8`, `  mov qword ptr [rsi+${n % 4000}], r12`); break;
          default: lines.push(`  j${cc} 1f`, `  add r12, 1`, "1:", `  mov qword ptr [rsi+${n % 4000}], r12`);
        }
        n++;
      }
    }
  }
  lines.push("  dec r15", "  jnz loop", "  hlt");
  const code = asm(lines.join("\n"));
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.halted, true);
  assert.deepEqual(b, a);
});

test("flag records dropped as dead are still seen by a fault between them and the next flag write", { skip: !hasAssembler() }, () => {
  const src = `
    mov ecx, 20
  1:
    add eax, ecx
    cmp eax, 300
    mov r11, rax
    cmp ecx, 1
    jne 2f
    sub eax, 7
    mov rdx, qword ptr [r10]
    and eax, 3
  2:
    xor ebx, eax
    add eax, 5
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const init = (st: CpuState): void => { st.rlo[10] = 0x7000_0000; }; // outside the flat RAM: #PF
  const a = runOn(code, false, init);
  const b = runOn(code, true, init);
  assert.equal(a.events.length, 1);
  assert.deepEqual(b, a);
});

test("every condition after cmp/sub/test/and/or/xor of every size matches the interpreter on edge values", { skip: !hasAssembler() }, () => {
  const V = ["0", "1", "-1", "0x7fffffff", "0x80000000", "0xffffffff", "0x100000000", "0x8000000000000000",
    "0x7fffffffffffffff", "0x8000000100000000", "0x180000000", "0x80", "0x4040"];
  const regs: Record<number, [string, string]> = { 8: ["r8", "r9"], 4: ["r8d", "r9d"], 2: ["r8w", "r9w"], 1: ["r8b", "r9b"] };
  const lines: string[] = ["  mov r15, 2", "loop:", "  xor r12d, r12d"];
  let k = 0;
  for (let i = 0; i < V.length; i++) {
    for (let j = 0; j < V.length; j++) {
      const all = (k++ % 6) === 0; // every pair for cmp, a sixth of them for the other ops
      for (const op of all ? ["cmp", "sub", "test", "and", "or", "xor"] : ["cmp"]) {
        for (const size of op === "test" ? [8, 4, 2, 1] : op === "cmp" ? [8, 4] : [8, 4]) {
          const [a, b] = regs[size]!;
          lines.push(`  mov r8, ${V[i]}`, `  mov r9, ${V[j]}`);
          for (const cc of CC) lines.push(`  ${op} ${a}, ${b}`, `  set${cc} al`, "  movzx eax, al", "  imul r12, r12, 3", "  add r12, rax");
        }
      }
    }
  }
  lines.push("  dec r15", "  jnz loop", "  hlt");
  const code = asm(lines.join("\n"));
  assert.ok(code.length < DATA - CODE);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.halted, true);
  assert.deepEqual(b, a);
});

test("a block whose branch goes back to its start loops inside the block with the interpreter's counts", { skip: !hasAssembler() }, () => {
  // Loop heads are block starts (the back edge makes them one): long counted loops, a jcc and a jmp back edge.
  const src = `
    mov ecx, 5000
    xor eax, eax
  1:
    add eax, ecx
    imul eax, eax, 3
    dec ecx
    jnz 1b
    mov ecx, 3000
  2:
    add ebx, ecx
    sub ecx, 1
    jz 3f
    jmp 2b
  3:
    mov ecx, 700
  4:
    lock add dword ptr [rsi], ecx
    mov edi, ${DATA + 64}
    mov edx, ecx
    xchg edx, ecx
    mov ecx, 3
    rep stosb
    mov ecx, edx
    dec ecx
    jnz 4b
    mov edi, 5
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.halted, true);
  assert.deepEqual(b, a);
});

test("a fault in a later iteration of an in-block loop restarts at the faulting instruction with the right count", { skip: !hasAssembler() }, () => {
  // The load walks up through memory and leaves the flat RAM (1 MiB) after a few thousand iterations.
  const src = `
    mov rbx, ${DATA}
  1:
    add eax, dword ptr [rbx]
    add rbx, 256
    inc ecx
    cmp ecx, 100000
    jne 1b
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.events.length, 1);
  assert.deepEqual(b, a);
});

test("forward branches inside a block skip to their target with the interpreter's counts and flags", { skip: !hasAssembler() }, () => {
  // Taken and not-taken forward jccs within the block, a join reached with flags from two different compares,
  // nested and disjoint skips, a skipped interpreted string instruction and a fault after a skip.
  const src = `
    mov ecx, 3000
    mov r10, ${DATA}
  1:
    mov eax, ecx
    and eax, 7
    cmp eax, 3
    jne 2f
    cmp ecx, 1500
  2:
    je 5f
    test ecx, 1
    jz 3f
    add ebx, 1
    cmp ecx, 77
    ja 4f
    mov edi, ${DATA + 128}
    push rcx
    mov ecx, 5
    rep stosb
    pop rcx
    mov edi, 5
  4:
    add ebx, 2
  3:
    add ebx, ecx
  5:
    cmp ecx, 2
    jne 6f
    mov r10, 0x70000000
  6:
    add eax, dword ptr [r10]
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.events.length, 1);
  assert.deepEqual(b, a);
});

test("at an instruction a forward branch joins, the flags come from whichever path ran", { skip: !hasAssembler() }, () => {
  // jl after the join sees cmp eax, 3 (jne taken) or cmp ecx, 1500; jb sees test (CF = 0) or cmp.
  const src = `
    mov ecx, 3000
  1:
    mov eax, ecx
    and eax, 7
    cmp eax, 3
    jne 2f
    cmp ecx, 1500
  2:
    jl 5f
    cmp ebx, -1
    test eax, 4
    jnz 3f
    cmp ecx, 1000
  3:
    jb 5f
    add ebx, 1
  5:
    add ebx, ecx
    dec ecx
    jnz 1b
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.deepEqual(b, a);
});

test("loops whose head is inside the block (nested, jcc and jmp back edges, skips across them) count as the interpreter", { skip: !hasAssembler() }, () => {
  const src = `
    mov r8d, 40
    xor eax, eax
  1:
    mov ecx, 37
    test r8d, 1
    jnz 3f
  2:
    add eax, ecx
    dec ecx
    jnz 2b
  3:
    add ebx, eax
    mov edx, 5
  4:
    add eax, edx
    sub edx, 1
    jz 5f
    jmp 4b
  5:
    cmp r8d, 7
    jne 6f
    add rax, qword ptr [r10]
  6:
    dec r8d
    jnz 1b
    hlt`;
  const code = asm(src);
  for (const r10 of [DATA, 0x7000_0000]) {
    const init = (st: CpuState): void => { st.rlo[10] = r10; };
    const a = runOn(code, false, init);
    const b = runOn(code, true, init, 1_000_000, 0);
    assert.equal(a.events.length, r10 === DATA ? 0 : 1);
    assert.deepEqual(b, a);
  }
});

test("inline register shifts/rotates by constants and inc/dec after cmp/test match the interpreter on edge values", { skip: !hasAssembler() }, () => {
  const V = ["0", "1", "-1", "0x7fffffff", "0x80000000", "0xffffffff", "0x100000000", "0x8000000000000000",
    "0x7fffffffffffffff", "0x8000000100000000", "0x180000000", "0x80", "0x4040", "0xc0000003"];
  const lines: string[] = ["  mov r15, 2", "loop:", "  xor r12d, r12d"];
  let ccN = 0;
  const mix = ["  pushfq", "  pop rax", "  imul r12, r12, 3", "  add r12, rax", "  add r12, r8", "  add r12, r10"];
  for (const v of V) {
    for (const op of ["shl", "shr", "sar", "rol", "ror", "sal"]) {
      for (const n of ["1", "2", "7", "31", "32", "33", "63", "64"]) {
        for (const reg of ["r8", "r8d"]) lines.push(`  mov r8, ${v}`, `  ${op} ${reg}, ${n}`, ...mix);
        // conditions right after the shift; a rotate whose flags are overwritten before anything sees them
        lines.push(`  mov r8, ${v}`, `  ${op} r8, ${n}`, `  set${CC[ccN++ % 16]} bl`, "  movzx ebx, bl", "  imul r13, r13, 5", "  add r13, rbx",
          `  ${op} r8d, ${n}`, "  cmp r8, r12", "  adc r13, r8");
      }
      lines.push(`  mov r8, ${v}`, "  cmp r8, 1", `  ${op} r8`, ...mix); // d1 form, CF/OF from the shift
      for (const n of ["0", "1", "31", "33"]) { // by cl: count 0 keeps the flags
        lines.push(`  mov r8, ${v}`, `  mov ecx, ${n}`, "  cmp r8, r9", `  ${op} r8d, cl`, ...mix);
        lines.push(`  mov r8, ${v}`, `  mov ecx, ${n}`, "  test r8, r8", `  ${op} r8d, cl`, "  sub r9d, 1", `  ${op} r8d, cl`, `  set${CC[ccN++ % 16]} bl`,
          "  movzx ebx, bl", "  add r13, rbx", "  adc r13, r8");
      }
    }
    for (const w of V.filter((_, i) => i % 3 === 0)) {
      for (const prod of [`cmp r8, r9`, `cmp r8d, r9d`, "test r8, r9", "sub r8d, r9d"]) {
        for (const id of ["dec r10d", "inc r10", "dec r10", "inc r10w", "dec r10b"]) {
          lines.push(`  mov r8, ${v}`, `  mov r9, ${w}`, `  mov r10, ${w}`, `  ${prod}`, `  ${id}`, `  set${CC[ccN++ % 16]} al`,
            "  adc r12, 0", "  movzx eax, al", "  imul r13, r13, 5", "  add r13, rax", ...mix);
        }
      }
    }
  }
  lines.push("  dec r15", "  jnz loop", "  hlt");
  const code = asm(lines.join("\n"));
  assert.ok(code.length < DATA - CODE, `code ${code.length}`);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.halted, true);
  assert.deepEqual(b, a);
});

test("inline imul (2- and 3-operand, 32/64-bit) matches the interpreter on edge values, flags included", { skip: !hasAssembler() }, () => {
  const V = ["0", "1", "-1", "0x7fffffff", "0x80000000", "0xffffffff", "0x100000000", "0x8000000000000000",
    "0x7fffffffffffffff", "0x8000000100000000", "0x180000000", "0xffff", "0x10000", "0x2545f4914f6cdd1d", "-0x12345678"];
  const lines: string[] = ["  mov r15, 2", "loop:", "  xor r12d, r12d"];
  const mix = ["  pushfq", "  pop rax", "  imul r12, r12, 3", "  add r12, rax", "  add r12, r8", "  rol r12, 7"];
  for (const v of V) {
    for (const w of V) lines.push(`  mov r8, ${v}`, `  mov r9, ${w}`, "  imul r8, r9", ...mix, `  mov r8, ${v}`, "  imul r8d, r9d", ...mix);
    for (const m of ["0", "1", "-1", "3", "0x7fffffff", "-0x80000000", "0x2545f491", "0x10000", "-2"]) {
      lines.push(`  mov r9, ${v}`, `  imul r8, r9, ${m}`, ...mix, `  imul r8d, r9d, ${m}`, ...mix);
    }
  }
  lines.push("  dec r15", "  jnz loop", "  hlt");
  const code = asm(lines.join("\n"));
  assert.ok(code.length < DATA - CODE, `code ${code.length}`);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.halted, true);
  assert.deepEqual(b, a);
});

test("registers in locals of a looping block: an interpreted rep string step that faults midway keeps its progress", { skip: !hasAssembler() }, () => {
  // rsi walks up 300 bytes per iteration and leaves the flat RAM (1 MiB) inside a rep movsb (an in-block step).
  const src = `
    mov rsi, ${DATA}
    mov rdi, ${DATA + 512}
  1:
    add r8, 3
    mov rcx, 300
    mov r9, rsi
    rep movsb
    sub rdi, 300
    shl r10, 1
    inc r11
    cmp r11, 100000
    jne 1b
    hlt`;
  const code = asm(src);
  const a = runOn(code, false, () => {});
  const b = runOn(code, true, () => {});
  assert.equal(a.events.length, 1);
  assert.ok(a.rlo[1]! > 0 && a.rlo[1]! < 300, `rcx ${a.rlo[1]} mid-rep`);
  assert.deepEqual(b, a);
});
