// Differential test against the real CPU: random integer instructions with random operands and flags are
// compiled once with gcc/as, run natively (ring 3, this machine's x86-64 CPU) and on the emu core from the
// same start state; registers and the architecturally defined flags must match. Skipped without gcc.
// Env: EMU_DIFF_CASES (default 3000), EMU_DIFF_SEED.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CpuState } from "./cpu_state.ts";
import { EmuCpu } from "./cpu.ts";
import { FlatEmuSystem, setFlat64 } from "../../testing/emu_flat_system.ts";

// The interpreter pass (the JIT pass, *_jit.test.ts, sets TSXEN_EMU_JIT=1 before importing this file).
process.env.TSXEN_EMU_JIT ??= "0";

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ALL = CF | PF | AF | ZF | SF | OF;

function hasGcc(): boolean {
  try { execFileSync("gcc", ["--version"], { stdio: "ignore" }); return true; } catch { return false; }
}

// xorshift32 PRNG (deterministic per seed).
let seed = 1;
function rnd(): number { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; }
function pick<T>(a: readonly T[]): T { return a[rnd() % a.length]!; }
function rnd64(): bigint {
  const kind = rnd() % 8;
  const v = (BigInt(rnd()) << 32n) | BigInt(rnd());
  switch (kind) {
    case 0: return 0n;
    case 1: return BigInt(rnd() % 4);
    case 2: return BigInt.asUintN(64, -BigInt(rnd() % 4 + 1));
    case 3: return 1n << BigInt(rnd() % 64);
    case 4: return BigInt(rnd() & 0xff) * 0x0101010101010101n;
    case 5: return BigInt(rnd()); // 32-bit value
    default: return v;
  }
}
const hex = (v: bigint): string => "0x" + v.toString(16);

const REGS: Record<number, string[]> = {
  8: ["rax", "rbx", "rdx"], 4: ["eax", "ebx", "edx"], 2: ["ax", "bx", "dx"], 1: ["al", "bl", "dl", "ah", "bh"],
};
const PTR: Record<number, string> = { 8: "qword ptr", 4: "dword ptr", 2: "word ptr", 1: "byte ptr" };
const CL: Record<number, string> = { 8: "rcx", 4: "ecx", 2: "cx", 1: "cl" };

/** A random addressing form that resolves to the scratch buffer: [rsi], [r11+disp], [r11+r10*s+disp] with r11
 * and r10 prepared by emit() (r11 = rsi - r10*s - disp), or RIP-relative to a scratch label. */
let memForm = { idx: 0n, scale: 1, disp: 0 };
function memOperand(): string {
  const k = rnd() % 4;
  if (k === 0) { memForm = { idx: 0n, scale: 1, disp: 0 }; return "[rsi]"; }
  const disp = k === 1 ? (rnd() % 256) - 128 : (rnd() % 100000) - 50000;
  if (k === 3) { memForm = { idx: 0n, scale: 1, disp }; return `[r11${disp < 0 ? "-" : "+"}${Math.abs(disp)}]`; }
  const scale = pick([1, 2, 4, 8]);
  const idx = BigInt(rnd() % 1000);
  memForm = { idx, scale, disp };
  return `[r11+r10*${scale}${disp < 0 ? "-" : "+"}${Math.abs(disp)}]`;
}

interface Case { asm: string; mask: number; setup: { a: bigint; b: bigint; c: bigint; d: bigint; m: bigint; f: number }; mem?: typeof memForm }

function genCase(): Case {
  memForm = { idx: 0n, scale: 1, disp: 0 };
  const size = pick([8, 4, 2, 1, 8, 4]);
  const mem = `${PTR[size]} ${memOperand()}`;
  const regs = mem.includes("r11") && size === 1 ? ["al", "bl", "dl"] : REGS[size]!;
  const r1 = pick(regs), r2 = pick(regs);
  const dst = rnd() % 4 === 0 ? mem : r1;
  let insn: string, mask = ALL;
  const kind = rnd() % 18;
  let c = rnd64();
  switch (kind) {
    case 0: case 1: {
      const op = pick(["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test"]);
      const src = rnd() % 3 === 0 ? String((rnd() | 0) % (size === 1 ? 128 : size === 2 ? 32768 : 0x7fffffff)) : r2;
      insn = `${op} ${dst}, ${src}`;
      if (op === "and" || op === "or" || op === "xor" || op === "test") mask &= ~AF;
      break;
    }
    case 2: {
      const op = pick(["inc", "dec", "neg", "not"]);
      insn = `${op} ${dst}`;
      break;
    }
    case 3: case 4: {
      const op = pick(["shl", "shr", "sar", "rol", "ror", "rcl", "rcr"]);
      const useCl = rnd() % 2 === 0;
      const count = rnd() % 70;
      c = BigInt(count);
      const n = useCl ? count : (rnd() % 3 === 0 ? 1 : count % 64);
      insn = `${op} ${dst}, ${useCl ? "cl" : String(n)}`;
      const masked = n & (size === 8 ? 63 : 31);
      if (masked !== 1) mask &= ~OF;
      if (op === "shl" || op === "shr" || op === "sar") {
        mask &= ~AF;
        if (size < 4 && masked >= size * 8 && op !== "sar") mask &= ~CF; // CF undefined past the width
      }
      break;
    }
    case 5: {
      if (size === 1) return genCase();
      const op = pick(["shld", "shrd"]);
      const useCl = rnd() % 2 === 0;
      let count = rnd() % (size === 2 ? 17 : 70);
      c = BigInt(count);
      if (!useCl) count &= 63;
      insn = `${op} ${dst}, ${r2}, ${useCl ? "cl" : String(count)}`;
      const masked = count & (size === 8 ? 63 : 31);
      if (masked !== 1) mask &= ~OF;
      mask &= ~AF;
      if (size === 2 && masked > 16) return genCase();
      break;
    }
    case 6: {
      const op = pick(["mul", "imul"]);
      insn = `${op} ${pick([r2, mem])}`;
      mask = CF | OF;
      break;
    }
    case 7: {
      if (size === 1) return genCase();
      insn = rnd() % 2 === 0 ? `imul ${r1}, ${pick([r2, mem])}` : `imul ${r1}, ${pick([r2, mem])}, ${(rnd() | 0) % (size === 2 ? 32768 : 100000)}`;
      mask = CF | OF;
      break;
    }
    case 8: {
      const op = pick(["bt", "bts", "btr", "btc"]);
      if (size === 1) return genCase();
      insn = rnd() % 2 === 0 ? `${op} ${dst}, ${rnd() % 64}` : `${op} ${r1}, ${r2}`;
      mask = CF;
      break;
    }
    case 9: {
      if (size === 1) return genCase();
      const op = pick(["bsf", "bsr"]);
      insn = `${op} ${r1}, ${pick([r2, mem])}`;
      mask = ZF;
      break;
    }
    case 10: {
      const cc = pick(["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]);
      // Half of the cases evaluate the condition right after an arithmetic op (lazy flags), half after popf.
      const pre = rnd() % 2 === 0 ? `${pick(["cmp", "sub", "add", "test", "and", "adc", "sbb", "xor"])} ${r1}, ${pick([r2, mem])}\n` +
        (rnd() % 4 === 0 ? `${pick(["inc", "dec", "neg"])} ${r1}\n` : "") : "";
      if (size === 1) insn = `${pre}set${cc} ${dst}`;
      else insn = `${pre}cmov${cc} ${r1}, ${pick([r2, mem])}`;
      if (pre.startsWith("test") || pre.startsWith("and") || pre.startsWith("xor")) mask &= ~AF;
      break;
    }
    case 17: {
      // cmp/sub/test + jcc: record which way the branch went in rdx.
      const cc = pick(["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]);
      const op = pick(["cmp", "sub", "test", "add", "dec", "inc"]);
      const first = op === "dec" || op === "inc" ? `${op} ${r1}` : `${op} ${r1}, ${pick([r2, mem])}`;
      if (r1 === "dl" || r1 === "dx" || r1 === "edx" || r1 === "rdx") return genCase();
      insn = `${first}\nmov edx, 0\nj${cc} 1f\nmov edx, 1\n1:`;
      if (op === "test") mask &= ~AF;
      break;
    }
    case 11: {
      if (size === 1) return genCase();
      const op = pick(["movzx", "movsx"]);
      const w = size === 2 ? 1 : pick([1, 2]);
      const srcReg = w === 1 ? pick(size === 8 ? ["cl", "dl"] : ["cl", "dl", "bh"]) : pick(["cx", "dx"]);
      insn = `${op} ${r1}, ${rnd() % 2 === 0 ? srcReg : PTR[w] + " [rsi]"}`;
      break;
    }
    case 12: {
      insn = pick(["cbw", "cwde", "cdqe", "cwd", "cdq", "cqo", "lahf", "sahf", "cmc", "clc", "stc", "movsxd rbx, ecx",
        "bswap rbx", "bswap ebx", "xchg rax, rbx", "xchg ecx, [rsi]", "lea rax, [rbx+rcx*4-7]", "lea eax, [rbx+rdx*8+0x7fffffff]"]);
      break;
    }
    case 13: {
      insn = `xadd ${dst}, ${r2}`;
      if (dst === r2) return genCase();
      break;
    }
    case 14: {
      if (r1 === "ah" || r1 === "bh" || r2 === "ah" || r2 === "bh") return genCase();
      insn = `cmpxchg ${dst}, ${size === 1 ? "cl" : CL[size]}`;
      break;
    }
    case 15: {
      if (size === 1) return genCase();
      const op = pick(["div", "idiv"]);
      insn = `${op} ${CL[size]}`;
      mask = 0;
      // Arrange a non-faulting division: rdx = 0 or sign extension, divisor large enough.
      return { asm: insn, mask, setup: { a: rnd64(), b: rnd64(), c: ((rnd64() | 1n) | (1n << BigInt(size * 8 - 2))) & ~(1n << BigInt(size * 8 - 1)), d: 0n, m: rnd64(), f: rnd() & ALL } };
    }
    default: {
      const op = pick(["adc", "sbb"]);
      insn = `${op} ${dst}, ${r2}\n${op} ${r1}, ${pick(regs)}`;
      break;
    }
  }
  return { asm: insn, mask, setup: { a: rnd64(), b: rnd64(), c, d: rnd64(), m: rnd64(), f: rnd() & ALL }, mem: memForm };
}

/** Emits the case body: load state, run, store rax rbx rcx rdx flags [rsi] to out[k]. */
function emit(k: number, cs: Case): string {
  const s = cs.setup;
  const o = k * 48;
  let fixDiv = "";
  if (cs.asm.startsWith("idiv")) {
    const size = cs.asm.endsWith("rcx") ? 8 : cs.asm.endsWith("ecx") ? 4 : 2;
    // Sign-extend the accumulator into rdx, and keep |quotient| representable by using a large divisor.
    fixDiv = size === 8 ? "cqo" : size === 4 ? "cdq" : "cwd";
  }
  const mf = cs.mem ?? { idx: 0n, scale: 1, disp: 0 };
  const off = mf.idx * BigInt(mf.scale) + BigInt(mf.disp);
  return `
  mov r10, ${mf.idx}
  movabs r11, ${hex(BigInt.asUintN(64, -off))}
  add r11, rsi
  movabs rax, ${hex(s.m)}
  mov [rsi], rax
  movabs rax, ${hex(s.a)}
  movabs rbx, ${hex(s.b)}
  movabs rcx, ${hex(s.c)}
  movabs rdx, ${hex(s.d)}
  ${fixDiv}
  push ${s.f | 2}
  popfq
  ${cs.asm}
  pushfq
  pop r8
  mov [rdi+${o}], rax
  mov [rdi+${o + 8}], rbx
  mov [rdi+${o + 16}], rcx
  mov [rdi+${o + 24}], rdx
  mov [rdi+${o + 32}], r8
  mov r9, [rsi]
  mov [rdi+${o + 40}], r9`;
}

test("random integer instructions match the host CPU (registers, memory and defined flags)", { skip: !hasGcc() }, () => {
  const n = Number(process.env.EMU_DIFF_CASES ?? 3000);
  seed = Number(process.env.EMU_DIFF_SEED ?? 12345) | 1;
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) cases.push(genCase());
  const dir = mkdtempSync(join(tmpdir(), "emu-diff-"));
  try {
    const body = cases.map((c, i) => emit(i, c)).join("\n");
    writeFileSync(join(dir, "cases.S"), `.intel_syntax noprefix\n.text\n.globl run_cases\nrun_cases:\n${body}\n  ret\n`);
    writeFileSync(join(dir, "main.c"), `#include <stdio.h>
#include <stdlib.h>
void run_cases(unsigned long long *out, unsigned long long *scratch);
int main(void) {
  unsigned long long *out = calloc(${n * 6}, 8), scratch[2] = {0, 0};
  run_cases(out, scratch);
  fwrite(out, 8, ${n * 6}, stdout);
  return 0;
}
`);
    execFileSync("gcc", ["-O0", "-o", join(dir, "native"), join(dir, "main.c"), join(dir, "cases.S")], { stdio: ["ignore", "ignore", "inherit"] });
    execFileSync("gcc", ["-c", "-o", join(dir, "cases.o"), join(dir, "cases.S")]);
    execFileSync("objcopy", ["-O", "binary", "-j", ".text", join(dir, "cases.o"), join(dir, "cases.bin")]);
    const native = new BigUint64Array(new Uint8Array(execFileSync(join(dir, "native"), { maxBuffer: 1 << 28 })).buffer);
    const code = new Uint8Array(readFileSync(join(dir, "cases.bin")));

    const st = new CpuState(0);
    setFlat64(st);
    const SCRATCH = 0xf000, CODE = 0x10000;
    const OUT = (CODE + code.length + 0x1fff) & ~0xfff;
    const sys = new FlatEmuSystem(st, OUT + n * 48 + 0x1000);
    sys.ram.set(code, CODE);
    sys.ram[0x800] = 0xf4; // hlt at the return address
    st.ripLo = CODE; st.rlo[4] = 0x8000; st.rlo[7] = OUT; st.rlo[6] = SCRATCH;
    new DataView(sys.ram.buffer).setBigUint64(0x8000, 0x800n, true);
    const unknown: string[] = [];
    const cpu = new EmuCpu(st, sys, { onUnknownOpcode: (b) => unknown.push(b) });
    cpu.run(n * 40);
    assert.deepEqual(unknown, []);
    assert.deepEqual(sys.events, []);
    assert.equal(st.halted, true, "ran to the final ret");
    const emu = new BigUint64Array(sys.ram.buffer.slice(OUT, OUT + n * 48));
    const bad: string[] = [];
    const names = ["rax", "rbx", "rcx", "rdx", "flags", "mem"];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 6; k++) {
        let a = native[i * 6 + k]!, b = emu[i * 6 + k]!;
        if (k === 4) { a &= BigInt(cases[i]!.mask); b &= BigInt(cases[i]!.mask); }
        if (a !== b) {
          const s = cases[i]!.setup;
          bad.push(`case ${i} '${cases[i]!.asm.replace(/\n/g, "; ")}' a=${hex(s.a)} b=${hex(s.b)} c=${hex(s.c)} d=${hex(s.d)} m=${hex(s.m)} f=${s.f.toString(16)}: ${names[k]} native ${hex(a)} emu ${hex(b)}`);
        }
      }
    }
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length} mismatches in ${n} cases`);
  } finally {
    if (process.env.EMU_DIFF_KEEP) console.log(`kept ${dir}`); else rmSync(dir, { recursive: true, force: true });
  }
});

const SSE_OPS = [
  "pxor", "por", "pand", "pandn", "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd", "paddb", "paddw",
  "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "pminub", "pmaxub", "pminsw", "pmaxsw", "paddusb", "paddusw",
  "psubusb", "psubusw", "pavgb", "pavgw", "pmullw", "pmulhw", "pmuludq", "psadbw", "punpcklbw", "punpcklwd",
  "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq", "packsswb", "packuswb", "packssdw",
  "andps", "orps", "xorps", "andnps", "andpd", "xorpd", "unpcklps", "unpckhps", "unpcklpd", "unpckhpd",
];

function genSse(): string {
  const k = rnd() % 10;
  const src = rnd() % 3 === 0 ? "xmmword ptr [rsi+16]" : "xmm1";
  switch (k) {
    case 0: return `pshufd xmm0, ${src}, ${rnd() & 255}`;
    case 1: return `${pick(["pshuflw", "pshufhw"])} xmm0, ${src}, ${rnd() & 255}`;
    case 2: return `${pick(["psrlw", "psraw", "psllw", "psrld", "psrad", "pslld", "psrlq", "psllq"])} xmm0, ${rnd() % 70}`;
    case 3: return `${pick(["psrldq", "pslldq"])} xmm0, ${rnd() % 18}`;
    case 4: return `${pick(["pmovmskb eax, xmm0", "movd eax, xmm0", "movq rax, xmm0", "movmskps eax, xmm0", "movmskpd eax, xmm0",
      `pextrw eax, xmm0, ${rnd() & 7}`, `pinsrw xmm0, ebx, ${rnd() & 7}`, "movd xmm0, ebx", "movq xmm0, rbx",
      "movhlps xmm0, xmm1", "movlhps xmm0, xmm1", "movq xmm0, xmm1", "movss xmm0, xmm1", "movsd xmm0, xmm1",
      "movlps xmm0, qword ptr [rsi+16]", "movhps xmm0, qword ptr [rsi+16]", "movss xmm0, dword ptr [rsi+16]",
      "movsd xmm0, qword ptr [rsi+16]", "movq xmm0, qword ptr [rsi+16]"])}`;
    case 5: return `${pick(["shufps", "shufpd"])} xmm0, ${src}, ${rnd() & 255}`;
    case 6: {
      // shift by an xmm count: keep the count small and the upper qword zero
      const op = pick(["psrlw", "psraw", "psllw", "psrld", "psrad", "pslld", "psrlq", "psllq"]);
      return `movq xmm1, xmm1\npsrlq xmm1, 58\n${op} xmm0, xmm1`;
    }
    default: return `${pick(SSE_OPS)} xmm0, ${src}`;
  }
}

test("random SSE2 integer/bitwise instructions match the host CPU", { skip: !hasGcc() }, () => {
  const n = Number(process.env.EMU_DIFF_SSE_CASES ?? 1500);
  seed = (Number(process.env.EMU_DIFF_SEED ?? 12345) * 7) | 1;
  const cases: string[] = [];
  let body = "";
  for (let i = 0; i < n; i++) {
    const insn = genSse();
    cases.push(insn);
    const o = i * 32;
    body += `
  movabs rax, ${hex(rnd64())}
  mov [rsi], rax
  movabs rax, ${hex(rnd64())}
  mov [rsi+8], rax
  movabs rax, ${hex(rnd64())}
  mov [rsi+16], rax
  movabs rax, ${hex(rnd64())}
  mov [rsi+24], rax
  movabs rbx, ${hex(rnd64())}
  movdqu xmm0, [rsi]
  movdqu xmm1, [rsi+16]
  xor eax, eax
  ${insn}
  movdqu [rdi+${o}], xmm0
  mov [rdi+${o + 16}], rax
  movq [rdi+${o + 24}], xmm1`;
  }
  const dir = mkdtempSync(join(tmpdir(), "emu-diff-sse-"));
  try {
    writeFileSync(join(dir, "cases.S"), `.intel_syntax noprefix\n.text\n.globl run_cases\nrun_cases:\n${body}\n  ret\n`);
    writeFileSync(join(dir, "main.c"), `#include <stdio.h>
#include <stdlib.h>
void run_cases(unsigned long long *out, unsigned long long *scratch);
int main(void) {
  unsigned long long *out = calloc(${n * 4}, 8), scratch[4] = {0, 0, 0, 0};
  run_cases(out, scratch);
  fwrite(out, 8, ${n * 4}, stdout);
  return 0;
}
`);
    execFileSync("gcc", ["-O0", "-o", join(dir, "native"), join(dir, "main.c"), join(dir, "cases.S")], { stdio: ["ignore", "ignore", "inherit"] });
    execFileSync("gcc", ["-c", "-o", join(dir, "cases.o"), join(dir, "cases.S")]);
    execFileSync("objcopy", ["-O", "binary", "-j", ".text", join(dir, "cases.o"), join(dir, "cases.bin")]);
    const native = new BigUint64Array(new Uint8Array(execFileSync(join(dir, "native"), { maxBuffer: 1 << 28 })).buffer);
    const code = new Uint8Array(readFileSync(join(dir, "cases.bin")));
    const st = new CpuState(0);
    setFlat64(st);
    const SCRATCH = 0xf000, CODE = 0x10000;
    const OUT = (CODE + code.length + 0x1fff) & ~0xfff;
    const sys = new FlatEmuSystem(st, OUT + n * 32 + 0x1000);
    sys.ram.set(code, CODE);
    sys.ram[0x800] = 0xf4;
    st.ripLo = CODE; st.rlo[4] = 0x8000; st.rlo[7] = OUT; st.rlo[6] = SCRATCH;
    new DataView(sys.ram.buffer).setBigUint64(0x8000, 0x800n, true);
    const unknown: string[] = [];
    const cpu = new EmuCpu(st, sys, { onUnknownOpcode: (b) => unknown.push(b) });
    cpu.run(n * 40);
    assert.deepEqual(unknown, []);
    assert.deepEqual(sys.events, []);
    assert.equal(st.halted, true);
    const emu = new BigUint64Array(sys.ram.buffer.slice(OUT, OUT + n * 32));
    const bad: string[] = [];
    for (let i = 0; i < n * 4; i++) {
      if (native[i] !== emu[i]) bad.push(`case ${i >> 2} '${cases[i >> 2]!.replace(/\n/g, "; ")}' word ${i & 3}: native ${hex(native[i]!)} emu ${hex(emu[i]!)}`);
    }
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length} mismatches in ${n} cases`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** One random instruction from the subset whose flag results are fully defined except AF. */
function seqInsn(): string {
  const size = pick([8, 4, 2, 1, 8, 8, 4]);
  const regs = size === 1 ? ["al", "bl", "cl", "dl"] : size === 2 ? ["ax", "bx", "cx", "dx"] : size === 4 ? ["eax", "ebx", "ecx", "edx"] : ["rax", "rbx", "rcx", "rdx"];
  const r1 = pick(regs), r2 = pick(regs);
  const mem = `${PTR[size]} [rsi]`;
  const dst = rnd() % 5 === 0 ? mem : r1;
  switch (rnd() % 9) {
    case 0: case 1: case 2: {
      const op = pick(["add", "sub", "adc", "sbb", "cmp", "and", "or", "xor", "test"]);
      const src = rnd() % 3 === 0 ? String((rnd() | 0) % 100) : r2;
      return `${op} ${dst}, ${src}`;
    }
    case 3: return `${pick(["inc", "dec", "neg", "not"])} ${dst}`;
    case 4: return `${pick(["shl", "shr", "sar", "rol", "ror", "rcl", "rcr"])} ${dst}, 1`;
    case 5: {
      const cc = pick(["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]);
      return size === 1 ? `set${cc} ${dst}` : `cmov${cc} ${r1}, ${pick([r2, mem])}`;
    }
    case 6: return pick(["clc", "stc", "cmc"]);
    case 7: return `mov ${r1}, ${pick([r2, mem])}`;
    default: {
      const cc = pick(["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]);
      return `j${cc} 1f\nxor ${pick(["rax", "rbx"])}, 0x55\n1:`;
    }
  }
}

test("random sequences of flag-producing and flag-consuming instructions match the host CPU", { skip: !hasGcc() }, () => {
  const n = Number(process.env.EMU_DIFF_SEQ_CASES ?? 800);
  seed = (Number(process.env.EMU_DIFF_SEED ?? 12345) * 13) | 1;
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + (rnd() % 8);
    const body: string[] = [];
    for (let k = 0; k < len; k++) body.push(seqInsn());
    cases.push({ asm: body.join("\n"), mask: ALL & ~AF, setup: { a: rnd64(), b: rnd64(), c: rnd64(), d: rnd64(), m: rnd64(), f: rnd() & ALL } });
  }
  const dir = mkdtempSync(join(tmpdir(), "emu-diff-seq-"));
  try {
    const body = cases.map((c, i) => emit(i, c)).join("\n");
    writeFileSync(join(dir, "cases.S"), `.intel_syntax noprefix\n.text\n.globl run_cases\nrun_cases:\n${body}\n  ret\n`);
    writeFileSync(join(dir, "main.c"), `#include <stdio.h>
#include <stdlib.h>
void run_cases(unsigned long long *out, unsigned long long *scratch);
int main(void) {
  unsigned long long *out = calloc(${n * 6}, 8), scratch[2] = {0, 0};
  run_cases(out, scratch);
  fwrite(out, 8, ${n * 6}, stdout);
  return 0;
}
`);
    execFileSync("gcc", ["-O0", "-o", join(dir, "native"), join(dir, "main.c"), join(dir, "cases.S")], { stdio: ["ignore", "ignore", "inherit"] });
    execFileSync("gcc", ["-c", "-o", join(dir, "cases.o"), join(dir, "cases.S")]);
    execFileSync("objcopy", ["-O", "binary", "-j", ".text", join(dir, "cases.o"), join(dir, "cases.bin")]);
    const native = new BigUint64Array(new Uint8Array(execFileSync(join(dir, "native"), { maxBuffer: 1 << 28 })).buffer);
    const code = new Uint8Array(readFileSync(join(dir, "cases.bin")));
    const st = new CpuState(0);
    setFlat64(st);
    const SCRATCH = 0xf000, CODE = 0x10000;
    const OUT = (CODE + code.length + 0x1fff) & ~0xfff;
    const sys = new FlatEmuSystem(st, OUT + n * 48 + 0x1000);
    sys.ram.set(code, CODE);
    sys.ram[0x800] = 0xf4;
    st.ripLo = CODE; st.rlo[4] = 0x8000; st.rlo[7] = OUT; st.rlo[6] = SCRATCH;
    new DataView(sys.ram.buffer).setBigUint64(0x8000, 0x800n, true);
    const cpu = new EmuCpu(st, sys);
    cpu.run(n * 80);
    assert.deepEqual(sys.events, []);
    assert.equal(st.halted, true);
    const emu = new BigUint64Array(sys.ram.buffer.slice(OUT, OUT + n * 48));
    const names = ["rax", "rbx", "rcx", "rdx", "flags", "mem"];
    const bad: string[] = [];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 6; k++) {
        let a = native[i * 6 + k]!, b = emu[i * 6 + k]!;
        if (k === 4) { a &= BigInt(cases[i]!.mask); b &= BigInt(cases[i]!.mask); }
        if (a !== b) bad.push(`case ${i} '${cases[i]!.asm.replace(/\n/g, "; ")}' f=${cases[i]!.setup.f.toString(16)}: ${names[k]} native ${hex(a)} emu ${hex(b)}`);
      }
    }
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} mismatches in ${n} sequences`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
