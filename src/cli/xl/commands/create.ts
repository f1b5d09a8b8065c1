// xl create [-c] CFG [key=value...]: parse the config here (errors name file and line), create in the daemon.

import { loadDomainConfig } from "../../../dom0/toolstack/load_config.ts";
import type { CreateResult } from "../../../dom0/toolstack/toolstack.ts";
import { runConsole } from "../console_session.ts";
import type { XlCommand } from "../xl_command.ts";

export const create: XlCommand = {
  name: "create",
  usage: "[-c] <ConfigFile> [key=value...]",
  summary: "Create a domain from a config file",
  flags: "c",
  minArgs: 1,
  maxArgs: Infinity,
  details: [
    "-c  attach to the domain's console after creating it (detach with Ctrl-])",
    "key=value settings override the config file, in xl.cfg syntax (bare words are strings).",
    "Relative kernel/ramdisk paths are taken from the config file's folder.",
  ],
  async run(args, ctx) {
    const [cfgPath, ...overrides] = args.positional as [string, ...string[]];
    ctx.err(`Parsing config from ${cfgPath}`);
    const { config, warnings } = loadDomainConfig(cfgPath, overrides, ctx.io.cwd);
    for (const w of warnings) ctx.err(`warning: ${w}`);
    const client = await ctx.daemon();
    try {
      const report = (r: CreateResult): void => {
        ctx.err(r.accelWhy);
        for (const w of r.warnings) ctx.err(`warning: ${w}`);
        ctx.err(`Started domain ${r.name} (id=${r.domid})`);
      };
      if (!args.flags.has("c")) {
        report((await client.request("create", { config })) as CreateResult);
        return 0;
      }
      return await runConsole(
        ctx.io,
        (h) => client.openConsole("create", { config, console: true }, h),
        (s) => report(s.result as CreateResult),
      );
    } finally {
      client.close();
    }
  },
};
