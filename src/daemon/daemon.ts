// The tsxen daemon: holds the hypervisor core and dom0 (toolstack, consoles) and serves xl on a unix socket.
//
// Design: startDaemon() composes everything at one wiring point — host pool, hypervisor log, the
// backend slots, the boot loader, console log files, the toolstack — and listens on the socket.
// Tests call it in-process with a fake backend; src/daemon/main.ts calls it with the real ones.

import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import os from "node:os";
import type { BackendSlot } from "../dom0/toolstack/accel_select.ts";
import { Toolstack, type LoadKernel } from "../dom0/toolstack/toolstack.ts";
import { XenHost } from "../dom0/xen/xen_host.ts";
import { startXenstoredService, xenstoredSocketPath } from "../dom0/xenstored/service.ts";
import { HvLog, formatHvLogLine } from "../hv/domain/hv_log.ts";
import { HostMemoryPool } from "../hv/domain/memory_pool.ts";
import { ConsoleLogFiles } from "./console_logs.ts";
import { socketAlive, type TsxenPaths } from "./home.ts";
import { serveConnection } from "./server.ts";

const MiB = 1024 * 1024;

export interface DaemonOptions {
  readonly paths: TsxenPaths;
  readonly backends: readonly BackendSlot[];
  readonly loadKernel: LoadKernel;
  readonly version: string;
  /** Memory the host gives domUs (default: total RAM minus dom0's share). */
  readonly poolBytes?: number;
  /** dom0's share of host memory (default 512 MiB). */
  readonly dom0MemoryBytes?: number;
  /** Daemon log (default: stdout, which xl points at daemon.log). */
  readonly log?: (line: string) => void;
  /** Called when a client asks the daemon to stop ("xl daemon stop"), after domains are destroyed. */
  readonly onStopped?: () => void;
}

export interface RunningDaemon {
  readonly toolstack: Toolstack;
  readonly paths: TsxenPaths;
  /** Destroys every domain, closes the socket. */
  close(): Promise<void>;
}

export class DaemonAlreadyRunning extends Error {
  constructor(readonly socket: string, pid?: number) {
    super(`tsxen daemon is already running (${pid !== undefined ? `pid ${pid}, ` : ""}socket "${socket}")`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates the pid file exclusively; a stale one (its process gone) is replaced. */
function acquirePidFile(paths: TsxenPaths): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(paths.pidFile, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const pid = Number(readFileSync(paths.pidFile, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) throw new DaemonAlreadyRunning(paths.socket, pid);
    unlinkSync(paths.pidFile);
  }
  throw new DaemonAlreadyRunning(paths.socket);
}

function releasePidFile(paths: TsxenPaths): void {
  try {
    if (Number(readFileSync(paths.pidFile, "utf8").trim()) === process.pid) unlinkSync(paths.pidFile);
  } catch {
    // gone already
  }
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const { paths } = opts;
  const dlog = opts.log ?? ((line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
  mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  // The pid file is the lock: two daemons started at once (two xl on a cold start) cannot both win.
  acquirePidFile(paths);
  try {
    if (await socketAlive(paths.socket)) throw new DaemonAlreadyRunning(paths.socket);
    if (existsSync(paths.socket)) unlinkSync(paths.socket);
  } catch (e) {
    releasePidFile(paths);
    throw e;
  }

  const startedAtMs = Date.now();
  const dom0MemoryBytes = opts.dom0MemoryBytes ?? 512 * MiB;
  const total = os.totalmem();
  const poolBytes = opts.poolBytes ?? Math.max(0, Math.floor((total - dom0MemoryBytes) / MiB) * MiB);
  const log = new HvLog(() => Date.now(), startedAtMs, 4000, (l) => dlog(formatHvLogLine(l)));
  const consoleFiles = new ConsoleLogFiles(paths.consoleDir);
  // xenstored (unix socket for host tools: XENSTORED_PATH=<home>/xenstored/socket) and the Xen layer of PVH domains.
  const xenstore = await startXenstoredService({ socketPath: xenstoredSocketPath(paths.home), log: (l) => log.write(l) });
  const xen = new XenHost(xenstore, (l) => log.write(l));
  const toolstack = new Toolstack({
    pool: new HostMemoryPool(poolBytes),
    log,
    now: () => Date.now(),
    backends: opts.backends,
    loadKernel: opts.loadKernel,
    consoleSink: consoleFiles,
    xen,
    host: {
      hostname: os.hostname(),
      release: os.release(),
      machine: os.machine(),
      cpus: os.availableParallelism(),
      totalMemoryBytes: total,
      dom0MemoryBytes,
      version: opts.version,
      startedAtMs,
      dom0RssBytes: () => process.memoryUsage.rss(),
      dom0CpuTimeNs: () => {
        const u = process.cpuUsage();
        return (u.user + u.system) * 1000;
      },
    },
  });
  log.write(`tsxen ${opts.version} starting: pid ${process.pid}, host pool ${Math.floor(poolBytes / MiB)} MiB, dom0 ${Math.floor(dom0MemoryBytes / MiB)} MiB`);
  for (const b of opts.backends) log.write(b.backend ? `backend ${b.kind}: loaded` : `backend ${b.kind}: unavailable: ${b.unavailable}`);

  let closing: Promise<void> | undefined;
  const server: Server = createServer((sock) =>
    serveConnection(sock, toolstack, { stop: () => void close().then(() => opts.onStopped?.()), log: dlog }, opts.version),
  );
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => {
      releasePidFile(paths);
      reject(e);
    });
    server.listen(paths.socket, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(paths.socket, 0o600);
  log.write(`listening on ${paths.socket}`);

  function close(): Promise<void> {
    closing ??= (async () => {
      log.write("stopping: destroying all domains");
      await toolstack.shutdownAll();
      await xenstore.stop().catch((e: unknown) => log.write(`xenstored stop failed: ${e instanceof Error ? e.message : String(e)}`));
      server.close();
      for (const s of sockets) s.end();
      consoleFiles.closeAll();
      try {
        unlinkSync(paths.socket);
      } catch {
        // already gone
      }
      releasePidFile(paths);
    })();
    return closing;
  }

  return { toolstack, paths, close };
}
