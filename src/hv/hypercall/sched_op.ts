// sched_op hypercall (xen/common/sched/core.c do_sched_op, public/sched.h): yield, block, poll, shutdown(reason).
import { Errno } from "../../abi/xen/errno.ts";
import { SchedOp, ShutdownCode } from "../../abi/xen/sched.ts";
import type { ShutdownReason } from "../ports.ts";
import type { HypercallHandler } from "./context.ts";
import { readGuestU32 } from "./guest_copy.ts";
import { XenError } from "./xen_error.ts";

/** SHUTDOWN_* code → reason, indexed by the code in struct sched_shutdown. */
export const SHUTDOWN_REASONS: readonly ShutdownReason[] = (Object.keys(ShutdownCode) as ShutdownReason[]).sort(
  (a, b) => ShutdownCode[a] - ShutdownCode[b],
);

export const schedOp: HypercallHandler = (ctx, [cmd, arg]) => {
  switch (Number(BigInt.asUintN(32, cmd))) {
    case SchedOp.yield:
      return 0;
    case SchedOp.block:
      // Without event channels nothing can wake the vCPU; Xen allows a spurious return from block.
      return 0;
    case SchedOp.poll:
      // Returning before a port is pending is a spurious wakeup, which the guest's callers allow (Linux PV
      // spinlocks re-check the lock and poll again; xen_poll_irq BUG()s only on an error). The vCPU thread
      // runs other vCPUs too (emu), so it must not block here; a real wait comes with per-vCPU blocking.
      return 0;
    case SchedOp.shutdown: {
      const code = readGuestU32(ctx.mem, arg);
      const reason = SHUTDOWN_REASONS[code];
      if (reason === undefined) throw new XenError(Errno.EINVAL, `shutdown reason ${code}`);
      ctx.effects.shutdown(reason);
      return 0;
    }
    default:
      throw new XenError(Errno.ENOSYS, `SCHEDOP ${cmd}`);
  }
};
