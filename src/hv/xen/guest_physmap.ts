// A domain's guest-physical page map: RAM plus hypervisor-owned "overlay" pages (shared_info, grant frames,
// foreign grant mappings) placed at chosen gfns, as Xen's p2m and QEMU's xen_overlay.c do.
//
// Design: the core sees only this interface. emu implements it with RamPhysmap (direct Uint8Array views);
// kvm wraps RamPhysmap and, in the hooks, adds or removes one memslot per overlay page and punches holes
// for released RAM. Pages handed out by allocOverlayPage() must be memory the backend can map into the
// guest (kvm: an mmap'ed page it knows the host address of), so the backend supplies the allocator.
import type { GuestRam } from "../ports.ts";
import { XEN_PAGE_SIZE } from "../../abi/xen/xen.ts";

export interface GuestPhysmap {
  /** The 4 KiB page now at gfn (an overlay if one is there, else populated RAM), or undefined. */
  page(gfn: number): Uint8Array | undefined;
  /** True when gfn is a populated RAM page (not an overlay, not a hole, not ballooned out). */
  isRam(gfn: number): boolean;
  /** Number of gfns that RAM covers (RAM is gfn 0 .. ramPages - 1). */
  readonly ramPages: number;
  /** Highest gfn with anything mapped (RAM or overlay); -1 when empty (XENMEM_maximum_gpfn). */
  maxGfn(): number;
  /** A fresh zeroed hypervisor-owned page that can later be mapped with mapOverlay(). */
  allocOverlayPage(): Uint8Array;
  /** Makes page visible at gfn, hiding whatever was there. Replaces an earlier overlay at gfn. */
  mapOverlay(gfn: number, page: Uint8Array): void;
  /** Removes the overlay at gfn (RAM there, if any, shows again). No-op if none. */
  unmapOverlay(gfn: number): void;
  /** Balloon down: the RAM page at gfn goes back to the host. Returns false if it was not populated RAM. */
  releaseRam(gfn: number): boolean;
  /** Balloon up: repopulates a released RAM page with zeros. Returns false if gfn is not a released RAM page. */
  populateRam(gfn: number): boolean;
}

/** What a backend does on top of RamPhysmap's bookkeeping (kvm: memslots, hole punching). */
export interface PhysmapHooks {
  allocOverlayPage?(): Uint8Array;
  overlayMapped?(gfn: number, page: Uint8Array): void;
  overlayUnmapped?(gfn: number): void;
  ramReleased?(gfn: number): void;
  ramPopulated?(gfn: number): void;
}

/** GuestPhysmap over one contiguous RAM buffer at guest-physical 0 plus a gfn → overlay table. */
export class RamPhysmap implements GuestPhysmap {
  readonly ramPages: number;
  private readonly overlays = new Map<number, Uint8Array>();
  private readonly released = new Set<number>();

  constructor(
    private readonly ram: GuestRam,
    private readonly hooks: PhysmapHooks = {},
  ) {
    this.ramPages = Math.floor(ram.sizeBytes / XEN_PAGE_SIZE);
  }

  page(gfn: number): Uint8Array | undefined {
    const overlay = this.overlays.get(gfn);
    if (overlay !== undefined) return overlay;
    if (!this.isRam(gfn)) return undefined;
    return this.ram.bytes.subarray(gfn * XEN_PAGE_SIZE, (gfn + 1) * XEN_PAGE_SIZE);
  }

  isRam(gfn: number): boolean {
    return Number.isInteger(gfn) && gfn >= 0 && gfn < this.ramPages && !this.released.has(gfn) && !this.overlays.has(gfn);
  }

  maxGfn(): number {
    let max = this.ramPages - 1;
    for (const gfn of this.overlays.keys()) if (gfn > max) max = gfn;
    return max;
  }

  allocOverlayPage(): Uint8Array {
    return this.hooks.allocOverlayPage?.() ?? new Uint8Array(new SharedArrayBuffer(XEN_PAGE_SIZE));
  }

  mapOverlay(gfn: number, page: Uint8Array): void {
    if (page.length !== XEN_PAGE_SIZE) throw new RangeError(`Overlay page at gfn ${gfn} is ${page.length} bytes, not ${XEN_PAGE_SIZE}`);
    if (this.overlays.has(gfn)) this.unmapOverlay(gfn);
    this.overlays.set(gfn, page);
    this.hooks.overlayMapped?.(gfn, page);
  }

  unmapOverlay(gfn: number): void {
    if (!this.overlays.delete(gfn)) return;
    this.hooks.overlayUnmapped?.(gfn);
  }

  overlayAt(gfn: number): Uint8Array | undefined {
    return this.overlays.get(gfn);
  }

  releaseRam(gfn: number): boolean {
    if (!this.isRam(gfn)) return false;
    this.released.add(gfn);
    this.ram.bytes.fill(0, gfn * XEN_PAGE_SIZE, (gfn + 1) * XEN_PAGE_SIZE);
    this.hooks.ramReleased?.(gfn);
    return true;
  }

  populateRam(gfn: number): boolean {
    if (!this.released.delete(gfn)) return false;
    this.ram.bytes.fill(0, gfn * XEN_PAGE_SIZE, (gfn + 1) * XEN_PAGE_SIZE);
    this.hooks.ramPopulated?.(gfn);
    return true;
  }

  get releasedPages(): number {
    return this.released.size;
  }
}
