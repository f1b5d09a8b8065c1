// Typed xenstore failures: each carries the errno name that goes back on the wire as an XS_ERROR reply
// (names from the xsd_errors[] table in xen/include/public/io/xs_wire.h).
import type { XsErrno } from "../../abi/xen/xs_wire.ts";
import { TsxenError } from "../../base/errors.ts";

/** A request failed for a reason the client caused or may see; `errno` is sent back as "ENOENT\0" etc. */
export class XenstoreError extends TsxenError {
  constructor(
    readonly errno: XsErrno,
    message?: string,
  ) {
    super(message ?? errno);
  }
}

export function fail(errno: XsErrno, message?: string): never {
  throw new XenstoreError(errno, message);
}
