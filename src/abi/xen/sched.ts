// sched_op hypercall ABI: SCHEDOP_* numbers, SHUTDOWN_* reasons and argument structs. Follows xen/include/public/sched.h.
import { defineStruct, u16, u32, u64 } from "../../base/struct.ts";

export const SchedOp = {
  yield: 0,
  block: 1,
  shutdown: 2,
  poll: 3,
  remote_shutdown: 4,
  shutdown_code: 5,
  watchdog: 6,
  pin_override: 7,
} as const;

export const ShutdownCode = {
  poweroff: 0,
  reboot: 1,
  suspend: 2,
  crash: 3,
  watchdog: 4,
  soft_reset: 5,
} as const;
export const SHUTDOWN_MAX = 5;

/** struct sched_shutdown: IN reason. */
export const SchedShutdown = defineStruct("sched_shutdown", 4, {
  reason: u32(0),
});

/** struct sched_poll: IN ports (handle to evtchn_port_t[]), nr_ports, timeout (absolute ns, 0 = none). */
export const SchedPoll = defineStruct("sched_poll", 24, {
  ports: u64(0),
  nrPorts: u32(8),
  timeout: u64(16),
});

/** struct sched_remote_shutdown: IN domain_id, reason. */
export const SchedRemoteShutdown = defineStruct("sched_remote_shutdown", 8, {
  domainId: u16(0),
  reason: u32(4),
});

/** struct sched_watchdog: IN id, timeout (s). */
export const SchedWatchdog = defineStruct("sched_watchdog", 8, {
  id: u32(0),
  timeout: u32(4),
});
