// XenError: a guest-caused hypercall failure carrying the errno Xen would return (negated into rax by dispatch).
import { TsxenError } from "../../base/errors.ts";
import { Errno, errnoName, type ErrnoName } from "../../abi/xen/errno.ts";

export class XenError extends TsxenError {
  /** Positive errno value (EINVAL = 22); the hypercall returns -errno. */
  readonly errno: number;
  constructor(errno: number, why: string) {
    super(`${errnoName(errno)}: ${why}`);
    this.errno = errno;
  }
}

/** Throws XenError(Errno[name], why). Typed as never so callers can write `return fail(...)`. */
export function fail(name: ErrnoName, why: string): never {
  throw new XenError(Errno[name], why);
}
