// What `npm start` does, end to end with typed input: the default guest's xl.cfg (defaultGuestConfig, as
// bin/tsxen-start writes it), `bin/xl create -c` against a real daemon in a temp $TSXEN_HOME, the stock Debian
// kernel booting on emu (accel = "auto" here), its busybox shell on the console: ttyS0 for HVM (the emulated
// UART), hvc0 for PVH (`npm start -- type=pvh`: the kernel's own hvc_xen driver on the PV console ring). Lines
// written to xl's stdin must reach the guest's shell through xl -> daemon -> console, its output must come back,
// and `poweroff` typed in the guest must end the domain and xl with status 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultGuestConfig, ensureDefaultGuest, fetchedGuest } from "../../src/boot/default_guest.ts";
import { testTempDir } from "../../src/testing/temp_dir.ts";
import { XL, xlBinHome } from "../support/xl_bin.ts";

const BOOT_TIMEOUT_MS = 300_000;

const { env, xl } = xlBinHome("tsxen-startcon-");

for (const type of ["hvm", "pvh"] as const) {
  test(`npm start's guest (${type}): typed lines reach the Debian shell through xl create -c, and a typed poweroff ends xl with 0`, { timeout: BOOT_TIMEOUT_MS + 30_000 }, async (t) => {
    if (fetchedGuest() === undefined) { t.skip("the Debian guest is not fetched (scripts/fetch-guest.sh)"); return; }
    const guest = ensureDefaultGuest({ log: () => {} });
    const cfg = join(testTempDir("tsxen-startcon-cfg-"), `debian-${type}.cfg`);
    writeFileSync(cfg, defaultGuestConfig(guest, type));

    const child = spawn(XL, ["create", "-c", cfg], { env, cwd: tmpdir(), stdio: ["pipe", "pipe", "pipe"] });
    let out = "", err = "";
    let typed = 0;
    child.stderr.on("data", (d: Buffer) => { err += d.toString("latin1"); });
    const exit = new Promise<number | null>((resolve) => {
      child.on("exit", (code) => resolve(code));
    });
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString("latin1");
      // the shell's prompt after the init's marker: type a command whose output differs from its echo
      if (typed === 0 && /tsxen: userspace up[\s\S]*\/ # /.test(out)) { typed = 1; child.stdin.write("echo TYPED-$((6*7))\n"); }
      if (typed === 1 && out.includes("TYPED-42")) { typed = 2; child.stdin.write("poweroff\n"); }
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => { timer = setTimeout(() => resolve("timeout"), BOOT_TIMEOUT_MS); });
    const code = await Promise.race([exit, timeout]);
    clearTimeout(timer);
    const context = `xl stderr:\n${err.slice(-1500)}\nconsole tail:\n${out.slice(-3000)}`;
    if (code === "timeout") child.kill("SIGKILL");
    assert.notEqual(code, "timeout", `no poweroff within ${BOOT_TIMEOUT_MS / 1000} s (typed ${typed} lines)\n${context}`);
    assert.ok(out.includes("TYPED-42"), `the typed command's output did not come back\n${context}`);
    assert.match(out, /reboot: Power down/, context);
    assert.equal(code, 0, context);
    // the domain is gone; the daemon is stopped for the next test file
    assert.doesNotMatch(xl("list").stdout, /\bdebian\b/);
    assert.equal(xl("daemon", "stop").code, 0);
  });
}
