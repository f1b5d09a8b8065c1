// Instruction classes where emu is known to disagree with the real CPU. The generator steers around them
// (GenOptions.avoid) so the CI run stays green for everything else; diff.test.ts re-runs each reproduction
// and fails once it passes, so this list only holds what still fails. Keep it short and precise.
import type { Item, Sequence, StartState } from "./program.ts";

export interface KnownFailing {
  why: string;
  /** For classes the generator cannot steer around: recognises a mismatch of this class from the
   * sequence and its differences (lines as produced by diff.ts compare()). */
  matches?: (seq: Sequence, diffs: readonly string[]) => boolean;
  /** A minimal reproduction: items run from a fixed start state (regs/flags/xmm/data from the seed). */
  repro: Item[];
  /** Start-state fields the reproduction needs. */
  start?: Partial<StartState>;
}

export const KNOWN_FAILING: Record<string, KnownFailing> = {
};

