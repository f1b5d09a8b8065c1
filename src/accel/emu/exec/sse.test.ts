import { test } from "node:test";
import assert from "node:assert/strict";
import { hasAssembler } from "../../../testing/emu_asm.ts";
import { DATA, runAsm, type Run, CF, PF, ZF, ARITH } from "../emu_test_util.ts";
import { decode80, encode80 } from "./sse_state.ts";

const skip = !hasAssembler();
const t = (name: string, fn: () => void): void => { test(name, { skip }, fn); };

function xmm(r: Run, i: number): bigint {
  let v = 0n;
  for (let k = 3; k >= 0; k--) v = (v << 32n) | BigInt(r.st.xmm[i * 4 + k]! >>> 0);
  return v;
}
function setX(r: Run, i: number, v: bigint): void {
  for (let k = 0; k < 4; k++) r.st.xmm[i * 4 + k] = Number((v >> BigInt(32 * k)) & 0xffffffffn) | 0;
}
function put(r: Run, addr: number, bytes: number[]): void { r.sys.ram.set(bytes, addr); }
function u64(r: Run, addr: number): bigint { return new DataView(r.sys.ram.buffer).getBigUint64(addr, true); }
function u32(r: Run, addr: number): number { return new DataView(r.sys.ram.buffer).getUint32(addr, true); }
function u16(r: Run, addr: number): number { return new DataView(r.sys.ram.buffer).getUint16(addr, true); }

t("strlen-style pcmpeqb + pmovmskb finds the first zero byte", () => {
  const r = runAsm(`
    pxor xmm1, xmm1
    movdqu xmm0, [${DATA + 1}]
    pcmpeqb xmm0, xmm1
    pmovmskb eax, xmm0
    bsf ecx, eax
    hlt`, { setup: (r) => put(r, DATA + 1, [...Buffer.from("abc\0defghijklm\0o")]) });
  assert.equal(r.unknown.length, 0);
  assert.equal(r.st.rlo[0], (1 << 3) | (1 << 14));
  assert.equal(r.st.rlo[1], 3);
});

t("packed byte/word/dword/qword add, sub and saturating forms give known vectors", () => {
  const r = runAsm(`
    movdqa xmm2, xmm0
    paddb xmm2, xmm1
    movdqa xmm3, xmm0
    psubusb xmm3, xmm1
    movdqa xmm4, xmm0
    paddsw xmm4, xmm1
    movdqa xmm5, xmm0
    paddq xmm5, xmm1
    movdqa xmm6, xmm0
    psubd xmm6, xmm1
    movdqa xmm7, xmm0
    pminub xmm7, xmm1
    hlt`, { setup: (r) => {
    setX(r, 0, 0x7fff_8000_ffffffff_fffffffffffffff0n);
    setX(r, 1, 0x0001_8000_00000001_0000000000000020n);
  } });
  assert.equal(xmm(r, 2), 0x7f000000ffffff00_ffffffffffffff10n);
  assert.equal(xmm(r, 3), 0x7ffe0000fffffffe_ffffffffffffffd0n);
  assert.equal(xmm(r, 4), 0x7fff8000ffff0000_ffffffffffff0010n);
  assert.equal(xmm(r, 5), 0x8001000100000000_0000000000000010n);
  assert.equal(xmm(r, 6), 0x7ffe0000_fffffffe_ffffffff_ffffffd0n);
  assert.equal(xmm(r, 7), 0x0001800000000001_0000000000000020n);
});

t("punpck, pack, pshufd, shifts and byte shifts give known vectors", () => {
  const r = runAsm(`
    movdqa xmm2, xmm0
    punpcklbw xmm2, xmm1
    movdqa xmm3, xmm0
    punpckhqdq xmm3, xmm1
    pshufd xmm4, xmm0, 0x1b
    movdqa xmm5, xmm0
    psrldq xmm5, 3
    movdqa xmm6, xmm0
    pslldq xmm6, 17
    movdqa xmm7, xmm0
    psraw xmm7, 4
    movdqa xmm8, xmm0
    psrlq xmm8, xmm9
    movdqa xmm10, xmm1
    packsswb xmm10, xmm0
    hlt`, { setup: (r) => {
    setX(r, 0, 0x0f0e0d0c_0b0a0908_07060504_03020100n);
    setX(r, 1, 0x8f8e8d8c_8b8a8988_87868584_83828180n);
    setX(r, 9, 8n);
  } });
  assert.equal(xmm(r, 2), 0x87078606_85058404_83038202_81018000n);
  assert.equal(xmm(r, 3), 0x8f8e8d8c_8b8a8988_0f0e0d0c_0b0a0908n);
  assert.equal(xmm(r, 4), 0x03020100_07060504_0b0a0908_0f0e0d0cn);
  assert.equal(xmm(r, 5), 0x0000000f_0e0d0c0b_0a090807_06050403n);
  assert.equal(xmm(r, 6), 0n);
  assert.equal(xmm(r, 7), 0x00f000d0_00b00090_00700050_00300010n);
  assert.equal(xmm(r, 8), 0x000f0e0d_0c0b0a09_00070605_04030201n);
  // words of xmm1 are all negative below -128 -> 0x80; words of xmm0 are > 127 -> 0x7f
  assert.equal(xmm(r, 10), 0x7f7f7f7f_7f7f7f7f_80808080_80808080n);
});

t("movd/movq, movss/movsd, movlps/movhps and pinsrw/pextrw move the right lanes", () => {
  const r = runAsm(`
    mov rax, 0x1122334455667788
    movq xmm0, rax
    movd xmm1, eax
    movq rbx, xmm0
    movd ecx, xmm1
    movdqa xmm2, xmm3
    movss xmm2, xmm1
    movsd xmm4, [${DATA}]
    movhps xmm4, [${DATA + 8}]
    movlps [${DATA + 16}], xmm4
    movhpd [${DATA + 24}], xmm3
    pinsrw xmm5, eax, 7
    pextrw edx, xmm5, 7
    movq xmm6, xmm3
    hlt`, { setup: (r) => {
    setX(r, 3, 0xaaaaaaaa_bbbbbbbb_cccccccc_ddddddddn);
    setX(r, 4, -1n & ((1n << 128n) - 1n));
    setX(r, 6, -1n & ((1n << 128n) - 1n));
    put(r, DATA, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  } });
  assert.equal(xmm(r, 0), 0x1122334455667788n);
  assert.equal(xmm(r, 1), 0x55667788n);
  assert.equal(r.r(3), 0x1122334455667788n);
  assert.equal(r.r(1), 0x55667788n);
  assert.equal(xmm(r, 2), 0xaaaaaaaa_bbbbbbbb_cccccccc_55667788n);
  assert.equal(xmm(r, 4), 0x100f0e0d_0c0b0a09_08070605_04030201n);
  assert.equal(u64(r, DATA + 16), 0x0807060504030201n);
  assert.equal(u64(r, DATA + 24), 0xaaaaaaaabbbbbbbbn);
  assert.equal(xmm(r, 5) >> 112n, 0x7788n);
  assert.equal(r.r(2), 0x7788n);
  assert.equal(xmm(r, 6), 0xccccccccddddddddn);
});

t("aligned moves raise #GP on a misaligned operand; movdqu does not", () => {
  const ok = runAsm(`movdqu xmm0, [${DATA + 4}]\nhlt`);
  assert.equal(ok.sys.events.length, 0);
  const bad = runAsm(`movdqa xmm0, [${DATA + 4}]\nhlt`);
  assert.equal(bad.sys.events[0]?.vector, 13);
  const bad2 = runAsm(`paddb xmm0, [${DATA + 8}]\nhlt`);
  assert.equal(bad2.sys.events[0]?.vector, 13);
});

t("CR0.TS raises #NM and a clear CR4.OSFXSR raises #UD for SSE instructions", () => {
  const ts = runAsm("pxor xmm0, xmm0\nhlt", { setup: (r) => { r.st.cr0 |= 8; } });
  assert.equal(ts.sys.events[0]?.vector, 7);
  const nofx = runAsm("pxor xmm0, xmm0\nhlt", { setup: (r) => { r.st.cr4 &= ~0x200; } });
  assert.equal(nofx.sys.events[0]?.vector, 6);
  const fx = runAsm(`fxsave [${DATA}]\nhlt`, { setup: (r) => { r.st.cr0 |= 8; } });
  assert.equal(fx.sys.events[0]?.vector, 7);
  // fences are not affected by TS
  const f = runAsm("lfence\nmfence\nsfence\nhlt", { setup: (r) => { r.st.cr0 |= 8; } });
  assert.equal(f.sys.events.length, 0);
});

t("ldmxcsr with reserved bits raises #GP; stmxcsr stores the value", () => {
  const r = runAsm(`ldmxcsr [${DATA}]\nstmxcsr [${DATA + 4}]\nhlt`, { setup: (r) => put(r, DATA, [0x80, 0x7f, 0, 0]) });
  assert.equal(r.st.mxcsr, 0x7f80);
  assert.equal(u32(r, DATA + 4), 0x7f80);
  const bad = runAsm(`ldmxcsr [${DATA}]\nhlt`, { setup: (r) => put(r, DATA, [0x80, 0x1f, 1, 0]) });
  assert.equal(bad.sys.events[0]?.vector, 13);
  const daz = runAsm(`ldmxcsr [${DATA}]\nhlt`, { setup: (r) => put(r, DATA, [0xc0, 0x1f, 0, 0]) });
  assert.equal(daz.sys.events[0]?.vector, 13);
});

t("fxsave64 writes the legacy area layout (golden offsets)", () => {
  const r = runAsm(`
    fninit
    fld1
    fldz
    mov eax, 0x1f81
    mov [${DATA + 0x400}], eax
    ldmxcsr [${DATA + 0x400}]
    fxsave64 [${DATA}]
    hlt`, { setup: (r) => {
    setX(r, 3, 0x00112233_44556677_8899aabb_ccddeeffn);
    setX(r, 15, 0xfedcba98_76543210_01234567_89abcdefn);
    r.sys.ram.fill(0xee, DATA, DATA + 512);
  } });
  assert.equal(r.unknown.length, 0);
  assert.equal(u16(r, DATA), 0x037f); // FCW
  assert.equal(u16(r, DATA + 2), 6 << 11); // FSW: TOP = 6
  assert.equal(r.sys.ram[DATA + 4], 0xc0); // abridged FTW: physical 6 and 7 valid
  assert.equal(u32(r, DATA + 24), 0x1f81); // MXCSR
  assert.equal(u32(r, DATA + 28), 0xffbf); // MXCSR_MASK
  // ST0 = 0.0, ST1 = 1.0 as 80-bit extended
  assert.equal(u64(r, DATA + 32), 0n);
  assert.equal(u16(r, DATA + 40), 0);
  assert.equal(u64(r, DATA + 48), 0x8000000000000000n);
  assert.equal(u16(r, DATA + 56), 0x3fff);
  assert.equal(r.sys.ram[DATA + 58], 0xee); // reserved bytes of the slot untouched
  assert.equal(u64(r, DATA + 160 + 48), 0x8899aabbccddeeffn);
  assert.equal(u64(r, DATA + 168 + 48), 0x0011223344556677n);
  assert.equal(u64(r, DATA + 160 + 240), 0x0123456789abcdefn);
  assert.equal(u64(r, DATA + 168 + 240), 0xfedcba9876543210n);
  assert.equal(r.sys.ram[DATA + 416], 0xee); // 416-511 not written
});

t("fxrstor64 then fxsave64 round-trips an image bit for bit, including non-double 80-bit values", () => {
  const img = new Uint8Array(512);
  const dv = new DataView(img.buffer);
  dv.setUint16(0, 0x027f, true); // FCW
  dv.setUint16(2, (3 << 11) | 0x0041, true); // FSW: TOP=3, IE, SF... (bit 6) set
  img[4] = 0b10101101; // abridged tags
  dv.setUint16(6, 0x05d9, true); // FOP
  dv.setBigUint64(8, 0xffffffff81234567n, true);
  dv.setBigUint64(16, 0xffff888000001000n, true);
  dv.setUint32(24, 0x9fc0 & 0xffbf, true);
  dv.setUint32(28, 0xffbf, true);
  for (let j = 0; j < 8; j++) {
    dv.setBigUint64(32 + 16 * j, 0x8000000000000001n + BigInt(j) * 0x0123456789abcdefn | 0x8000000000000000n, true);
    dv.setUint16(40 + 16 * j, 0x3fff + j * 77 - 200, true);
  }
  for (let k = 0; k < 256; k++) img[160 + k] = (k * 37 + 11) & 0xff;
  const r = runAsm(`fxrstor64 [${DATA}]\nfxsave64 [${DATA + 0x1000}]\nhlt`, { setup: (r) => r.sys.ram.set(img, DATA) });
  assert.equal(r.sys.events.length, 0);
  const out = r.sys.ram.subarray(DATA + 0x1000, DATA + 0x1000 + 512);
  const ranges: [number, number][] = [[0, 32], ...Array.from({ length: 8 }, (_, j): [number, number] => [32 + 16 * j, 42 + 16 * j]), [160, 416]];
  for (const [a, b] of ranges) assert.deepEqual([...out.subarray(a, b)], [...img.subarray(a, b)], `bytes ${a}..${b}`);
  assert.equal(r.st.fpuTop, 3);
  assert.equal(r.st.mxcsr, 0x9f80);
});

t("fxrstor with reserved MXCSR bits and fxsave on a misaligned address raise #GP", () => {
  const r = runAsm(`fxrstor64 [${DATA}]\nhlt`, { setup: (r) => { r.sys.ram[DATA + 24] = 0x80; r.sys.ram[DATA + 25] = 0x1f; r.sys.ram[DATA + 26] = 1; } });
  assert.equal(r.sys.events[0]?.vector, 13);
  const m = runAsm(`fxsave [${DATA + 8}]\nhlt`);
  assert.equal(m.sys.events[0]?.vector, 13);
});

t("32-bit fxsave (no REX.W) stores FIP/FCS and only xmm0-7 outside 64-bit mode", () => {
  const r = runAsm(`fxsave [${DATA}]\nhlt`, { bits: 32, setup: (r) => {
    r.st.cr4 |= 0x200; setX(r, 7, 0x77n); r.sys.ram.fill(0xee, DATA, DATA + 512);
  } });
  assert.equal(r.sys.events.length, 0);
  assert.equal(u64(r, DATA + 160 + 7 * 16), 0x77n);
  assert.equal(r.sys.ram[DATA + 160 + 8 * 16], 0xee);
});

t("MMX ops alias the x87 registers: TOP=0, tags valid, exponent 0xffff; emms empties the tags", () => {
  const r = runAsm(`
    movq mm0, [${DATA}]
    movq mm1, [${DATA + 8}]
    paddb mm0, mm1
    pmovmskb eax, mm0
    movq [${DATA + 16}], mm0
    fxsave64 [${DATA + 0x100}]
    emms
    fxsave64 [${DATA + 0x300}]
    hlt`, { setup: (r) => {
    put(r, DATA, [1, 2, 3, 4, 0x80, 0x7f, 0xff, 0]);
    put(r, DATA + 8, [1, 1, 1, 1, 1, 1, 1, 0x90]);
  } });
  assert.equal(r.unknown.length, 0);
  assert.equal(u64(r, DATA + 16), 0x9000_8081_05040302n);
  assert.equal(r.st.rlo[0], 0b10110000);
  assert.equal(r.sys.ram[DATA + 0x100 + 4], 0xff);
  assert.equal(u16(r, DATA + 0x100 + 2) & 0x3800, 0);
  assert.equal(u64(r, DATA + 0x100 + 32), 0x9000_8081_05040302n);
  assert.equal(u16(r, DATA + 0x100 + 40), 0xffff);
  assert.equal(r.sys.ram[DATA + 0x300 + 4], 0);
});

t("scalar float arithmetic, comparisons and conversions give IEEE results and flags", () => {
  const r = runAsm(`
    mov eax, 3
    cvtsi2sd xmm0, eax
    mov eax, 4
    cvtsi2ss xmm1, eax
    cvtss2sd xmm1, xmm1
    divsd xmm0, xmm1
    sqrtsd xmm2, xmm1
    cvttsd2si ecx, xmm0
    cvtsd2si rdx, xmm1
    ucomisd xmm0, xmm1
    hlt`);
  assert.equal(r.unknown.length, 0);
  const f = new Float64Array(r.st.xmm.buffer);
  assert.equal(f[0], 0.75);
  assert.equal(f[4], 2);
  assert.equal(r.st.rlo[1], 0);
  assert.equal(r.r(2), 4n);
  assert.equal(r.flags() & ARITH, CF);
  assert.equal(r.st.mxcsr & 0x3f, 0x20); // 3/4 is exact, but cvttsd2si 0.75 -> 0 is inexact
});

t("comiss/ucomiss set ZF PF CF for unordered, less, equal, greater and IE for QNaN only with comiss", () => {
  const cases: [number, number, number][] = [[NaN, 1, ZF | PF | CF], [1, 2, CF], [2, 2, ZF], [3, 2, 0]];
  for (const [a, b, want] of cases) {
    const r = runAsm("ucomiss xmm0, xmm1\nhlt", { setup: (r) => {
      new Float32Array(r.st.xmm.buffer)[0] = a; new Float32Array(r.st.xmm.buffer)[4] = b;
    } });
    assert.equal(r.flags() & ARITH, want, `${a} vs ${b}`);
    assert.equal(r.st.mxcsr & 1, 0);
  }
  const c = runAsm("comiss xmm0, xmm1\nhlt", { setup: (r) => { r.st.xmm[0] = 0x7fc00000; } });
  assert.equal(c.st.mxcsr & 1, 1);
});

t("NaN rules: first source NaN wins and is quieted; 0/0 gives the default NaN; divide by zero sets ZE", () => {
  const r = runAsm(`
    addss xmm0, xmm1
    addss xmm2, xmm3
    divss xmm4, xmm5
    divsd xmm6, xmm7
    hlt`, { setup: (r) => {
    const x = r.st.xmm;
    x[0] = 0x7f800001; x[4] = 0x7fc00002; // SNaN + QNaN -> quieted first
    x[8] = 0x3f800000; x[12] = 0xffc00005 | 0; // 1 + QNaN -> second
    x[16] = 0; x[20] = 0; // 0/0
    x[24] = 0; x[25] = 0x3ff00000; x[28] = 0; x[29] = 0x80000000 | 0; // 1 / -0
  } });
  assert.equal(r.st.xmm[0]! >>> 0, 0x7fc00001);
  assert.equal(r.st.xmm[8]! >>> 0, 0xffc00005);
  assert.equal(r.st.xmm[16]! >>> 0, 0xffc00000);
  assert.equal(r.st.xmm[25]! >>> 0, 0xfff00000);
  assert.equal(r.st.mxcsr & 0x3f, 0x1 | 0x4);
});

t("an unmasked SIMD exception raises #XM and leaves the destination alone", () => {
  const r = runAsm(`ldmxcsr [${DATA}]\ndivss xmm0, xmm1\nhlt`, { setup: (r) => {
    put(r, DATA, [0x80, 0x1d, 0, 0]); // ZM cleared
    r.st.xmm[0] = 0x3f800000; r.st.xmm[4] = 0; r.st.cr4 |= 0x400;
  } });
  assert.equal(r.sys.events[0]?.vector, 19);
  assert.equal(r.st.xmm[0], 0x3f800000);
  assert.equal(r.st.mxcsr & 4, 4);
});

t("80-bit conversion is exact for doubles and rounds extended values", () => {
  const raw = new Uint16Array(5);
  for (const d of [0, -0, 1, -2.5, Math.PI, 1e-310, 5e-324, Number.MAX_VALUE, Infinity, -Infinity]) {
    encode80(raw, 0, d);
    assert.ok(Object.is(decode80(raw, 0), d), String(d));
  }
  encode80(raw, 0, 1);
  assert.deepEqual([...raw], [0, 0, 0, 0x8000, 0x3fff]);
  raw.set([1, 0, 0, 0x8000, 0x3fff]); // 1 + 2^-63 rounds to 1
  assert.equal(decode80(raw, 0), 1);
  encode80(raw, 0, NaN);
  assert.ok(Number.isNaN(decode80(raw, 0)));
});
