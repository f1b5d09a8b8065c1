#!/usr/bin/env node
// Builds a busybox initramfs (gzip'd cpio newc) with src/boot/initramfs.ts.
// Usage: node scripts/make-initramfs.mjs [--init FILE | --init-text 'cmds'] [--busybox PATH] [--out PATH]
//                                      [--add HOSTFILE:GUESTPATH]... [--xenstore]
// --xenstore adds xenstore-utils (xenstore, xenstore-read/-write/-ls/...) with libxenstore, libxentoolcore
// and glibc, from `scripts/fetch-guest.sh --xenstore`.
// Defaults: busybox from .cache/guest/busybox (scripts/fetch-guest.sh), output .cache/guest/initramfs.cpio.gz,
// and an /init body that prints "tsxen: userspace up", runs a shell on the console and powers off after it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register();
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { buildInitramfs, INITRAMFS_BASE_DIRS } = await import("../src/boot/initramfs.ts");

const DEFAULT_INIT = `echo "tsxen: userspace up"
setsid cttyhack sh
poweroff -f
`;

function usage(msg) {
  console.error(`make-initramfs: ${msg}`);
  console.error("usage: node scripts/make-initramfs.mjs [--init FILE | --init-text CMDS] [--busybox PATH] [--out PATH] [--add HOST:GUEST]...");
  process.exit(2);
}

const args = process.argv.slice(2);
let initBody = DEFAULT_INIT;
let busyboxPath = join(root, ".cache/guest/busybox");
let out = join(root, ".cache/guest/initramfs.cpio.gz");
const adds = [];
let xenstore = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const val = () => args[++i] ?? usage(`${a} needs a value`);
  if (a === "--init") initBody = readFileSync(val(), "utf8");
  else if (a === "--init-text") initBody = val();
  else if (a === "--busybox") busyboxPath = val();
  else if (a === "--out") out = val();
  else if (a === "--add") adds.push(val());
  else if (a === "--xenstore") xenstore = true;
  else usage(`unknown argument "${a}"`);
}
if (!existsSync(busyboxPath)) usage(`busybox "${busyboxPath}" does not exist (run scripts/fetch-guest.sh)`);

let applets;
try {
  // The static busybox runs on any x86-64 Linux host: ask it for its applets.
  applets = execFileSync(busyboxPath, ["--list-full"], { encoding: "utf8" }).split("\n").filter(Boolean);
} catch {
  applets = undefined; // the builder's default list
}

const extraEntries = [];
const dirsAdded = new Set(INITRAMFS_BASE_DIRS);
function addParents(guest) {
  const parts = guest.split("/");
  for (let d = 1; d < parts.length; d++) {
    const dir = parts.slice(0, d).join("/");
    if (!dirsAdded.has(dir)) {
      dirsAdded.add(dir);
      extraEntries.push({ type: "dir", path: dir });
    }
  }
}
function addFile(host, guest) {
  guest = guest.replace(/^\/+/, "");
  if (!existsSync(host)) usage(`file "${host}" does not exist`);
  addParents(guest);
  extraEntries.push({ type: "file", path: guest, data: new Uint8Array(readFileSync(host)), mode: statSync(host).mode & 0o777 });
}
function addSymlink(guest, target) {
  addParents(guest);
  extraEntries.push({ type: "symlink", path: guest, target });
}

for (const spec of adds) {
  const idx = spec.lastIndexOf(":");
  if (idx <= 0) usage(`--add "${spec}" is not HOST:GUEST`);
  addFile(spec.slice(0, idx), spec.slice(idx + 1));
}

if (xenstore) {
  const pkgs = join(root, ".cache/guest/pkgs");
  if (!existsSync(join(pkgs, "xenstore-utils"))) usage("xenstore-utils is not fetched (run scripts/fetch-guest.sh --xenstore)");
  const lib = "lib/x86_64-linux-gnu";
  addFile(join(pkgs, "libc6", lib, "libc.so.6"), `${lib}/libc.so.6`);
  addFile(join(pkgs, "libc6", lib, "ld-linux-x86-64.so.2"), `${lib}/ld-linux-x86-64.so.2`);
  addSymlink("lib64/ld-linux-x86-64.so.2", `../${lib}/ld-linux-x86-64.so.2`);
  addFile(join(pkgs, "libxenstore4/usr", lib, "libxenstore.so.4"), `usr/${lib}/libxenstore.so.4`);
  addFile(join(pkgs, "libxentoolcore1/usr", lib, "libxentoolcore.so.1"), `usr/${lib}/libxentoolcore.so.1`);
  addFile(join(pkgs, "xenstore-utils/usr/bin/xenstore"), "usr/bin/xenstore");
  for (const tool of readdirSync(join(pkgs, "xenstore-utils/usr/bin"))) {
    if (tool !== "xenstore") addSymlink(`usr/bin/${tool}`, "xenstore"); // one multi-call binary
  }
}

const image = buildInitramfs({ busybox: new Uint8Array(readFileSync(busyboxPath)), initBody, applets, extraEntries });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, image);
console.error(`make-initramfs: wrote ${out} (${(image.length / 1024).toFixed(0)} KiB, ${applets ? applets.length : "default"} applets)`);
