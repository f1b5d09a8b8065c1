// xl emu-stats: the execution profile of a domain on the emu backend (instructions retired, MIPS, exits per
// second, JIT cache figures, the hottest guest code), taken from its vCPU thread through the daemon.
//
//   xl emu-stats DOM [--interval S] [--syms FILE] [--top N] [-j]
//
// --interval S takes two snapshots S seconds apart and prints the difference (rates now, not since boot);
// --syms FILE names guest addresses from a /proc/kallsyms-format file; -j prints the raw JSON.
import { readFileSync } from "node:fs";
import type { ExecutionProfile } from "../../../hv/ports.ts";
import { formatProfile, parseKallsyms, profileDelta, type Symbolizer } from "../../../hv/profile_format.ts";
import { UsageError } from "../exit_codes.ts";
import type { XlCommand } from "../xl_command.ts";

interface Reply { domid: number; name: string; profile: ExecutionProfile }

export interface EmuStatsOptions {
  readonly dom: string;
  readonly intervalS: number;
  readonly syms?: string;
  readonly top: number;
  readonly json: boolean;
}

/** DOM then --interval S, --syms FILE, --top N, -j/--json in any order. */
export function parseEmuStatsArgs(positional: readonly string[], json: boolean): EmuStatsOptions {
  const [dom, ...rest] = positional;
  if (dom === undefined) throw new UsageError("missing argument");
  let intervalS = 0, top = 15, syms: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const value = (): string => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "-j" || a === "--json") json = true;
    else if (a === "--interval" || a === "-i") {
      intervalS = Number(value());
      if (!Number.isFinite(intervalS) || intervalS <= 0 || intervalS > 3600) throw new UsageError(`--interval: expected seconds (0-3600), got "${rest[i]}"`);
    } else if (a === "--syms" || a === "-s") syms = value();
    else if (a === "--top") {
      top = Number(value());
      if (!Number.isInteger(top) || top < 1 || top > 40) throw new UsageError(`--top: expected 1-40, got "${rest[i]}"`);
    } else throw new UsageError(`unexpected argument "${a}"`);
  }
  return { dom, intervalS, top, json, ...(syms !== undefined ? { syms } : {}) };
}

export const emuStats: XlCommand = {
  name: "emu-stats",
  usage: "[-j] <Domain> [--interval S] [--syms KALLSYMS] [--top N]",
  summary: "Execution profile of a domain on emu: MIPS, exits/s, JIT cache, hottest guest code",
  flags: "j",
  minArgs: 1,
  maxArgs: Infinity,
  details: [
    "Figures are totals since the domain started; --interval S prints the difference of two snapshots S seconds apart.",
    "--syms FILE: a /proc/kallsyms-format file of the guest kernel (cat /proc/kallsyms in the guest, as root) for symbol+offset.",
    "RIPs are sampled once per vCPU run slice (about 20,000 instructions); compiled blocks are counted exactly.",
  ],
  async run(args, ctx) {
    const o = parseEmuStatsArgs(args.positional, args.flags.has("j"));
    let syms: Symbolizer | undefined;
    if (o.syms !== undefined) {
      try {
        syms = parseKallsyms(readFileSync(o.syms, "utf8"));
      } catch (e) {
        throw new UsageError(`--syms ${o.syms}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "file does not exist" : String(e)}`);
      }
    }
    const c = await ctx.runningDaemon();
    try {
      const first = (await c.request("profile", { dom: o.dom })) as Reply;
      let p = first.profile;
      if (o.intervalS > 0) {
        await new Promise((r) => setTimeout(r, o.intervalS * 1000));
        const second = (await c.request("profile", { dom: o.dom })) as Reply;
        p = profileDelta(second.profile, first.profile);
      }
      if (o.json) {
        ctx.out(JSON.stringify({ domid: first.domid, name: first.name, ...(o.intervalS > 0 ? { intervalS: o.intervalS } : {}), profile: p }, null, 2));
        return 0;
      }
      ctx.out(`Domain ${first.domid} (${first.name})${o.intervalS > 0 ? `, the last ${o.intervalS} s` : ", since it started"}:`);
      for (const l of formatProfile(p, { ...(syms !== undefined ? { syms } : {}), top: o.top }).split("\n")) ctx.out(l);
      return 0;
    } finally {
      c.close();
    }
  },
};
