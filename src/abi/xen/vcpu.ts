// vcpu_op hypercall ABI: VCPUOP_* numbers and argument structs. Follows xen/include/public/vcpu.h.
import { defineStruct, u32, u64 } from "../../base/struct.ts";

export const VcpuOp = {
  initialise: 0,
  up: 1,
  down: 2,
  is_up: 3,
  get_runstate_info: 4,
  register_runstate_memory_area: 5,
  set_periodic_timer: 6,
  stop_periodic_timer: 7,
  set_singleshot_timer: 8,
  stop_singleshot_timer: 9,
  register_vcpu_info: 10,
  send_nmi: 11,
  get_physid: 12,
  register_vcpu_time_memory_area: 13,
  register_runstate_phys_area: 14,
  register_vcpu_time_phys_area: 15,
} as const;

/** struct vcpu_register_vcpu_info: vcpu_info moves to mfn * 4096 + offset. */
export const VcpuRegisterVcpuInfo = defineStruct("vcpu_register_vcpu_info", 16, {
  mfn: u64(0),
  offset: u32(8),
  rsvd: u32(12),
});

/** struct vcpu_set_singleshot_timer. */
export const VcpuSetSingleshotTimer = defineStruct("vcpu_set_singleshot_timer", 16, {
  timeoutAbsNs: u64(0), // absolute system time (ns since boot)
  flags: u32(8), // VCPU_SSHOTTMR_*
});
export const VCPU_SSHOTTMR_future = 1 << 0;

/** struct vcpu_set_periodic_timer. */
export const VcpuSetPeriodicTimer = defineStruct("vcpu_set_periodic_timer", 8, {
  periodNs: u64(0),
});

/** struct vcpu_register_runstate_memory_area / vcpu_register_time_memory_area: one guest address. */
export const VcpuRegisterMemoryArea = defineStruct("vcpu_register_memory_area", 8, {
  addr: u64(0),
});

/** struct vcpu_runstate_info (48 bytes). */
export const VcpuRunstateInfo = defineStruct("vcpu_runstate_info", 48, {
  state: u32(0), // RUNSTATE_* (int)
  stateEntryTime: u64(8),
  timeRunning: u64(16),
  timeRunnable: u64(24),
  timeBlocked: u64(32),
  timeOffline: u64(40),
});
export const Runstate = { running: 0, runnable: 1, blocked: 2, offline: 3 } as const;

/** struct vcpu_get_physid. */
export const VcpuGetPhysid = defineStruct("vcpu_get_physid", 8, {
  physId: u64(0),
});
