// Test support: the stock Debian guest (kernel + busybox) fetched on first use by scripts/fetch-guest.sh,
// and busybox initramfs images whose /init runs a test's own commands.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildInitramfs } from "../../src/boot/initramfs.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
export const GUEST_DIR = process.env.TSXEN_GUEST_DIR ?? join(ROOT, ".cache/guest");
export const KERNEL = join(GUEST_DIR, "vmlinuz");

/** Fetches the Debian kernel and busybox if they are not cached yet (apt-get download; needs the package lists). */
export function ensureGuest(): void {
  if (existsSync(KERNEL) && existsSync(join(GUEST_DIR, "busybox"))) return;
  process.stderr.write("fetching the Debian guest kernel and busybox (scripts/fetch-guest.sh)...\n");
  execFileSync("sh", [join(ROOT, "scripts/fetch-guest.sh")], { stdio: ["ignore", "inherit", "inherit"] });
}

/** Builds (once per body) an initramfs whose /init runs `initBody` after the standard mounts. */
export function testInitramfs(initBody: string): string {
  ensureGuest();
  const busybox = readFileSync(join(GUEST_DIR, "busybox"));
  const key = createHash("sha1").update(initBody).update(busybox).digest("hex").slice(0, 12);
  const path = join(GUEST_DIR, `test-initramfs-${key}.cpio.gz`);
  if (!existsSync(path)) {
    writeFileSync(path, buildInitramfs({ busybox: new Uint8Array(busybox.buffer, busybox.byteOffset, busybox.byteLength), initBody }));
  }
  return path;
}

/** The checks the stock guest runs in its init: each prints a `CHECK name=value` line. */
export const GUEST_CHECKS = `
echo "CHECK nproc=$(nproc)"
echo "CHECK memtotal_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
i=0; s=0; while [ $i -lt 2000 ]; do i=$((i+1)); s=$((s+i*i)); done
echo "CHECK sum_squares=$s"
echo "CHECK md5=$(echo tsxen | md5sum | cut -d' ' -f1)"
t1=$(date +%s); sleep 2; t2=$(date +%s)
echo "CHECK date_delta=$((t2-t1))"
echo "CHECK hypervisor=$(cat /sys/hypervisor/type 2>/dev/null || echo none)"
echo "TSXEN-GUEST-DONE"
`;

/** Parses `CHECK k=v` lines from console text. */
export function parseChecks(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^CHECK ([a-z_0-9]+)=(.*?)\r?$/gm)) out.set(m[1]!, m[2]!);
  return out;
}
