// The shape of an xl subcommand and the context it runs in. Commands format; logic lives in the toolstack.

import type { TsxenPaths } from "../../daemon/home.ts";
import type { ParsedArgs } from "./args.ts";
import type { DaemonClient } from "./daemon_client.ts";
import type { XlIo } from "./xl_io.ts";

export interface XlContext {
  readonly io: XlIo;
  readonly paths: TsxenPaths;
  /** Connects to the daemon, starting it if it is not running. */
  daemon(): Promise<DaemonClient>;
  /** Connects to a running daemon; DaemonError "not running" otherwise. */
  runningDaemon(): Promise<DaemonClient>;
  out(line: string): void;
  err(line: string): void;
}

export interface XlCommand {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  /** Single-letter options this command takes. */
  readonly flags: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  /** Extra lines for `xl help CMD`. */
  readonly details?: readonly string[];
  run(args: ParsedArgs, ctx: XlContext): Promise<number>;
}
