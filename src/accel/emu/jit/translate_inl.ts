// Inline translations of hot helper-called forms (TSXEN_EMU_JIT_INLINE=0: off, the helpers run as before):
// shifts/rotates of a 32/64-bit register by a constant count (exec/shift.ts records, bit for bit) and inc/dec
// (exec/alu.ts incDec record: lfAux = CF before, computed into the block local `cf` first so translate_opt.ts can
// replace c.cf() by an expression on the previous instruction's operands).

const ENV = ((): Record<string, string | undefined> => {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return g.process?.env ?? {};
})();
export const INLINE = ENV.TSXEN_EMU_JIT_INLINE !== "0";

/** (lo, hi) bit k (0..63) of a 64-bit value held in locals a/ah, as source. */
function bit64(k: number): string { return k < 32 ? `((a >>> ${k}) & 1)` : `((ah >>> ${k - 32}) & 1)`; }

/** Source of group-2 op (0..7) on register rm (size 4 or 8) by constant count (unmasked); null = not inlined. */
export function shiftRegSrc(op: number, os: number, rm: number, count: number): string | null {
  if (!INLINE || (os !== 4 && os !== 8) || op === 2 || op === 3) return null;
  const n = count & (os === 8 ? 63 : 31);
  if (n === 0) return null;
  const resAux = (rh: string, cf: string, of: string): string =>
    `c.lfOp = 8; c.lfSize = ${os}; c.lfResLo = r; c.lfResHi = ${rh}; c.lfAux = (${cf}) | ((${of}) << 11);`;
  const cfOf = (cf: string, of: string): string =>
    `c.lfFlags = (c.getArith() & -2050) | (${cf}) | ((${of}) << 11); c.lfOp = 0;`;
  if (os === 4) {
    const rd = `a = rlo[${rm}];`, wr = `rlo[${rm}] = r; rhi[${rm}] = 0;`;
    switch (op) {
      case 0: return `${rd} r = (a << ${n}) | (a >>> ${32 - n}); b = r & 1; ${cfOf("b", "((r >>> 31) & 1) ^ b")} ${wr}`;
      case 1: return `${rd} r = (a >>> ${n}) | (a << ${32 - n}); b = r >>> 31; ${cfOf("b", "b ^ ((r >>> 30) & 1)")} ${wr}`;
      case 4: case 6: return `${rd} r = a << ${n}; b = (a >>> ${32 - n}) & 1; ${resAux("0", "b", "((r >>> 31) & 1) ^ b")} ${wr}`;
      case 5: return `${rd} r = a >>> ${n}; ${resAux("0", `(a >>> ${n - 1}) & 1`, "(a >>> 31) & 1")} ${wr}`;
      default: return `${rd} r = a >> ${n}; ${resAux("0", `(a >> ${n - 1}) & 1`, "0")} ${wr}`;
    }
  }
  const rd = `a = rlo[${rm}]; ah = rhi[${rm}];`, wr = `rlo[${rm}] = r; rhi[${rm}] = rh;`;
  const rol = (m: number): string => { // 64-bit rotate left by m (1..63) of a/ah into r/rh
    if (m === 32) return "r = ah; rh = a;";
    if (m < 32) return `r = (a << ${m}) | (ah >>> ${32 - m}); rh = (ah << ${m}) | (a >>> ${32 - m});`;
    const q = m - 32;
    return `r = (ah << ${q}) | (a >>> ${32 - q}); rh = (a << ${q}) | (ah >>> ${32 - q});`;
  };
  switch (op) {
    case 0: return `${rd} ${rol(n)} b = r & 1; ${cfOf("b", "(rh >>> 31) ^ b")} ${wr}`;
    case 1: return `${rd} ${rol(64 - n)} b = rh >>> 31; ${cfOf("b", "b ^ ((rh >>> 30) & 1)")} ${wr}`;
    case 4: case 6: {
      const sh = n < 32 ? `r = a << ${n}; rh = (ah << ${n}) | (a >>> ${32 - n});` : `r = 0; rh = a << ${n - 32};`;
      return `${rd} ${sh} b = ${bit64(64 - n)}; ${resAux("rh", "b", "(rh >>> 31) ^ b")} ${wr}`;
    }
    case 5: {
      const sh = n < 32 ? `r = (a >>> ${n}) | (ah << ${32 - n}); rh = ah >>> ${n};` : `r = (ah >>> ${n - 32}) | 0; rh = 0;`;
      return `${rd} ${sh} ${resAux("rh", bit64(n - 1), "ah >>> 31")} ${wr}`;
    }
    default: {
      const sh = n < 32 ? `r = (a >>> ${n}) | (ah << ${32 - n}); rh = ah >> ${n};` : `r = ah >> ${n - 32}; rh = ah >> 31;`;
      return `${rd} ${sh} ${resAux("rh", bit64(n - 1), "0")} ${wr}`;
    }
  }
}

/** Group-2 op on 32-bit register rm by CL (masked to 5 bits at run time, in `s`); null = not inlined. A masked count
 * of 0 changes neither flags nor the value but still zero-extends the register (exec/shift.ts). */
export function shiftRegClSrc(op: number, os: number, rm: number): string | null {
  if (!INLINE || os !== 4 || op === 2 || op === 3) return null;
  const resAux = (cf: string, of: string): string =>
    // lfAux first: not the shape translate_opt.ts takes for a full record (this one is conditional)
    `c.lfAux = (${cf}) | ((${of}) << 11); c.lfOp = 8; c.lfSize = 4; c.lfResLo = r; c.lfResHi = 0;`;
  const cfOf = (cf: string, of: string): string =>
    `c.lfFlags = (c.getArith() & -2050) | (${cf}) | ((${of}) << 11); c.lfOp = 0;`;
  let body: string;
  switch (op) {
    case 0: body = `r = (a << s) | (a >>> (32 - s)); b = r & 1; ${cfOf("b", "((r >>> 31) & 1) ^ b")}`; break;
    case 1: body = `r = (a >>> s) | (a << (32 - s)); b = r >>> 31; ${cfOf("b", "b ^ ((r >>> 30) & 1)")}`; break;
    case 4: case 6: body = `r = a << s; b = (a >>> (32 - s)) & 1; ${resAux("b", "((r >>> 31) & 1) ^ b")}`; break;
    case 5: body = `r = a >>> s; ${resAux("(a >>> (s - 1)) & 1", "(a >>> 31) & 1")}`; break;
    default: body = `r = a >> s; ${resAux("(a >> (s - 1)) & 1", "0")}`; break;
  }
  return `s = rlo[1] & 31; a = rlo[${rm}]; if (s !== 0) { ${body} rlo[${rm}] = r; } rhi[${rm}] = 0;`;
}

/** inc/dec of a/ah (already read, size s) into r/rh with incDec's record; cf must hold CF before. */
export function incDecSrc(s: number, dec: boolean): string {
  let v: string;
  if (s === 8) v = dec ? "r = (a - 1) | 0; rh = a === 0 ? (ah - 1) | 0 : ah;" : "r = (a + 1) | 0; rh = r === 0 ? (ah + 1) | 0 : ah;";
  else if (s === 4) v = `ah = 0; r = (a ${dec ? "-" : "+"} 1) | 0; rh = 0;`;
  else {
    const m = s === 1 ? 255 : s === 2 ? 65535 : -1;
    v = `a &= ${m}; ah = 0; r = (a ${dec ? "-" : "+"} 1) & ${m}; rh = 0;`;
  }
  return `${v} c.lfOp = ${dec ? 7 : 6}; c.lfSize = ${s}; c.lfResLo = r; c.lfResHi = rh; c.lfS1Lo = a; c.lfS1Hi = ah; c.lfS2Lo = 1; c.lfS2Hi = 0; c.lfAux = cf;`;
}

/** imul truncated to os (4 or 8) of a/ah by b/bh into r/rh with imulTrunc's record (exec/muldiv.ts); null = not
 * inlined. */
export function imulSrc(os: number): string | null {
  if (!INLINE) return null;
  if (os === 4) return "r = Math.imul(a, b); rh = 0; c.lfOp = 8; c.lfSize = 4; c.lfResLo = r; c.lfResHi = 0; c.lfAux = (a | 0) * (b | 0) !== r ? 2049 : 0;";
  if (os !== 8) return null;
  // 16-bit limbs of the unsigned 32x32 product (as umul32): every partial product < 2^32, sums < 2^34, no fmod.
  return "s = a & 65535; t = a >>> 16; ea = s * (b & 65535); eh = s * (b >>> 16); s = t * (b & 65535); " +
    "rh = (t * (b >>> 16) + (eh >>> 16) + (s >>> 16) + (((ea >>> 16) + (eh & 65535) + (s & 65535)) >>> 16) + Math.imul(a, bh) + Math.imul(ah, b)) | 0; " +
    "r = Math.imul(a, b); c.lfOp = 9; c.lfSize = 8; c.lfResLo = r; c.lfResHi = rh; c.lfS1Lo = a; c.lfS1Hi = ah; c.lfS2Lo = b; c.lfS2Hi = bh;";
}
