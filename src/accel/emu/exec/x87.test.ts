import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasAssembler } from "../../../testing/emu_asm.ts";
import { DATA, runAsm, type Run, CF, ZF, PF, ARITH } from "../emu_test_util.ts";

const skip = !hasAssembler();
const t = (name: string, fn: () => void): void => { test(name, { skip }, fn); };

function dv(r: Run): DataView { return new DataView(r.sys.ram.buffer); }
function f64(r: Run, a: number): number { return dv(r).getFloat64(a, true); }
const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;

t("fld1/fldz/fadd/fmul/fdiv/fsqrt/fstp give IEEE double results", () => {
  const r = runAsm(`
    fninit
    fld1
    fld1
    faddp st(1), st
    fld qword ptr [${DATA}]
    fmul st, st(1)
    fsqrt
    fstp qword ptr [${DATA + 16}]
    fldpi
    fdiv st, st(1)
    fstp qword ptr [${DATA + 24}]
    fstp qword ptr [${DATA + 32}]
    hlt`, { setup: (r) => dv(r).setFloat64(DATA, 8, true) });
  assert.equal(r.unknown.length, 0);
  assert.equal(f64(r, DATA + 16), 4);
  assert.equal(f64(r, DATA + 24), Math.PI / 2);
  assert.equal(f64(r, DATA + 32), 2);
  assert.equal(r.st.fpuTag, 0xffff);
  assert.equal(r.st.fpuTop, 0);
});

t("fild/fistp m64 and fld/fstp m80 round-trip exactly, beyond double precision", () => {
  const r = runAsm(`
    fninit
    fild qword ptr [${DATA}]
    fistp qword ptr [${DATA + 8}]
    fld tbyte ptr [${DATA + 16}]
    fstp tbyte ptr [${DATA + 32}]
    fild dword ptr [${DATA + 48}]
    fistp word ptr [${DATA + 52}]
    hlt`, { setup: (r) => {
    const d = dv(r);
    d.setBigInt64(DATA, -0x4000000000000001n, true);
    d.setBigUint64(DATA + 16, 0xc000000000000001n, true); d.setUint16(DATA + 24, 0xc123, true);
    d.setInt32(DATA + 48, 40000, true); // out of int16 range -> indefinite 0x8000
  } });
  const d = dv(r);
  assert.equal(d.getBigInt64(DATA + 8, true), -0x4000000000000001n);
  assert.equal(d.getBigUint64(DATA + 32, true), 0xc000000000000001n);
  assert.equal(d.getUint16(DATA + 40, true), 0xc123);
  assert.equal(d.getUint16(DATA + 52, true), 0x8000);
  assert.equal(r.st.fpuStatus & 0x3f, 1); // IE
});

t("fistp rounds by the control word's RC", () => {
  const want: Record<number, number[]> = { 0: [2, -2, 4], 1: [2, -3, 3], 2: [3, -2, 4], 3: [2, -2, 3] };
  for (const rc of [0, 1, 2, 3]) {
    const r = runAsm(`
      fninit
      fldcw [${DATA}]
      fld qword ptr [${DATA + 8}]
      fistp dword ptr [${DATA + 32}]
      fld qword ptr [${DATA + 16}]
      fistp dword ptr [${DATA + 36}]
      fld qword ptr [${DATA + 24}]
      fistp dword ptr [${DATA + 40}]
      hlt`, { setup: (r) => {
      const d = dv(r);
      d.setUint16(DATA, 0x37f | (rc << 10), true);
      d.setFloat64(DATA + 8, 2.5, true); d.setFloat64(DATA + 16, -2.5, true); d.setFloat64(DATA + 24, 3.5, true);
    } });
    const d = dv(r);
    assert.deepEqual([d.getInt32(DATA + 32, true), d.getInt32(DATA + 36, true), d.getInt32(DATA + 40, true)], want[rc], `rc ${rc}`);
  }
});

t("fcom/fucom/ftst set C3 C2 C0; fcomi sets ZF PF CF; fnstsw ax reads the status word", () => {
  const r = runAsm(`
    fninit
    fld qword ptr [${DATA + 8}]
    fld qword ptr [${DATA}]
    fcom st(1)
    fnstsw ax
    mov ebx, eax
    fcomi st, st(1)
    hlt`, { setup: (r) => { dv(r).setFloat64(DATA, 1, true); dv(r).setFloat64(DATA + 8, 2, true); } });
  assert.equal(r.st.rlo[3]! & (C0 | C2 | C3), C0);
  assert.equal(r.flags() & ARITH, CF);
  const u = runAsm(`
    fninit
    fld qword ptr [${DATA}]
    fucomi st, st(0)
    hlt`, { setup: (r) => { dv(r).setFloat64(DATA, NaN, true); } });
  assert.equal(u.flags() & ARITH, ZF | PF | CF);
  assert.equal(u.st.fpuStatus & 1, 0);
  const z = runAsm("fninit\nfldz\nftst\nfnstsw ax\nhlt");
  assert.equal(z.st.rlo[0]! & (C0 | C2 | C3), C3);
});

t("stack overflow and underflow set IE|SF with C1 and load the indefinite when masked", () => {
  const r = runAsm(`
    fninit
    fld1
    fld1
    fld1
    fld1
    fld1
    fld1
    fld1
    fld1
    fld1
    fstp tbyte ptr [${DATA}]
    hlt`);
  assert.equal(r.st.fpuStatus & 0x41, 0x41);
  assert.equal(r.st.fpuStatus & C1, C1);
  assert.equal(dv(r).getBigUint64(DATA, true), 0xc000000000000000n);
  assert.equal(dv(r).getUint16(DATA + 8, true), 0xffff);
  const u = runAsm("fninit\nfadd st, st(1)\nhlt");
  assert.equal(u.st.fpuStatus & 0x41, 0x41);
  assert.equal(u.st.fpuStatus & C1, 0);
});

t("an unmasked exception sets ES/B and raises #MF at the next waiting instruction (CR0.NE)", () => {
  const r = runAsm(`
    fninit
    fldcw [${DATA}]
    fld1
    fldz
    fdivp st(1), st
    fld1
    hlt`, { setup: (r) => { dv(r).setUint16(DATA, 0x37b, true); r.st.cr0 |= 0x20; } });
  assert.equal(r.sys.events[0]?.vector, 16);
  assert.equal(r.st.fpuStatus & 0x8084, 0x8084);
  const c = runAsm(`fninit\nfldcw [${DATA}]\nfld1\nfldz\nfdivp st(1), st\nfnclex\nfld1\nhlt`, {
    setup: (r) => { dv(r).setUint16(DATA, 0x37b, true); r.st.cr0 |= 0x20; },
  });
  assert.equal(c.sys.events.length, 0);
});

t("fwait raises #NM when CR0.MP and CR0.TS are set; x87 ops raise #NM with CR0.TS", () => {
  const w = runAsm("fwait\nhlt", { setup: (r) => { r.st.cr0 |= 0xa; } });
  assert.equal(w.sys.events[0]?.vector, 7);
  const f = runAsm("fld1\nhlt", { setup: (r) => { r.st.cr0 |= 0x8; } });
  assert.equal(f.sys.events[0]?.vector, 7);
});

t("fnstenv writes the 28-byte protected-mode environment with the full tag word and masks exceptions", () => {
  const r = runAsm(`
    fninit
    fld1
    fldz
    fnstenv [${DATA}]
    hlt`);
  const d = dv(r);
  assert.equal(d.getUint16(DATA, true), 0x37f);
  assert.equal(d.getUint16(DATA + 4, true), 6 << 11);
  assert.equal(d.getUint16(DATA + 8, true), 0x1fff); // phys 7 valid (00), phys 6 zero (01), rest empty
  assert.equal(d.getUint32(DATA + 12, true), 0x1000 + 4); // FIP: fldz (after fninit 2 bytes + fld1 2 bytes)
  assert.equal(d.getUint32(DATA + 16, true) >>> 16, 0x1ee); // FOP of fldz (d9 ee)
  assert.equal(r.st.fpuControl, 0x37f);
});

t("fnsave/frstor round-trip registers and environment; fnsave reinitialises the FPU", () => {
  const r = runAsm(`
    fninit
    fld tbyte ptr [${DATA + 0x200}]
    fldpi
    fnsave [${DATA}]
    mov eax, [${DATA}]
    fnstsw ax
    mov ebx, eax
    frstor [${DATA}]
    fstp qword ptr [${DATA + 0x300}]
    fstp tbyte ptr [${DATA + 0x310}]
    hlt`, { setup: (r) => { dv(r).setBigUint64(DATA + 0x200, 0x8000000000000003n, true); dv(r).setUint16(DATA + 0x208, 0x4001, true); } });
  assert.equal(r.unknown.length, 0);
  assert.equal(r.st.rlo[3]! & 0x3800, 0); // after fnsave: TOP = 0
  assert.equal(f64(r, DATA + 0x300), Math.PI);
  assert.equal(dv(r).getBigUint64(DATA + 0x310, true), 0x8000000000000003n);
  assert.equal(r.st.fpuTag, 0xffff);
});

t("fxch, fchs, fabs, fld st(i), fcmov and fprem/frndint/fscale/fxtract", () => {
  const r = runAsm(`
    fninit
    fld qword ptr [${DATA}]
    fld qword ptr [${DATA + 8}]
    fxch st(1)
    fchs
    fst qword ptr [${DATA + 0x100}]
    fabs
    fprem
    fstp qword ptr [${DATA + 0x108}]
    fld qword ptr [${DATA + 16}]
    frndint
    fscale
    fstp qword ptr [${DATA + 0x110}]
    fld qword ptr [${DATA + 24}]
    fxtract
    fstp qword ptr [${DATA + 0x118}]
    fstp qword ptr [${DATA + 0x120}]
    stc
    fld1
    fcmovb st, st(1)
    fstp qword ptr [${DATA + 0x128}]
    hlt`, { setup: (r) => {
    const d = dv(r);
    d.setFloat64(DATA, 7.5, true); d.setFloat64(DATA + 8, 2, true); d.setFloat64(DATA + 16, 2.5, true); d.setFloat64(DATA + 24, 48, true);
  } });
  assert.equal(r.unknown.length, 0);
  assert.equal(f64(r, DATA + 0x100), -7.5);
  assert.equal(f64(r, DATA + 0x108), 1.5); // 7.5 rem 2
  assert.equal(f64(r, DATA + 0x110), 2 * 4); // frndint(2.5) = 2, * 2^trunc(st1 = 2)
  assert.equal(f64(r, DATA + 0x118), 1.5); // 48 = 1.5 * 2^5
  assert.equal(f64(r, DATA + 0x120), 5);
  assert.equal(f64(r, DATA + 0x128), 2);
});

// ------------------------------------------------------------------------------------------------ oracle

function hasGcc(): boolean {
  try { execFileSync("gcc", ["--version"], { stdio: "ignore" }); return process.arch === "x64"; } catch { return false; }
}

type XGen = "mid" | "mod" | "scale" | "int";
interface XOp { asm: string; gen: XGen; flags?: boolean; mem?: number; rc?: boolean }
const X = (asm: string, gen: XGen = "mid", extra: Partial<XOp> = {}): XOp => ({ asm, gen, ...extra });
const xops: XOp[] = [
  X("fadd st, st(1)"), X("fsub st, st(1)"), X("fsubr st, st(1)"), X("fmul st, st(1)"), X("fdiv st, st(1)"),
  X("fdivr st, st(1)"), X("faddp st(1), st"), X("fsubp st(1), st"), X("fsubrp st(1), st"), X("fmulp st(1), st"),
  X("fdivp st(1), st"), X("fdivrp st(1), st"), X("fadd st(1), st"), X("fsub st(1), st"), X("fdiv st(1), st"),
  X("fsqrt"), X("fchs"), X("fabs"), X("fxch st(1)"), X("fld st(1)"), X("fcom st(1)"), X("fcomp st(1)"),
  X("fucom st(1)"), X("fucompp"), X("fcompp"), X("ftst"), X("fxam"), X("fcomi st, st(1)", "mid", { flags: true }),
  X("fucomi st, st(1)", "mid", { flags: true }), X("fucomip st, st(1)", "mid", { flags: true }),
  X("frndint", "int", { rc: true }), X("fistp dword ptr [rsi+120]", "int", { rc: true, mem: 4 }),
  X("fistp qword ptr [rsi+120]", "int", { rc: true, mem: 8 }), X("fist word ptr [rsi+120]", "int", { rc: true, mem: 2 }),
  X("fst dword ptr [rsi+120]", "mid", { mem: 4 }), X("fstp qword ptr [rsi+120]", "mid", { mem: 8 }),
  X("fprem", "mod"), X("fprem1", "mod"), X("fscale", "scale"), X("fxtract"), X("fdecstp"), X("ffree st(1)"),
  X("fadd qword ptr [rdi+8]"), X("fdivr qword ptr [rdi+8]"), X("fcom qword ptr [rdi+8]"), X("fimul dword ptr [rdi+24]"),
  X("fisub word ptr [rdi+24]"), X("fild dword ptr [rdi+24]"), X("fld dword ptr [rdi+28]"), X("fstp st(1)"),
];

let seed = 0x1234567;
function rnd(): number { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; }
const SPECIAL = [0, -0, 1, -1, 2, 0.5, 3, -7.25, Infinity, -Infinity, NaN, 1e10, -1e-10, 1 / 3];
function val(gen: XGen): number {
  const k = rnd() % 6;
  if (gen === "mid" && k < 2) return SPECIAL[rnd() % SPECIAL.length]!;
  switch (gen) {
    case "mod": return (rnd() % 2 ? -1 : 1) * (1 + (rnd() % 100000)) * 2 ** (-(rnd() % 20));
    case "scale": return (rnd() % 101) - 50 + (rnd() % 4) / 4;
    case "int": return k === 0 ? SPECIAL[rnd() % SPECIAL.length]! : ((rnd() % 2 ? -1 : 1) * (rnd() % 100000) / 4) * 2 ** (rnd() % 3 === 0 ? 40 : 0);
    default: {
      const e = (rnd() % 400) - 200;
      return (rnd() % 2 ? -1 : 1) * (1 + rnd() / 4294967296) * 2 ** e;
    }
  }
}

function xbody(op: XOp): string {
  return ["fninit", "fldcw [rdi+16]", "fld qword ptr [rdi+8]", "fld qword ptr [rdi]", op.asm, "pushfq", "pop rax",
    "mov [rsi+112], rax", "fnsave [rsi]"].join("\n");
}

test("x87 ops match the host CPU (precision control = double) on randomized inputs", { skip: skip || !hasGcc() }, () => {
  const CASES = Number(process.env.X87_ORACLE_CASES ?? 16);
  const inputs = xops.map((op) => Array.from({ length: CASES }, () => {
    const b = new Uint8Array(32), d = new DataView(b.buffer);
    d.setFloat64(0, val(op.gen), true);
    d.setFloat64(8, op.gen === "scale" ? val("mid") : val(op.gen), true);
    d.setUint16(16, 0x27f | (op.rc || op.gen === "mid" ? (rnd() & 3) << 10 : 0), true);
    d.setInt32(24, (rnd() % 2001) - 1000, true);
    d.setFloat32(28, val("mid"), true);
    return b;
  }));
  let asmText = "";
  xops.forEach((op, k) => { asmText += `.globl g${k}\ng${k}:\n${xbody(op)}\nret\n`; });
  let c = "#include <stdio.h>\n#include <string.h>\n";
  xops.forEach((_, k) => { c += `void g${k}(const unsigned char*, unsigned char*);\n`; });
  c += `__asm__(".intel_syntax noprefix\\n.text\\n${asmText.replace(/\n/g, "\\n")}.att_syntax\\n");\n`;
  c += "static const unsigned char in[][32] = {\n";
  for (const cases of inputs) for (const inp of cases) c += `{${[...inp].join(",")}},\n`;
  c += "};\nint main(void){ unsigned char out[128]; int n = 0;\n";
  xops.forEach((_, k) => {
    c += `for (int j = 0; j < ${CASES}; j++) { memset(out, 0, sizeof out); g${k}(in[n], out); n++; for (int i = 0; i < 128; i++) printf("%02x", out[i]); printf("\\n"); }\n`;
  });
  c += "return 0; }\n";
  const dir = mkdtempSync(join(tmpdir(), "x87-oracle-"));
  let native: string[];
  try {
    writeFileSync(join(dir, "o.c"), c);
    execFileSync("gcc", ["-O0", "-o", join(dir, "o"), join(dir, "o.c")], { stdio: ["ignore", "ignore", "pipe"] });
    native = execFileSync(join(dir, "o"), { maxBuffer: 64 << 20 }).toString().trim().split("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  /** Comparable digest of an output block: FCW, FSW, FTW, non-empty ST(j) images, flags, memory result. */
  const digest = (h: Uint8Array, op: XOp): string => {
    const d = new DataView(h.buffer, h.byteOffset);
    const fsw = d.getUint16(4, true), ftw = d.getUint16(8, true), top = (fsw >> 11) & 7;
    let s = `cw=${d.getUint16(0, true).toString(16)} sw=${fsw.toString(16)} tw=${ftw.toString(16)}`;
    for (let j = 0; j < 8; j++) {
      if (((ftw >> (2 * ((top + j) & 7))) & 3) === 3) continue;
      s += ` st${j}=${Buffer.from(h.subarray(28 + 10 * j, 38 + 10 * j)).toString("hex")}`;
    }
    if (op.flags) s += ` fl=${(d.getUint32(112, true) & ARITH).toString(16)}`;
    if (op.mem) s += ` m=${Buffer.from(h.subarray(120, 120 + op.mem)).toString("hex")}`;
    return s;
  };
  let n = 0, bad = 0;
  const report: string[] = [];
  inputs.forEach((cases, k) => cases.forEach((inp) => {
    const op = xops[k]!;
    const r = runAsm(xbody(op) + "\nhlt", { setup: (r) => {
      r.sys.ram.set(inp, DATA); r.st.rlo[7] = DATA; r.st.rlo[6] = DATA + 0x100;
    } });
    const emu = digest(r.sys.ram.subarray(DATA + 0x100, DATA + 0x180), op);
    const host = digest(Buffer.from(native[n++]!, "hex"), op);
    if (emu !== host || r.unknown.length > 0) {
      bad++;
      if (report.length < 12) {
        const dd = new DataView(inp.buffer);
        report.push(`${op.asm} a=${dd.getFloat64(0, true)} b=${dd.getFloat64(8, true)} cw=${dd.getUint16(16, true).toString(16)}\n   emu ${emu} ${r.unknown.join(",")}\n  host ${host}`);
      }
    }
  }));
  assert.equal(bad, 0, `${bad}/${n} mismatches:\n${report.join("\n")}`);
});

t("fild, fbld and fstp st(i) clear C1; fcomi and fcmov keep it (as on the AMD host)", () => {
  const c1After = (insn: string): number => runAsm(`
    fninit
    fld1
    fchs
    fld1
    fchs
    fxam
    ${insn}
    hlt`, { setup: (r) => dv(r).setInt32(DATA, 7, true) }).st.fpuStatus & C1;
  assert.equal(c1After("nop"), C1, "fxam of a negative number sets C1");
  assert.equal(c1After(`fild dword ptr [${DATA}]`), 0);
  assert.equal(c1After(`fbld tbyte ptr [${DATA}]`), 0);
  assert.equal(c1After("fstp st(1)"), 0);
  assert.equal(c1After("fst st(2)"), 0);
  assert.equal(c1After("fcomi st, st(1)"), C1);
  assert.equal(c1After("fucomip st, st(1)"), C1);
  assert.equal(c1After("fcmovb st, st(1)"), C1);
});

t("fbstp stores -0 and negatives that round to 0 with the sign byte 0x80; fbld gives -0 back", () => {
  const r = runAsm(`
    fninit
    fldz
    fchs
    fbstp tbyte ptr [${DATA}]
    fld qword ptr [${DATA + 32}]
    fbstp tbyte ptr [${DATA + 16}]
    fbld tbyte ptr [${DATA}]
    fstp qword ptr [${DATA + 40}]
    hlt`, { setup: (r) => dv(r).setFloat64(DATA + 32, -0.25, true) });
  const d = dv(r);
  assert.equal(d.getUint8(DATA + 9), 0x80);
  assert.equal(d.getBigUint64(DATA, true), 0n);
  assert.equal(d.getUint8(DATA + 25), 0x80);
  assert.ok(Object.is(f64(r, DATA + 40), -0));
});

t("fprem is exact on 64-bit mantissas and reduces partially (C2) for exponent differences of 64 or more", () => {
  const run = (yBits: number) => runAsm(`
    fninit
    fld dword ptr [${DATA + 8}]
    fild qword ptr [${DATA}]
    fprem
    fnstsw ax
    fstp qword ptr [${DATA + 16}]
    hlt`, { setup: (r) => { dv(r).setBigInt64(DATA, 0x7fffffffffffffffn, true); dv(r).setUint32(DATA + 8, yBits, true); } });
  let r = run(0x3f800000); // y = 1: complete, quotient 2^63 - 1
  assert.equal(f64(r, DATA + 16), 0);
  assert.equal(r.st.rlo[0]! & (C0 | C1 | C2 | C3), C0 | C1 | C3);
  r = run(0x2b800000); // y = 2^-40: D = 102, reduced by 2^(62 - 38)
  assert.equal(f64(r, DATA + 16), 2 ** 24 - 1);
  assert.equal(r.st.rlo[0]! & (C0 | C1 | C2 | C3), C2);
});
