// Errors raised by the kvm backend: a failed system call on /dev/kvm or a VM/vCPU fd.
import { TsxenError } from "../../base/errors.ts";

export class KvmError extends TsxenError {
  constructor(
    readonly operation: string,
    readonly errno: number,
    readonly errnoName: string,
    /** What the user can do about it. */
    readonly hint?: string,
  ) {
    super(`KVM ${operation} failed: ${errnoName}${hint === undefined ? "" : `: ${hint}`}`);
  }
}
