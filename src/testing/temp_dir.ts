// Test helper: a temporary directory (under the OS temp dir, named by `prefix`) that is removed when the test
// process exits, whatever the tests did (node --test runs each file in its own process). TSXEN_KEEP_TEST_DIRS=1
// keeps them for a post-mortem. Anything a test started there (a daemon, a socket) must be stopped by the test.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0 && process.env.TSXEN_KEEP_TEST_DIRS !== "1") {
    process.on("exit", () => {
      for (const d of made) {
        try {
          rmSync(d, { recursive: true, force: true });
        } catch {
          // a file still in use: left behind
        }
      }
    });
  }
  made.push(dir);
  return dir;
}
