// Differential test of the SSE/SSE2 executors against the host CPU: the same instruction text runs natively
// (gcc-compiled C harness with a top-level asm function per instruction) and on emu, on the same randomized
// inputs (seeded); xmm0, rax, MXCSR and (for comis/ucomis) the arithmetic flags must match. Skips without gcc/as.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasAssembler } from "../../../testing/emu_asm.ts";
import { DATA, runAsm } from "../emu_test_util.ts";

function hasGcc(): boolean {
  try { execFileSync("gcc", ["--version"], { stdio: "ignore" }); return process.arch === "x64"; } catch { return false; }
}
const skip = !hasAssembler() || !hasGcc();

type Gen = "int" | "shift" | "f32" | "f64" | "i2f" | "f32i" | "f64i";
interface Op { asm: string; gen: Gen; flags?: boolean; rc?: boolean; imm?: number; mmx?: boolean }

const I = (asm: string, imm?: number): Op => ({ asm, gen: "int", imm });
const ops: Op[] = [
  ...["pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd", "paddb", "paddw", "paddd", "paddq", "psubb",
    "psubw", "psubd", "psubq", "paddusb", "paddusw", "psubusb", "psubusw", "paddsb", "paddsw", "psubsb", "psubsw",
    "pminub", "pmaxub", "pminsw", "pmaxsw", "pavgb", "pavgw", "psadbw", "pmullw", "pmulhw", "pmulhuw", "pmuludq",
    "pmaddwd", "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq",
    "punpckhqdq", "packsswb", "packuswb", "packssdw", "pand", "pandn", "por", "pxor", "andps", "andnps", "orps",
    "xorps", "andpd", "xorpd", "unpcklps", "unpckhps", "unpcklpd", "unpckhpd", "movhlps", "movlhps", "movss",
    "movsd"].map((m) => I(`${m} xmm0, xmm1`)),
  I("pmovmskb eax, xmm1"), I("movmskps eax, xmm1"), I("movmskpd eax, xmm1"),
  I("pshufd xmm0, xmm1, IMM", 256), I("pshuflw xmm0, xmm1, IMM", 256), I("pshufhw xmm0, xmm1, IMM", 256),
  I("shufps xmm0, xmm1, IMM", 256), I("shufpd xmm0, xmm1, IMM", 4),
  I("pslldq xmm0, IMM", 20), I("psrldq xmm0, IMM", 20),
  I("psllw xmm0, IMM", 20), I("psrlw xmm0, IMM", 20), I("psraw xmm0, IMM", 20), I("pslld xmm0, IMM", 40),
  I("psrld xmm0, IMM", 40), I("psrad xmm0, IMM", 40), I("psllq xmm0, IMM", 70), I("psrlq xmm0, IMM", 70),
  I("pinsrw xmm0, eax, IMM", 8), I("pextrw eax, xmm1, IMM", 8), I("movq xmm0, xmm1"), I("movd xmm0, eax"),
  I("movq xmm0, rax"), I("movd eax, xmm1"), I("movq rax, xmm1"),
  ...["psllw", "psrlw", "psraw", "pslld", "psrld", "psrad", "psllq", "psrlq"].map((m): Op => ({ asm: `${m} xmm0, xmm1`, gen: "shift" })),
  ...["addss", "subss", "mulss", "divss", "sqrtss", "minss", "maxss", "addps", "subps", "mulps", "divps", "sqrtps",
    "minps", "maxps", "cvtss2sd", "cvtps2pd", "cvtps2dq", "cvttps2dq"].map((m): Op => ({ asm: `${m} xmm0, xmm1`, gen: "f32" })),
  ...["addsd", "subsd", "mulsd", "divsd", "sqrtsd", "minsd", "maxsd", "addpd", "subpd", "mulpd", "divpd", "sqrtpd",
    "minpd", "maxpd", "cvtsd2ss", "cvtpd2ps", "cvtpd2dq", "cvttpd2dq"].map((m): Op => ({ asm: `${m} xmm0, xmm1`, gen: "f64" })),
  { asm: "cmpps xmm0, xmm1, IMM", gen: "f32", imm: 8 }, { asm: "cmpss xmm0, xmm1, IMM", gen: "f32", imm: 8 },
  { asm: "cmppd xmm0, xmm1, IMM", gen: "f64", imm: 8 }, { asm: "cmpsd xmm0, xmm1, IMM", gen: "f64", imm: 8 },
  { asm: "comiss xmm0, xmm1", gen: "f32", flags: true }, { asm: "ucomiss xmm0, xmm1", gen: "f32", flags: true },
  { asm: "comisd xmm0, xmm1", gen: "f64", flags: true }, { asm: "ucomisd xmm0, xmm1", gen: "f64", flags: true },
  { asm: "cvtsi2ss xmm0, eax", gen: "i2f" }, { asm: "cvtsi2ss xmm0, rax", gen: "i2f" },
  { asm: "cvtsi2sd xmm0, eax", gen: "i2f" }, { asm: "cvtsi2sd xmm0, rax", gen: "i2f" },
  { asm: "cvtdq2ps xmm0, xmm1", gen: "int" }, { asm: "cvtdq2pd xmm0, xmm1", gen: "int" },
  { asm: "cvttss2si eax, xmm1", gen: "f32i" }, { asm: "cvttss2si rax, xmm1", gen: "f32i" },
  { asm: "cvtss2si eax, xmm1", gen: "f32i", rc: true }, { asm: "cvtss2si rax, xmm1", gen: "f32i", rc: true },
  { asm: "cvttsd2si eax, xmm1", gen: "f64i" }, { asm: "cvttsd2si rax, xmm1", gen: "f64i" },
  { asm: "cvtsd2si eax, xmm1", gen: "f64i", rc: true }, { asm: "cvtsd2si rax, xmm1", gen: "f64i", rc: true },
  { asm: "cvtps2dq xmm0, xmm1", gen: "f32i", rc: true }, { asm: "cvtpd2dq xmm0, xmm1", gen: "f64i", rc: true },
  // MMX forms (mm0 = [rdi], mm1 = [rdi+16]); output: mm0 then the low qword of xmm0
  ...["paddb", "paddw", "paddd", "paddq", "psubb", "psubusb", "psubsw", "paddusw", "pcmpeqb", "pcmpgtw", "pcmpeqd",
    "pminub", "pmaxsw", "pavgb", "psadbw", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "punpcklbw",
    "punpckhwd", "punpckhdq", "packsswb", "packuswb", "packssdw", "pand", "pandn", "por", "pxor", "psrlw", "psraw",
    "pslld", "psrlq"].map((m): Op => ({ asm: `${m} mm0, mm1`, gen: "int", mmx: true })),
  { asm: "pshufw mm0, mm1, IMM", gen: "int", imm: 256, mmx: true }, { asm: "psllq mm0, IMM", gen: "int", imm: 70, mmx: true },
  { asm: "psraw mm0, IMM", gen: "int", imm: 20, mmx: true }, { asm: "pmovmskb eax, mm1", gen: "int", mmx: true },
  { asm: "pinsrw mm0, eax, IMM", gen: "int", imm: 4, mmx: true }, { asm: "pextrw eax, mm1, IMM", gen: "int", imm: 4, mmx: true },
  { asm: "movd mm0, eax", gen: "int", mmx: true }, { asm: "movq rax, mm1", gen: "int", mmx: true },
  { asm: "movq2dq xmm0, mm1", gen: "int", mmx: true }, { asm: "movdq2q mm0, xmm1", gen: "int", mmx: true },
  { asm: "cvtpi2ps xmm0, mm1", gen: "int", mmx: true }, { asm: "cvtpi2pd xmm0, mm1", gen: "int", mmx: true },
  { asm: "cvttps2pi mm0, xmm1", gen: "f32i", mmx: true }, { asm: "cvtps2pi mm0, xmm1", gen: "f32i", mmx: true, rc: true },
  { asm: "cvttpd2pi mm0, xmm1", gen: "f64i", mmx: true },
];
/** Cases per op; SSE_ORACLE_CASES=500 for a large run. */
const CASES = Number(process.env.SSE_ORACLE_CASES ?? 24);

// xorshift32, seeded
let seed = 0x2545f491;
function rnd(): number { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; }

const F32_SPECIAL = [0, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001,
  0x7fa00000, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0x4b000000, 0x4effffff, 0xcf000000, 0x5f000000,
  0x3f000000, 0x3fc00000, 0x40200000, 0xbfc00000];
const F64_SPECIAL: [number, number][] = [[0, 0], [0, 0x80000000], [0, 0x3ff00000], [0, 0xbff00000], [0, 0x7ff00000],
  [0, 0xfff00000], [0, 0x7ff80000], [1, 0x7ff00000], [5, 0xfff40000], [1, 0], [0xffffffff, 0x800fffff], [0, 0x00100000],
  [0xffffffff, 0x7fefffff], [0, 0x41e00000], [0xffc00000, 0x41dfffff], [0, 0xc1e00000], [0, 0x43e00000],
  [0, 0x3fe00000], [0, 0x3ff80000], [0, 0x40040000], [0, 0xc0040000], [0, 0x36a00000], [0x20000000, 0x47efffff]];

function f32lane(): number {
  const k = rnd() % 8;
  if (k < 3) return F32_SPECIAL[rnd() % F32_SPECIAL.length]!;
  if (k < 5) return (rnd() & 0x80000000) | ((0x3c0 + (rnd() % 128)) << 20) | (rnd() & 0xfffff); // moderate magnitudes
  if (k < 6) { const v = new Float32Array([(rnd() % 2001) / 4 - 250]); return new Int32Array(v.buffer)[0]!; }
  return rnd();
}
function f64lane(): [number, number] {
  const k = rnd() % 8;
  if (k < 3) return F64_SPECIAL[rnd() % F64_SPECIAL.length]!;
  if (k < 5) return [rnd(), (rnd() & 0x80000000) | ((0x3c0 + (rnd() % 128)) << 20) | (rnd() & 0xfffff)];
  if (k < 6) { const v = new Float64Array([(rnd() % 2001) / 4 - 250]); const i = new Int32Array(v.buffer); return [i[0]!, i[1]!]; }
  return [rnd(), rnd()];
}

/** 64-byte input block: xmm0 (0), xmm1 (16), rax (32), mxcsr (48); imm at 56. */
function genInput(op: Op): Uint8Array {
  const b = new Uint8Array(64), dv = new DataView(b.buffer);
  for (let i = 0; i < 40; i++) b[i] = rnd() & 0xff;
  switch (op.gen) {
    case "int":
      for (let i = 0; i < 16; i++) if (rnd() % 3 === 0) b[16 + i] = b[i]!; // equal lanes for compares
      if (rnd() % 4 === 0) { dv.setUint32(32, rnd() % 100); dv.setUint32(36, 0); }
      break;
    case "shift": dv.setUint32(16, rnd() % 4 === 0 ? rnd() : rnd() % 70, true); dv.setUint32(20, rnd() % 8 === 0 ? 1 : 0, true); break;
    case "f32": case "f32i":
      for (let i = 0; i < 8; i++) dv.setUint32(4 * i, f32lane(), true);
      if (rnd() % 3 === 0) dv.setUint32(16, dv.getUint32(0, true), true);
      break;
    case "f64": case "f64i":
      for (let i = 0; i < 4; i++) { const [lo, hi] = f64lane(); dv.setUint32(8 * i, lo >>> 0, true); dv.setUint32(8 * i + 4, hi >>> 0, true); }
      if (rnd() % 3 === 0) { dv.setUint32(16, dv.getUint32(0, true), true); dv.setUint32(20, dv.getUint32(4, true), true); }
      break;
    case "i2f": {
      const k = rnd() % 4;
      if (k === 0) { dv.setUint32(32, rnd() % 1000, true); dv.setUint32(36, 0, true); }
      else if (k === 1) { dv.setInt32(32, -(rnd() % 100000), true); dv.setInt32(36, -1, true); }
      else if (k === 2) { dv.setUint32(32, rnd(), true); dv.setUint32(36, rnd() & 0x3fffffff, true); }
      break;
    }
  }
  const ftz = (op.gen === "f32" || op.gen === "f64") && rnd() % 3 === 0 ? 0x8000 : 0;
  const rc = op.rc || op.gen === "f32" || op.gen === "f64" || op.gen === "i2f";
  dv.setUint32(48, (rc ? 0x1f80 | ((rnd() & 3) << 13) : 0x1f80) | ftz, true);
  b[56] = op.imm !== undefined ? rnd() % op.imm : 0;
  return b;
}

function body(op: Op, imm: number): string {
  if (op.mmx) {
    return [
      "ldmxcsr [rdi+48]", "movdqu xmm0, [rdi]", "movdqu xmm1, [rdi+16]", "movq mm0, [rdi]", "movq mm1, [rdi+16]",
      "mov rax, [rdi+32]", op.asm.replace("IMM", String(imm)),
      "movq [rsi], mm0", "movq [rsi+8], xmm0", "mov [rsi+16], rax", "pushfq", "pop rcx", "mov [rsi+24], rcx",
      "stmxcsr [rsi+32]", "emms",
    ].join("\n");
  }
  return [
    "ldmxcsr [rdi+48]", "movdqu xmm0, [rdi]", "movdqu xmm1, [rdi+16]", "mov rax, [rdi+32]",
    op.asm.replace("IMM", String(imm)),
    "movdqu [rsi], xmm0", "mov [rsi+16], rax", "pushfq", "pop rcx", "mov [rsi+24], rcx", "stmxcsr [rsi+32]",
  ].join("\n");
}

test("SSE/SSE2 ops match the host CPU on randomized inputs", { skip }, () => {
  const inputs = ops.map((op) => Array.from({ length: CASES }, () => genInput(op)));
  // one native function per (op, imm) pair actually used
  const fnNames = new Map<string, string>();
  let asmText = "";
  inputs.forEach((cases, k) => cases.forEach((inp) => {
    const key = `${k}:${inp[56]}`;
    if (fnNames.has(key)) return;
    const name = `f${fnNames.size}`;
    fnNames.set(key, name);
    asmText += `.globl ${name}\n${name}:\n${body(ops[k]!, inp[56]!)}\nret\n`;
  }));
  let c = "#include <stdio.h>\n";
  for (const name of fnNames.values()) c += `void ${name}(const unsigned char*, unsigned char*);\n`;
  c += `__asm__(".intel_syntax noprefix\\n.text\\n${asmText.replace(/\n/g, "\\n")}.att_syntax\\n");\n`;
  c += "static const unsigned char in[][64] = {\n";
  for (const cases of inputs) for (const inp of cases) c += `{${[...inp].join(",")}},\n`;
  c += "};\nint main(void){ unsigned char out[64] __attribute__((aligned(16))); int n = 0;\n";
  inputs.forEach((cases, k) => cases.forEach((inp) => {
    c += `${fnNames.get(`${k}:${inp[56]}`)}(in[n], out); n++; for (int i = 0; i < 36; i++) printf("%02x", out[i]); printf("\\n");\n`;
  }));
  c += "return 0; }\n";
  const dir = mkdtempSync(join(tmpdir(), "sse-oracle-"));
  let native: string[];
  try {
    writeFileSync(join(dir, "o.c"), c);
    execFileSync("gcc", ["-O0", "-o", join(dir, "o"), join(dir, "o.c")], { stdio: ["ignore", "ignore", "pipe"] });
    native = execFileSync(join(dir, "o"), { maxBuffer: 64 << 20 }).toString().trim().split("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let n = 0, mismatches = 0;
  const report: string[] = [];
  inputs.forEach((cases, k) => cases.forEach((inp) => {
    const op = ops[k]!;
    const r = runAsm(body(op, inp[56]!) + "\nhlt", { setup: (r) => {
      r.sys.ram.set(inp, DATA);
      r.st.rlo[7] = DATA; r.st.rlo[6] = DATA + 0x100;
      r.st.rlo[4] = 0x8000;
    } });
    const out = Buffer.from(r.sys.ram.subarray(DATA + 0x100, DATA + 0x100 + 36)).toString("hex");
    const want = native[n++]!;
    // compare xmm0 (0..16), rax (16..24), mxcsr (32..36); flags (24..32) only where the op defines them
    const pick = (h: string): string => h.slice(0, 48) + h.slice(64, 72) +
      (op.flags ? (parseInt(h.slice(48, 50), 16) & 0xd5).toString(16) + (parseInt(h.slice(50, 52), 16) & 0x08).toString(16) : "");
    if (r.unknown.length > 0 || r.sys.events.length > 0 || pick(out) !== pick(want)) {
      mismatches++;
      if (report.length < 15) {
        report.push(`${op.asm.replace("IMM", String(inp[56]))} in=${Buffer.from(inp.subarray(0, 52)).toString("hex")}\n   emu=${out} unknown=${r.unknown.join(",")} ev=${r.sys.events.map((e) => e.vector).join(",")}\n  host=${want}`);
      }
    }
  }));
  assert.equal(mismatches, 0, `${mismatches}/${n} mismatches:\n${report.join("\n")}`);
});
