// XENFEAT_* bit numbers reported by XENVER_get_features, and the submap a PVH domU sees. Follows
// xen/include/public/features.h; the PVH set mirrors xen/common/kernel.c for an HVM-container guest.

export const XenFeat = {
  writable_page_tables: 0,
  writable_descriptor_tables: 1,
  auto_translated_physmap: 2,
  supervisor_mode_kernel: 3,
  pae_pgdir_above_4gb: 4,
  mmu_pt_update_preserve_ad: 5,
  highmem_assist: 6,
  gnttab_map_avail_bits: 7,
  hvm_callback_vector: 8,
  hvm_safe_pvclock: 9,
  hvm_pirqs: 10,
  dom0: 11,
  grant_map_identity: 12,
  memory_op_vnode_supported: 13,
  ARM_SMCCC_supported: 14,
  linux_rsdp_unrestricted: 15,
  not_direct_mapped: 16,
  direct_mapped: 17,
  runstate_phys_area: 18,
  vcpu_time_phys_area: 19,
  dm_msix_all_writes: 20,
} as const;
export const XENFEAT_NR_SUBMAPS = 1;

/** Bit mask of the given feature numbers (all < 32: submap 0). */
export function featureMask(...features: number[]): number {
  let mask = 0;
  for (const f of features) mask |= 1 << f;
  return mask >>> 0;
}

/**
 * Submap 0 for a PVH domU. With safePvclock the guest switches timekeeping to the Xen pvclock and
 * VCPUOP timers (xen-abi-on-kvm.md §3, §6); without it Linux uses the TSC and the LAPIC timer.
 */
export function pvhFeatureSubmap(options: { safePvclock: boolean }): number {
  const features: number[] = [
    XenFeat.writable_page_tables,
    XenFeat.auto_translated_physmap,
    XenFeat.supervisor_mode_kernel,
    XenFeat.hvm_callback_vector,
  ];
  if (options.safePvclock) features.push(XenFeat.hvm_safe_pvclock);
  return featureMask(...features);
}
