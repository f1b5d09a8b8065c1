import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { testTempDir } from "../../src/testing/temp_dir.ts";

const SCRIPT = fileURLToPath(new URL("../../scripts/check-imports.mjs", import.meta.url));

function check(files: Record<string, string>) {
  const root = testTempDir("tsxen-imports-");
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, "src", p)), { recursive: true });
    writeFileSync(join(root, "src", p), text);
  }
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: "utf8" });
  return { code: r.status, out: r.stderr + r.stdout };
}

test("downward imports pass", () => {
  const r = check({
    "base/bytes.ts": "export const x = 1;\n",
    "hv/a.ts": 'import { x } from "../base/bytes.ts";\n',
    "dom0/t.ts": 'import "../hv/a.ts";\nimport { readFileSync } from "node:fs";\n',
    "cli/xl/m.ts": 'import "../../dom0/t.ts";\nimport type { P } from "../../daemon/protocol.ts";\n',
    "daemon/protocol.ts": "export type P = 1;\n",
    "accel/kvm/b.ts": 'import koffi from "koffi";\nimport "../../hv/a.ts";\n',
    "hv/a.test.ts": 'import { test } from "node:test";\nimport "../testing/fake.ts";\n',
    "testing/fake.ts": "export {};\n",
  });
  assert.equal(r.code, 0, r.out);
});

test("each broken rule is reported with file and line, and the check fails", () => {
  const r = check({
    "base/bytes.ts": 'import { readFileSync } from "node:fs";\n',
    "hv/a.ts": '\nimport { T } from "../dom0/t.ts";\n',
    "dom0/t.ts": 'import koffi from "koffi";\nexport const T = 1;\n',
    "cli/xl/m.ts": 'import { startDaemon } from "../../daemon/daemon.ts";\n',
    "daemon/daemon.ts": "export const startDaemon = 1;\n",
    "accel/emu/e.ts": 'import "../kvm/k.ts";\n',
    "accel/kvm/k.ts": "export {};\n",
    "boot/b.ts": 'import "../testing/fake.ts";\n',
    "testing/fake.ts": "export {};\n",
    "devices/x.ts": 'import { y } from "./y.ts";\nexport const x = 1;\n',
    "devices/y.ts": 'import { x } from "./x.ts";\nexport const y = 1;\n',
  });
  assert.equal(r.code, 1);
  assert.match(r.out, /src\/base\/bytes\.ts:1: src\/base\/ must not import Node builtins/);
  assert.match(r.out, /src\/hv\/a\.ts:2: src\/hv\/ \(layer 2\) must not import upward into src\/dom0\/ \(layer 4\)/);
  assert.match(r.out, /src\/dom0\/t\.ts:1: only src\/accel\/kvm\/ may import koffi/);
  assert.match(r.out, /src\/cli\/xl\/m\.ts:1: cli may import from daemon\/ only/);
  assert.match(r.out, /src\/accel\/emu\/e\.ts:1: accel\/emu must not import accel\/kvm/);
  assert.match(r.out, /src\/boot\/b\.ts:1: src\/testing\/ holds test doubles/);
  assert.match(r.out, /src\/devices\/x\.ts:1: import cycle between src\/devices\/x\.ts, src\/devices\/y\.ts/);
});
