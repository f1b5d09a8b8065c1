// xl destroy / pause / unpause / reboot / shutdown [-w] / debug-keys: one request each against a running daemon.

import { UsageError } from "../exit_codes.ts";
import type { XlCommand, XlContext } from "../xl_command.ts";
import type { ShutdownAction } from "../../../hv/domain/shutdown_policy.ts";

async function withDaemon<T>(ctx: XlContext, fn: (c: Awaited<ReturnType<XlContext["runningDaemon"]>>) => Promise<T>): Promise<T> {
  const c = await ctx.runningDaemon();
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function afterAction(action: ShutdownAction): string {
  switch (action) {
    case "destroy": return "destroyed";
    case "restart": return "restarting";
    case "rename-restart": return "kept under a new name and restarting";
    case "preserve": return "preserved";
  }
}

/** One line on what xl shutdown/reboot did: asked the guest (xenstore control/shutdown), or stopped it. */
function report(r: { domid: number; action: ShutdownAction; asked?: boolean }, reason: "poweroff" | "reboot"): string {
  const policy = reason === "poweroff" ? "on_poweroff" : "on_reboot";
  if (r.asked) return `Asked domain ${r.domid} to ${reason === "poweroff" ? "power off" : "reboot"} (control/shutdown); when it does: ${r.action} (${policy})`;
  return `${reason === "poweroff" ? "Shutting down" : "Rebooting"} domain ${r.domid}: ${afterAction(r.action)} (${policy})`;
}

export const destroy: XlCommand = {
  name: "destroy",
  usage: "<Domain>",
  summary: "Terminate a domain immediately",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  run: (args, ctx) => withDaemon(ctx, async (c) => {
    await c.request("destroy", { dom: args.positional[0]! });
    return 0;
  }),
};

export const pause: XlCommand = {
  name: "pause",
  usage: "<Domain>",
  summary: "Pause execution of a domain",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  run: (args, ctx) => withDaemon(ctx, async (c) => {
    await c.request("pause", { dom: args.positional[0]! });
    return 0;
  }),
};

export const unpause: XlCommand = {
  name: "unpause",
  usage: "<Domain>",
  summary: "Unpause a paused domain",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  run: (args, ctx) => withDaemon(ctx, async (c) => {
    await c.request("unpause", { dom: args.positional[0]! });
    return 0;
  }),
};

export const shutdown: XlCommand = {
  name: "shutdown",
  usage: "[-w] <Domain> | -a [-w]",
  summary: "Shut down a domain (on_poweroff decides what follows)",
  flags: "wa",
  minArgs: 0,
  maxArgs: 1,
  details: [
    "-w  wait until the domain has finished shutting down",
    "-a  shut down every domain",
    "A PVH guest with the Xen interface is asked through xenstore (control/shutdown);",
    "any other guest is stopped by the toolstack, which then applies on_poweroff.",
  ],
  run: async (args, ctx) => {
    const all = args.flags.has("a");
    if (all === (args.positional.length === 1)) throw new UsageError(all ? "-a takes no domain" : "missing argument");
    return shutdownDomains(args.positional[0], all, args.flags.has("w"), ctx);
  },
};

function shutdownDomains(dom: string | undefined, all: boolean, wait: boolean, ctx: XlContext): Promise<number> {
  return withDaemon(ctx, async (c) => {
    const doms = all
      ? ((await c.request("list", {})) as { domid: number; stateKind: string }[])
        .filter((d) => d.domid !== 0 && (d.stateKind === "running" || d.stateKind === "paused"))
        .map((d) => String(d.domid))
      : [dom!];
    for (const d of doms) {
      const r = (await c.request("shutdown", { dom: d, wait })) as { domid: number; action: ShutdownAction; asked?: boolean };
      ctx.err(report(r, "poweroff"));
    }
    return 0;
  });
}

export const reboot: XlCommand = {
  name: "reboot",
  usage: "<Domain>",
  summary: "Reboot a domain (on_reboot decides what follows)",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  details: [
    "A PVH guest with the Xen interface is asked through xenstore (control/shutdown);",
    "any other guest is stopped by the toolstack, which then applies on_reboot.",
  ],
  run: (args, ctx) => withDaemon(ctx, async (c) => {
    const r = (await c.request("reboot", { dom: args.positional[0]! })) as { domid: number; action: ShutdownAction; asked?: boolean };
    ctx.err(report(r, "reboot"));
    return 0;
  }),
};

export const domid: XlCommand = {
  name: "domid",
  usage: "<DomainName>",
  summary: "Print a domain's id",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  run: (args, ctx) => withDaemon(ctx, async (c) => {
    ctx.out(String(await c.request("domid", { name: args.positional[0]! })));
    return 0;
  }),
};

export const domname: XlCommand = {
  name: "domname",
  usage: "<DomainId>",
  summary: "Print a domain's name",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  run: async (args, ctx) => {
    const id = args.positional[0]!;
    if (!/^\d+$/.test(id)) throw new UsageError(`"${id}" is not a domain id`);
    return withDaemon(ctx, async (c) => {
      ctx.out(String(await c.request("domname", { domid: Number(id) })));
      return 0;
    });
  },
};

export const debugKeys: XlCommand = {
  name: "debug-keys",
  usage: "<Keys>",
  summary: "Send debug keys to the hypervisor (their output is in xl dmesg)",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  details: ["e  event channels and Xen timers of every PVH domain", "h  list the keys"],
  run: (args, ctx) => withDaemon(ctx, async (c) => {
    await c.request("debug-keys", { keys: args.positional[0]! });
    return 0;
  }),
};
