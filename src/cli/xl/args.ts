// A small getopt for xl subcommands: single-letter flags (-l, -w, -c; combinable as -lw), then positionals.

import { UsageError } from "./exit_codes.ts";

export interface ParsedArgs {
  readonly flags: ReadonlySet<string>;
  readonly positional: readonly string[];
}

/**
 * allowedFlags: letters this command takes. Positional count must be within [min, max].
 * "--" ends options; "-h"/"--help" is reported as the flag "h".
 */
export function parseArgs(argv: readonly string[], allowedFlags: string, min: number, max: number): ParsedArgs {
  const flags = new Set<string>();
  const positional: string[] = [];
  let optionsDone = false;
  for (const a of argv) {
    if (!optionsDone && a === "--") {
      optionsDone = true;
    } else if (!optionsDone && (a === "--help" || a === "-h")) {
      flags.add("h");
    } else if (!optionsDone && a.startsWith("-") && a.length > 1 && positional.length === 0) {
      for (const c of a.slice(1)) {
        if (!allowedFlags.includes(c)) throw new UsageError(`unknown option "-${c}"`);
        flags.add(c);
      }
    } else {
      positional.push(a);
    }
  }
  if (!flags.has("h")) {
    if (positional.length < min) throw new UsageError(min === 1 && max === 1 ? "missing argument" : `expected at least ${min} argument${min > 1 ? "s" : ""}`);
    if (positional.length > max) throw new UsageError(`unexpected argument "${positional[max]}"`);
  }
  return { flags, positional };
}
