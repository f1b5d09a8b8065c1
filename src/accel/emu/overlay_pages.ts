// Hypervisor-owned pages the Xen layer maps into an emu guest's physmap at non-RAM gfns (grant-table frames,
// shared_info placed outside RAM): hv/xen GuestPhysmap "overlays" (PhysmapHooks), visible to the emu CPU.
//
// Design: the owner (main thread) allocates overlay pages from a fixed pool in one SharedArrayBuffer and records
// in a shared table which gfn each pool page is mapped at (Float64, NaN = unmapped) plus a sequence number. The
// emu thread puts an MMIO device over the non-RAM guest-physical space (below the IOAPIC and above 4 GiB) that
// rebuilds its gfn → page map when the sequence moved and serves accesses from the pool. Grant-table accesses are
// rare (setup, grant/ungrant), so the MMIO path's per-access cost is fine. Overlays placed over RAM gfns are not
// seen by the emu CPU (its RAM fast path wins); Linux puts grant frames in unpopulated space.
import type { MmioDevice } from "../../hv/ports.ts";

const PAGE = 4096;

export interface OverlayShare {
  readonly pool: SharedArrayBuffer;
  /** Float64 per pool page: the gfn it is mapped at, NaN if none. */
  readonly gfns: SharedArrayBuffer;
  /** Int32 [0]: bumped on every change. */
  readonly seq: SharedArrayBuffer;
}

/** Owner side: the allocator and map/unmap bookkeeping (PhysmapHooks shape). */
export class OverlayPool {
  private readonly gfns: Float64Array;
  private readonly seq: Int32Array;
  private readonly slots = new Map<Uint8Array, number>();
  private next = 0;

  constructor(readonly share: OverlayShare) {
    this.gfns = new Float64Array(share.gfns);
    this.seq = new Int32Array(share.seq);
  }

  static create(pages: number): OverlayPool {
    const gfns = new SharedArrayBuffer(8 * pages);
    new Float64Array(gfns).fill(NaN);
    return new OverlayPool({ pool: new SharedArrayBuffer(PAGE * pages), gfns, seq: new SharedArrayBuffer(4) });
  }

  get capacity(): number {
    return this.gfns.length;
  }

  allocPage(): Uint8Array {
    if (this.next >= this.gfns.length) throw new RangeError(`The emu overlay pool is full (${this.gfns.length} pages)`);
    const slot = this.next++;
    const page = new Uint8Array(this.share.pool, slot * PAGE, PAGE);
    page.fill(0);
    this.slots.set(page, slot);
    return page;
  }

  mapped(gfn: number, page: Uint8Array): void {
    const slot = this.slots.get(page);
    if (slot === undefined) return; // not ours (cannot happen when the physmap allocates here)
    this.unmapped(gfn);
    this.gfns[slot] = gfn;
    Atomics.add(this.seq, 0, 1);
  }

  unmapped(gfn: number): void {
    for (let i = 0; i < this.gfns.length; i++) {
      if (this.gfns[i] === gfn) {
        this.gfns[i] = NaN;
        Atomics.add(this.seq, 0, 1);
      }
    }
  }
}

/** Emu side: an MmioDevice at `base` over the overlay pages (reads of unmapped gfns give all ones). */
export class OverlayMmio implements MmioDevice {
  readonly name = "xen-overlays";
  private readonly gfns: Float64Array;
  private readonly seq: Int32Array;
  private readonly view: DataView;
  private seenSeq = -1;
  private map = new Map<number, number>();

  constructor(share: OverlayShare, private readonly base: number) {
    this.gfns = new Float64Array(share.gfns);
    this.seq = new Int32Array(share.seq);
    this.view = new DataView(share.pool);
  }

  private offsetOf(offset: number): number {
    const s = Atomics.load(this.seq, 0);
    if (s !== this.seenSeq) {
      this.seenSeq = s;
      const m = new Map<number, number>();
      for (let i = 0; i < this.gfns.length; i++) {
        const g = this.gfns[i]!;
        if (!Number.isNaN(g)) m.set(g, i);
      }
      this.map = m;
    }
    const gpa = this.base + offset;
    const slot = this.map.get(Math.floor(gpa / PAGE));
    return slot === undefined ? -1 : slot * PAGE + (gpa % PAGE);
  }

  read(offset: number, size: 1 | 2 | 4 | 8): number {
    const at = this.offsetOf(offset);
    if (at < 0 || at % PAGE > PAGE - size) return size === 1 ? 0xff : size === 2 ? 0xffff : size === 4 ? 0xffffffff : 2 ** 53 - 1;
    const v = this.view;
    switch (size) {
      case 1: return v.getUint8(at);
      case 2: return v.getUint16(at, true);
      case 4: return v.getUint32(at, true);
      case 8: return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000;
    }
  }

  write(offset: number, size: 1 | 2 | 4 | 8, value: number): void {
    const at = this.offsetOf(offset);
    if (at < 0 || at % PAGE > PAGE - size) return;
    const v = this.view;
    switch (size) {
      case 1: v.setUint8(at, value & 0xff); return;
      case 2: v.setUint16(at, value & 0xffff, true); return;
      case 4: v.setUint32(at, value >>> 0, true); return;
      case 8:
        v.setUint32(at, value % 0x1_0000_0000, true);
        v.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
        return;
    }
  }
}
