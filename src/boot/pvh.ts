// PVH direct boot (xen docs/misc/pvh.pandoc): place an ELF kernel at its p_paddr, build hvm_start_info,
// the memory map, the command line and module 0 (initrd), and enter at XEN_ELFNOTE_PHYS32_ENTRY in
// 32-bit flat protected mode with EBX = &hvm_start_info.
// Layout (xen-abi-on-kvm.md §4; all below the 64 KiB Linux reserves): start_info 0x6000, modlist 0x6040,
// memmap 0x6100, cmdline 0x7000 (up to 4 KiB); initrd as high as possible below the special pages.
import { formatBytes, hex } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";
import { HVM_START_INFO_VERSION, HvmMemmapTableEntry, HvmModlistEntry, HvmStartInfo, XEN_HVM_START_MAGIC_VALUE } from "../abi/boot/start_info.ts";
import type { BootImage } from "../hv/ports.ts";
import { encodeCmdline } from "./cmdline.ts";
import { guestE820, placeHigh, usableRamEnd } from "./e820.ts";
import { type ElfImage, elfExtent, xenNotes } from "./elf.ts";

export const PVH_START_INFO_GPA = 0x6000;
export const PVH_MODLIST_GPA = 0x6040;
export const PVH_MEMMAP_GPA = 0x6100;
export const PVH_CMDLINE_GPA = 0x7000;
export const PVH_CMDLINE_MAX_BYTES = 0x1000;
/** Memory below this is used by the loader's own structures: kernel segments must not go there. */
export const PVH_LOADER_AREA_END = 0x8000;

export interface PvhOptions {
  readonly kernel: ElfImage;
  readonly ramdisk?: Uint8Array;
  readonly cmdline: string;
  readonly memoryBytes: number;
  readonly rsdpPaddr?: number;
  /** For the description, e.g. "ELF64" or "bzImage → ELF64". */
  readonly kernelKind?: string;
}

type Region = { readonly gpa: number; readonly bytes: Uint8Array };

/** Regions for an ELF's loadable segments (file bytes, then zeroed bss). Checks they lie in usable RAM. */
export function elfRegions(kernel: ElfImage, ramEnd: number, lowestAllowed: number): Region[] {
  const regions: Region[] = [];
  for (const s of kernel.segments) {
    if (s.paddr < lowestAllowed) throw new BootError(`kernel segment at ${hex(s.paddr)} overlaps the loader area below ${hex(lowestAllowed)}`);
    if (s.paddr + s.memsz > ramEnd) {
      throw new BootError(`kernel segment ${hex(s.paddr)}-${hex(s.paddr + s.memsz)} lies above usable memory (${hex(ramEnd)})`);
    }
    if (s.data.length > 0) regions.push({ gpa: s.paddr, bytes: s.data });
    if (s.memsz > s.data.length) regions.push({ gpa: s.paddr + s.data.length, bytes: new Uint8Array(s.memsz - s.data.length) });
  }
  return regions;
}

export function buildPvhImage(opts: PvhOptions): BootImage {
  const notes = xenNotes(opts.kernel);
  if (notes.phys32Entry === undefined) throw new BootError("ELF file has no XEN_ELFNOTE_PHYS32_ENTRY note, so it cannot boot as PVH");
  const ramEnd = usableRamEnd(opts.memoryBytes);
  const map = guestE820(opts.memoryBytes, "pvh");
  const regions = elfRegions(opts.kernel, ramEnd, PVH_LOADER_AREA_END);
  const extent = elfExtent(opts.kernel);

  const cmdline = encodeCmdline(opts.cmdline, PVH_CMDLINE_MAX_BYTES);
  regions.push({ gpa: PVH_CMDLINE_GPA, bytes: cmdline });

  const memmap = new Uint8Array(map.length * HvmMemmapTableEntry.size);
  map.forEach((r, i) => HvmMemmapTableEntry.encode({ addr: BigInt(r.addr), size: BigInt(r.size), type: r.type, reserved: 0 }, memmap, i * HvmMemmapTableEntry.size));
  regions.push({ gpa: PVH_MEMMAP_GPA, bytes: memmap });

  let nrModules = 0;
  let initrdNote = "";
  if (opts.ramdisk !== undefined && opts.ramdisk.length > 0) {
    const at = placeHigh(opts.ramdisk.length, ramEnd, [extent], "initrd");
    regions.push({ gpa: at, bytes: opts.ramdisk });
    regions.push({ gpa: PVH_MODLIST_GPA, bytes: HvmModlistEntry.build({ paddr: BigInt(at), size: BigInt(opts.ramdisk.length), cmdlinePaddr: 0n, reserved: 0n }) });
    nrModules = 1;
    initrdNote = `, initrd ${formatBytes(opts.ramdisk.length)} at ${hex(at)}`;
  }

  regions.push({
    gpa: PVH_START_INFO_GPA,
    bytes: HvmStartInfo.build({
      magic: XEN_HVM_START_MAGIC_VALUE,
      version: HVM_START_INFO_VERSION,
      flags: 0,
      nrModules,
      modlistPaddr: nrModules ? BigInt(PVH_MODLIST_GPA) : 0n,
      cmdlinePaddr: BigInt(PVH_CMDLINE_GPA),
      rsdpPaddr: BigInt(opts.rsdpPaddr ?? 0),
      memmapPaddr: BigInt(PVH_MEMMAP_GPA),
      memmapEntries: map.length,
      reserved: 0,
    }),
  });

  const kind = opts.kernelKind ?? `ELF${opts.kernel.elfClass}`;
  return {
    regions,
    entry: { kind: "pvh32", entry: notes.phys32Entry, ebx: PVH_START_INFO_GPA },
    description: `PVH ${kind} entry ${hex(notes.phys32Entry)}, kernel ${hex(extent.start)}-${hex(extent.end)}${initrdNote}, start_info at ${hex(PVH_START_INFO_GPA)}`,
  };
}
