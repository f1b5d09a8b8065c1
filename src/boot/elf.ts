// ELF32/ELF64 kernel image parser for the boot loaders: PT_LOAD segments (placed by p_paddr) and PT_NOTE notes.
// Follows the System V gABI; accepts EM_X86_64 or EM_386 in either class (Xen's PVH test kernels are
// ELF32 files with machine EM_X86_64, like Xen's own libelf accepts).
import { readCString, readU16, readU32, readU64, readU8 } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";
import {
  ELF_MAGIC, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, EM_386, EM_X86_64, Elf32Ehdr, Elf32Phdr, Elf64Ehdr, Elf64Phdr, PT_LOAD, PT_NOTE,
} from "../abi/boot/elf.ts";
import { XEN_ELFNOTE_OWNER, XenElfNote } from "../abi/boot/xen_elfnote.ts";

export interface ElfSegment {
  /** Guest-physical load address (p_paddr). */
  readonly paddr: number;
  readonly vaddr: bigint;
  /** The file bytes of the segment (a view into the file, p_filesz long). */
  readonly data: Uint8Array;
  /** p_memsz: bytes from data.length to memsz are zero (bss). */
  readonly memsz: number;
  readonly flags: number;
}

export interface ElfNote {
  readonly owner: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

export interface ElfImage {
  readonly elfClass: 32 | 64;
  readonly machine: number;
  readonly entry: bigint;
  readonly segments: readonly ElfSegment[];
  readonly notes: readonly ElfNote[];
}

/** Values of the Xen notes a loader uses (numbers decoded, strings NUL-stripped). */
export interface XenNotes {
  readonly phys32Entry?: number;
  readonly guestOs?: string;
  readonly xenVersion?: string;
  readonly loader?: string;
  readonly features?: string;
  readonly virtBase?: bigint;
  readonly entry?: bigint;
  readonly hypercallPage?: bigint;
  readonly supportedFeatures?: number;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export function isElf(file: Uint8Array): boolean {
  return file.length >= 4 && readU32(file, 0) === ELF_MAGIC;
}

function toNumber(v: bigint, what: string): number {
  if (v > BigInt(MAX_SAFE)) throw new BootError(`ELF ${what} 0x${v.toString(16)} is too large`);
  return Number(v);
}

/** Parses an ELF executable; throws BootError on anything malformed. */
export function parseElf(file: Uint8Array): ElfImage {
  if (file.length < 16 || readU32(file, 0) !== ELF_MAGIC) throw new BootError("not an ELF file");
  const cls = readU8(file, 4);
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw new BootError(`unknown ELF class ${cls}`);
  if (readU8(file, 5) !== ELFDATA2LSB) throw new BootError("ELF file is not little-endian");
  const is64 = cls === ELFCLASS64;
  const ehdrSize = is64 ? Elf64Ehdr.size : Elf32Ehdr.size;
  if (file.length < ehdrSize) throw new BootError("ELF header is truncated");
  const machine = readU16(file, 18);
  if (machine !== EM_X86_64 && machine !== EM_386) throw new BootError(`ELF machine ${machine} is not x86`);
  const eh = is64 ? Elf64Ehdr.decode(file) : Elf32Ehdr.decode(file);
  const entry = BigInt(eh.entry);
  const phoff = is64 ? toNumber(eh.phoff as bigint, "program header offset") : (eh.phoff as number);
  const phentsize = eh.phentsize;
  const phnum = eh.phnum;
  const phStruct = is64 ? Elf64Phdr : Elf32Phdr;
  if (phnum === 0) throw new BootError("ELF file has no program headers");
  if (phentsize < phStruct.size) throw new BootError(`ELF program header size ${phentsize} is too small`);
  if (phoff + phnum * phentsize > file.length) throw new BootError("ELF program headers lie outside the file");

  const segments: ElfSegment[] = [];
  const notes: ElfNote[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = readU32(file, at);
    if (type !== PT_LOAD && type !== PT_NOTE) continue;
    const ph = phStruct.decode(file, at);
    const offset = toNumber(BigInt(ph.offset), "segment offset");
    const filesz = toNumber(BigInt(ph.filesz), "segment file size");
    const memsz = toNumber(BigInt(ph.memsz), "segment memory size");
    if (offset + filesz > file.length) throw new BootError(`ELF segment ${i} lies outside the file`);
    if (type === PT_NOTE) {
      notes.push(...parseNotes(file.subarray(offset, offset + filesz)));
      continue;
    }
    if (memsz === 0) continue;
    if (filesz > memsz) throw new BootError(`ELF segment ${i} has file size 0x${filesz.toString(16)} above its memory size`);
    const paddr = toNumber(BigInt(ph.paddr), "segment physical address");
    if (paddr + memsz > MAX_SAFE) throw new BootError(`ELF segment ${i} ends above the address space`);
    segments.push({ paddr, vaddr: BigInt(ph.vaddr), data: file.subarray(offset, offset + filesz), memsz, flags: ph.flags });
  }
  if (segments.length === 0) throw new BootError("ELF file has no loadable segments");
  return { elfClass: is64 ? 64 : 32, machine, entry, segments, notes };
}

/** Splits a PT_NOTE segment into notes (name and desc each padded to 4 bytes). */
export function parseNotes(bytes: Uint8Array): ElfNote[] {
  const out: ElfNote[] = [];
  let at = 0;
  while (at + 12 <= bytes.length) {
    const namesz = readU32(bytes, at);
    const descsz = readU32(bytes, at + 4);
    const type = readU32(bytes, at + 8);
    const nameAt = at + 12;
    const descAt = nameAt + ((namesz + 3) & ~3);
    const next = descAt + ((descsz + 3) & ~3);
    if (namesz > bytes.length || descsz > bytes.length || descAt + descsz > bytes.length) {
      throw new BootError("ELF note runs past the end of its segment");
    }
    out.push({ owner: readCString(bytes, nameAt, namesz), type, desc: bytes.subarray(descAt, descAt + descsz) });
    at = next;
  }
  return out;
}

function noteNumber(desc: Uint8Array): bigint {
  switch (desc.length) {
    case 1:
      return BigInt(desc[0]!);
    case 2:
      return BigInt(readU16(desc, 0));
    case 4:
      return BigInt(readU32(desc, 0));
    case 8:
      return readU64(desc, 0);
    default:
      throw new BootError(`Xen ELF note with a ${desc.length}-byte number`);
  }
}

/** The Xen notes (owner "Xen") of an image. */
export function xenNotes(elf: ElfImage): XenNotes {
  const out: { -readonly [K in keyof XenNotes]: XenNotes[K] } = {};
  for (const n of elf.notes) {
    if (n.owner !== XEN_ELFNOTE_OWNER) continue;
    const str = () => readCString(n.desc, 0, n.desc.length);
    switch (n.type) {
      case XenElfNote.PHYS32_ENTRY: {
        const v = noteNumber(n.desc);
        if (v > 0xffffffffn) throw new BootError(`PVH entry 0x${v.toString(16)} is above 4 GiB`);
        out.phys32Entry = Number(v);
        break;
      }
      case XenElfNote.GUEST_OS:
        out.guestOs = str();
        break;
      case XenElfNote.XEN_VERSION:
        out.xenVersion = str();
        break;
      case XenElfNote.LOADER:
        out.loader = str();
        break;
      case XenElfNote.FEATURES:
        out.features = str();
        break;
      case XenElfNote.VIRT_BASE:
        out.virtBase = noteNumber(n.desc);
        break;
      case XenElfNote.ENTRY:
        out.entry = noteNumber(n.desc);
        break;
      case XenElfNote.HYPERCALL_PAGE:
        out.hypercallPage = noteNumber(n.desc);
        break;
      case XenElfNote.SUPPORTED_FEATURES:
        out.supportedFeatures = Number(noteNumber(n.desc) & 0xffffffffn);
        break;
    }
  }
  return out;
}

/** Lowest paddr and highest paddr+memsz over the loadable segments. */
export function elfExtent(elf: ElfImage): { start: number; end: number } {
  let start = Infinity;
  let end = 0;
  for (const s of elf.segments) {
    start = Math.min(start, s.paddr);
    end = Math.max(end, s.paddr + s.memsz);
  }
  return { start, end };
}
