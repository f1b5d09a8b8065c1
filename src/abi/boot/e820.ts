// e820 memory-map entry types and layout (arch/x86/include/uapi/asm/bootparam.h struct boot_e820_entry;
// the PVH memmap uses the same type values as XEN_HVM_MEMMAP_TYPE_*).
import { defineStruct, u32, u64 } from "../../base/struct.ts";

export const E820Type = {
  ram: 1,
  reserved: 2,
  acpi: 3,
  nvs: 4,
  unusable: 5,
  disabled: 6,
  pmem: 7,
} as const;
export type E820Type = (typeof E820Type)[keyof typeof E820Type];

/** struct boot_e820_entry (packed, 20 bytes). */
export const BootE820Entry = defineStruct("boot_e820_entry", 20, {
  addr: u64(0),
  size: u64(8),
  type: u32(16),
});

/** Entries that fit in boot_params.e820_table. */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;
