// Instruction classes where emu is known to disagree with the real CPU. The generator steers around them
// (GenOptions.avoid) so the CI run stays green for everything else; diff.test.ts re-runs each reproduction
// and fails once it passes, so this list only holds what still fails. Keep it short and precise.
import type { Item } from "./program.ts";

export interface KnownFailing {
  why: string;
  /** A minimal reproduction: items run from a fixed start state (regs/flags/xmm/data from the seed). */
  repro: Item[];
}

export const KNOWN_FAILING: Record<string, KnownFailing> = {
  // src/accel/emu/exec/string.ts movsFast: a forward overlapping copy is done byte by byte, which is right
  // for movsb only; hardware copies element by element (each word/dword/qword is read before it is written),
  // so with 0 < rdi - rsi < element size the results differ.
  "movs-overlap": {
    why: "rep movsw/movsl/movsq, DF=0, 0 < rdi-rsi < element size: emu copies byte-serially",
    repro: [{ lines: ["lea -119(%r15), %rsi", "lea -118(%r15), %rdi", "mov $5, %ecx", "cld", "rep movsl"], undefAfter: 0 }],
  },
};
