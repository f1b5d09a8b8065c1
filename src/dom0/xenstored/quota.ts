// Per-domain xenstore quotas with C xenstored's defaults (tools/xenstored/domain.c quotas[]; Xen 4.17 values).
// Quotas bind unprivileged domains only; 0 disables a check. GET_QUOTA/SET_QUOTA read and change them.
import { XENSTORE_REL_PATH_MAX } from "../../abi/xen/xs_wire.ts";
import { fail } from "./errors.ts";

export const QUOTA_NAMES = [
  "nodes", "watches", "outstanding", "transactions", "transaction-nodes", "node-permissions", "path-max", "node-size",
] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];

/**
 * nodes: nodes a domain may own (ENOSPC); watches: registered watches (E2BIG, as 4.17); outstanding: requests
 * read but not yet answered on the ring (the ring is not read further); transactions: open transactions (ENOSPC);
 * transaction-nodes: nodes one transaction may touch (ENOSPC); node-permissions: entries per node (ENOSPC);
 * path-max: path length below /local/domain/<n>/ (EINVAL); node-size: stored node size, see nodeSizeBytes (ENOSPC).
 */
export const DEFAULT_QUOTAS: Readonly<Record<QuotaName, number>> = {
  nodes: 1000,
  watches: 128,
  outstanding: 20,
  transactions: 10,
  "transaction-nodes": 1024,
  "node-permissions": 5,
  "path-max": XENSTORE_REL_PATH_MAX,
  "node-size": 2048,
};

export function isQuotaName(name: string): name is QuotaName {
  return (QUOTA_NAMES as readonly string[]).includes(name);
}

/** Global quota values plus per-domain overrides. dom0 (and any privileged caller) is never limited. */
export class Quotas {
  private readonly global: Record<QuotaName, number> = { ...DEFAULT_QUOTAS };
  private readonly perDomain = new Map<number, Partial<Record<QuotaName, number>>>();

  /** The configured value (GET_QUOTA). */
  value(name: QuotaName, domid?: number): number {
    if (domid !== undefined) {
      const own = this.perDomain.get(domid)?.[name];
      if (own !== undefined) return own;
    }
    return this.global[name];
  }

  /** SET_QUOTA: without domid sets the default for all domains. EINVAL for 0 (C keeps 0 for "disabled"). */
  set(name: QuotaName, value: number, domid?: number): void {
    if (!Number.isInteger(value) || value <= 0 || value > 0x7fffffff) fail("EINVAL", `Invalid quota value ${value}`);
    if (domid === undefined) {
      this.global[name] = value;
      return;
    }
    const own = this.perDomain.get(domid) ?? {};
    own[name] = value;
    this.perDomain.set(domid, own);
  }

  /** Limit that applies to `domid` now: 0 (unlimited) for the privileged domain. */
  limit(name: QuotaName, domid: number, privileged: boolean): number {
    return privileged ? 0 : this.value(name, domid);
  }

  forgetDomain(domid: number): void {
    this.perDomain.delete(domid);
  }
}
