// Golden bytes for the boot ABI structs. Every hex string below is the output of
// test/golden/boot_structs.c compiled with gcc 12 on Debian 12: boot_params/boot_e820_entry from
// /usr/include/x86_64-linux-gnu/asm/bootparam.h (linux-libc-dev 6.1), ELF from glibc <elf.h>,
// hvm_start_info & co. transcribed from xen/include/public/arch-x86/hvm/start_info.h.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HvmMemmapTableEntry, HvmModlistEntry, HvmStartInfo } from "./start_info.ts";
import { BootE820Entry } from "./e820.ts";
import { BootParams, E820_TABLE_OFFSET, SETUP_HEADER_OFFSET } from "./boot_params.ts";
import { Elf32Ehdr, Elf32Phdr, Elf64Ehdr, Elf64Phdr, ElfNhdr } from "./elf.ts";

const fromHex = (h: string) => Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("hvm_start_info encodes to the C layout and decodes back", () => {
  const gold = "78c56e330100000002000000010000004060000000000000007000000000000000000e000000000000610000000000000300000000000000";
  const v = {
    magic: 0x336ec578, version: 1, flags: 2, nrModules: 1, modlistPaddr: 0x6040n, cmdlinePaddr: 0x7000n,
    rsdpPaddr: 0xe0000n, memmapPaddr: 0x6100n, memmapEntries: 3, reserved: 0,
  };
  assert.equal(HvmStartInfo.size, 56);
  assert.equal(toHex(HvmStartInfo.build(v)), gold);
  assert.deepEqual(HvmStartInfo.decode(fromHex(gold)), v);
});

test("hvm_modlist_entry and hvm_memmap_table_entry encode to the C layout", () => {
  const mod = { paddr: 0x0ffe0000n, size: 0x123456n, cmdlinePaddr: 0x7800n, reserved: 0n };
  assert.equal(toHex(HvmModlistEntry.build(mod)), "0000fe0f00000000563412000000000000780000000000000000000000000000");
  assert.deepEqual(HvmModlistEntry.decode(HvmModlistEntry.build(mod)), mod);
  const mm = { addr: 0x100000n, size: 0xfef0000n, type: 1, reserved: 0 };
  assert.equal(toHex(HvmMemmapTableEntry.build(mm)), "00001000000000000000ef0f000000000100000000000000");
  assert.deepEqual(HvmMemmapTableEntry.decode(HvmMemmapTableEntry.build(mm)), mm);
});

test("boot_e820_entry is packed to 20 bytes", () => {
  const e = { addr: 0x100000n, size: 0xfef0000n, type: 1 };
  assert.equal(toHex(BootE820Entry.build(e)), "00001000000000000000ef0f0000000001000000");
  assert.deepEqual(BootE820Entry.decode(BootE820Entry.build(e)), e);
});

test("boot_params places every written field at the offset bootparam.h gives", () => {
  // Non-zero bytes of the C struct as offset:value (hdr at 0x1f1, e820_table at 0x2d0, e820_entries at 0x1e8, acpi_rsdp_addr at 0x70).
  const gold =
    "72:0e,c0:01,c4:02,c8:03,1e8:05,1f1:27,1fe:55,1ff:aa,202:48,203:64,204:72,205:53,206:0f,207:02,210:ff,211:81,21a:fe,21b:0f," +
    "21c:56,21d:34,21e:12,22a:02,22c:ff,22d:ff,22e:ff,22f:7f,232:20,236:7f,238:ff,239:07,248:cc,249:02,24c:b4,24d:94,24e:7b," +
    "25b:01,261:70,262:f9,263:03,268:77,2e6:10,2ee:ef,2ef:0f,2f4:01";
  const e820 = new Uint8Array(128 * 20);
  BootE820Entry.encode({ addr: 0x100000n, size: 0xfef0000n, type: 1 }, e820, 20);
  const v = {
    acpiRsdpAddr: 0xe0000n, extRamdiskImage: 1, extRamdiskSize: 2, extCmdLinePtr: 3, e820Entries: 5, sentinel: 0,
    setupSects: 39, bootFlag: 0xaa55, header: 0x53726448, version: 0x20f, typeOfLoader: 0xff, loadflags: 0x81,
    ramdiskImage: 0x0ffe0000, ramdiskSize: 0x123456, cmdLinePtr: 0x20000, initrdAddrMax: 0x7fffffff,
    kernelAlignment: 0x200000, xloadflags: 0x7f, cmdlineSize: 2047, payloadOffset: 0x2cc, payloadLength: 0x7b94b4,
    prefAddress: 0x1000000n, initSize: 0x3f97000, kernelInfoOffset: 0x77, e820Table: e820,
  };
  const bytes = BootParams.build(v);
  assert.equal(bytes.length, 4096);
  const nonZero: string[] = [];
  bytes.forEach((b, i) => { if (b) nonZero.push(`${i.toString(16)}:${b.toString(16).padStart(2, "0")}`); });
  assert.equal(nonZero.join(","), gold);
  const back = BootParams.decode(bytes);
  for (const [k, want] of Object.entries(v)) assert.deepEqual(back[k as keyof typeof back], want, k);
  assert.equal(SETUP_HEADER_OFFSET, 497);
  assert.equal(E820_TABLE_OFFSET, 720);
});

test("ELF64 and ELF32 headers, program headers and note headers match glibc's elf.h", () => {
  const eh64 = "7f454c4602010100000000000000000002003e0001000000000000010000000040000000000000003000e0030000000000000000400038000500400027002600";
  const d64 = Elf64Ehdr.decode(fromHex(eh64));
  assert.equal(d64.machine, 62);
  assert.equal(d64.entry, 0x1000000n);
  assert.equal(d64.phnum, 5);
  assert.equal(toHex(Elf64Ehdr.build(d64)), eh64);
  const eh32 = "7f454c4601010100000000000000000002003e000100000000001000340000003412000000000000340020000200280007000600";
  const d32 = Elf32Ehdr.decode(fromHex(eh32));
  assert.deepEqual([d32.machine, d32.entry, d32.phoff, d32.phnum, d32.shstrndx], [62, 0x100000, 52, 2, 6]);
  assert.equal(toHex(Elf32Ehdr.build(d32)), eh32);
  const ph64 = "0100000005000000000020000000000000000081ffffffff000000010000000098648e010000000098648e01000000000000200000000000";
  const p64 = Elf64Phdr.decode(fromHex(ph64));
  assert.deepEqual(p64, { type: 1, flags: 5, offset: 0x200000n, vaddr: 0xffffffff81000000n, paddr: 0x1000000n, filesz: 0x18e6498n, memsz: 0x18e6498n, align: 0x200000n });
  assert.equal(toHex(Elf64Phdr.build(p64)), ph64);
  const ph32 = "0100000000100000000010000000100034020000001000000700000000100000";
  const p32 = Elf32Phdr.decode(fromHex(ph32));
  assert.deepEqual(p32, { type: 1, offset: 0x1000, vaddr: 0x100000, paddr: 0x100000, filesz: 0x234, memsz: 0x1000, flags: 7, align: 0x1000 });
  assert.equal(toHex(Elf32Phdr.build(p32)), ph32);
  assert.equal(toHex(ElfNhdr.build({ namesz: 4, descsz: 8, type: 18 })), "040000000800000012000000");
});
