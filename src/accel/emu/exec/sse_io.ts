// Operand plumbing for the SSE/MMX executors: scratch vectors (A = destination/first source, B = second
// source, T = temporary), exception checks (SDM vol. 2 §2.5 / vol. 3 table 2-2: CR0.EM, CR0.TS, CR4.OSFXSR),
// and 64/128-bit register and memory transfers. Scratch arrays are module-level and only live within one
// instruction (no allocation on the hot path).

import type { CoreBase } from "../decode/decoder.ts";
import { mmHi, mmRead, mmWrite } from "./sse_state.ts";

export const A = new Int32Array(4);
export const B = new Int32Array(4);
export const T = new Int32Array(4);
export const A8 = new Uint8Array(A.buffer), AS8 = new Int8Array(A.buffer);
export const A16 = new Uint16Array(A.buffer), AS16 = new Int16Array(A.buffer);
export const B8 = new Uint8Array(B.buffer), BS8 = new Int8Array(B.buffer);
export const B16 = new Uint16Array(B.buffer), BS16 = new Int16Array(B.buffer);
export const T8 = new Uint8Array(T.buffer), T16 = new Uint16Array(T.buffer);

const CR0_EM = 4, CR0_TS = 8, CR4_OSFXSR = 0x200;

/** SSE/SSE2 instruction: #UD if CR0.EM or !CR4.OSFXSR, #NM if CR0.TS. */
export function checkSse(c: CoreBase): void {
  const cpu = c.cpu;
  if ((cpu.cr0 & CR0_EM) !== 0 || (cpu.cr4 & CR4_OSFXSR) === 0 || c.lock) c.ud();
  if ((cpu.cr0 & CR0_TS) !== 0) c.fault(7, false, 0);
}

/** MMX instruction: #UD if CR0.EM, #NM if CR0.TS. */
export function checkMmx(c: CoreBase): void {
  const cpu = c.cpu;
  if ((cpu.cr0 & CR0_EM) !== 0 || c.lock) c.ud();
  if ((cpu.cr0 & CR0_TS) !== 0) c.fault(7, false, 0);
}

/** Reads 16 bytes at (lo, hi) into dst; #GP(0) when `align` and not 16-byte aligned. */
export function rd128(c: CoreBase, lo: number, hi: number, dst: Int32Array, align: boolean): void {
  if (align && (lo & 15) !== 0) c.gp0();
  const l2 = c.linAdd(lo, hi, 8), h2 = c.hi;
  const a = c.rdMem(8, lo, hi), ah = c.hi;
  const b = c.rdMem(8, l2, h2), bh = c.hi;
  dst[0] = a; dst[1] = ah; dst[2] = b; dst[3] = bh;
}

/** Checks that a store of `n` bytes at (lo, hi) can complete before writing any of it (page-crossing). */
export function probeWrite(c: CoreBase, lo: number, hi: number, n: number): void {
  if ((lo & 0xfff) + n <= 0x1000) return;
  const sys = c.sys;
  const l2 = c.linAdd(lo, hi, n - 1), h2 = c.hi;
  if (sys.dataPage !== undefined) { sys.dataPage(lo, hi, true); sys.dataPage(l2, h2, true); }
}

/** Writes 16 bytes from src[off..off+3] to (lo, hi). */
export function wr128(c: CoreBase, lo: number, hi: number, src: Int32Array, off: number, align: boolean): void {
  if (align && (lo & 15) !== 0) c.gp0();
  probeWrite(c, lo, hi, 16);
  const l2 = c.linAdd(lo, hi, 8), h2 = c.hi;
  c.wrMem(8, lo, hi, src[off]!, src[off + 1]!);
  c.wrMem(8, l2, h2, src[off + 2]!, src[off + 3]!);
}

/** Loads the xmm/m128 operand (after decodeModrm) into dst. */
export function loadXmmRm(c: CoreBase, dst: Int32Array, align: boolean): void {
  if (c.mod === 3) {
    const x = c.cpu.xmm, o = c.rm << 2;
    dst[0] = x[o]!; dst[1] = x[o + 1]!; dst[2] = x[o + 2]!; dst[3] = x[o + 3]!;
  } else rd128(c, c.eaLo, c.eaHi, dst, align);
}

/** Loads the low 64 bits of xmm/m64 into dst[0..1] (dst[2..3] = 0 for memory, the register's otherwise). */
export function loadXmmRm64(c: CoreBase, dst: Int32Array): void {
  if (c.mod === 3) {
    const x = c.cpu.xmm, o = c.rm << 2;
    dst[0] = x[o]!; dst[1] = x[o + 1]!; dst[2] = x[o + 2]!; dst[3] = x[o + 3]!;
  } else {
    dst[0] = c.rdMem(8, c.eaLo, c.eaHi); dst[1] = c.hi; dst[2] = 0; dst[3] = 0;
  }
}

/** Loads the low 32 bits of xmm/m32 into dst[0]. */
export function loadXmmRm32(c: CoreBase, dst: Int32Array): void {
  if (c.mod === 3) {
    const x = c.cpu.xmm, o = c.rm << 2;
    dst[0] = x[o]!; dst[1] = x[o + 1]!; dst[2] = x[o + 2]!; dst[3] = x[o + 3]!;
  } else {
    dst[0] = c.rdMem(4, c.eaLo, c.eaHi); dst[1] = 0; dst[2] = 0; dst[3] = 0;
  }
}

/** xmm register r -> dst. */
export function getXmm(c: CoreBase, r: number, dst: Int32Array): void {
  const x = c.cpu.xmm, o = r << 2;
  dst[0] = x[o]!; dst[1] = x[o + 1]!; dst[2] = x[o + 2]!; dst[3] = x[o + 3]!;
}
/** src -> xmm register r. */
export function setXmm(c: CoreBase, r: number, src: Int32Array): void {
  const x = c.cpu.xmm, o = r << 2;
  x[o] = src[0]!; x[o + 1] = src[1]!; x[o + 2] = src[2]!; x[o + 3] = src[3]!;
}

/** Loads the mm/m64 operand into dst[0..1]. */
export function loadMmRm(c: CoreBase, dst: Int32Array): void {
  if (c.mod === 3) { dst[0] = mmRead(c.cpu, c.rm & 7); dst[1] = mmHi; }
  else { dst[0] = c.rdMem(8, c.eaLo, c.eaHi); dst[1] = c.hi; }
}
export function getMm(c: CoreBase, r: number, dst: Int32Array): void {
  dst[0] = mmRead(c.cpu, r & 7); dst[1] = mmHi;
}
export function setMm(c: CoreBase, r: number, src: Int32Array): void {
  mmWrite(c.cpu, r & 7, src[0]!, src[1]!);
}
