// tsxend: the daemon process. Started on demand by xl (detached, stdout/stderr → $TSXEN_HOME/daemon.log)
// or by hand: `node --import tsx src/daemon/main.ts` (logs to the terminal).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadBackends, prewarmBackends } from "./backends.ts";
import { DaemonAlreadyRunning, startDaemon } from "./daemon.ts";
import { tsxenPaths } from "./home.ts";
import { KernelLoader } from "./kernel_loader.ts";

const MiB = 1024 * 1024;

function envMiB(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^[0-9]+$/.test(v)) {
    process.stderr.write(`tsxend: ${name}="${v}" is not a whole number of MiB\n`);
    process.exit(2);
  }
  return Number(v) * MiB;
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

async function main(): Promise<void> {
  const paths = tsxenPaths();
  const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  // A domain's failure must not take the daemon (and every other domain) down: log and carry on.
  process.on("uncaughtException", (e) => log(`uncaught exception (daemon continues): ${e.stack ?? String(e)}`));
  process.on("unhandledRejection", (e) => log(`unhandled rejection (daemon continues): ${e instanceof Error ? e.stack : String(e)}`));

  const backends = await loadBackends();
  const kernels = new KernelLoader(join(paths.home, "cache"));
  kernels.prewarm();
  let daemon;
  try {
    daemon = await startDaemon({
      paths,
      backends,
      loadKernel: kernels.load,
      version,
      ...(envMiB("TSXEN_HOST_MEMORY_MIB") !== undefined ? { poolBytes: envMiB("TSXEN_HOST_MEMORY_MIB")! } : {}),
      ...(envMiB("TSXEN_DOM0_MEMORY_MIB") !== undefined ? { dom0MemoryBytes: envMiB("TSXEN_DOM0_MEMORY_MIB")! } : {}),
      log,
      onStopped: () => exit(0),
    });
  } catch (e) {
    if (e instanceof DaemonAlreadyRunning) {
      process.stderr.write(`tsxend: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  if (process.env.TSXEN_PREWARM !== "0") prewarmBackends(backends, log);
  const exit = (code: number): void => {
    log("stopped");
    process.exit(code);
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(sig, () => {
      log(`${sig}: stopping`);
      void daemon.close().then(() => exit(0));
    });
  }
}

main().catch((e) => {
  process.stderr.write(`tsxend: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
