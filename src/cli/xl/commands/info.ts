// xl info / uptime / dmesg: host facts, domain uptimes, the hypervisor log.

import type { DomainListEntry, HostInfo } from "../../../dom0/toolstack/toolstack.ts";
import { formatUptime, padLeft, padRight } from "../format.ts";
import type { XlCommand } from "../xl_command.ts";
import { selectDomains } from "./list.ts";

export function formatInfo(i: HostInfo, home: string): string[] {
  const rows: [string, string][] = [
    ["host", i.host],
    ["release", i.release],
    ["machine", i.machine],
    ["nr_cpus", String(i.nrCpus)],
    ["total_memory", String(i.totalMemoryMiB)],
    ["free_memory", String(i.freeMemoryMiB)],
    ["dom0_memory", String(i.dom0MemoryMiB)],
    ["daemon_rss", String(i.daemonRssMiB)],
    ["xen_version", `tsxen ${i.version}`],
    ["nr_domains", String(i.domains)],
  ];
  for (const b of i.backends) {
    const reason = b.reason.replace(/^tiny guests only: /, "");
    const state = !b.present ? "not available" : !b.usable ? "not usable" : b.fullGuests ? "usable for full guests" : "usable for tiny guests only";
    rows.push([`accel_${b.kind}`, `${state} (${reason})`]);
  }
  rows.push(["accel_auto", i.autoChoice.kind ? `${i.autoChoice.kind} (${i.autoChoice.why})` : `none (${i.autoChoice.why})`]);
  rows.push(["tsxen_home", home]);
  return rows.map(([k, v]) => `${padRight(k, 23)}: ${v}`);
}

export const info: XlCommand = {
  name: "info",
  usage: "",
  summary: "Host CPUs, memory, free memory and CPU backends",
  flags: "",
  minArgs: 0,
  maxArgs: 0,
  async run(_args, ctx) {
    const c = await ctx.daemon();
    try {
      for (const l of formatInfo((await c.request("info")) as HostInfo, ctx.paths.home)) ctx.out(l);
      return 0;
    } finally {
      c.close();
    }
  },
};

export const uptime: XlCommand = {
  name: "uptime",
  usage: "[Domain...]",
  summary: "How long domains have been running",
  flags: "",
  minArgs: 0,
  maxArgs: Infinity,
  async run(args, ctx) {
    const c = await ctx.daemon();
    try {
      const entries = selectDomains((await c.request("list", {})) as DomainListEntry[], args.positional);
      ctx.out(`${padRight("Name", 32)}${padLeft("ID", 5)} Uptime`);
      for (const e of entries) ctx.out(`${padRight(e.name, 32)}${padLeft(String(e.domid), 5)} ${formatUptime(e.uptimeS)}`);
      return 0;
    } finally {
      c.close();
    }
  },
};

export const dmesg: XlCommand = {
  name: "dmesg",
  usage: "[-c]",
  summary: "Read the hypervisor log",
  flags: "c",
  minArgs: 0,
  maxArgs: 0,
  details: ["-c  clear the log after printing it"],
  async run(args, ctx) {
    const c = await ctx.daemon();
    try {
      for (const l of (await c.request("dmesg", { clear: args.flags.has("c") })) as string[]) ctx.out(l);
      return 0;
    } finally {
      c.close();
    }
  },
};
