// Instruction length decoder for the block JIT's in-block interpreter fallback (64-bit mode only).
//
// The translator executes instructions it does not translate natively with `c.step()` and goes on with the block
// when the interpreter left RIP at the instruction after it; for that it needs the length of the instruction at
// translation time. A wrong length is never unsafe: the block compares the RIP after the step with the address it
// translated next and leaves when they differ. Instructions that change state the block depends on, transfer
// control, or are rare system instructions are refused here (-1): the block ends after them, as before.

/** Operand flags per one-byte opcode (64-bit mode). */
const M = 1, I8 = 2, IZ = 4, IV = 8, I16 = 16, MOFFS = 32, DENY = 64, PFX = 128, G3 = 256;

function table(entries: [number, number, number][]): Uint16Array {
  const t = new Uint16Array(256);
  for (const [from, to, f] of entries) for (let b = from; b <= to; b++) t[b] = f;
  return t;
}

const ONE = table([
  [0x00, 0x3f, M], // ALU ops and their accumulator forms (fixed up below)
  [0x40, 0x4f, PFX], // REX
  [0x50, 0x5f, 0],
  [0x60, 0x62, DENY], [0x63, 0x63, M], [0x64, 0x67, PFX],
  [0x68, 0x68, IZ], [0x69, 0x69, M | IZ], [0x6a, 0x6a, I8], [0x6b, 0x6b, M | I8], [0x6c, 0x6f, 0],
  [0x70, 0x7f, DENY], // jcc
  [0x80, 0x80, M | I8], [0x81, 0x81, M | IZ], [0x82, 0x82, DENY], [0x83, 0x83, M | I8],
  [0x84, 0x8d, M], [0x8e, 0x8e, DENY], [0x8f, 0x8f, M],
  [0x90, 0x99, 0], [0x9a, 0x9a, DENY], [0x9b, 0x9f, 0],
  [0xa0, 0xa3, MOFFS], [0xa4, 0xa7, 0], [0xa8, 0xa8, I8], [0xa9, 0xa9, IZ], [0xaa, 0xaf, 0],
  [0xb0, 0xb7, I8], [0xb8, 0xbf, IV],
  [0xc0, 0xc1, M | I8], [0xc2, 0xc5, DENY], [0xc6, 0xc6, M | I8], [0xc7, 0xc7, M | IZ],
  [0xc8, 0xc8, I16 | I8], [0xc9, 0xc9, 0], [0xca, 0xcf, DENY],
  [0xd0, 0xd3, M], [0xd4, 0xd6, DENY], [0xd7, 0xd7, 0], [0xd8, 0xdf, M],
  [0xe0, 0xe3, DENY], [0xe4, 0xe7, I8], [0xe8, 0xeb, DENY], [0xec, 0xef, 0],
  [0xf0, 0xf0, PFX], [0xf1, 0xf1, DENY], [0xf2, 0xf3, PFX], [0xf4, 0xf4, DENY], [0xf5, 0xf5, 0],
  [0xf6, 0xf7, M | G3], [0xf8, 0xfd, 0], [0xfe, 0xff, M],
]);
for (let b = 0; b < 0x40; b += 8) {
  ONE[b + 4] = I8; ONE[b + 5] = IZ;
  // 06/07/0e/0f/16/17/1e/1f/27/2f/37/3f: segment push/pop and BCD (invalid in 64-bit mode), 0f escape,
  // 26/2e/36/3e segment prefixes.
  ONE[b + 6] = b === 0x20 || b === 0x30 ? PFX : DENY;
  ONE[b + 7] = DENY;
}
ONE[0x26] = PFX; ONE[0x2e] = PFX; ONE[0x36] = PFX; ONE[0x3e] = PFX;

const TWO = table([
  [0x00, 0x00, DENY], [0x01, 0x01, M], [0x02, 0x03, M], [0x04, 0x07, DENY], [0x08, 0x09, 0], [0x0a, 0x0c, DENY],
  [0x0d, 0x0d, M], [0x0e, 0x0f, DENY],
  [0x10, 0x1f, M],
  [0x20, 0x21, M], [0x22, 0x2f, DENY], [0x28, 0x2f, M],
  [0x30, 0x30, DENY], [0x31, 0x33, 0], [0x34, 0x3f, DENY],
  [0x40, 0x6f, M], [0x70, 0x73, M | I8], [0x74, 0x76, M], [0x77, 0x77, 0], [0x78, 0x7f, M],
  [0x80, 0x8f, DENY], // jcc rel32
  [0x90, 0x9f, M],
  [0xa0, 0xa2, 0], [0xa3, 0xa3, M], [0xa4, 0xa4, M | I8], [0xa5, 0xa5, M], [0xa6, 0xa7, DENY],
  [0xa8, 0xa9, 0], [0xaa, 0xaa, DENY], [0xab, 0xab, M], [0xac, 0xac, M | I8], [0xad, 0xaf, M],
  [0xb0, 0xb8, M], [0xb9, 0xb9, DENY], [0xba, 0xba, M | I8], [0xbb, 0xbf, M],
  [0xc0, 0xc1, M], [0xc2, 0xc2, M | I8], [0xc3, 0xc3, M], [0xc4, 0xc6, M | I8], [0xc7, 0xc7, M],
  [0xc8, 0xcf, 0],
  [0xd0, 0xfe, M], [0xff, 0xff, DENY],
]);

/** 0f 01 forms a block may run through the interpreter and go on after: clac, stac, swapgs, rdtscp, xgetbv. */
function group7Ok(modrm: number): boolean {
  return modrm === 0xca || modrm === 0xcb || modrm === 0xf8 || modrm === 0xf9 || modrm === 0xd0;
}

/** Opcode of the last instruction insnLength looked at (one-byte opcode, or 0x0f00 | second byte; -1 if none). */
export const lenInfo = { op: -1 };

/** String instructions (movs, cmps, stos, lods, scas, ins, outs): with rep, the interpreter adds the iterations
 * beyond the first to cpu.icount itself. */
export function isStringOp(op: number): boolean {
  return (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) || (op >= 0x6c && op <= 0x6f);
}

/** Length of the 64-bit-mode instruction at ram[p] (not reading at or past lim), or -1 when it cannot be decoded
 * within [p, lim) or is one the block must end after (control transfers, system instructions that change modes,
 * descriptor tables, control/debug registers, MSRs, or the interrupt shadow, VEX/3-byte maps). */
export function insnLength(ram: Uint8Array, p: number, lim: number): number {
  const start = p;
  lenInfo.op = -1;
  let rexW = false, has66 = false, a67 = false;
  let b: number;
  for (;;) {
    if (p >= lim || p - start >= 15) return -1;
    b = ram[p++]!;
    const f = ONE[b]!;
    if ((f & PFX) === 0) break;
    if ((b & 0xf0) === 0x40) { rexW = (b & 8) !== 0; continue; }
    rexW = false; // a legacy prefix after REX cancels it
    if (b === 0x66) has66 = true; else if (b === 0x67) a67 = true;
  }
  const os = rexW ? 8 : has66 ? 2 : 4;
  let f: number;
  lenInfo.op = b;
  if (b === 0x0f) {
    if (p >= lim) return -1;
    const b1 = ram[p++]!;
    lenInfo.op = 0x0f00 | b1;
    f = TWO[b1]!;
    if ((f & DENY) !== 0) return -1;
    if (b1 === 0x01) {
      if (p >= lim || !group7Ok(ram[p]!)) return -1;
    }
  } else {
    f = ONE[b]!;
    if ((f & DENY) !== 0) return -1;
    if (b === 0xff) {
      if (p >= lim) return -1;
      const r = (ram[p]! >> 3) & 7;
      if (r >= 2 && r !== 6) return -1; // near/far call and jmp; /7 undefined
    }
  }
  if ((f & M) !== 0) {
    if (p >= lim) return -1;
    const m = ram[p++]!;
    const mod = m >> 6, rm = m & 7;
    if ((f & G3) !== 0 && ((m >> 3) & 7) < 2) f |= b === 0xf6 ? I8 : IZ; // test E, imm
    if (mod !== 3) {
      if (rm === 4) {
        if (p >= lim) return -1;
        const sib = ram[p++]!;
        if (mod === 0 && (sib & 7) === 5) p += 4;
      } else if (mod === 0 && rm === 5) p += 4;
      if (mod === 1) p += 1; else if (mod === 2) p += 4;
    }
  }
  if ((f & I8) !== 0) p += 1;
  if ((f & I16) !== 0) p += 2;
  if ((f & IZ) !== 0) p += os === 2 ? 2 : 4;
  if ((f & IV) !== 0) p += os;
  if ((f & MOFFS) !== 0) p += a67 ? 4 : 8;
  if (p > lim || p - start > 15) return -1;
  return p - start;
}
