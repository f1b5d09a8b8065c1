// hvm_op hypercall ABI: HVMOP_* numbers, HVM_PARAM_* indices and argument structs. Follows
// xen/include/public/hvm/hvm_op.h and hvm/params.h.
import { defineStruct, u16, u32, u64, u8 } from "../../base/struct.ts";

export const HvmOp = {
  set_param: 0,
  get_param: 1,
  set_pci_intx_level: 2,
  set_isa_irq_level: 3,
  set_pci_link_route: 4,
  flush_tlbs: 5,
  pagetable_dying: 9,
  get_time: 10,
  xentrace: 11,
  set_mem_access: 12,
  get_mem_access: 13,
  get_mem_type: 15,
  set_evtchn_upcall_vector: 23,
  guest_request_vm_event: 24,
  altp2m: 25,
} as const;

export const HvmParam = {
  CALLBACK_IRQ: 0,
  STORE_PFN: 1,
  STORE_EVTCHN: 2,
  PAE_ENABLED: 4,
  IOREQ_PFN: 5,
  BUFIOREQ_PFN: 6,
  VIRIDIAN: 9,
  TIMER_MODE: 10,
  HPET_ENABLED: 11,
  IDENT_PT: 12,
  DM_DOMAIN: 13,
  ACPI_S_STATE: 14,
  VM86_TSS: 15,
  VPT_ALIGN: 16,
  CONSOLE_PFN: 17,
  CONSOLE_EVTCHN: 18,
  ACPI_IOPORTS_LOCATION: 19,
  PAGING_RING_PFN: 27,
  MONITOR_RING_PFN: 28,
  SHARING_RING_PFN: 29,
  TRIPLE_FAULT_REASON: 31,
  IOREQ_SERVER_PFN: 32,
  NR_IOREQ_SERVER_PAGES: 33,
  VM_GENERATION_ID_ADDR: 34,
  ALTP2M: 35,
  X87_FIP_WIDTH: 36,
  VM86_TSS_SIZED: 37,
  MCA_CAP: 38,
} as const;
export const HVM_NR_PARAMS = 39;

/** HVM_PARAM_CALLBACK_IRQ: delivery type in bits 63:56. */
export const HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT = 56n;
export const HvmCallbackType = { GSI: 0, PCI_INTX: 1, VECTOR: 2 } as const;

/** struct xen_hvm_param: IN domid, index; IN/OUT value. */
export const XenHvmParam = defineStruct("xen_hvm_param", 16, {
  domid: u16(0),
  pad: u16(2),
  index: u32(4),
  value: u64(8),
});

/** struct xen_hvm_evtchn_upcall_vector: IN vcpu, vector. sizeof = 8 (u32 alignment). */
export const XenHvmEvtchnUpcallVector = defineStruct("xen_hvm_evtchn_upcall_vector", 8, {
  vcpu: u32(0),
  vector: u8(4),
});

/** struct xen_hvm_pagetable_dying. */
export const XenHvmPagetableDying = defineStruct("xen_hvm_pagetable_dying", 16, {
  domid: u16(0),
  gpa: u64(8),
});

/** struct xen_hvm_get_time: OUT now (ns since boot). */
export const XenHvmGetTime = defineStruct("xen_hvm_get_time", 8, {
  now: u64(0),
});

/** CPUID 0x40000004 EAX flags (arch-x86/cpuid.h) that the hypervisor leaves advertise. */
export const XenHvmCpuid = {
  APIC_ACCESS_VIRT: 1 << 0,
  X2APIC_VIRT: 1 << 1,
  IOMMU_MAPPINGS: 1 << 2,
  VCPU_ID_PRESENT: 1 << 3,
  DOMID_PRESENT: 1 << 4,
  EXT_DEST_ID: 1 << 5,
  UPCALL_VECTOR: 1 << 6,
} as const;
