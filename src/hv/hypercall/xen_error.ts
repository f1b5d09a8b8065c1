// XenError: a failure the guest caused; hypercall dispatch turns it into -errno in rax (and nowhere else).
import { TsxenError } from "../../base/errors.ts";
import { errnoName } from "../../abi/xen/errno.ts";

export class XenError extends TsxenError {
  constructor(
    readonly errno: number,
    readonly why = "",
  ) {
    super(why === "" ? errnoName(errno) : `${errnoName(errno)}: ${why}`);
  }
}

/** A guest-virtual address that does not translate (not present, non-canonical) or lies outside RAM. */
export class GuestFault extends TsxenError {
  constructor(
    readonly va: bigint,
    readonly why: string,
  ) {
    super(`Guest address 0x${va.toString(16)} is not accessible: ${why}`);
  }
}
