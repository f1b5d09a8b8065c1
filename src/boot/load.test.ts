import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildBootSample } from "../../test/guests/boot_sample.ts";
import { readCString, readU32 } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";
import { HvmMemmapTableEntry, HvmModlistEntry, HvmStartInfo, XEN_HVM_START_MAGIC_VALUE } from "../abi/boot/start_info.ts";
import type { BootImage } from "../hv/ports.ts";
import { loadKernel } from "./load.ts";
import { specialPagesGpa } from "./e820.ts";
import { testTempDir } from "../testing/temp_dir.ts";

const sample = buildBootSample();
const dir = testTempDir("tsxen-load-");
const ramdiskPath = join(dir, "initrd.img");
writeFileSync(ramdiskPath, Buffer.alloc(300_000, 0x5a));
const MiB = 1024 * 1024;

/** Guest RAM as the backend would fill it from the image's regions. */
function materialize(img: BootImage, memoryBytes: number): Uint8Array {
  const ram = new Uint8Array(memoryBytes);
  for (const r of img.regions) ram.set(r.bytes, r.gpa);
  return ram;
}

for (const [name, kernelPath] of [["ELF64", sample.elf64], ["ELF32", sample.elf32]] as const) {
  test(`loadKernel() builds a PVH image for an ${name} kernel with start_info, memmap, cmdline and initrd`, () => {
    const memoryBytes = 64 * MiB;
    const img = loadKernel({ kernelPath, ramdiskPath, cmdline: "console=hvc0 root=/dev/xvda", memoryBytes, vcpus: 1, type: "pvh", rsdpPaddr: 0xe0000 });
    assert.deepEqual(img.entry, { kind: "pvh32", entry: 0x1000000, ebx: 0x6000 });
    const ram = materialize(img, memoryBytes);
    assert.equal(ram[0x1000000], 0xb0);
    assert.equal(readU32(ram, 0x1001000), 0x11223344);
    const si = HvmStartInfo.decode(ram, 0x6000);
    assert.equal(si.magic, XEN_HVM_START_MAGIC_VALUE);
    assert.equal(si.version, 1);
    assert.equal(si.rsdpPaddr, 0xe0000n);
    assert.equal(readCString(ram, Number(si.cmdlinePaddr), 4096), "console=hvc0 root=/dev/xvda");
    assert.equal(si.nrModules, 1);
    const mod = HvmModlistEntry.decode(ram, Number(si.modlistPaddr));
    assert.equal(mod.size, 300_000n);
    assert.equal(Number(mod.paddr) % 4096, 0);
    assert.ok(Number(mod.paddr) + 300_000 <= specialPagesGpa(memoryBytes));
    assert.equal(ram[Number(mod.paddr)], 0x5a);
    const map = Array.from({ length: si.memmapEntries }, (_, i) => HvmMemmapTableEntry.decode(ram, Number(si.memmapPaddr) + i * 24));
    assert.deepEqual(map.map((e) => [Number(e.addr), Number(e.size), e.type]), [
      [0, 0x9f000, 1],
      [0x100000, 64 * MiB - 0x10000 - 0x100000, 1],
      [64 * MiB - 0x10000, 0x10000, 2],
    ]);
    assert.match(img.description, /^PVH ELF(64|32) entry 0x1000000/);
  });
}

test("loadKernel() without a ramdisk sets no modules", () => {
  const img = loadKernel({ kernelPath: sample.elf64, cmdline: "", memoryBytes: 32 * MiB, vcpus: 1, type: "pvh" });
  const ram = materialize(img, 32 * MiB);
  const si = HvmStartInfo.decode(ram, 0x6000);
  assert.equal(si.nrModules, 0);
  assert.equal(si.modlistPaddr, 0n);
});

function expectBootError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BootError, `expected BootError, got ${String(e)}`);
    assert.ok(!e.message.includes("\n"), "one-line message");
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test("loadKernel() names the file in one-line errors: missing kernel, not a kernel, too little memory, missing ramdisk", () => {
  const base = { cmdline: "", memoryBytes: 64 * MiB, vcpus: 1, type: "pvh" as const };
  expectBootError(() => loadKernel({ ...base, kernelPath: join(dir, "nope") }), `Cannot load kernel "${join(dir, "nope")}": file does not exist`);
  expectBootError(() => loadKernel({ ...base, kernelPath: ramdiskPath }), `Cannot load kernel "${ramdiskPath}": not an ELF file or a bzImage`);
  expectBootError(() => loadKernel({ ...base, kernelPath: dir }), `Cannot load kernel "${dir}": it is a directory`);
  expectBootError(() => loadKernel({ ...base, kernelPath: "/dev/zero" }), `Cannot load kernel "/dev/zero": it is not a regular file`);
  expectBootError(() => loadKernel({ ...base, kernelPath: sample.elf64, memoryBytes: 16 * MiB }), /^Cannot load kernel ".*sample64.elf": the kernel needs 17 MiB of guest memory \(it ends at 0x1003008\) but the domain has 16 MiB$/);
  expectBootError(() => loadKernel({ ...base, kernelPath: sample.elf64, ramdiskPath: join(dir, "none.img") }), `Cannot load ramdisk "${join(dir, "none.img")}": file does not exist`);
  expectBootError(() => loadKernel({ ...base, kernelPath: sample.elf64, memoryBytes: 1 * MiB }), /^Cannot load kernel ".*": memory of 1048576 bytes is below the minimum of 16 MiB$/);
  expectBootError(() => loadKernel({ ...base, kernelPath: sample.elf64, cmdline: "x".repeat(5000) }), /command line is 5000 bytes; at most 4095 fit/);
});

test("loadKernel() reports a ramdisk too large for memory", () => {
  const big = join(dir, "big.img");
  writeFileSync(big, Buffer.alloc(20 * MiB));
  expectBootError(
    () => loadKernel({ kernelPath: sample.elf64, ramdiskPath: big, cmdline: "", memoryBytes: 32 * MiB, vcpus: 1, type: "pvh" }),
    /^Cannot load kernel ".*": ramdisk ".*big.img" of 20 MiB does not fit in 32 MiB of guest memory next to the kernel$/,
  );
  expectBootError(
    () => loadKernel({ kernelPath: sample.elf64, ramdiskPath: big, cmdline: "", memoryBytes: 16 * MiB, vcpus: 1, type: "pvh" }),
    /^Cannot load ramdisk ".*big.img": the file is 20 MiB, more than the 16 MiB that can be loaded$/,
  );
});

test("loadKernel() refuses a PVH boot of an ELF without a PHYS32_ENTRY note", () => {
  // Strip the notes by turning the PT_NOTE program header into PT_NULL.
  const file = new Uint8Array(readFileSync(sample.elf64));
  const phoff = Number(new DataView(file.buffer).getBigUint64(32, true));
  for (let i = 0; i < 3; i++) if (readU32(file, phoff + i * 56) === 4) file[phoff + i * 56] = 0;
  const p = join(dir, "nonote.elf");
  writeFileSync(p, file);
  expectBootError(() => loadKernel({ kernelPath: p, cmdline: "", memoryBytes: 64 * MiB, vcpus: 1, type: "pvh" }), /no XEN_ELFNOTE_PHYS32_ENTRY note/);
});
