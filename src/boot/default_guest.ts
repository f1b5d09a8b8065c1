// The default guest for `npm start` and real-kernel tests: the stock Debian kernel + a busybox initramfs in
// .cache/guest/, fetched (scripts/fetch-guest.sh, apt-get download) and built on first use, with progress
// on stderr.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BootError } from "../base/errors.ts";
import { buildInitramfs, initScript } from "./initramfs.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Default /init body: a marker line, a shell on the console, and poweroff when the shell exits. */
export const DEFAULT_INIT_BODY = `echo "tsxen: userspace up"
# busybox poweroff/reboot/halt signal PID 1 (USR2/TERM/USR1) as they would busybox init.
trap 'poweroff -f' USR2
trap 'reboot -f' TERM
trap 'halt -f' USR1
setsid cttyhack sh &
wait
poweroff -f
`;

export interface DefaultGuest {
  readonly kernelPath: string;
  readonly ramdiskPath: string;
  readonly busyboxPath: string;
  readonly guestDir: string;
}

export function guestDir(): string {
  return process.env.TSXEN_GUEST_DIR ?? join(repoRoot, ".cache/guest");
}

/** Paths if the kernel and busybox are already fetched, else undefined (never fetches). */
export function fetchedGuest(): { kernelPath: string; busyboxPath: string } | undefined {
  const dir = guestDir();
  const kernelPath = join(dir, "vmlinuz");
  const busyboxPath = join(dir, "busybox");
  return existsSync(kernelPath) && existsSync(busyboxPath) ? { kernelPath, busyboxPath } : undefined;
}

/**
 * Fetches the kernel and busybox if needed and (re)builds the initramfs when it is missing or older than
 * busybox. `initBody` replaces the default /init body; the image is .cache/guest/initramfs-<hash of /init>.cpio.gz.
 */
export function ensureDefaultGuest(opts: { initBody?: string; log?: (line: string) => void } = {}): DefaultGuest {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = guestDir();
  if (fetchedGuest() === undefined) {
    log("tsxen: fetching the Debian kernel and busybox (first run)...");
    const r = spawnSync("sh", [join(repoRoot, "scripts/fetch-guest.sh")], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, TSXEN_GUEST_DIR: dir } });
    if (r.status !== 0 || fetchedGuest() === undefined) {
      throw new BootError(`scripts/fetch-guest.sh failed (exit status ${r.status ?? r.signal})`, "Cannot fetch the default guest");
    }
  }
  const { kernelPath, busyboxPath } = fetchedGuest()!;
  const initBody = opts.initBody ?? DEFAULT_INIT_BODY;
  // Named after the /init it runs, so a changed body or prelude never reuses a stale image.
  const ramdiskPath = join(dir, `initramfs-${simpleHash(initScript(initBody))}.cpio.gz`);
  if (!existsSync(ramdiskPath) || statSync(ramdiskPath).mtimeMs < statSync(busyboxPath).mtimeMs) {
    log(`tsxen: building ${ramdiskPath}`);
    const busybox = new Uint8Array(readFileSync(busyboxPath));
    let applets: string[] | undefined;
    const list = spawnSync(busyboxPath, ["--list-full"], { encoding: "utf8" });
    if (list.status === 0) applets = list.stdout.split("\n").filter(Boolean);
    writeFileSync(ramdiskPath, buildInitramfs({ busybox, initBody, applets }));
  }
  return { kernelPath, ramdiskPath, busyboxPath, guestDir: dir };
}

/** The xl.cfg `npm start` writes for the default guest (bin/tsxen-start): HVM on ttyS0, or PVH on hvc0.
 * cryptomgr.notests skips the kernel's crypto self-tests (57 % of a boot's instructions on a software CPU);
 * tsc=reliable: the TSC here is derived from the host's monotonic clock, so the jiffies-based watchdog, which a
 * slow CPU makes late, must not demote it. */
export function defaultGuestConfig(guest: Pick<DefaultGuest, "kernelPath" | "ramdiskPath">, type: "hvm" | "pvh"): string {
  const console = type === "pvh" ? "console=hvc0 earlyprintk=xen" : "console=ttyS0";
  return [
    "# Written by npm start (bin/tsxen-start): the stock Debian kernel with a busybox initramfs.",
    'name = "debian"',
    `type = "${type}"`,
    `kernel = "${guest.kernelPath}"`,
    `ramdisk = "${guest.ramdiskPath}"`,
    "memory = 256",
    "vcpus = 1",
    `cmdline = "${console} reboot=t cryptomgr.notests tsc=reliable"`,
    'on_reboot = "restart"',
    'accel = "auto"',
    "",
  ].join("\n");
}

function simpleHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}
