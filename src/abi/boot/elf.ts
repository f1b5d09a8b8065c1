// ELF file structures used by the boot loaders: headers, program headers and note headers,
// as in the System V gABI / Linux include/uapi/linux/elf.h (Elf32_* and Elf64_*, little-endian).
import { bytes, defineStruct, u16, u32, u64, u8 } from "../../base/struct.ts";

export const ELF_MAGIC = 0x464c457f; // "\x7fELF" read as a little-endian u32
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_386 = 3;
export const EM_X86_64 = 62;
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** e_ident: the first 16 bytes, common to both classes. */
export const ElfIdent = defineStruct("e_ident", 16, {
  magic: u32(0),
  class: u8(4),
  data: u8(5),
  version: u8(6),
  osabi: u8(7),
  abiversion: u8(8),
  pad: bytes(9, 7),
});

export const Elf32Ehdr = defineStruct("Elf32_Ehdr", 52, {
  ident: bytes(0, 16),
  type: u16(16),
  machine: u16(18),
  version: u32(20),
  entry: u32(24),
  phoff: u32(28),
  shoff: u32(32),
  flags: u32(36),
  ehsize: u16(40),
  phentsize: u16(42),
  phnum: u16(44),
  shentsize: u16(46),
  shnum: u16(48),
  shstrndx: u16(50),
});

export const Elf64Ehdr = defineStruct("Elf64_Ehdr", 64, {
  ident: bytes(0, 16),
  type: u16(16),
  machine: u16(18),
  version: u32(20),
  entry: u64(24),
  phoff: u64(32),
  shoff: u64(40),
  flags: u32(48),
  ehsize: u16(52),
  phentsize: u16(54),
  phnum: u16(56),
  shentsize: u16(58),
  shnum: u16(60),
  shstrndx: u16(62),
});

export const Elf32Phdr = defineStruct("Elf32_Phdr", 32, {
  type: u32(0),
  offset: u32(4),
  vaddr: u32(8),
  paddr: u32(12),
  filesz: u32(16),
  memsz: u32(20),
  flags: u32(24),
  align: u32(28),
});

export const Elf64Phdr = defineStruct("Elf64_Phdr", 56, {
  type: u32(0),
  flags: u32(4),
  offset: u64(8),
  vaddr: u64(16),
  paddr: u64(24),
  filesz: u64(32),
  memsz: u64(40),
  align: u64(48),
});

/** Elf32_Nhdr and Elf64_Nhdr are the same 12 bytes; name and desc follow, each padded to 4 bytes. */
export const ElfNhdr = defineStruct("Elf_Nhdr", 12, {
  namesz: u32(0),
  descsz: u32(4),
  type: u32(8),
});
