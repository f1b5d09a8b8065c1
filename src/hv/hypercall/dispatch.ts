// Hypercall dispatch: the one place where guest-caused failures (XenError, GuestFault) become -errno in rax.
// Unknown numbers give -ENOSYS, unpermitted ones -EPERM; both are counted and logged once per number.
// Any other exception is a hypervisor bug and propagates: the caller crashes the offending domain.
// Runs on the calling vCPU's thread; one dispatcher per domain and thread.
import { Errno } from "../../abi/xen/errno.ts";
import type { GuestVirtualMemory, HypercallRequest } from "../ports.ts";
import type { HypercallDomain, HypercallEffects, HypercallTable } from "./context.ts";
import { HYPERCALLS, hypercallName } from "./table.ts";
import { GuestFault, XenError } from "./xen_error.ts";

const neg = (errno: number): bigint => BigInt.asUintN(64, BigInt(-errno));

export class HypercallDispatcher {
  /** Calls per hypercall number (including failed ones). */
  readonly counts = new Map<number, number>();
  /** Calls that returned an error, per number. */
  readonly errors = new Map<number, number>();
  private readonly loggedRejections = new Set<number>();

  constructor(
    private readonly domain: HypercallDomain,
    private readonly effects: HypercallEffects,
    private readonly table: HypercallTable = HYPERCALLS,
  ) {}

  /** Runs one hypercall; returns the 64-bit value for rax (negative errno as two's complement). */
  dispatch(req: HypercallRequest, mem: GuestVirtualMemory): bigint {
    const nr = req.nr;
    this.counts.set(nr, (this.counts.get(nr) ?? 0) + 1);
    const entry = this.table[nr];
    if (entry === undefined) return this.reject(nr, Errno.ENOSYS, "not implemented");
    if (entry.privilegedOnly === true && !this.domain.privileged) return this.reject(nr, Errno.EPERM, "not permitted for this domain");
    try {
      const r = entry.handler({ domain: this.domain, vcpuId: req.vcpuId, longMode: req.longMode, mem, effects: this.effects }, req.args);
      return BigInt.asUintN(64, BigInt(r));
    } catch (e) {
      if (e instanceof XenError) return this.fail(nr, e.errno);
      if (e instanceof GuestFault) {
        this.effects.log(`d${this.domain.domid}v${req.vcpuId} ${entry.name}: ${e.message}`);
        return this.fail(nr, Errno.EFAULT);
      }
      throw e;
    }
  }

  private fail(nr: number, errno: number): bigint {
    this.errors.set(nr, (this.errors.get(nr) ?? 0) + 1);
    return neg(errno);
  }

  private reject(nr: number, errno: number, why: string): bigint {
    if (!this.loggedRejections.has(nr)) {
      this.loggedRejections.add(nr);
      this.effects.log(`d${this.domain.domid}: ${hypercallName(nr)} (${nr}) ${why}: returning -${errno} (logged once)`);
    }
    return this.fail(nr, errno);
  }
}
