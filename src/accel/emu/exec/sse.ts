// SSE/SSE2/MMX hook for 0f-map opcodes 10-17, 28-2f, 50-7f, c2-c6, d0-ff and group 15 (0f ae: fxsave,
// fxrstor, ldmxcsr, stmxcsr, fences, clflush). The interpreter decodes ModRM before calling: c.reg is the
// xmm/mmx register index (REX.R applied), c.mod === 3 selects register c.rm (REX.B applied), otherwise the
// memory operand is at linear address c.eaLo/c.eaHi. The mandatory prefix is c.ssePfx (0, 0x66, 0xf2, 0xf3).

import type { CoreBase } from "../decode/decoder.ts";

/** Immediate bytes following ModRM for 0f-map SSE opcode `op` (for RIP-relative addressing). */
export function sseImmBytes(op: number): number {
  return op === 0x70 || op === 0x71 || op === 0x72 || op === 0x73 || op === 0xc2 || op === 0xc4 ||
    op === 0xc5 || op === 0xc6 ? 1 : 0;
}

/** Executes SSE/MMX opcode `op` of the 0f map. Returns false when not implemented (caller raises #UD). */
export function execSse(c: CoreBase, op: number): boolean {
  void c; void op;
  return false;
}

/** 0f ae group 15. Returns false when not implemented. */
export function execGroup15(c: CoreBase): boolean {
  const reg = (c.modrm >> 3) & 7;
  if (c.mod === 3) return reg >= 5; // lfence / mfence / sfence
  if (reg === 7) return true; // clflush
  return false;
}
