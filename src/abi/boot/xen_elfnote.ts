// Xen ELF note types (owner "Xen"), as in xen/include/public/elfnote.h.
// PVH loaders need PHYS32_ENTRY; the others are recorded for logs and for PV-only checks.

export const XEN_ELFNOTE_OWNER = "Xen";

export const XenElfNote = {
  INFO: 0,
  ENTRY: 1, //               PV entry (virtual address)
  HYPERCALL_PAGE: 2, //      virtual address of the page the hypervisor fills with stubs
  VIRT_BASE: 3,
  PADDR_OFFSET: 4,
  XEN_VERSION: 5, //         string, "xen-3.0"
  GUEST_OS: 6, //            string, "linux"
  GUEST_VERSION: 7,
  LOADER: 8, //              string, "generic"
  PAE_MODE: 9,
  FEATURES: 10, //           string, "!writable_page_tables|..."
  BSD_SYMTAB: 11,
  HV_START_LOW: 12,
  L1_MFN_VALID: 13,
  SUSPEND_CANCEL: 14,
  INIT_P2M: 15,
  MOD_START_PFN: 16,
  SUPPORTED_FEATURES: 17, // u32 bitmap of XENFEAT_*
  PHYS32_ENTRY: 18, //       PVH 32-bit entry (physical address; 4 or 8 bytes)
  PHYS32_RELOC: 19, //       PVH relocation: alignment, min, max (Xen 4.19)
} as const;
