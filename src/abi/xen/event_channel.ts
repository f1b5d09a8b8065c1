// Event-channel hypercall ABI: EVTCHNOP_* numbers and argument structs. Follows xen/include/public/event_channel.h.
import { defineStruct, u16, u32, u64, u8 } from "../../base/struct.ts";

export const EvtchnOp = {
  bind_interdomain: 0,
  bind_virq: 1,
  bind_pirq: 2,
  close: 3,
  send: 4,
  status: 5,
  alloc_unbound: 6,
  bind_ipi: 7,
  bind_vcpu: 8,
  unmask: 9,
  reset: 10,
  init_control: 11,
  expand_array: 12,
  set_priority: 13,
  reset_cont: 14,
} as const;

/** 2-level ABI on a 64-bit guest: 64 words of 64 bits. Port 0 is never valid. */
export const EVTCHN_2L_NR_CHANNELS = 4096;

/** EVTCHNSTAT_* values of evtchn_status.status. */
export const EvtchnStat = {
  closed: 0,
  unbound: 1,
  interdomain: 2,
  pirq: 3,
  virq: 4,
  ipi: 5,
} as const;

/** struct evtchn_alloc_unbound: IN dom, remote_dom; OUT port. */
export const EvtchnAllocUnbound = defineStruct("evtchn_alloc_unbound", 8, {
  dom: u16(0),
  remoteDom: u16(2),
  port: u32(4),
});

/** struct evtchn_bind_interdomain: IN remote_dom, remote_port; OUT local_port. */
export const EvtchnBindInterdomain = defineStruct("evtchn_bind_interdomain", 12, {
  remoteDom: u16(0),
  remotePort: u32(4),
  localPort: u32(8),
});

/** struct evtchn_bind_virq: IN virq, vcpu; OUT port. */
export const EvtchnBindVirq = defineStruct("evtchn_bind_virq", 12, {
  virq: u32(0),
  vcpu: u32(4),
  port: u32(8),
});

/** struct evtchn_bind_pirq: IN pirq, flags; OUT port. */
export const EvtchnBindPirq = defineStruct("evtchn_bind_pirq", 12, {
  pirq: u32(0),
  flags: u32(4),
  port: u32(8),
});

/** struct evtchn_bind_ipi: IN vcpu; OUT port. */
export const EvtchnBindIpi = defineStruct("evtchn_bind_ipi", 8, {
  vcpu: u32(0),
  port: u32(4),
});

/** struct evtchn_close / evtchn_send / evtchn_unmask: IN port. */
export const EvtchnPort = defineStruct("evtchn_port", 4, {
  port: u32(0),
});

/** struct evtchn_status: IN dom, port; OUT status, vcpu, u (unbound.dom / interdomain.{dom,port} / pirq / virq). */
export const EvtchnStatus = defineStruct("evtchn_status", 24, {
  dom: u16(0),
  port: u32(4),
  status: u32(8),
  vcpu: u32(12),
  u0: u32(16), // unbound.dom / interdomain.dom (u16 in the low half), pirq, virq
  u1: u32(20), // interdomain.port
});

/** struct evtchn_bind_vcpu: IN port, vcpu. */
export const EvtchnBindVcpu = defineStruct("evtchn_bind_vcpu", 8, {
  port: u32(0),
  vcpu: u32(4),
});

/** struct evtchn_reset: IN dom. */
export const EvtchnReset = defineStruct("evtchn_reset", 2, {
  dom: u16(0),
});

/** struct evtchn_init_control (FIFO ABI; we answer -ENOSYS). */
export const EvtchnInitControl = defineStruct("evtchn_init_control", 24, {
  controlGfn: u64(0),
  offset: u32(8),
  vcpu: u32(12),
  linkBits: u8(16),
});

/** struct evtchn_expand_array (FIFO ABI). */
export const EvtchnExpandArray = defineStruct("evtchn_expand_array", 8, {
  arrayGfn: u64(0),
});

/** struct evtchn_set_priority (FIFO ABI). */
export const EvtchnSetPriority = defineStruct("evtchn_set_priority", 8, {
  port: u32(0),
  priority: u32(4),
});
