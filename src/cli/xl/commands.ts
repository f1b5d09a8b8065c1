// The xl command table: one entry per subcommand, in `xl help` order.

import { consoleCommand } from "./commands/console.ts";
import { create } from "./commands/create.ts";
import { daemon } from "./commands/daemon.ts";
import { dmesg, info, uptime } from "./commands/info.ts";
import { list } from "./commands/list.ts";
import { debugKeys, destroy, domid, domname, pause, reboot, shutdown, unpause } from "./commands/simple_ops.ts";
import { emuStats } from "./commands/emu_stats.ts";
import { XENSTORE_COMMANDS } from "./commands/xenstore.ts";
import type { XlCommand } from "./xl_command.ts";

export const COMMANDS: readonly XlCommand[] = [
  create, list, consoleCommand, shutdown, reboot, destroy, pause, unpause, info, uptime, dmesg, debugKeys, emuStats, domid, domname, daemon,
  ...XENSTORE_COMMANDS,
];

export function findCommand(name: string): XlCommand | undefined {
  return COMMANDS.find((c) => c.name === name);
}
