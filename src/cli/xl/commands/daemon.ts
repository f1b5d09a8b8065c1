// xl daemon start|stop|status: the daemon (tsxend) is normally started on demand; these control it by hand.

import { socketAlive } from "../../../daemon/home.ts";
import { connectOrStart } from "../daemon_start.ts";
import { DaemonError, UsageError } from "../exit_codes.ts";
import type { XlCommand } from "../xl_command.ts";

export const daemon: XlCommand = {
  name: "daemon",
  usage: "start|stop|status",
  summary: "Start, stop or check the tsxen daemon (normally started on demand)",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  details: ["stop destroys every domain first.", "The daemon's socket, log and console logs live in $TSXEN_HOME."],
  async run(args, ctx) {
    const what = args.positional[0];
    switch (what) {
      case "start": {
        const { client, started } = await connectOrStart(ctx.paths, ctx.io.env);
        const p = (await client.request("ping")) as { pid: number };
        client.close();
        if (!started) throw new DaemonError(`tsxen daemon is already running (pid ${p.pid}, socket "${ctx.paths.socket}")`);
        ctx.err(`tsxen daemon started (pid ${p.pid}, log "${ctx.paths.daemonLog}")`);
        return 0;
      }
      case "stop": {
        const c = await ctx.runningDaemon();
        await c.request("daemon.stop");
        c.close();
        for (let i = 0; i < 100 && (await socketAlive(ctx.paths.socket, 200)); i++) await new Promise((r) => setTimeout(r, 50));
        ctx.err("tsxen daemon stopped");
        return 0;
      }
      case "status": {
        const c = await ctx.runningDaemon();
        const p = (await c.request("ping")) as { pid: number; version: string };
        c.close();
        ctx.out(`tsxen daemon ${p.version} running (pid ${p.pid}, socket "${ctx.paths.socket}")`);
        return 0;
      }
      default:
        throw new UsageError(`unknown daemon action "${what}"`);
    }
  },
};
