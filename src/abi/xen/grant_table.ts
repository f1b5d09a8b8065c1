// Grant-table hypercall ABI (v1): GNTTABOP_* numbers, grant_entry_v1 flags, argument structs and GNTST_* status
// codes. Follows xen/include/public/grant_table.h (x86_64: xen_pfn_t and guest handles are 8 bytes).
import { defineStruct, u16, u32, u64 } from "../../base/struct.ts";

export const GnttabOp = {
  map_grant_ref: 0,
  unmap_grant_ref: 1,
  setup_table: 2,
  dump_table: 3,
  transfer: 4,
  copy: 5,
  query_size: 6,
  unmap_and_replace: 7,
  set_version: 8,
  get_status_frames: 9,
  get_version: 10,
  swap_grant_ref: 11,
  cache_flush: 12,
} as const;

/** struct grant_entry_v1 (8 bytes): flags u16 (GTF_*), domid u16 (who may use it), frame u32 (granter's gfn). */
export const GrantEntryV1 = defineStruct("grant_entry_v1", 8, {
  flags: u16(0),
  domid: u16(2),
  frame: u32(4),
});
export const GRANT_ENTRY_V1_SIZE = 8;
export const GRANT_ENTRIES_V1_PER_FRAME = 512;

export const GNTTAB_NR_RESERVED_ENTRIES = 8;
export const GNTTAB_RESERVED_CONSOLE = 0;
export const GNTTAB_RESERVED_XENSTORE = 1;

/** GTF_* bits of grant_entry flags. Type in bits 0-1. */
export const Gtf = {
  invalid: 0,
  permit_access: 1,
  accept_transfer: 2,
  transitive: 3,
  type_mask: 3,
  readonly: 1 << 2,
  reading: 1 << 3, // set by Xen while mapped / copied
  writing: 1 << 4, // set by Xen while mapped writable
  PWT: 1 << 5,
  PCD: 1 << 6,
  PAT: 1 << 7,
  sub_page: 1 << 8,
  transfer_committed: 1 << 2,
  transfer_completed: 1 << 3,
} as const;

/** GNTMAP_* flags of map_grant_ref. */
export const Gntmap = {
  device_map: 1 << 0,
  host_map: 1 << 1,
  readonly: 1 << 2,
  application_map: 1 << 3,
  contains_pte: 1 << 4,
} as const;

/** GNTCOPY_* flags of gnttab_copy. */
export const Gntcopy = {
  source_gref: 1 << 0,
  dest_gref: 1 << 1,
} as const;

/** enum grant_status: per-op status codes (int16 in the structs). */
export const Gntst = {
  okay: 0,
  general_error: -1,
  bad_domain: -2,
  bad_gntref: -3,
  bad_handle: -4,
  bad_virt_addr: -5,
  bad_dev_addr: -6,
  no_device_space: -7,
  permission_denied: -8,
  bad_page: -9,
  bad_copy_arg: -10,
  address_too_big: -11,
  eagain: -12,
  no_space: -13,
} as const;

/** int16 status as the struct's u16 field holds it. */
export function gntstToU16(status: number): number {
  return status & 0xffff;
}
/** u16 field value back to the signed status. */
export function u16ToGntst(value: number): number {
  return (value << 16) >> 16;
}

/** struct gnttab_map_grant_ref: IN host_addr, flags, ref, dom; OUT status (i16), handle, dev_bus_addr. */
export const GnttabMapGrantRef = defineStruct("gnttab_map_grant_ref", 32, {
  hostAddr: u64(0),
  flags: u32(8),
  ref: u32(12),
  dom: u16(16),
  status: u16(18),
  handle: u32(20),
  devBusAddr: u64(24),
});

/** struct gnttab_unmap_grant_ref: IN host_addr, dev_bus_addr, handle; OUT status (i16). */
export const GnttabUnmapGrantRef = defineStruct("gnttab_unmap_grant_ref", 24, {
  hostAddr: u64(0),
  devBusAddr: u64(8),
  handle: u32(16),
  status: u16(20),
});

/** struct gnttab_setup_table: IN dom, nr_frames, frame_list (handle to xen_pfn_t[]); OUT status (i16). */
export const GnttabSetupTable = defineStruct("gnttab_setup_table", 24, {
  dom: u16(0),
  nrFrames: u32(4),
  status: u16(8),
  frameList: u64(16),
});

/** struct gnttab_copy_ptr inside gnttab_copy: union { ref u32; gmfn xen_pfn_t } u; domid u16; offset u16. */
export const GNTTAB_COPY_PTR_SIZE = 16;

/** struct gnttab_copy (40 bytes): IN source, dest, len, flags; OUT status (i16). */
export const GnttabCopy = defineStruct("gnttab_copy", 40, {
  sourceU: u64(0), // ref (low 32 bits) or gmfn
  sourceDomid: u16(8),
  sourceOffset: u16(10),
  destU: u64(16),
  destDomid: u16(24),
  destOffset: u16(26),
  len: u16(32),
  flags: u16(34),
  status: u16(36),
});

/** struct gnttab_query_size: IN dom; OUT nr_frames, max_nr_frames, status (i16). */
export const GnttabQuerySize = defineStruct("gnttab_query_size", 16, {
  dom: u16(0),
  nrFrames: u32(4),
  maxNrFrames: u32(8),
  status: u16(12),
});

/** struct gnttab_set_version: IN/OUT version. */
export const GnttabSetVersion = defineStruct("gnttab_set_version", 4, {
  version: u32(0),
});

/** struct gnttab_get_version: IN dom; OUT version. */
export const GnttabGetVersion = defineStruct("gnttab_get_version", 8, {
  dom: u16(0),
  pad: u16(2),
  version: u32(4),
});

/** struct gnttab_get_status_frames: IN nr_frames, dom; OUT status (i16), frame_list. */
export const GnttabGetStatusFrames = defineStruct("gnttab_get_status_frames", 16, {
  nrFrames: u32(0),
  dom: u16(4),
  status: u16(6),
  frameList: u64(8),
});

/** struct gnttab_dump_table: IN dom; OUT status. */
export const GnttabDumpTable = defineStruct("gnttab_dump_table", 4, {
  dom: u16(0),
  status: u16(2),
});
