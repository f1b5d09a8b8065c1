// memory_op hypercall ABI: XENMEM_* numbers, XENMAPSPACE_*, argument structs. Follows xen/include/public/memory.h
// (x86_64: xen_pfn_t, xen_ulong_t and guest handles are 8 bytes).
import { defineStruct, u16, u32, u64 } from "../../base/struct.ts";

export const XenMem = {
  increase_reservation: 0,
  decrease_reservation: 1,
  maximum_ram_page: 2,
  current_reservation: 3,
  maximum_reservation: 4,
  machphys_mfn_list: 5,
  populate_physmap: 6,
  add_to_physmap: 7,
  memory_map: 9,
  machine_memory_map: 10,
  exchange: 11,
  machphys_mapping: 12,
  set_memory_map: 13,
  maximum_gpfn: 14,
  remove_from_physmap: 15,
  set_pod_target: 16,
  get_pod_target: 17,
  add_to_physmap_batch: 23,
  claim_pages: 24,
  get_vnumainfo: 26,
  reserved_device_memory_map: 27,
  acquire_resource: 28,
} as const;

/** The sub-op number is the low bits of cmd; the rest carries a continuation start extent. */
export const MEMOP_EXTENT_SHIFT = 6;
export const MEMOP_CMD_MASK = (1 << MEMOP_EXTENT_SHIFT) - 1;

export const XenMapSpace = {
  shared_info: 0,
  grant_table: 1,
  gmfn: 2,
  gmfn_range: 3,
  gmfn_foreign: 4,
  dev_mmio: 5,
} as const;

/** idx bit of add_to_physmap(grant_table) that selects a status frame (v2 only). */
export const XENMAPIDX_grant_table_status = 0x80000000;

/** struct xen_memory_reservation (32 bytes). */
export const XenMemoryReservation = defineStruct("xen_memory_reservation", 32, {
  extentStart: u64(0), // handle to xen_pfn_t[nr_extents]
  nrExtents: u64(8),
  extentOrder: u32(16),
  memFlags: u32(20), // XENMEMF_*
  domid: u16(24),
});

/** struct xen_memory_domain (current/maximum_reservation, maximum_gpfn): IN domid. */
export const XenMemoryDomain = defineStruct("xen_memory_domain", 2, {
  domid: u16(0),
});

/** struct xen_add_to_physmap (24 bytes). */
export const XenAddToPhysmap = defineStruct("xen_add_to_physmap", 24, {
  domid: u16(0),
  size: u16(2), // pages, gmfn_range only
  space: u32(4), // XENMAPSPACE_*
  idx: u64(8),
  gpfn: u64(16),
});

/** struct xen_remove_from_physmap (16 bytes). */
export const XenRemoveFromPhysmap = defineStruct("xen_remove_from_physmap", 16, {
  domid: u16(0),
  gpfn: u64(8),
});

/** struct xen_memory_map: IN/OUT nr_entries; IN buffer (handle to e820 entries). */
export const XenMemoryMap = defineStruct("xen_memory_map", 16, {
  nrEntries: u32(0),
  buffer: u64(8),
});

/** struct e820entry as XENMEM_memory_map writes it (20 bytes, packed). */
export const E820Entry = defineStruct("e820entry", 20, {
  addr: u64(0),
  size: u64(8),
  type: u32(16),
});
export const E820Type = { ram: 1, reserved: 2, acpi: 3, nvs: 4, unusable: 5 } as const;
