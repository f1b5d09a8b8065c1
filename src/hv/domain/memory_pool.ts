// Host memory pool: every domain's reservation is accounted here so the host never overcommits (Xen: tot_pages vs. free heap).

import { DomainError } from "./domain_errors.ts";

const MiB = 1024 * 1024;

export function formatMiB(bytes: number): string {
  return `${Math.floor(bytes / MiB)} MiB`;
}

export class HostMemoryPool {
  readonly totalBytes: number;
  private readonly reservations = new Map<number, number>();
  private reservedBytes = 0;

  constructor(totalBytes: number) {
    if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) throw new RangeError(`Invalid host pool size ${totalBytes}`);
    this.totalBytes = totalBytes;
  }

  get freeBytes(): number {
    return this.totalBytes - this.reservedBytes;
  }

  reservedBy(domid: number): number {
    return this.reservations.get(domid) ?? 0;
  }

  /** Reserves bytes for domid, or throws DomainError("no_memory") and changes nothing. */
  reserve(domid: number, bytes: number, name: string): void {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new DomainError("invalid", `Cannot reserve ${bytes} bytes for domain "${name}"`);
    if (this.reservations.has(domid)) throw new DomainError("exists", `Domain ${domid} already holds a memory reservation`);
    if (bytes > this.freeBytes) {
      throw new DomainError(
        "no_memory",
        `Cannot create domain "${name}": it needs ${formatMiB(bytes)} but the host pool has ${formatMiB(this.freeBytes)} free of ${formatMiB(this.totalBytes)}`,
      );
    }
    this.reservations.set(domid, bytes);
    this.reservedBytes += bytes;
  }

  /** Returns domid's reservation to the pool. Idempotent. */
  release(domid: number): void {
    const bytes = this.reservations.get(domid);
    if (bytes === undefined) return;
    this.reservations.delete(domid);
    this.reservedBytes -= bytes;
  }
}
