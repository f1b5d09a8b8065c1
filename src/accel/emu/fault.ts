// Raising x86 exceptions from the emulated CPU's system side (Intel SDM vol. 3 ch. 6, table 6-1).
//
// Design: an instruction that faults fills cpu.fault* and throws the single preallocated FAULT
// (no allocation on the fault path); the run loop catches it, restores RIP and delivers the vector.

import { type CpuState, FAULT } from "./cpu_state.ts";

/** Exception vectors. */
export const enum Vec {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11, SS = 12, GP = 13,
  PF = 14, MF = 16, AC = 17, MC = 18, XM = 19,
}

/** Page-fault error code bits. */
export const enum PfErr { P = 1, W = 2, U = 4, RSVD = 8, I = 16 }

export function raise(cpu: CpuState, vector: number, hasError: boolean, errorCode: number): never {
  cpu.faultVector = vector;
  cpu.faultHasError = hasError;
  cpu.faultErrorCode = errorCode;
  throw FAULT;
}

export function raiseGp(cpu: CpuState, errorCode = 0): never {
  return raise(cpu, Vec.GP, true, errorCode);
}

export function raiseUd(cpu: CpuState): never {
  return raise(cpu, Vec.UD, false, 0);
}

/** Operand size in bytes from either convention: bytes (2, 4, 8: the core's `os`) or bits (16, 32, 64). */
export function opBytes(opSize: number): number {
  return opSize >= 16 ? opSize >> 3 : opSize;
}
