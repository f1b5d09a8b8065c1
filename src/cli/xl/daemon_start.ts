// Starts the daemon on demand: a detached `node --import tsx src/daemon/main.ts`, logging to $TSXEN_HOME/daemon.log.

import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TsxenPaths } from "../../daemon/home.ts";
import { DaemonClient } from "./daemon_client.ts";
import { DaemonError } from "./exit_codes.ts";

/** The checkout's root: the nearest folder above this module with tsxen's package.json (bin/xl may run a bundled copy of xl from .cache/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string }).name === "tsxen") return dir;
    } catch {
      // not here
    }
    const up = dirname(dir);
    if (up === dir) throw new DaemonError("Cannot start the tsxen daemon: cannot find the tsxen package folder");
    dir = up;
  }
}
const START_TIMEOUT_MS = 20_000;
/** daemon.log is moved to daemon.log.1 when a daemon starts and it has grown past this. */
const LOG_ROTATE_BYTES = 16 * 1024 * 1024;

function rotateLog(path: string): void {
  try {
    if (statSync(path).size > LOG_ROTATE_BYTES) renameSync(path, `${path}.1`);
  } catch {
    // no log yet
  }
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** Connects to the daemon, starting it first if nothing listens. `started` says whether we started it. */
export async function connectOrStart(paths: TsxenPaths, env: NodeJS.ProcessEnv): Promise<{ client: DaemonClient; started: boolean }> {
  try {
    return { client: await DaemonClient.connect(paths.socket), started: false };
  } catch (e) {
    if (!(e instanceof DaemonError) || !/not running/.test(e.message)) throw e;
  }
  mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  rotateLog(paths.daemonLog);
  const logFd = openSync(paths.daemonLog, "a", 0o600);
  const tsxLoader = import.meta.resolve("tsx");
  const daemonMain = join(packageRoot(), "src", "daemon", "main.ts");
  const child = spawn(process.execPath, ["--import", tsxLoader, daemonMain], {
    detached: true,
    stdio: ["ignore", logFd, logFd],
    env: { ...env, TSXEN_HOME: paths.home },
    cwd: "/",
  });
  closeSync(logFd);
  let exited: number | null = null;
  child.on("exit", (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    if (existsSync(paths.socket)) {
      try {
        return { client: await DaemonClient.connect(paths.socket), started: true };
      } catch {
        // not listening yet
      }
    }
    if (exited !== null) {
      // Another xl may have started it at the same moment: then it is running now.
      try {
        return { client: await DaemonClient.connect(paths.socket), started: false };
      } catch {
        throw new DaemonError(`Cannot start the tsxen daemon: it exited with status ${exited}; last lines of "${paths.daemonLog}":\n${tail(paths.daemonLog, 5)}`);
      }
    }
  }
  throw new DaemonError(`Cannot start the tsxen daemon: no answer on "${paths.socket}" after ${START_TIMEOUT_MS / 1000} s (see "${paths.daemonLog}")`);
}
