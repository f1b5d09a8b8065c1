// vcpu_op (hypercall 24): VCPUOP_register_vcpu_info, is_up/up/down, singleshot and periodic timers, the runstate
// area (filled once: no stolen time); time-area registration answers -ENOSYS (Linux falls back). Follows common_vcpu_op() in
// xen/common/domain.c. A vCPU op always targets the caller's own domain.
import { Errno } from "../../abi/xen/errno.ts";
import {
  Runstate, VCPU_SSHOTTMR_future, VcpuOp, VcpuRegisterMemoryArea, VcpuRegisterVcpuInfo, VcpuRunstateInfo, VcpuSetPeriodicTimer,
  VcpuSetSingleshotTimer,
} from "../../abi/xen/vcpu.ts";
import { readStruct, writeStruct, type GuestCall } from "./guest_call.ts";
import type { XenEnv } from "./xen_guest.ts";
import { XenError } from "./xen_error.ts";

/** Shortest periodic timer Xen accepts (1 ms) and the longest (STIME_DELTA_MAX, about 2^62 ns). */
const MIN_PERIOD_NS = 1_000_000n;
const MAX_PERIOD_NS = 1n << 62n;

/** HYPERVISOR_vcpu_op(cmd, vcpuid, arg). Returns ≥ 0 or throws XenError. */
export function vcpuOp(env: XenEnv, call: GuestCall, cmd: number, vcpuId: number, arg: bigint): number {
  const guest = env.targetGuest(call, call.domid, "use vcpu_op");
  if (!guest.hasVcpu(vcpuId)) throw new XenError(Errno.ENOENT, `Domain ${guest.domid} has no vCPU "${vcpuId}"`);
  const isCurrent = vcpuId === call.vcpuId;
  switch (cmd) {
    case VcpuOp.register_vcpu_info: {
      const info = readStruct(call, VcpuRegisterVcpuInfo, arg);
      if (info.mfn > BigInt(Math.floor(Number.MAX_SAFE_INTEGER / 4096))) throw new XenError(Errno.EINVAL, `mfn "0x${info.mfn.toString(16)}" is out of range`);
      guest.sharedInfo.registerVcpuInfo(vcpuId, Number(info.mfn), info.offset);
      guest.evtchn.markAllPending(vcpuId);
      guest.updateTime(vcpuId);
      return 0;
    }
    case VcpuOp.is_up:
      return guest.isVcpuUp(vcpuId) ? 1 : 0;
    case VcpuOp.up:
      guest.vcpuUp(vcpuId);
      return 0;
    case VcpuOp.down:
      guest.vcpuDown(vcpuId);
      return 0;
    case VcpuOp.set_singleshot_timer: {
      if (!isCurrent) throw new XenError(Errno.EINVAL, "A singleshot timer can only be set on the calling vCPU");
      const t = readStruct(call, VcpuSetSingleshotTimer, arg);
      const now = guest.clock.systemTimeNs();
      if (t.timeoutAbsNs < now) {
        if ((t.flags & VCPU_SSHOTTMR_future) !== 0) throw new XenError(Errno.ETIME, "The singleshot deadline has passed");
        guest.timers.setSingleshot(vcpuId, t.timeoutAbsNs);
        guest.timers.expire(vcpuId, now); // already due: deliver VIRQ_TIMER now, as Xen
        return 0;
      }
      guest.timers.setSingleshot(vcpuId, t.timeoutAbsNs);
      return 0;
    }
    case VcpuOp.stop_singleshot_timer:
      if (!isCurrent) throw new XenError(Errno.EINVAL, "A singleshot timer can only be stopped on the calling vCPU");
      guest.timers.stopSingleshot(vcpuId);
      return 0;
    case VcpuOp.set_periodic_timer: {
      const { periodNs } = readStruct(call, VcpuSetPeriodicTimer, arg);
      if (periodNs < MIN_PERIOD_NS || periodNs > MAX_PERIOD_NS) throw new XenError(Errno.EINVAL, `Timer period "${periodNs}" ns is out of range`);
      guest.timers.setPeriodic(vcpuId, periodNs, guest.clock.systemTimeNs());
      return 0;
    }
    case VcpuOp.stop_periodic_timer:
      guest.timers.stopPeriodic(vcpuId);
      return 0;
    case VcpuOp.register_runstate_memory_area: {
      // Linux BUG()s if this fails (drivers/xen/time.c xen_setup_runstate_info). Xen fills the area at once and
      // again on every context switch; a vCPU here always runs when it is scheduled, so the one fill (running
      // since system time 0, no steal) stays true enough: the guest sees no stolen time.
      const { addr } = readStruct(call, VcpuRegisterMemoryArea, arg);
      if (addr !== 0n) {
        const now = guest.clock.systemTimeNs();
        writeStruct(call, VcpuRunstateInfo, addr, {
          state: Runstate.running, stateEntryTime: now, timeRunning: now, timeRunnable: 0n, timeBlocked: 0n, timeOffline: 0n,
        });
      }
      return 0;
    }
    case VcpuOp.register_vcpu_time_memory_area:
    case VcpuOp.register_runstate_phys_area:
    case VcpuOp.register_vcpu_time_phys_area:
      throw new XenError(Errno.ENOSYS, `vcpu_op "${cmd}" (a shared area) is not offered`);
    default:
      throw new XenError(Errno.ENOSYS, `Unsupported vcpu_op "${cmd}"`);
  }
}
