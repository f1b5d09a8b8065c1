// Core Xen guest ABI: hypercall numbers, reserved domain ids, VIRQs and the shared_info / vcpu_info /
// vcpu_time_info layouts for x86_64 guests. Follows xen/include/public/xen.h and arch-x86/xen{,-x86_64}.h.
import { defineStruct, u8, u32, u64 } from "../../base/struct.ts";

export const XEN_PAGE_SIZE = 4096;
export const XEN_PAGE_SHIFT = 12;

/** __HYPERVISOR_* numbers (rax on entry). */
export const Hypercall = {
  set_trap_table: 0,
  mmu_update: 1,
  set_gdt: 2,
  stack_switch: 3,
  set_callbacks: 4,
  fpu_taskswitch: 5,
  sched_op_compat: 6,
  platform_op: 7,
  set_debugreg: 8,
  get_debugreg: 9,
  update_descriptor: 10,
  memory_op: 12,
  multicall: 13,
  update_va_mapping: 14,
  set_timer_op: 15,
  event_channel_op_compat: 16,
  xen_version: 17,
  console_io: 18,
  physdev_op_compat: 19,
  grant_table_op: 20,
  vm_assist: 21,
  update_va_mapping_otherdomain: 22,
  iret: 23,
  vcpu_op: 24,
  set_segment_base: 25,
  mmuext_op: 26,
  xsm_op: 27,
  nmi_op: 28,
  sched_op: 29,
  callback_op: 30,
  xenoprof_op: 31,
  event_channel_op: 32,
  physdev_op: 33,
  hvm_op: 34,
  sysctl: 35,
  domctl: 36,
  kexec_op: 37,
  tmem_op: 38,
  argo_op: 39,
  xenpmu_op: 40,
  dm_op: 41,
  hypfs_op: 42,
} as const;

/** Domain ids at or above DOMID_FIRST_RESERVED name no ordinary domain. */
export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
export const DOMID_INVALID = 0x7ff4;
export const DOMID_ANY = 0x7ff5;
export const DOMID_IDLE = 0x7fff;
export const DOMID_MASK = 0x7fff;

/** enum virq. V = per vCPU, G = global (bound by one domain, on vCPU 0). */
export const Virq = {
  TIMER: 0, // V
  DEBUG: 1, // V
  CONSOLE: 2, // G
  DOM_EXC: 3, // G
  TBUF: 4, // G
  DEBUGGER: 6, // G
  XENOPROF: 7, // V
  CON_RING: 8, // G
  PCPU_STATE: 9, // G
  MEM_EVENT: 10, // G
  ARGO: 11, // per domain
  ENOMEM: 12, // G
  XENPMU: 13, // V
} as const;
export const NR_VIRQS = 24;

/** True for the VIRQs that are bound per vCPU (get_virq_type() == VIRQ_VCPU in xen/common/event_channel.c). */
export function virqIsPerVcpu(virq: number): boolean {
  return virq === Virq.TIMER || virq === Virq.DEBUG || virq === Virq.XENOPROF || virq === Virq.XENPMU;
}

/** CONSOLEIO_* sub-ops of console_io. */
export const ConsoleIo = { write: 0, read: 1 } as const;

/** Number of vcpu_info slots inside shared_info (vCPUs above need VCPUOP_register_vcpu_info). */
export const XEN_LEGACY_MAX_VCPUS = 32;

/** struct vcpu_time_info (32 bytes). Written by Xen under the version seqlock: odd = update in progress. */
export const VcpuTimeInfo = defineStruct("vcpu_time_info", 32, {
  version: u32(0),
  pad0: u32(4),
  tscTimestamp: u64(8), // TSC at the last update
  systemTime: u64(16), // ns since boot at tscTimestamp
  tscToSystemMul: u32(24),
  tscShift: u8(28), // int8_t: read with (v << 24) >> 24
  flags: u8(29), // XEN_PVCLOCK_*
});
export const XEN_PVCLOCK_TSC_STABLE_BIT = 1 << 0;
export const XEN_PVCLOCK_GUEST_STOPPED = 1 << 1;

/** struct vcpu_info (64 bytes on x86): byte offsets. */
export const VcpuInfoLayout = {
  evtchnUpcallPending: 0, // u8, set by Xen, cleared by the guest
  evtchnUpcallMask: 1, // u8 (PV only)
  evtchnPendingSel: 8, // xen_ulong_t: bit w = word w of evtchn_pending may have pending bits
  archCr2: 16, // u64
  archPad: 24, // u64
  time: 32, // vcpu_time_info
  size: 64,
} as const;

/** struct shared_info (x86_64): byte offsets. */
export const SharedInfoLayout = {
  vcpuInfo: 0, // vcpu_info[32]
  evtchnPending: 2048, // xen_ulong_t[64]
  evtchnMask: 2560, // xen_ulong_t[64]
  wcVersion: 3072, // u32
  wcSec: 3076, // u32
  wcNsec: 3080, // u32
  wcSecHi: 3084, // u32 (x86_64 only)
  arch: 3088, // struct arch_shared_info (48 bytes, PV only)
  size: 3136,
} as const;

/** struct arch_shared_info (x86_64, 48 bytes): PV-only p2m fields. */
export const ArchSharedInfo = defineStruct("arch_shared_info", 48, {
  maxPfn: u64(0),
  pfnToMfnFrameListList: u64(8),
  nmiReason: u64(16),
  p2mCr3: u64(24),
  p2mVaddr: u64(32),
  p2mGeneration: u64(40),
});
