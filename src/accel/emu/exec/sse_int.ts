// MMX/SSE2 packed-integer operations (SDM vol. 2): A = A op B over n bytes (8 for mm, 16 for xmm), on the
// scratch vectors of sse_io.ts. The caller loads A (destination) and B (source) and stores A back.

import { A, A16, A8, AS16, AS8, B, B16, B8, BS16, BS8, T, T8 } from "./sse_io.ts";

/** 32x32 -> 64 unsigned multiply: low dword returned, high dword in mulHi. */
export let mulHi = 0;
export function mul32u(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  const t1 = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mulHi = (hh + (lh >>> 16) + (hl >>> 16) + (t1 >>> 16)) | 0;
  return Math.imul(a, b);
}

function sat8s(v: number): number { return v < -128 ? -128 : v > 127 ? 127 : v; }
function sat8u(v: number): number { return v < 0 ? 0 : v > 255 ? 255 : v; }
function sat16s(v: number): number { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; }
function sat16u(v: number): number { return v < 0 ? 0 : v > 65535 ? 65535 : v; }

/** Interleaves the low (hiHalf = false) or high halves of A and B with element size s bytes into A. */
export function unpack(s: number, hiHalf: boolean, n: number): void {
  const half = n >> 1, base = hiHalf ? half : 0;
  for (let k = 0, cnt = half / s; k < cnt; k++) {
    for (let j = 0; j < s; j++) {
      T8[2 * k * s + j] = A8[base + k * s + j]!;
      T8[(2 * k + 1) * s + j] = B8[base + k * s + j]!;
    }
  }
  for (let i = 0; i < n; i++) A8[i] = T8[i]!;
}

/** Shift of each element (size s bytes) of A by `count` (unsigned, already clamped to <= 64 or larger).
 * kind 0 = logical right, 1 = arithmetic right, 2 = left. */
export function shiftA(kind: number, s: number, count: number, n: number): void {
  if (s === 2) {
    const m = n >> 1;
    if (count > 15) {
      if (kind === 1) for (let i = 0; i < m; i++) AS16[i] = AS16[i]! >> 15;
      else for (let i = 0; i < m; i++) A16[i] = 0;
      return;
    }
    if (kind === 0) for (let i = 0; i < m; i++) A16[i] = A16[i]! >>> count;
    else if (kind === 1) for (let i = 0; i < m; i++) AS16[i] = AS16[i]! >> count;
    else for (let i = 0; i < m; i++) A16[i] = A16[i]! << count;
  } else if (s === 4) {
    const m = n >> 2;
    if (count > 31) {
      if (kind === 1) for (let i = 0; i < m; i++) A[i] = A[i]! >> 31;
      else for (let i = 0; i < m; i++) A[i] = 0;
      return;
    }
    if (kind === 0) for (let i = 0; i < m; i++) A[i] = A[i]! >>> count;
    else if (kind === 1) for (let i = 0; i < m; i++) A[i] = A[i]! >> count;
    else for (let i = 0; i < m; i++) A[i] = A[i]! << count;
  } else { // qwords (logical only)
    const m = n >> 2;
    for (let i = 0; i < m; i += 2) {
      const lo = A[i]!, hi = A[i + 1]!;
      if (count > 63) { A[i] = 0; A[i + 1] = 0; }
      else if (count === 0) continue;
      else if (kind === 0) {
        if (count >= 32) { A[i] = hi >>> (count - 32); A[i + 1] = 0; }
        else { A[i] = (lo >>> count) | (hi << (32 - count)); A[i + 1] = hi >>> count; }
      } else {
        if (count >= 32) { A[i + 1] = lo << (count - 32); A[i] = 0; }
        else { A[i + 1] = (hi << count) | (lo >>> (32 - count)); A[i] = lo << count; }
      }
    }
  }
}

/** Byte shift of the whole 128-bit A: pslldq (left = true) / psrldq by `count` bytes. */
export function byteShiftA(left: boolean, count: number): void {
  if (count > 16) count = 16;
  for (let i = 0; i < 16; i++) {
    const j = left ? i - count : i + count;
    T8[i] = j >= 0 && j < 16 ? A8[j]! : 0;
  }
  for (let i = 0; i < 16; i++) A8[i] = T8[i]!;
}

/** Shift count from B (a 64-bit operand): values >= 2^32 become 0xffffffff (treated as "too large"). */
export function countB(): number {
  return B[1] !== 0 ? 0xffffffff : B[0]! >>> 0;
}

/** Executes packed-integer opcode `op` (0f map) on A, B over n bytes. Returns false if `op` is not one. */
export function intOp(op: number, n: number): boolean {
  const nw = n >> 1, nd = n >> 2;
  switch (op) {
    case 0x60: unpack(1, false, n); return true; // punpcklbw
    case 0x61: unpack(2, false, n); return true; // punpcklwd
    case 0x62: unpack(4, false, n); return true; // punpckldq
    case 0x6c: unpack(8, false, n); return true; // punpcklqdq
    case 0x68: unpack(1, true, n); return true; // punpckhbw
    case 0x69: unpack(2, true, n); return true; // punpckhwd
    case 0x6a: unpack(4, true, n); return true; // punpckhdq
    case 0x6d: unpack(8, true, n); return true; // punpckhqdq
    case 0x63: case 0x67: { // packsswb / packuswb: words of A then B -> bytes
      const us = op === 0x67;
      for (let i = 0; i < n; i++) {
        const v = i < nw ? AS16[i]! : BS16[i - nw]!;
        T8[i] = us ? sat8u(v) : sat8s(v) & 0xff;
      }
      for (let i = 0; i < n; i++) A8[i] = T8[i]!;
      return true;
    }
    case 0x6b: { // packssdw
      for (let i = 0; i < nw; i++) {
        const v = i < nd ? A[i]! : B[i - nd]!;
        T8[2 * i] = sat16s(v) & 0xff; T8[2 * i + 1] = (sat16s(v) >> 8) & 0xff;
      }
      for (let i = 0; i < n; i++) A8[i] = T8[i]!;
      return true;
    }
    case 0x64: for (let i = 0; i < n; i++) A8[i] = AS8[i]! > BS8[i]! ? 0xff : 0; return true; // pcmpgtb
    case 0x65: for (let i = 0; i < nw; i++) A16[i] = AS16[i]! > BS16[i]! ? 0xffff : 0; return true; // pcmpgtw
    case 0x66: for (let i = 0; i < nd; i++) A[i] = A[i]! > B[i]! ? -1 : 0; return true; // pcmpgtd
    case 0x74: for (let i = 0; i < n; i++) A8[i] = A8[i] === B8[i] ? 0xff : 0; return true; // pcmpeqb
    case 0x75: for (let i = 0; i < nw; i++) A16[i] = A16[i] === B16[i] ? 0xffff : 0; return true; // pcmpeqw
    case 0x76: for (let i = 0; i < nd; i++) A[i] = A[i] === B[i] ? -1 : 0; return true; // pcmpeqd
    case 0xd1: shiftA(0, 2, countB(), n); return true; // psrlw
    case 0xd2: shiftA(0, 4, countB(), n); return true; // psrld
    case 0xd3: shiftA(0, 8, countB(), n); return true; // psrlq
    case 0xe1: shiftA(1, 2, countB(), n); return true; // psraw
    case 0xe2: shiftA(1, 4, countB(), n); return true; // psrad
    case 0xf1: shiftA(2, 2, countB(), n); return true; // psllw
    case 0xf2: shiftA(2, 4, countB(), n); return true; // pslld
    case 0xf3: shiftA(2, 8, countB(), n); return true; // psllq
    case 0xd4: case 0xfb: // paddq / psubq
      for (let i = 0; i < nd; i += 2) {
        const al = A[i]!, ah = A[i + 1]!, bl = B[i]!, bh = B[i + 1]!;
        if (op === 0xd4) {
          const lo = (al + bl) | 0;
          A[i] = lo; A[i + 1] = (ah + bh + ((lo >>> 0) < (al >>> 0) ? 1 : 0)) | 0;
        } else {
          A[i] = (al - bl) | 0; A[i + 1] = (ah - bh - ((al >>> 0) < (bl >>> 0) ? 1 : 0)) | 0;
        }
      }
      return true;
    case 0xd5: for (let i = 0; i < nw; i++) A16[i] = Math.imul(A16[i]!, B16[i]!); return true; // pmullw
    case 0xe5: for (let i = 0; i < nw; i++) A16[i] = (AS16[i]! * BS16[i]!) >> 16; return true; // pmulhw
    case 0xe4: for (let i = 0; i < nw; i++) A16[i] = (A16[i]! * B16[i]!) >>> 16; return true; // pmulhuw
    case 0xf4: // pmuludq
      for (let i = 0; i < nd; i += 2) { A[i] = mul32u(A[i]!, B[i]!); A[i + 1] = mulHi; }
      return true;
    case 0xf5: // pmaddwd
      for (let i = 0; i < nd; i++) {
        A[i] = (AS16[2 * i]! * BS16[2 * i]! + AS16[2 * i + 1]! * BS16[2 * i + 1]!) | 0;
      }
      return true;
    case 0xf6: // psadbw
      for (let q = 0; q < n; q += 8) {
        let s = 0;
        for (let j = 0; j < 8; j++) s += Math.abs(A8[q + j]! - B8[q + j]!);
        A[q >> 2] = s; A[(q >> 2) + 1] = 0;
      }
      return true;
    case 0xd8: for (let i = 0; i < n; i++) A8[i] = sat8u(A8[i]! - B8[i]!); return true; // psubusb
    case 0xd9: for (let i = 0; i < nw; i++) A16[i] = sat16u(A16[i]! - B16[i]!); return true; // psubusw
    case 0xdc: for (let i = 0; i < n; i++) A8[i] = sat8u(A8[i]! + B8[i]!); return true; // paddusb
    case 0xdd: for (let i = 0; i < nw; i++) A16[i] = sat16u(A16[i]! + B16[i]!); return true; // paddusw
    case 0xe8: for (let i = 0; i < n; i++) AS8[i] = sat8s(AS8[i]! - BS8[i]!); return true; // psubsb
    case 0xe9: for (let i = 0; i < nw; i++) AS16[i] = sat16s(AS16[i]! - BS16[i]!); return true; // psubsw
    case 0xec: for (let i = 0; i < n; i++) AS8[i] = sat8s(AS8[i]! + BS8[i]!); return true; // paddsb
    case 0xed: for (let i = 0; i < nw; i++) AS16[i] = sat16s(AS16[i]! + BS16[i]!); return true; // paddsw
    case 0xda: for (let i = 0; i < n; i++) if (B8[i]! < A8[i]!) A8[i] = B8[i]!; return true; // pminub
    case 0xde: for (let i = 0; i < n; i++) if (B8[i]! > A8[i]!) A8[i] = B8[i]!; return true; // pmaxub
    case 0xea: for (let i = 0; i < nw; i++) if (BS16[i]! < AS16[i]!) AS16[i] = BS16[i]!; return true; // pminsw
    case 0xee: for (let i = 0; i < nw; i++) if (BS16[i]! > AS16[i]!) AS16[i] = BS16[i]!; return true; // pmaxsw
    case 0xe0: for (let i = 0; i < n; i++) A8[i] = (A8[i]! + B8[i]! + 1) >> 1; return true; // pavgb
    case 0xe3: for (let i = 0; i < nw; i++) A16[i] = (A16[i]! + B16[i]! + 1) >> 1; return true; // pavgw
    case 0xdb: for (let i = 0; i < nd; i++) A[i] = A[i]! & B[i]!; return true; // pand
    case 0xdf: for (let i = 0; i < nd; i++) A[i] = ~A[i]! & B[i]!; return true; // pandn
    case 0xeb: for (let i = 0; i < nd; i++) A[i] = A[i]! | B[i]!; return true; // por
    case 0xef: for (let i = 0; i < nd; i++) A[i] = A[i]! ^ B[i]!; return true; // pxor
    case 0xf8: for (let i = 0; i < n; i++) A8[i] = A8[i]! - B8[i]!; return true; // psubb
    case 0xf9: for (let i = 0; i < nw; i++) A16[i] = A16[i]! - B16[i]!; return true; // psubw
    case 0xfa: for (let i = 0; i < nd; i++) A[i] = (A[i]! - B[i]!) | 0; return true; // psubd
    case 0xfc: for (let i = 0; i < n; i++) A8[i] = A8[i]! + B8[i]!; return true; // paddb
    case 0xfd: for (let i = 0; i < nw; i++) A16[i] = A16[i]! + B16[i]!; return true; // paddw
    case 0xfe: for (let i = 0; i < nd; i++) A[i] = (A[i]! + B[i]!) | 0; return true; // paddd
    default: return false;
  }
}

/** Ops that exist only with the 66 prefix (no MMX form). */
export function isXmmOnlyIntOp(op: number): boolean {
  return op === 0x6c || op === 0x6d;
}
export { T };
