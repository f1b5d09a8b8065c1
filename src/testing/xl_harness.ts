// TEST DOUBLE: runs xl in-process against a daemon started in-process with fake backends, in a temp $TSXEN_HOME.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { runXl } from "../cli/xl/main.ts";
import { startDaemon, type RunningDaemon } from "../daemon/daemon.ts";
import { tsxenPaths } from "../daemon/home.ts";
import type { BackendSlot } from "../dom0/toolstack/accel_select.ts";
import { FakeBackend } from "./fake_backend.ts";
import { fakeLoadKernel } from "./fake_guest.ts";
import { testTempDir } from "./temp_dir.ts";

export interface XlRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface XlHarness {
  readonly dir: string;
  readonly daemon: RunningDaemon;
  readonly emu: FakeBackend;
  readonly daemonLog: string[];
  /** Runs `xl args...`; stdin gets `input` (a PassThrough you may write to later via `stdin`). */
  xl(args: string[], opts?: { stdin?: PassThrough }): Promise<XlRun>;
  /** Writes a fake-guest kernel and a config for it; returns the config path. */
  guest(name: string, script: string, cfgExtra?: string): string;
  close(): Promise<void>;
}

export async function startXlHarness(opts: { poolMiB?: number; backends?: BackendSlot[] } = {}): Promise<XlHarness> {
  const dir = testTempDir("tsxen-xl-");
  const env = { ...process.env, TSXEN_HOME: join(dir, "home") };
  const paths = tsxenPaths(env);
  const emu = new FakeBackend({ kind: "emu", reason: "fake emu (test double)" });
  const daemonLog: string[] = [];
  const daemon = await startDaemon({
    paths,
    backends: opts.backends ?? [{ kind: "emu", backend: emu }, { kind: "kvm", unavailable: "not wired in this test" }],
    loadKernel: fakeLoadKernel,
    version: "test",
    poolBytes: (opts.poolMiB ?? 1024) * 1024 * 1024,
    log: (l) => daemonLog.push(l),
  });
  return {
    dir,
    daemon,
    emu,
    daemonLog,
    async xl(args, o = {}) {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      const sink = (arr: Buffer[]) => ({ write: (d: string | Uint8Array) => arr.push(Buffer.from(d)) });
      const stdin = o.stdin ?? new PassThrough();
      if (!o.stdin) stdin.end();
      const code = await runXl(args, { stdout: sink(stdout), stderr: sink(stderr), stdin, env, cwd: dir });
      return { code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
    },
    guest(name, script, cfgExtra = "") {
      writeFileSync(join(dir, `${name}.guest`), `#!fake-guest\n${script}\n`);
      const cfg = join(dir, `${name}.cfg`);
      writeFileSync(cfg, `name = "${name}"\nkernel = "${name}.guest"\nmemory = 64\naccel = "emu"\n${cfgExtra}`);
      return cfg;
    },
    close: () => daemon.close(),
  };
}
