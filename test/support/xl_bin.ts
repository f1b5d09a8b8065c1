// Test support: runs the real `bin/xl` against a daemon in a temporary $TSXEN_HOME, and stops that daemon
// (by its pid file) when the test file ends, even if a test failed before `xl daemon stop`.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";
import { testTempDir } from "../../src/testing/temp_dir.ts";

export const XL = fileURLToPath(new URL("../../bin/xl", import.meta.url));

export interface XlResult { code: number | null; stdout: string; stderr: string }

/** A fresh $TSXEN_HOME (prefix names the test) and an `xl(...args)` runner bound to it. */
export function xlBinHome(prefix: string): { home: string; env: NodeJS.ProcessEnv; xl: (...args: string[]) => XlResult } {
  const home = join(testTempDir(prefix), "home");
  const env = { ...process.env, TSXEN_HOME: home };
  const xl = (...args: string[]): XlResult => {
    const r = spawnSync(XL, args, { env, cwd: tmpdir(), encoding: "utf8", timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  after(() => {
    const pidFile = join(home, "tsxend.pid");
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
      } catch {
        // already gone
      }
    }
  });
  return { home, env, xl };
}
