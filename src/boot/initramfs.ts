// initramfs builder: a cpio "newc" archive writer (the format the kernel unpacks, see
// Documentation/driver-api/early-userspace/buffer-format.rst) and a busybox-based initramfs with a
// caller-supplied /init body, gzip-compressed.
// Design: entries are written in order with fixed metadata (uid/gid 0, mtime 0 unless given), so the
// same inputs give the same bytes; parents are not implied, the initramfs builder lists them.
import { gzipSync } from "node:zlib";
import { BootError } from "../base/errors.ts";

export type CpioEntry =
  | { readonly type: "dir"; readonly path: string; readonly mode?: number }
  | { readonly type: "file"; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly type: "symlink"; readonly path: string; readonly target: string }
  | { readonly type: "chardev"; readonly path: string; readonly major: number; readonly minor: number; readonly mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = "TRAILER!!!";

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

const encoder = new TextEncoder();

/** Writes entries (paths relative, without a leading "/") as a cpio newc archive ending with the trailer. */
export function writeCpioNewc(entries: readonly CpioEntry[], opts: { mtime?: number } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    size += b.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      size += pad;
    }
  };
  const header = (ino: number, mode: number, nlink: number, fileSize: number, rdevMajor: number, rdevMinor: number, name: string) => {
    const nameBytes = encoder.encode(name + "\0");
    const fields = [ino, mode, 0, 0, nlink, opts.mtime ?? 0, fileSize, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0];
    const h = encoder.encode("070701" + fields.map(hex8).join(""));
    const b = new Uint8Array(h.length + nameBytes.length);
    b.set(h);
    b.set(nameBytes, h.length);
    push(b);
  };
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, "");
    if (path === "" || path.includes("\0")) throw new BootError(`initramfs entry path "${e.path}" is invalid`);
    switch (e.type) {
      case "dir":
        header(ino++, S_IFDIR | (e.mode ?? 0o755), 2, 0, 0, 0, path);
        break;
      case "file":
        header(ino++, S_IFREG | (e.mode ?? 0o644), 1, e.data.length, 0, 0, path);
        if (e.data.length) push(e.data);
        break;
      case "symlink": {
        const target = encoder.encode(e.target);
        header(ino++, S_IFLNK | 0o777, 1, target.length, 0, 0, path);
        push(target);
        break;
      }
      case "chardev":
        header(ino++, S_IFCHR | (e.mode ?? 0o600), 1, 0, e.major, e.minor, path);
        break;
    }
  }
  header(0, 0, 1, 0, 0, 0, TRAILER);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Applets linked to /bin/busybox when the caller gives no list (`busybox --list-full` gives all). */
export const DEFAULT_APPLETS = [
  "bin/sh", "bin/ash", "bin/cat", "bin/echo", "bin/ls", "bin/mkdir", "bin/mount", "bin/umount", "bin/sleep", "bin/uname",
  "bin/dmesg", "bin/date", "bin/grep", "bin/sed", "bin/ln", "bin/rm", "bin/cp", "bin/mv", "bin/mknod", "bin/ps", "bin/kill",
  "bin/dd", "bin/sync", "bin/true", "bin/false", "bin/hostname", "bin/stty", "bin/cttyhack", "bin/vi", "bin/printenv",
  "sbin/poweroff", "sbin/reboot", "sbin/halt", "sbin/insmod", "sbin/modprobe", "sbin/lsmod", "sbin/ip", "sbin/ifconfig",
  "sbin/switch_root", "sbin/mdev", "usr/bin/nproc", "usr/bin/free", "usr/bin/awk", "usr/bin/head", "usr/bin/tail",
  "usr/bin/wc", "usr/bin/expr", "usr/bin/seq", "usr/bin/sha256sum", "usr/bin/md5sum", "usr/bin/test", "usr/bin/[",
  "usr/bin/printf", "usr/bin/env", "usr/bin/tr", "usr/bin/cut", "usr/bin/setsid", "usr/bin/uptime", "usr/bin/id",
  "usr/bin/find", "usr/bin/xargs", "usr/bin/hexdump", "usr/bin/od", "usr/bin/time", "usr/bin/timeout", "usr/bin/top",
];

export interface InitramfsOptions {
  /** The static busybox binary (busybox-static's /bin/busybox). */
  readonly busybox: Uint8Array;
  /** Shell commands run by /init after the standard start (mounts, PATH); e.g. test checks printing result lines. */
  readonly initBody: string;
  /** Applet paths to symlink to /bin/busybox (relative, e.g. "sbin/poweroff"). */
  readonly applets?: readonly string[];
  /** More entries (kernel modules, xenstore tools...); their parent directories must be listed first. */
  readonly extraEntries?: readonly CpioEntry[];
  /** gzip the archive (default true). */
  readonly gzip?: boolean;
}

/** The /init script: mounts proc, sys and devtmpfs, sets PATH, then runs the caller's body. */
export function initScript(initBody: string): string {
  return [
    "#!/bin/busybox sh",
    "# Generated by tsxen (src/boot/initramfs.ts).",
    "export PATH=/bin:/sbin:/usr/bin:/usr/sbin",
    "mount -t proc proc /proc",
    "mount -t sysfs sysfs /sys",
    "mount -t devtmpfs devtmpfs /dev",
    "mkdir -p /dev/pts && mount -t devpts devpts /dev/pts",
    initBody.trimEnd(),
    "",
  ].join("\n");
}

/** Directories every initramfs from buildInitramfs() has (extra entries need not list them). */
export const INITRAMFS_BASE_DIRS = ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "etc", "root", "mnt", "run", "lib", "lib/modules"];

export function buildInitramfs(opts: InitramfsOptions): Uint8Array {
  const entries: CpioEntry[] = INITRAMFS_BASE_DIRS.map((path) => ({ type: "dir", path, mode: path === "tmp" ? 0o1777 : 0o755 }));
  entries.push({ type: "chardev", path: "dev/console", major: 5, minor: 1 });
  entries.push({ type: "chardev", path: "dev/null", major: 1, minor: 3, mode: 0o666 });
  entries.push({ type: "file", path: "bin/busybox", data: opts.busybox, mode: 0o755 });
  const seen = new Set(["bin/busybox"]);
  for (const applet of opts.applets ?? DEFAULT_APPLETS) {
    const path = applet.replace(/^\/+/, "");
    const top = path.split("/")[0]!;
    if (seen.has(path) || !["bin", "sbin", "usr"].includes(top)) continue;
    seen.add(path);
    const depth = path.split("/").length - 1;
    entries.push({ type: "symlink", path, target: "../".repeat(depth) + "bin/busybox" });
  }
  entries.push({ type: "file", path: "etc/passwd", data: encoder.encode("root:x:0:0:root:/root:/bin/sh\n") });
  entries.push(...(opts.extraEntries ?? []));
  entries.push({ type: "file", path: "init", data: encoder.encode(initScript(opts.initBody)), mode: 0o755 });
  const cpio = writeCpioNewc(entries);
  return opts.gzip === false ? cpio : new Uint8Array(gzipSync(cpio, { level: 6 }));
}
