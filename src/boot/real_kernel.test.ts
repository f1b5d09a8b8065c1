// The stock Debian kernel (linux-image-amd64) fetched by scripts/fetch-guest.sh: XZ payload decode time,
// vmlinux layout and Xen notes (expected values from xen-abi-on-kvm.md §2). Skipped when not fetched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readU32 } from "../base/bytes.ts";
import { extractVmlinux, parseBzImage } from "./bzimage.ts";
import { parseElf, xenNotes } from "./elf.ts";
import { loadKernel } from "./load.ts";
import { patchXenHypercalls } from "./xen_hypercall_patch.ts";

const guestDir = process.env.TSXEN_GUEST_DIR ?? join(dirname(fileURLToPath(import.meta.url)), "../../.cache/guest");
const vmlinuz = join(guestDir, "vmlinuz");
const skip = existsSync(vmlinuz) ? false : `no Debian kernel at ${vmlinuz} (run scripts/fetch-guest.sh)`;

test("the Debian bzImage's XZ payload decodes to the vmlinux ELF with the Xen PVH notes", { skip }, (t) => {
  const file = new Uint8Array(readFileSync(vmlinuz));
  const bz = parseBzImage(file);
  assert.equal(bz.version, 0x020f);
  assert.equal(bz.payloadFormat, "xz");
  assert.equal(bz.prefAddress, 0x1000000n);
  const start = performance.now();
  const vmlinux = extractVmlinux(bz);
  const ms = performance.now() - start;
  const rate = vmlinux.length / 1048576 / (ms / 1000);
  t.diagnostic(`XZ payload ${(bz.payload.length / 1048576).toFixed(1)} MiB → ${(vmlinux.length / 1048576).toFixed(1)} MiB in ${ms.toFixed(0)} ms (${rate.toFixed(1)} MiB/s)`);
  console.log(`# XZ decode: ${(vmlinux.length / 1048576).toFixed(1)} MiB in ${ms.toFixed(0)} ms`);
  assert.equal(vmlinux.length, readU32(bz.payload, bz.payload.length - 4), "size_append value");

  const elf = parseElf(vmlinux);
  assert.equal(elf.elfClass, 64);
  assert.equal(elf.entry, 0x1000000n, "e_entry is startup_64's physical address");
  assert.equal(elf.segments[0]!.paddr, 0x1000000);
  assert.equal(elf.segments[0]!.vaddr, 0xffffffff81000000n);
  assert.equal(elf.segments.length, 4);
  const notes = xenNotes(elf);
  assert.equal(notes.phys32Entry, 0x1000850);
  assert.equal(notes.guestOs, "linux");
  assert.equal(notes.xenVersion, "xen-3.0");
  assert.equal(notes.loader, "generic");
  assert.equal(notes.virtBase, 0xffffffff80000000n);
  assert.equal(notes.supportedFeatures, 0x8801);
  assert.equal(notes.hypercallPage, undefined);
});

test("loadKernel() places the Debian kernel for PVH and for the 64-bit boot protocol", { skip }, () => {
  const opts = { kernelPath: vmlinuz, cmdline: "console=hvc0", memoryBytes: 256 * 1048576, vcpus: 1 };
  const pvh = loadKernel({ ...opts, type: "pvh" });
  assert.deepEqual(pvh.entry, { kind: "pvh32", entry: 0x1000850, ebx: 0x6000 });
  const hvm = loadKernel({ ...opts, type: "hvm" });
  assert.deepEqual(hvm.entry, { kind: "linux64", entry: 0x1000000n, rsi: 0x7000, cr3: 0x9000, gdtBase: 0x500 });
  assert.throws(() => loadKernel({ ...opts, memoryBytes: 64 * 1048576, type: "pvh" }), /the kernel needs 74 MiB of guest memory/);
});

test("the Debian kernel's Xen hypercall functions are found exactly once for the port-I/O rewrite", { skip }, () => {
  const pvh = loadKernel({ kernelPath: vmlinuz, cmdline: "", memoryBytes: 256 * 1048576, vcpus: 1, type: "pvh" });
  const { gpa } = patchXenHypercalls(pvh, 0x5a);
  assert.ok(gpa > 0x1000000 && gpa < 0x2a00000, `in the kernel text (${gpa.toString(16)})`);
});
