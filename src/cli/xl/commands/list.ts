// xl list [-l] [DOM...]: the domain table; -l prints JSON.

import type { DomainListEntry } from "../../../dom0/toolstack/toolstack.ts";
import { RemoteError } from "../exit_codes.ts";
import { padLeft, padRight } from "../format.ts";
import type { XlCommand } from "../xl_command.ts";

export function formatList(entries: readonly DomainListEntry[]): string[] {
  const lines = [`${padRight("Name", 40)}${padLeft("ID", 5)}${padLeft("Mem", 6)}${padLeft("VCPUs", 6)}\tState\tTime(s)`];
  for (const e of entries) {
    lines.push(`${padRight(e.name, 40)}${padLeft(String(e.domid), 5)}${padLeft(String(e.memoryMiB), 6)}${padLeft(String(e.vcpus), 6)}     ${e.state}${padLeft(e.cpuTimeS.toFixed(1), 11)}`);
  }
  return lines;
}

export function selectDomains(all: readonly DomainListEntry[], doms: readonly string[]): DomainListEntry[] {
  if (doms.length === 0) return [...all];
  return doms.map((dom) => {
    const e = all.find((x) => (/^\d+$/.test(dom) ? x.domid === Number(dom) : x.name === dom));
    if (!e) throw new RemoteError("not_found", `Domain "${dom}" does not exist`);
    return e;
  });
}

export const list: XlCommand = {
  name: "list",
  usage: "[-l] [Domain...]",
  summary: "List domains (ID, name, memory, vCPUs, state, CPU time)",
  flags: "l",
  minArgs: 0,
  maxArgs: Infinity,
  details: ["-l  print full details as JSON", "State: r running, b building, p paused, s shut down, c crashed, d dying"],
  async run(args, ctx) {
    const client = await ctx.daemon();
    try {
      const long = args.flags.has("l");
      const entries = selectDomains((await client.request("list", { long })) as DomainListEntry[], args.positional);
      if (long) ctx.out(JSON.stringify(entries, null, 2));
      else for (const l of formatList(entries)) ctx.out(l);
      return 0;
    } finally {
      client.close();
    }
  },
};
