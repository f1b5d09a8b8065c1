// xl console DOM: attach to a domain's console; Ctrl-] detaches.

import { runConsole } from "../console_session.ts";
import type { XlCommand } from "../xl_command.ts";

export const consoleCommand: XlCommand = {
  name: "console",
  usage: "<Domain>",
  summary: "Attach to a domain's console (detach with Ctrl-])",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  async run(args, ctx) {
    const client = await ctx.runningDaemon();
    try {
      return await runConsole(ctx.io, (h) => client.openConsole("console.attach", { dom: args.positional[0]! }, h));
    } finally {
      client.close();
    }
  },
};
