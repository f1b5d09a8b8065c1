import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildBootSample } from "../../test/guests/boot_sample.ts";
import { readCString, readU64 } from "../base/bytes.ts";
import { BootParams } from "../abi/boot/boot_params.ts";
import { BootE820Entry } from "../abi/boot/e820.ts";
import type { BootImage } from "../hv/ports.ts";
import { makeBzImage } from "./bzimage_sample.ts";
import { LINUX64_BOOT_PARAMS_GPA, LINUX64_CPU_STATE, LINUX64_GDT_GPA, LINUX64_PML4_GPA, buildIdentityPageTables } from "./linux64.ts";
import { loadKernel } from "./load.ts";
import { testTempDir } from "../testing/temp_dir.ts";

const sample = buildBootSample();
const dir = testTempDir("tsxen-l64-");
const MiB = 1024 * 1024;
const ramdiskPath = join(dir, "initrd");
writeFileSync(ramdiskPath, Buffer.alloc(100_000, 7));

function materialize(img: BootImage, memoryBytes: number): Uint8Array {
  const ram = new Uint8Array(memoryBytes);
  for (const r of img.regions) ram.set(r.bytes, r.gpa);
  return ram;
}

/** Walks the loader's page tables like the CPU (4-level, 2 MiB pages) and returns the physical address. */
function translate(ram: Uint8Array, cr3: number, va: number): number {
  const pml4e = readU64(ram, cr3 + ((va / 2 ** 39) & 511) * 8);
  assert.equal(pml4e & 1n, 1n);
  const pdpte = readU64(ram, Number(pml4e & ~0xfffn) + ((va / 2 ** 30) & 511) * 8);
  assert.equal(pdpte & 1n, 1n);
  const pde = readU64(ram, Number(pdpte & ~0xfffn) + ((va / 2 ** 21) & 511) * 8);
  assert.equal(pde & 0x81n, 0x81n, "present 2 MiB page");
  return Number(pde & ~0x1fffffn) + (va % (2 * MiB));
}

test("type hvm loads an ELF64 vmlinux for the 64-bit boot protocol with boot_params, GDT and identity map", () => {
  const memoryBytes = 128 * MiB;
  const img = loadKernel({ kernelPath: sample.elf64, ramdiskPath, cmdline: "console=ttyS0 panic=-1", memoryBytes, vcpus: 2, type: "hvm", rsdpPaddr: 0xf0000 });
  assert.deepEqual(img.entry, { kind: "linux64", entry: 0x1000005n, rsi: 0x7000, cr3: 0x9000, gdtBase: 0x500 });
  const ram = materialize(img, memoryBytes);
  const bp = BootParams.decode(ram, LINUX64_BOOT_PARAMS_GPA);
  assert.equal(bp.header, 0x53726448);
  assert.equal(bp.bootFlag, 0xaa55);
  assert.equal(bp.typeOfLoader, 0xff);
  assert.equal(bp.loadflags & 1, 1);
  assert.equal(readCString(ram, bp.cmdLinePtr, 4096), "console=ttyS0 panic=-1");
  assert.equal(bp.ramdiskSize, 100_000);
  assert.equal(ram[bp.ramdiskImage], 7);
  assert.ok(bp.ramdiskImage >= 0x1003008 && bp.ramdiskImage + 100_000 <= memoryBytes - 0x10000);
  assert.equal(bp.acpiRsdpAddr, 0xf0000n);
  assert.equal(bp.sentinel, 0);
  const e820 = Array.from({ length: bp.e820Entries }, (_, i) => BootE820Entry.decode(bp.e820Table, i * 20)).map((e) => [Number(e.addr), Number(e.size), e.type]);
  assert.deepEqual(e820, [
    [0, 0x9f000, 1],
    [0x9f000, 0x61000, 2],
    [0x100000, memoryBytes - 0x10000 - 0x100000, 1],
    [memoryBytes - 0x10000, 0x10000, 2],
  ]);
  // GDT: __BOOT_CS = 0x10 (64-bit code), __BOOT_DS = 0x18.
  assert.equal(readU64(ram, LINUX64_GDT_GPA + LINUX64_CPU_STATE.csSelector), 0x00af9b000000ffffn);
  assert.equal(readU64(ram, LINUX64_GDT_GPA + LINUX64_CPU_STATE.dsSelector), 0x00cf93000000ffffn);
  // The identity map covers the kernel, boot_params and the top of the 4 GiB space.
  for (const va of [0x1000005, LINUX64_BOOT_PARAMS_GPA, memoryBytes - 1, 0xfee00000]) assert.equal(translate(ram, LINUX64_PML4_GPA, va), va);
  assert.match(img.description, /^Linux 64-bit boot ELF64 entry 0x1000005/);
});

test("type hvm copies a bzImage's setup header into boot_params and keeps the initrd out of init_size", () => {
  const p = join(dir, "vmlinuz");
  writeFileSync(p, makeBzImage(new Uint8Array(readFileSync(sample.elf64)), "gzip", { initSize: 0x3000000, kernelVersion: 0x1234 }));
  const memoryBytes = 64 * MiB;
  const img = loadKernel({ kernelPath: p, ramdiskPath, cmdline: "", memoryBytes, vcpus: 1, type: "hvm" });
  const bp = BootParams.decode(materialize(img, memoryBytes), LINUX64_BOOT_PARAMS_GPA);
  assert.equal(bp.version, 0x020f);
  assert.equal(bp.kernelVersion, 0x1234);
  assert.equal(bp.initSize, 0x3000000);
  assert.equal(bp.xloadflags, 0x03);
  assert.ok(bp.ramdiskImage >= 0x4000000 || bp.ramdiskImage + 100_000 <= 0x1000000);
  assert.match(img.description, /bzImage \(protocol 2.15\) → ELF64/);
});

test("type hvm refuses a 32-bit ELF and a bzImage without XLF_KERNEL_64", () => {
  assert.throws(() => loadKernel({ kernelPath: sample.elf32, cmdline: "", memoryBytes: 64 * MiB, vcpus: 1, type: "hvm" }), /type hvm boots a 64-bit Linux kernel/);
  const p = join(dir, "vmlinuz32");
  writeFileSync(p, makeBzImage(new Uint8Array(readFileSync(sample.elf64)), "gzip", { xloadflags: 0 }));
  assert.throws(() => loadKernel({ kernelPath: p, cmdline: "", memoryBytes: 64 * MiB, vcpus: 1, type: "hvm" }), /XLF_KERNEL_64 is not set/);
});

test("the identity page tables map 4 GiB with 2 MiB pages", () => {
  const t = buildIdentityPageTables();
  assert.equal(t.length, 6 * 4096);
  assert.equal(readU64(t, 0x2000 + 4 * 4096 - 8), 0xffe00000n | 0x83n);
});
