// A domain's shared_info page and its vCPUs' vcpu_info placement (xen/include/public/xen.h; Xen
// xen/common/domain.c map_guest_area / vcpu_info_populate; xen-abi-on-kvm.md §5 steps 4 and 6).
//
// Design: shared_info starts as a hypervisor-owned page (as in Xen, events can be raised before the guest
// maps it). XENMEM_add_to_physmap(shared_info, gfn) places it: on a RAM gfn the current contents are copied
// into that RAM page, which becomes shared_info from then on (no memslot split on kvm); on a non-RAM gfn the
// page is mapped there as an overlay. vcpu_info of vCPU < 32 lives in its legacy slot and follows shared_info;
// VCPUOP_register_vcpu_info moves it (once) to any 8-byte-aligned place in a RAM page, copying the old
// contents. Every user re-resolves vcpu_info through vcpuInfo() on each use, so a move is seen at once.
// Called on the main thread; the guest touches the same bytes concurrently, so bitmaps go through Atomics.
import { Errno } from "../../abi/xen/errno.ts";
import { SharedInfoLayout, VcpuInfoLayout, XEN_LEGACY_MAX_VCPUS, XEN_PAGE_SIZE } from "../../abi/xen/xen.ts";
import type { GuestPhysmap } from "./guest_physmap.ts";
import { XenError } from "./xen_error.ts";
import { bytesToHex, hexToBytes } from "../gnttab/state.ts";

/** Where one vCPU's vcpu_info lives now: the whole page (bytes + an Int32Array view) and the byte offset in it. */
export interface VcpuInfoRef {
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  readonly offset: number;
}

interface PageViews {
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
}

function views(page: Uint8Array): PageViews {
  return { bytes: page, words: new Int32Array(page.buffer, page.byteOffset, XEN_PAGE_SIZE / 4) };
}

export class SharedInfo {
  private current: PageViews;
  private placedGfn: number | undefined;
  private placedAsOverlay = false;
  /** vCPU id → registered vcpu_info (VCPUOP_register_vcpu_info). */
  private readonly registered = new Map<number, VcpuInfoRef>();
  private readonly registeredAt = new Map<number, { readonly gfn: number; readonly offset: number }>();

  /** Legacy-slot refs for the current page, rebuilt when the page moves (no allocation per event). */
  private legacy: VcpuInfoRef[] = [];

  constructor(
    private readonly physmap: GuestPhysmap,
    readonly nrVcpus: number,
  ) {
    this.current = views(physmap.allocOverlayPage());
    this.rebuildLegacy();
  }

  private rebuildLegacy(): void {
    const n = Math.min(this.nrVcpus, XEN_LEGACY_MAX_VCPUS);
    this.legacy = Array.from({ length: n }, (_, v) => ({
      bytes: this.current.bytes,
      words: this.current.words,
      offset: SharedInfoLayout.vcpuInfo + v * VcpuInfoLayout.size,
    }));
  }

  /** The shared_info page bytes (for tests and save). */
  get bytes(): Uint8Array {
    return this.current.bytes;
  }

  /** Int32 view of the page: evtchn_pending word i (32 bits) at index 512 + i, evtchn_mask at 640 + i. */
  get words(): Int32Array {
    return this.current.words;
  }

  /** The gfn the guest placed shared_info at, if any. */
  get gfn(): number | undefined {
    return this.placedGfn;
  }

  /** XENMEM_add_to_physmap(XENMAPSPACE_shared_info, idx 0, gfn). */
  place(gfn: number): void {
    if (!Number.isSafeInteger(gfn) || gfn < 0) throw new XenError(Errno.EINVAL, `Cannot place shared_info at gfn "${gfn}"`);
    if (gfn === this.placedGfn) return;
    const old = this.current;
    if (this.placedAsOverlay && this.placedGfn !== undefined) this.physmap.unmapOverlay(this.placedGfn);
    let next: PageViews;
    if (this.physmap.isRam(gfn)) {
      const ramPage = this.physmap.page(gfn)!;
      ramPage.set(old.bytes);
      next = views(ramPage);
      this.placedAsOverlay = false;
    } else {
      const page = this.physmap.allocOverlayPage();
      page.set(old.bytes);
      this.physmap.mapOverlay(gfn, page);
      next = views(page);
      this.placedAsOverlay = true;
    }
    this.current = next;
    this.placedGfn = gfn;
    this.rebuildLegacy();
  }

  /** The vcpu_info of vcpuId: registered area, else its legacy slot (vCPU < 32), else undefined. */
  vcpuInfo(vcpuId: number): VcpuInfoRef | undefined {
    if (this.registered.size !== 0) {
      const reg = this.registered.get(vcpuId);
      if (reg !== undefined) return reg;
    }
    return this.legacy[vcpuId];
  }

  /** True when gfn holds shared_info or a registered vcpu_info: the balloon must not take it. */
  usesGfn(gfn: number): boolean {
    if (gfn === this.placedGfn) return true;
    for (const at of this.registeredAt.values()) if (at.gfn === gfn) return true;
    return false;
  }

  isVcpuInfoRegistered(vcpuId: number): boolean {
    return this.registered.has(vcpuId);
  }

  /**
   * VCPUOP_register_vcpu_info: vcpu_info of vcpuId moves to gfn * 4096 + offset. Errors as Xen:
   * EINVAL (offset outside the page, gfn not RAM), EBUSY (already registered), ENXIO (crosses the page
   * end or not 8-byte aligned), ENOENT (no such vCPU). Copies the old contents (or zero) to the new place.
   */
  registerVcpuInfo(vcpuId: number, gfn: number, offset: number): VcpuInfoRef {
    if (!Number.isInteger(vcpuId) || vcpuId < 0 || vcpuId >= this.nrVcpus) {
      throw new XenError(Errno.ENOENT, `Cannot register vcpu_info for vCPU "${vcpuId}": no such vCPU`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= XEN_PAGE_SIZE) {
      throw new XenError(Errno.EINVAL, `Cannot register vcpu_info at offset "${offset}": outside the page`);
    }
    if (this.registered.has(vcpuId)) throw new XenError(Errno.EBUSY, `vcpu_info of vCPU "${vcpuId}" is already registered`);
    if (offset + VcpuInfoLayout.size > XEN_PAGE_SIZE || offset % 8 !== 0) {
      throw new XenError(Errno.ENXIO, `Cannot register vcpu_info at offset "${offset}": it must be 8-byte aligned inside the page`);
    }
    if (!this.physmap.isRam(gfn)) throw new XenError(Errno.EINVAL, `Cannot register vcpu_info at gfn "${gfn}": not RAM`);
    const page = this.physmap.page(gfn)!;
    const old = this.vcpuInfo(vcpuId);
    if (old !== undefined) page.set(old.bytes.subarray(old.offset, old.offset + VcpuInfoLayout.size), offset);
    else page.fill(0, offset, offset + VcpuInfoLayout.size);
    const ref: VcpuInfoRef = { ...views(page), offset };
    this.registered.set(vcpuId, ref);
    this.registeredAt.set(vcpuId, { gfn, offset });
    return ref;
  }

  /** Wallclock at system time 0 (wc_version odd → fields → even), as Xen's update_domain_wallclock_time. */
  writeWallclock(sec: bigint, nsec: number): void {
    const w = this.current.words;
    const ver = SharedInfoLayout.wcVersion / 4;
    Atomics.add(w, ver, 1);
    Atomics.store(w, SharedInfoLayout.wcSec / 4, Number(BigInt.asUintN(32, sec)) | 0);
    Atomics.store(w, SharedInfoLayout.wcNsec / 4, nsec | 0);
    Atomics.store(w, SharedInfoLayout.wcSecHi / 4, Number(BigInt.asUintN(32, sec >> 32n)) | 0);
    Atomics.add(w, ver, 1);
  }

  /** Save record: where the guest put things, plus the page itself when it is not guest RAM. */
  save(): SharedInfoState {
    const inRam = this.placedGfn !== undefined && !this.placedAsOverlay;
    return {
      version: 1,
      gfn: this.placedGfn ?? null,
      overlay: this.placedAsOverlay,
      page: inRam ? null : bytesToHex(this.current.bytes),
      vcpuInfo: [...this.registeredAt.entries()].map(([vcpuId, at]) => ({ vcpuId, gfn: at.gfn, offset: at.offset })),
    };
  }

  /** Loads a save() record into a fresh SharedInfo whose guest RAM was already restored. */
  restore(state: SharedInfoState): void {
    if (state.version !== 1) throw new RangeError(`shared_info record version ${String(state.version)} is not supported`);
    if (state.gfn !== null && !state.overlay) {
      const page = this.physmap.page(state.gfn);
      if (page === undefined || !this.physmap.isRam(state.gfn)) throw new RangeError(`Saved shared_info gfn ${state.gfn} is not RAM`);
      this.current = views(page);
    } else {
      const page = this.physmap.allocOverlayPage();
      if (state.page !== null) hexToBytes(state.page, page);
      if (state.gfn !== null) this.physmap.mapOverlay(state.gfn, page);
      this.current = views(page);
    }
    this.placedGfn = state.gfn ?? undefined;
    this.placedAsOverlay = state.overlay;
    this.rebuildLegacy();
    this.registered.clear();
    this.registeredAt.clear();
    for (const r of state.vcpuInfo) {
      const page = this.physmap.page(r.gfn);
      if (page === undefined || r.offset < 0 || r.offset + VcpuInfoLayout.size > XEN_PAGE_SIZE || r.vcpuId >= this.nrVcpus) {
        throw new RangeError(`Saved vcpu_info of vCPU ${r.vcpuId} at gfn ${r.gfn} + ${r.offset} is not valid`);
      }
      this.registered.set(r.vcpuId, { ...views(page), offset: r.offset });
      this.registeredAt.set(r.vcpuId, { gfn: r.gfn, offset: r.offset });
    }
  }
}

export interface SharedInfoState {
  readonly version: 1;
  readonly gfn: number | null;
  readonly overlay: boolean;
  /** Page contents (hex) when shared_info is not in guest RAM; null when guest RAM holds it. */
  readonly page: string | null;
  readonly vcpuInfo: readonly { readonly vcpuId: number; readonly gfn: number; readonly offset: number }[];
}
