// xenstore end to end on emu, with one boot of the stock Debian kernel as a PVH domain next to a tiny PVH
// domain (two domains at once, one dom0: xenstored on a unix socket + XenHost):
// - inside the Linux guest, Debian's xenstore-read/-write/-ls (xenstore-utils 4.17 + libxenstore4 +
//   libxentoolcore1 + glibc in the initramfs, talking through /dev/xen/xenbus) read and write the domain's own
//   subtree and are refused outside it (dom0's nodes, the neighbour's nodes);
// - the tiny domain speaks the xenstore ring protocol itself: reads/writes its own nodes, gets EACCES for the Linux
//   domain's and dom0's; its grant-table attempts on the Linux domain's memory (map of refs never granted, copy by
//   gmfn, copy by ref) all fail;
// - on the host, Debian's xenstore-ls (XENSTORED_PATH = our socket) lists the whole tree including the node the
//   guest wrote; a host xenstore-watch and an in-process dom0 watch fire when the guest writes; a transaction that
//   raced with another write ends in EAGAIN (wire protocol through the socket);
// - the guest leaves through `xl shutdown` (control/shutdown) and powers off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { emuBackend } from "../../src/accel/emu/backend.ts";
import { XsType } from "../../src/abi/xen/xs_wire.ts";
import { KERNEL, ensureGuest, parseChecks } from "../support/guest.ts";
import { keyedLines, launchPvh, launchTiny, startDom0, tail, xenstoreInitramfs, XsWireClient, type PvhDomain } from "../support/xen_guest.ts";
import { testTempDir } from "../../src/testing/temp_dir.ts";

const LINUX = 5;
const TINY = 6;
const BOOT_TIMEOUT_MS = 15 * 60_000;
const hostTool = (name: string): string | undefined => {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
};
/** Runs a host tool asynchronously (xenstored lives in this process: a synchronous spawn would deadlock). */
const run = (file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(file, args, { env, encoding: "utf8", timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }));
  });
const hostLs = hostTool("xenstore-ls");
const hostWatch = hostTool("xenstore-watch");

const INIT = `
echo "CHECK xenbus_dev=$(ls /dev/xen/ 2>&1 | tr '\\n' ' ')"
if [ ! -e /dev/xen/xenbus ]; then
  insmod /lib/modules/xenfs.ko; mount -t xenfs xenfs /proc/xen
  echo "CHECK xenfs=$(ls /proc/xen | tr '\\n' ' ')"
fi
echo "CHECK xs_name=$(xenstore-read name 2>&1)"
echo "CHECK xs_domid=$(xenstore-read domid 2>&1)"
xenstore-write data/x 1; echo "CHECK xs_write_rc=$?"
echo "CHECK xs_readback=$(xenstore-read data/x 2>&1)"
xenstore-write /local/domain/${LINUX}/data/abs "absolute path"; echo "CHECK xs_write_abs_rc=$?"
echo "CHECK xs_ls_data=$(xenstore-ls /local/domain/${LINUX}/data 2>&1 | tr '\\n' ';')"
echo "CHECK xs_list_own=$(xenstore-list /local/domain/${LINUX} 2>&1 | tr '\\n' ' ')"
xenstore-rm data/abs; echo "CHECK xs_rm_rc=$?"
out=$(xenstore-write /local/domain/0/foo bar 2>&1); echo "CHECK xs_w_dom0_rc=$?"; echo "CHECK xs_w_dom0_msg=$out"
out=$(xenstore-read /local/domain/0/name 2>&1); echo "CHECK xs_r_dom0_rc=$?"; echo "CHECK xs_r_dom0_msg=$out"
out=$(xenstore-read /local/domain/${TINY}/name 2>&1); echo "CHECK xs_r_peer_rc=$?"; echo "CHECK xs_r_peer_msg=$out"
out=$(xenstore-write /local/domain/${TINY}/data/evil 1 2>&1); echo "CHECK xs_w_peer_rc=$?"; echo "CHECK xs_w_peer_msg=$out"
out=$(xenstore-ls /local/domain/${TINY} 2>&1); echo "CHECK xs_ls_peer_rc=$?"
out=$(xenstore-write name renamed 2>&1); echo "CHECK xs_w_ro_rc=$?"
xenstore-write data/last done; echo "CHECK xs_last_rc=$?"
rm -f /sbin/poweroff
printf '#!/bin/sh\\necho TSXEN-ORDERLY-POWEROFF > /dev/console\\nexec /bin/busybox poweroff -f\\n' > /sbin/poweroff
/bin/busybox chmod +x /sbin/poweroff
echo TSXEN-XS-DONE
while true; do sleep 1; done
`;

test("xenstore on emu: Debian's xenstore tools in a PVH guest, host xenstore-ls/-watch, EAGAIN, two domains kept apart", { timeout: BOOT_TIMEOUT_MS }, async (t) => {
  let initrd: string;
  try {
    ensureGuest();
    initrd = xenstoreInitramfs(INIT);
  } catch (e) {
    t.skip(`the Debian guest or xenstore-utils cannot be fetched (scripts/fetch-guest.sh --xenstore): ${(e as Error).message.split("\n")[0]}`);
    return;
  }
  const dir = testTempDir("tsxen-xs-");
  const socketPath = join(dir, "xenstored", "socket");
  const dom0 = await startDom0(socketPath);
  const env = { ...process.env, XENSTORED_PATH: socketPath };
  let watcher: ChildProcess | undefined;
  let watchOut = "";
  const domains: PvhDomain[] = [];
  try {
    if (hostWatch) {
      watcher = spawn(hostWatch, [`/local/domain/${LINUX}/data`], { env, stdio: ["ignore", "pipe", "pipe"] });
      watcher.stdout!.on("data", (d: Buffer) => (watchOut += d.toString()));
      watcher.stderr!.on("data", (d: Buffer) => (watchOut += d.toString()));
    }
    const dom0Events: string[] = [];
    const unwatch = dom0.xs.client.watch(`/local/domain/${LINUX}/data`, "dom0-test", (path) => dom0Events.push(path));

    const linux = await launchPvh({
      backend: emuBackend, dom0, domid: LINUX, name: "xs-linux", kernelPath: KERNEL, ramdiskPath: initrd,
      cmdline: "console=hvc0 cryptomgr.notests panic=-1 quiet", memoryBytes: 256 << 20, acpi: true,
    });
    domains.push(linux);
    const tiny = await launchTiny({ backend: emuBackend, dom0, domid: TINY, name: "xs-tiny", cmdline: `xsprobe=${LINUX} beat` });
    domains.push(tiny);

    // The tiny neighbour: its own nodes yes, the Linux domain's and dom0's no, no way into Linux's memory.
    await tiny.waitFor("tiny: beat 0", 120_000);
    const xp = keyedLines(tiny.console(), "XSPROBE");
    const gp = keyedLines(tiny.console(), "GNTPROBE");
    const ctxTiny = `${tail(tiny.console())}\nlog:\n${tiny.log.join("\n")}`;
    assert.equal(xp.get("own_name"), "xs-tiny", ctxTiny);
    assert.equal(xp.get("own_domid"), String(TINY), ctxTiny);
    assert.equal(xp.get("own_write"), "OK", ctxTiny);
    assert.equal(xp.get("own_readback"), "written-by-tiny", ctxTiny);
    assert.equal(xp.get("other_read"), "error EACCES", ctxTiny);
    assert.equal(xp.get("other_write"), "error EACCES", ctxTiny);
    assert.equal(xp.get("dom0_write"), "error EACCES", ctxTiny);
    assert.equal(xp.get("dom0_read"), "error EACCES", ctxTiny);
    assert.equal(gp.get("map_any_succeeded"), "no", ctxTiny);
    assert.match(gp.get("copy_gmfn_rc") ?? "", /^0 status=-\d+$/, ctxTiny);
    assert.match(gp.get("copy_gref_rc") ?? "", /^0 status=-\d+$/, ctxTiny);
    assert.equal(dom0.xs.client.tryRead(`/local/domain/${LINUX}/data/from-tiny`), undefined);
    assert.equal(dom0.xs.client.tryRead(`/local/domain/${TINY}/data/tiny`), "written-by-tiny");

    // The Linux guest with Debian's tools.
    await linux.waitFor("TSXEN-XS-DONE", BOOT_TIMEOUT_MS - 120_000);
    const c = parseChecks(linux.console());
    const ctx = `${tail(linux.console())}\nlog:\n${linux.log.slice(-20).join("\n")}`;
    t.diagnostic(`guest /dev/xen: ${c.get("xenbus_dev")}${c.has("xenfs") ? ` (xenfs: ${c.get("xenfs")})` : ""}`);
    assert.equal(c.get("xs_name"), "xs-linux", ctx);
    assert.equal(c.get("xs_domid"), String(LINUX), ctx);
    assert.equal(c.get("xs_write_rc"), "0", ctx);
    assert.equal(c.get("xs_readback"), "1", ctx);
    assert.equal(c.get("xs_write_abs_rc"), "0", ctx);
    assert.match(c.get("xs_ls_data") ?? "", /x = "1";.*abs = "absolute path"/, ctx);
    assert.match(c.get("xs_list_own") ?? "", /\bname\b.*\bdata\b/, ctx);
    assert.equal(c.get("xs_rm_rc"), "0", ctx);
    for (const k of ["xs_w_dom0_rc", "xs_r_dom0_rc", "xs_r_peer_rc", "xs_w_peer_rc", "xs_ls_peer_rc", "xs_w_ro_rc"]) {
      assert.notEqual(c.get(k), "0", `${k} should be refused\n${ctx}`);
      assert.ok(c.has(k), `${k} missing\n${ctx}`);
    }
    assert.match(c.get("xs_w_dom0_msg") ?? "", /could not write path \/local\/domain\/0\/foo/, ctx);
    assert.match(c.get("xs_r_peer_msg") ?? "", /couldn't read path \/local\/domain\/6\/name/, ctx);
    assert.equal(c.get("xs_last_rc"), "0", ctx);
    // Refused means nothing changed.
    assert.equal(dom0.xs.client.tryRead("/local/domain/0/foo"), undefined);
    assert.equal(dom0.xs.client.tryRead(`/local/domain/${TINY}/data/evil`), undefined);
    assert.equal(dom0.xs.client.read(`/local/domain/${LINUX}/name`), "xs-linux");
    assert.equal(dom0.xs.client.read(`/local/domain/${LINUX}/data/x`), "1");
    assert.equal(dom0.xs.client.tryRead(`/local/domain/${LINUX}/data/abs`), undefined);

    // dom0 watches fired on the guest's writes.
    assert.ok(dom0Events.includes(`/local/domain/${LINUX}/data/x`), `in-process watch events: ${dom0Events.join(" ")}`);
    assert.ok(dom0Events.includes(`/local/domain/${LINUX}/data/last`), `in-process watch events: ${dom0Events.join(" ")}`);
    unwatch();
    if (watcher) {
      for (let i = 0; i < 50 && !watchOut.includes(`/local/domain/${LINUX}/data/last`); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(watchOut, new RegExp(`^/local/domain/${LINUX}/data/x$`, "m"), `host xenstore-watch printed:\n${watchOut}`);
      assert.match(watchOut, new RegExp(`^/local/domain/${LINUX}/data/last$`, "m"), `host xenstore-watch printed:\n${watchOut}`);
    } else {
      t.diagnostic("xenstore-watch is not installed on the host: host watch check skipped (in-process watch checked)");
    }

    // Debian's xenstore-ls on the host lists the whole tree from our daemon.
    if (hostLs) {
      const ls = await run(hostLs, ["-f"], env);
      assert.equal(ls.status, 0, `xenstore-ls: ${ls.stderr}`);
      for (const line of [
        `/local/domain/0/name = "Domain-0"`,
        `/local/domain/${LINUX}/name = "xs-linux"`,
        `/local/domain/${LINUX}/data/x = "1"`,
        `/local/domain/${LINUX}/data/last = "done"`,
        `/local/domain/${TINY}/name = "xs-tiny"`,
        `/local/domain/${TINY}/data/tiny = "written-by-tiny"`,
      ]) assert.ok(ls.stdout.includes(line), `xenstore-ls lacks ${line}:\n${ls.stdout}`);
      assert.match(ls.stdout, new RegExp(`^/local/domain/${LINUX}/store/ring-ref = "\\d+"$`, "m"));
      assert.match(ls.stdout, /^\/vm\/[0-9a-f-]{36}\/name = "xs-linux"$/m);
      const rd = await run(hostTool("xenstore-read") ?? "xenstore-read", [`/local/domain/${LINUX}/data/x`], env);
      assert.equal(rd.stdout.trim(), "1");
    } else {
      t.diagnostic("xenstore-ls is not installed on the host (apt-get install xenstore-utils): host listing skipped");
    }

    // A transaction that read and wrote data/x while another client wrote it: EAGAIN at commit, a retry commits.
    const a = await XsWireClient.open(socketPath);
    const b = await XsWireClient.open(socketPath);
    try {
      const start = await a.request(XsType.TRANSACTION_START, [""]);
      const tx = Number(start.payload.replace(/\0.*$/s, ""));
      assert.ok(tx > 0, `transaction id: ${JSON.stringify(start.payload)}`);
      assert.equal((await a.request(XsType.READ, [`/local/domain/${LINUX}/data/x`], tx)).payload, "1");
      assert.equal((await a.request(XsType.WRITE, [`/local/domain/${LINUX}/data/x`], tx, "from-tx")).type, XsType.WRITE);
      assert.equal((await b.request(XsType.WRITE, [`/local/domain/${LINUX}/data/x`], 0, "racing")).type, XsType.WRITE);
      const end = await a.request(XsType.TRANSACTION_END, ["T"], tx);
      assert.equal(end.type, XsType.ERROR);
      assert.equal(end.payload.replace(/\0$/, ""), "EAGAIN");
      assert.equal(dom0.xs.client.read(`/local/domain/${LINUX}/data/x`), "racing");
      const again = Number((await a.request(XsType.TRANSACTION_START, [""])).payload.replace(/\0.*$/s, ""));
      await a.request(XsType.WRITE, [`/local/domain/${LINUX}/data/x`], again, "from-tx");
      assert.equal((await a.request(XsType.TRANSACTION_END, ["T"], again)).type, XsType.TRANSACTION_END);
      assert.equal(dom0.xs.client.read(`/local/domain/${LINUX}/data/x`), "from-tx");
    } finally {
      a.close();
      b.close();
    }

    // The neighbour is still alive, then `xl shutdown` of the Linux guest.
    const beats = (tiny.console().match(/tiny: beat/g) ?? []).length;
    await tiny.waitFor(`tiny: beat ${beats}`, 60_000);
    dom0.host.requestShutdown(LINUX, "poweroff");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reason = await Promise.race([linux.outcome, new Promise((r) => (timer = setTimeout(() => r("timeout"), 180_000)))]);
    clearTimeout(timer);
    assert.equal(reason, "poweroff", ctx);
    assert.ok(linux.console().includes("TSXEN-ORDERLY-POWEROFF"), tail(linux.console()));
    t.diagnostic(`tiny neighbour beats: ${beats}`);
  } finally {
    watcher?.kill();
    for (const d of domains) await d.destroy();
    await dom0.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
