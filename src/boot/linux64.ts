// Linux x86 64-bit boot protocol direct entry (Documentation/x86/boot.rst "64-bit Boot Protocol"), as
// Firecracker and Xen's HVM direct boot do: the decompressed vmlinux ELF is placed at its p_paddr, the
// loader builds boot_params (setup header copied from the bzImage), an identity map and a GDT, and the
// CPU starts in long mode at startup_64 (the vmlinux e_entry, a physical address) with RSI = &boot_params.
//
// Low-memory layout (all in the RAM below 0x9f000; the kernel copies boot_params and the command line
// early and builds its own page tables, so these pages are free again once it runs):
//   0x0500  GDT: 0x10 = 64-bit code (__BOOT_CS), 0x18 = data (__BOOT_DS), 0x20 = 64-bit TSS (busy, base 0, limit 0x67)
//   0x7000  boot_params (zero page)
//   0x9000  PML4, 0xa000 PDPT, 0xb000-0xefff four page directories: 2 MiB pages identity-mapping 0-4 GiB
//   0x20000 command line (cmdline_size + 1 bytes at most)
import { formatBytes, hex, writeU32, writeU64 } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";
import {
  BOOT_FLAG_MAGIC, BootParams, HDRS_MAGIC, LOADED_HIGH, LOADER_TYPE_UNDEFINED, SETUP_HEADER_OFFSET, XLF_CAN_BE_LOADED_ABOVE_4G, XLF_KERNEL_64,
} from "../abi/boot/boot_params.ts";
import { BootE820Entry, E820_MAX_ENTRIES_ZEROPAGE } from "../abi/boot/e820.ts";
import type { BootImage } from "../hv/ports.ts";
import type { BzImage } from "./bzimage.ts";
import { encodeCmdline } from "./cmdline.ts";
import { guestE820, placeHigh, usableRamEnd, type Span } from "./e820.ts";
import { type ElfImage, elfExtent } from "./elf.ts";
import { elfRegions } from "./pvh.ts";

export const LINUX64_GDT_GPA = 0x500;
export const LINUX64_BOOT_PARAMS_GPA = 0x7000;
export const LINUX64_PML4_GPA = 0x9000;
export const LINUX64_PDPT_GPA = 0xa000;
export const LINUX64_PD_GPA = 0xb000;
export const LINUX64_CMDLINE_GPA = 0x20000;
/** Identity-mapped range (2 MiB pages), enough for all RAM (at most 3.75 GiB) and the MMIO window. */
export const LINUX64_IDENTITY_MAP_BYTES = 4 * 1024 * 1024 * 1024;
/** Lowest address a kernel segment may use (above the loader's structures and the command line). */
export const LINUX64_LOADER_AREA_END = 0x21000;

/** Register state the backend sets with BootEntry "linux64" (besides RIP = entry, RSI, CR3, GDTR base). */
export const LINUX64_CPU_STATE = {
  gdtLimit: 6 * 8 - 1,
  /** PE | ET | PG */
  cr0: 0x8000_0011,
  /** PAE */
  cr4: 0x20,
  /** LME | LMA */
  efer: 0x500,
  csSelector: 0x10, //  64-bit code: base 0, limit 0xfffff pages, type 0xb, S, P, L, G
  dsSelector: 0x18, //  DS/ES/SS/FS/GS: flat data, type 3, S, P, DB, G
  trSelector: 0x20, //  64-bit TSS (busy, type 0xb), base 0, limit 0x67
  rflags: 0x2,
} as const;

export interface Linux64Options {
  /** The decompressed vmlinux (ELF64). */
  readonly kernel: ElfImage;
  /** The bzImage it came from (its setup header is copied); undefined when a plain vmlinux was given. */
  readonly bzImage?: BzImage;
  readonly ramdisk?: Uint8Array;
  readonly cmdline: string;
  readonly memoryBytes: number;
  readonly rsdpPaddr?: number;
}

/** GDT entries as the 64-bit boot protocol needs them (selectors in LINUX64_CPU_STATE). */
export function buildGdt(): Uint8Array {
  const gdt = new Uint8Array(6 * 8);
  writeU64(gdt, 0x10, 0x00af_9b00_0000_ffffn); // code64
  writeU64(gdt, 0x18, 0x00cf_9300_0000_ffffn); // data
  writeU64(gdt, 0x20, 0x0000_8b00_0000_0067n); // TSS, busy, base 0, limit 0x67 (upper 8 bytes at 0x28 = 0)
  return gdt;
}

/** PML4 + PDPT + 4 PDs identity-mapping [0, 4 GiB) with 2 MiB pages, laid out from LINUX64_PML4_GPA. */
export function buildIdentityPageTables(): Uint8Array {
  const pdCount = LINUX64_IDENTITY_MAP_BYTES / (1 << 30);
  const tables = new Uint8Array((2 + pdCount) * 4096);
  const PRESENT_RW = 0x3;
  const PS = 0x80;
  writeU64(tables, 0, LINUX64_PDPT_GPA | PRESENT_RW);
  for (let i = 0; i < pdCount; i++) {
    writeU64(tables, 0x1000 + i * 8, (LINUX64_PD_GPA + i * 0x1000) | PRESENT_RW);
    for (let j = 0; j < 512; j++) {
      const addr = (i * 512 + j) * 0x20_0000;
      writeU64(tables, 0x2000 + i * 0x1000 + j * 8, addr + (PRESENT_RW | PS));
    }
  }
  return tables;
}

/** A setup header for a plain vmlinux (no bzImage): protocol 2.15 values a loader would find. */
function defaultSetupHeader(): Uint8Array {
  const bp = BootParams.build({
    bootFlag: BOOT_FLAG_MAGIC,
    header: HDRS_MAGIC,
    version: 0x020f,
    loadflags: LOADED_HIGH,
    kernelAlignment: 0x20_0000,
    relocatableKernel: 1,
    initrdAddrMax: 0x7fff_ffff,
    cmdlineSize: 2047,
    xloadflags: XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
    vidMode: 0xffff,
  });
  return bp.subarray(SETUP_HEADER_OFFSET, 0x26c);
}

/** The 64-bit entry's physical address: e_entry, translated through the segments if it is virtual. */
export function physicalEntry(kernel: ElfImage): number {
  const e = kernel.entry;
  for (const s of kernel.segments) {
    if (e >= BigInt(s.paddr) && e < BigInt(s.paddr + s.memsz)) return Number(e);
  }
  for (const s of kernel.segments) {
    if (e >= s.vaddr && e < s.vaddr + BigInt(s.memsz)) return s.paddr + Number(e - s.vaddr);
  }
  throw new BootError(`ELF entry ${hex(e)} is not inside a loadable segment`);
}

export function buildLinux64Image(opts: Linux64Options): BootImage {
  const { kernel, bzImage } = opts;
  if (kernel.elfClass !== 64) throw new BootError("type hvm boots a 64-bit Linux kernel, but the ELF file is 32-bit");
  if (bzImage !== undefined && (bzImage.xloadflags & XLF_KERNEL_64) === 0) {
    throw new BootError("bzImage does not support the 64-bit boot protocol (XLF_KERNEL_64 is not set)");
  }
  const ramEnd = usableRamEnd(opts.memoryBytes);
  const regions = elfRegions(kernel, ramEnd, LINUX64_LOADER_AREA_END);
  const entry = physicalEntry(kernel);
  const extent = elfExtent(kernel);
  const occupied: Span[] = [extent];
  if (bzImage !== undefined && bzImage.prefAddress < 0x1_0000_0000n) {
    // The kernel treats [pref_address, pref_address + init_size) as its own during early boot.
    const start = Number(bzImage.prefAddress);
    occupied.push({ start, end: start + bzImage.initSize });
  }

  const header = bzImage?.setupHeader ?? defaultSetupHeader();
  const bp = new Uint8Array(4096);
  bp.set(header, SETUP_HEADER_OFFSET);
  const hdr = BootParams.decode(bp);
  const cmdlineMax = Math.max(256, Math.min(hdr.cmdlineSize || 255, 0x10000 - 1) + 1);
  const cmdline = encodeCmdline(opts.cmdline, cmdlineMax);

  const map = guestE820(opts.memoryBytes, "linux");
  if (map.length > E820_MAX_ENTRIES_ZEROPAGE) throw new BootError("memory map has too many entries");
  const e820 = new Uint8Array(E820_MAX_ENTRIES_ZEROPAGE * BootE820Entry.size);
  map.forEach((r, i) => BootE820Entry.encode({ addr: BigInt(r.addr), size: BigInt(r.size), type: r.type }, e820, i * BootE820Entry.size));

  let ramdiskImage = 0;
  let ramdiskSize = 0;
  let initrdNote = "";
  if (opts.ramdisk !== undefined && opts.ramdisk.length > 0) {
    const limit = Math.min(ramEnd, (hdr.initrdAddrMax || 0x37ff_ffff) + 1);
    ramdiskImage = placeHigh(opts.ramdisk.length, limit, occupied, "initrd");
    ramdiskSize = opts.ramdisk.length;
    regions.push({ gpa: ramdiskImage, bytes: opts.ramdisk });
    initrdNote = `, initrd ${formatBytes(ramdiskSize)} at ${hex(ramdiskImage)}`;
  }

  BootParams.encode(
    {
      typeOfLoader: LOADER_TYPE_UNDEFINED,
      loadflags: hdr.loadflags | LOADED_HIGH,
      cmdLinePtr: LINUX64_CMDLINE_GPA,
      extCmdLinePtr: 0,
      ramdiskImage: ramdiskImage >>> 0,
      ramdiskSize: ramdiskSize >>> 0,
      extRamdiskImage: Math.floor(ramdiskImage / 0x1_0000_0000),
      extRamdiskSize: Math.floor(ramdiskSize / 0x1_0000_0000),
      e820Entries: map.length,
      e820Table: e820,
      acpiRsdpAddr: BigInt(opts.rsdpPaddr ?? 0),
      sentinel: 0,
    },
    bp,
  );
  // The kernel reads alt_mem_k only without an e820 map; fill it anyway (KiB above 1 MiB).
  writeU32(bp, 0x1e0, Math.floor((ramEnd - 0x100000) / 1024));

  regions.push({ gpa: LINUX64_GDT_GPA, bytes: buildGdt() });
  regions.push({ gpa: LINUX64_BOOT_PARAMS_GPA, bytes: bp });
  regions.push({ gpa: LINUX64_PML4_GPA, bytes: buildIdentityPageTables() });
  regions.push({ gpa: LINUX64_CMDLINE_GPA, bytes: cmdline });

  const kind = bzImage !== undefined ? `bzImage (protocol ${hdr.version >> 8}.${(hdr.version & 0xff).toString().padStart(2, "0")}) → ELF64` : "ELF64";
  return {
    regions,
    entry: { kind: "linux64", entry: BigInt(entry), rsi: LINUX64_BOOT_PARAMS_GPA, cr3: LINUX64_PML4_GPA, gdtBase: LINUX64_GDT_GPA },
    description: `Linux 64-bit boot ${kind} entry ${hex(entry)}, kernel ${hex(extent.start)}-${hex(extent.end)}${initrdNote}, boot_params at ${hex(LINUX64_BOOT_PARAMS_GPA)}`,
  };
}
