// The daemon's state directory ($TSXEN_HOME), the files in it, and whether a daemon answers there. Shared by the daemon and xl.
//
// $TSXEN_HOME if set; else /var/lib/tsxen when running as root (as Xen keeps /var/lib/xen);
// else ~/.tsxen. It holds: tsxend.sock (the control socket), tsxend.pid, daemon.log, console/, cache/ (decompressed bzImage
// payloads, boot/load.ts).

import { existsSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export interface TsxenPaths {
  readonly home: string;
  readonly socket: string;
  readonly pidFile: string;
  readonly daemonLog: string;
  readonly consoleDir: string;
}

export function tsxenHome(env: NodeJS.ProcessEnv = process.env): string {
  const h = env.TSXEN_HOME;
  if (h !== undefined && h !== "") return resolve(h);
  if (typeof process.getuid === "function" && process.getuid() === 0) return "/var/lib/tsxen";
  return join(homedir(), ".tsxen");
}

export function tsxenPaths(env: NodeJS.ProcessEnv = process.env): TsxenPaths {
  const home = tsxenHome(env);
  return {
    home,
    socket: join(home, "tsxend.sock"),
    pidFile: join(home, "tsxend.pid"),
    daemonLog: join(home, "daemon.log"),
    consoleDir: join(home, "console"),
  };
}

/** True when something answers on the socket. */
export function socketAlive(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const s: Socket = createConnection(path);
    const done = (v: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.on("connect", () => done(true));
    s.on("error", () => done(false));
  });
}
