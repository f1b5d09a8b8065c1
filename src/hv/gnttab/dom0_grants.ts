// Grant access as dom0's in-process backends use it (what libxengnttab / gntdev give a real dom0): map a
// frontend's granted page, unmap it, copy to and from grants. Thin: the checks live in GrantTables.
import type { GrantMapping, GrantTables } from "./grant_table.ts";

export class Dom0Grants {
  /** Registers dom0 (domid, usually 0) as a privileged grant user with no guest memory. */
  constructor(
    private readonly tables: GrantTables,
    readonly domid = 0,
  ) {
    if (!tables.hasDomain(domid)) tables.addControlDomain(domid);
  }

  /** Maps granter's grant `ref` (it must be granted to dom0; read-only grants only with readonly). */
  map(granter: number, ref: number, readonly: boolean): GrantMapping {
    return this.tables.mapGrantRef(this.domid, granter, ref, readonly);
  }

  unmap(mapping: GrantMapping | number): void {
    this.tables.unmapGrantRef(this.domid, typeof mapping === "number" ? mapping : mapping.handle);
  }

  /** Reads dst.length bytes at offset of granter's grant `ref` (GNTTABOP_copy from a gref). */
  copyFrom(granter: number, ref: number, offset: number, dst: Uint8Array): void {
    this.tables.copyFromGrant(this.domid, granter, ref, offset, dst);
  }

  /** Writes src at offset of granter's grant `ref` (GNTTABOP_copy to a gref; refused for read-only grants). */
  copyTo(granter: number, ref: number, offset: number, src: Uint8Array): void {
    this.tables.copyToGrant(this.domid, granter, ref, offset, src);
  }
}
