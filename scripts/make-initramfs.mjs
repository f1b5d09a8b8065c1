#!/usr/bin/env node
// Builds a busybox initramfs (gzip'd cpio newc) with src/boot/initramfs.ts.
// Usage: node scripts/make-initramfs.mjs [--init FILE | --init-text 'cmds'] [--busybox PATH] [--out PATH]
//                                      [--add HOSTFILE:GUESTPATH]...
// Defaults: busybox from .cache/guest/busybox (scripts/fetch-guest.sh), output .cache/guest/initramfs.cpio.gz,
// and an /init body that prints "tsxen: userspace up", runs a shell on the console and powers off after it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register();
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { buildInitramfs } = await import("../src/boot/initramfs.ts");

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
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const val = () => args[++i] ?? usage(`${a} needs a value`);
  if (a === "--init") initBody = readFileSync(val(), "utf8");
  else if (a === "--init-text") initBody = val();
  else if (a === "--busybox") busyboxPath = val();
  else if (a === "--out") out = val();
  else if (a === "--add") adds.push(val());
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
const dirsAdded = new Set();
for (const spec of adds) {
  const idx = spec.lastIndexOf(":");
  if (idx <= 0) usage(`--add "${spec}" is not HOST:GUEST`);
  const host = spec.slice(0, idx);
  const guest = spec.slice(idx + 1).replace(/^\/+/, "");
  const parts = guest.split("/");
  for (let d = 1; d < parts.length; d++) {
    const dir = parts.slice(0, d).join("/");
    if (!dirsAdded.has(dir)) {
      dirsAdded.add(dir);
      extraEntries.push({ type: "dir", path: dir });
    }
  }
  extraEntries.push({ type: "file", path: guest, data: new Uint8Array(readFileSync(host)), mode: statSync(host).mode & 0o777 });
}

const image = buildInitramfs({ busybox: new Uint8Array(readFileSync(busyboxPath)), initBody, applets, extraEntries });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, image);
console.error(`make-initramfs: wrote ${out} (${(image.length / 1024).toFixed(0)} KiB, ${applets ? applets.length : "default"} applets)`);
