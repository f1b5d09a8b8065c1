// PVH start-of-day structures, as in xen/include/public/arch-x86/hvm/start_info.h (version 1).
// The loader fills them in guest RAM; the kernel's PVH entry gets the hvm_start_info address in EBX.
import { defineStruct, u32, u64 } from "../../base/struct.ts";

export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;
/** Version 1 adds memmap_paddr/memmap_entries. */
export const HVM_START_INFO_VERSION = 1;

/** SIF_* flags in hvm_start_info.flags (xen/include/public/xen.h). */
export const SIF_PRIVILEGED = 1 << 0;
export const SIF_INITDOMAIN = 1 << 1;

/** struct hvm_start_info: all fields IN (written by the domain builder, read by the guest). */
export const HvmStartInfo = defineStruct("hvm_start_info", 56, {
  magic: u32(0), //            XEN_HVM_START_MAGIC_VALUE
  version: u32(4), //          1
  flags: u32(8), //            SIF_*
  nrModules: u32(12), //       entries at modlist_paddr
  modlistPaddr: u64(16), //    hvm_modlist_entry[nr_modules]
  cmdlinePaddr: u64(24), //    NUL-terminated command line, 0 = none
  rsdpPaddr: u64(32), //       ACPI RSDP, 0 = none
  memmapPaddr: u64(40), //     hvm_memmap_table_entry[memmap_entries] (version >= 1)
  memmapEntries: u32(48),
  reserved: u32(52), //        must be zero
});

/** struct hvm_modlist_entry: module 0 is the initrd for Linux. */
export const HvmModlistEntry = defineStruct("hvm_modlist_entry", 32, {
  paddr: u64(0),
  size: u64(8),
  cmdlinePaddr: u64(16), //    0 = none
  reserved: u64(24),
});

/** struct hvm_memmap_table_entry: an e820-style range; type is XEN_HVM_MEMMAP_TYPE_* (same values as E820). */
export const HvmMemmapTableEntry = defineStruct("hvm_memmap_table_entry", 24, {
  addr: u64(0),
  size: u64(8),
  type: u32(16),
  reserved: u32(20),
});
