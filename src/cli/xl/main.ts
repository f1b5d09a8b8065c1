// xl: the tsxen command line. runXl() is the whole program (tests call it in-process); bin/xl calls main().

import { ConfigError } from "../../dom0/toolstack/config_error.ts";
import { tsxenPaths } from "../../daemon/home.ts";
import { parseArgs } from "./args.ts";
import { COMMANDS, findCommand } from "./commands.ts";
import { DaemonClient } from "./daemon_client.ts";
import { connectOrStart } from "./daemon_start.ts";
import { EXIT, UsageError, exitCodeFor } from "./exit_codes.ts";
import { padRight } from "./format.ts";
import type { XlCommand, XlContext } from "./xl_command.ts";
import type { XlIo } from "./xl_io.ts";

function helpText(): string[] {
  const lines = ["Usage: xl <subcommand> [args]", "", "tsxen's xl: control domains of the tsxen hypervisor.", "", "Commands:"];
  for (const c of COMMANDS) lines.push(`  ${padRight(c.name, Math.max(...COMMANDS.map((k) => k.name.length)))} ${c.summary}`);
  lines.push("  help       Show this text, or `xl help <command>` for one command", "", "DOM is a domain name or id.");
  return lines;
}

function commandHelp(c: XlCommand): string[] {
  return [`Usage: xl ${c.name}${c.usage ? ` ${c.usage}` : ""}`, "", c.summary + ".", ...(c.details ?? []).map((d) => `  ${d}`)];
}

export async function runXl(argv: readonly string[], io: XlIo): Promise<number> {
  const out = (l: string): void => void io.stdout.write(l + "\n");
  const err = (l: string): void => void io.stderr.write(l + "\n");
  /** Error lines stay single lines whatever the input echoed in them. */
  const errLine = (l: string): void => err(l.replace(/[\u0000-\u0008\n-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1)));
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "-h" || name === "--help") {
    const topic = name === "help" ? rest[0] : undefined;
    if (topic !== undefined) {
      const c = findCommand(topic);
      if (!c) {
        err(`xl: unknown command "${topic}"; see "xl help"`);
        return EXIT.usage;
      }
      commandHelp(c).forEach(out);
      return EXIT.ok;
    }
    helpText().forEach(name === undefined ? err : out);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = findCommand(name);
  if (!cmd) {
    err(`xl: unknown command "${name}"; see "xl help"`);
    return EXIT.usage;
  }
  const paths = tsxenPaths(io.env);
  const ctx: XlContext = {
    io,
    paths,
    out,
    err,
    daemon: async () => (await connectOrStart(paths, io.env)).client,
    runningDaemon: () => DaemonClient.connect(paths.socket),
  };
  try {
    const args = parseArgs(rest, cmd.flags, cmd.minArgs, cmd.maxArgs);
    if (args.flags.has("h")) {
      commandHelp(cmd).forEach(out);
      return EXIT.ok;
    }
    return await cmd.run(args, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      errLine(`xl ${cmd.name}: ${e.message}`);
      err(`Usage: xl ${cmd.name}${cmd.usage ? ` ${cmd.usage}` : ""}`);
    } else if (e instanceof ConfigError) {
      errLine(e.message);
    } else if (e instanceof Error) {
      // A DaemonError about a daemon that failed to start carries the tail of daemon.log on purpose.
      if (e.name === "DaemonError") err(e.message);
      else errLine(e.name === "RemoteError" ? e.message : `xl ${cmd.name}: ${e.message}`);
    } else {
      errLine(`xl ${cmd.name}: ${String(e)}`);
    }
    return exitCodeFor(e);
  }
}

export async function main(): Promise<void> {
  // `xl list | head`: a reader that goes away is not an error of xl's.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
  const code = await runXl(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  });
  process.exitCode = code;
}
