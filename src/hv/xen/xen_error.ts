// XenError for the Xen guest-interface subsystems: the one class hv/hypercall/dispatch.ts turns into -errno
// (re-exported so evtchn/gnttab/xen code and the dispatcher agree on instanceof), plus a short helper.
import { Errno, type ErrnoName } from "../../abi/xen/errno.ts";
import { XenError } from "../hypercall/xen_error.ts";

export { XenError };

/** Throws XenError(Errno[name], why). Typed as never so callers can write `return fail(...)`. */
export function fail(name: ErrnoName, why: string): never {
  throw new XenError(Errno[name], why);
}
