// Grant tables v1 of all domains: hypervisor-owned frames mapped into each guest's physmap, mapping and copying
// of granted pages by other domains (dom0 backends) with Xen's checks and GNTST_* results. Follows
// xen/include/public/grant_table.h and xen/common/grant_table.c (_set_status_v1, acquire_grant_for_copy,
// gnttab_setup_table, gnttab_query_size, gnttab_set_version); xen-abi-on-kvm.md §8.
//
// Design: each domain's table is up to maxFrames pages of 512 grant_entry_v1, allocated from the domain's
// physmap (so kvm can back them with memslots) and placed in the guest's physmap by
// XENMEM_add_to_physmap(grant_table, idx, gfn). The guest edits entries concurrently with us, so the
// flags+domid half-word pair is read and updated as one 32-bit word with Atomics.compareExchange, exactly
// like Xen's cmpxchg on the combined "scombo" word (flags are the low 16 bits on little-endian x86).
// Mapping sets GTF_reading (and GTF_writing unless read-only) while any mapping pins the entry; the guest
// sees those bits and will not revoke the grant until they clear. A mapper holds a handle (its maptrack
// entry); unmapping drops the pin. The returned page is the live granted page: readonly is a promise the
// caller keeps (emu has no page protection inside one process); kvm foreign mappings can enforce it with
// a read-only memslot. Main thread only.
import { Errno } from "../../abi/xen/errno.ts";
import {
  GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE, GRANT_ENTRIES_V1_PER_FRAME, GRANT_ENTRY_V1_SIZE, Gntst, Gtf,
} from "../../abi/xen/grant_table.ts";
import { DOMID_SELF, XEN_PAGE_SIZE } from "../../abi/xen/xen.ts";
import { RamPhysmap, type GuestPhysmap } from "../xen/guest_physmap.ts";
import { TsxenError } from "../../base/errors.ts";
import { XenError } from "../xen/xen_error.ts";
import { bytesToHex, hexToBytes, type GrantTableState } from "./state.ts";

export const DEFAULT_MAX_GRANT_FRAMES = 64;
/** Maptrack limit per mapping domain (Xen: max_maptrack_frames × 256). */
export const MAX_MAPTRACK_HANDLES = 1 << 16;
/** Xen's INVALID_GFN as setup_table reports a frame the guest has not mapped yet. */
export const INVALID_GFN = 0xffff_ffff_ffff_ffffn;

export interface GrantDomainConfig {
  readonly physmap: GuestPhysmap;
  readonly maxFrames?: number;
  /** The control domain: may query/setup other domains' tables. */
  readonly privileged?: boolean;
}

/** A live mapping of a granted page, as map_grant_ref gives a backend. */
export interface GrantMapping {
  readonly handle: number;
  readonly granter: number;
  readonly ref: number;
  readonly readonly: boolean;
  /** The granted 4 KiB page (granter's memory). Do not write when readonly. */
  readonly page: Uint8Array;
  /** The granter's gfn (dev_bus_addr >> 12 in Xen's terms). */
  readonly frame: number;
}

/** A typed refusal for one grant op: Xen reports these per op in a status field, not as errno. */
export class GrantStatusError extends TsxenError {
  constructor(
    readonly status: number,
    why: string,
  ) {
    super(why);
  }
}

interface Pin {
  readers: number;
  writers: number;
}

interface MaptrackEntry {
  readonly granter: number;
  readonly ref: number;
  readonly readonly: boolean;
  /** For a guest mapper: the gfn where the page was put in its own physmap. */
  readonly atGfn: number | undefined;
}

class DomainGrantTable {
  readonly frames: Uint8Array[] = [];
  readonly frameWords: Int32Array[] = [];
  /** frame index → gfn where the guest mapped it. */
  readonly frameGfn = new Map<number, number>();
  readonly pins = new Map<number, Pin>();
  readonly maptrack = new Map<number, MaptrackEntry>();
  nextHandle = 0;
  version = 1;

  constructor(
    readonly domid: number,
    readonly physmap: GuestPhysmap,
    readonly maxFrames: number,
    readonly privileged: boolean,
  ) {}

  get nrEntries(): number {
    return this.frames.length * GRANT_ENTRIES_V1_PER_FRAME;
  }

  grow(nrFrames: number): boolean {
    if (nrFrames > this.maxFrames) return false;
    while (this.frames.length < nrFrames) {
      const page = this.physmap.allocOverlayPage();
      this.frames.push(page);
      this.frameWords.push(new Int32Array(page.buffer, page.byteOffset, XEN_PAGE_SIZE / 4));
    }
    return true;
  }

  /** Int32 array holding ref's flags|domid word, and its index. */
  word(ref: number): [Int32Array, number] {
    const frame = Math.floor(ref / GRANT_ENTRIES_V1_PER_FRAME);
    return [this.frameWords[frame]!, (ref % GRANT_ENTRIES_V1_PER_FRAME) * (GRANT_ENTRY_V1_SIZE / 4)];
  }

  frameOf(ref: number): number {
    const [w, i] = this.word(ref);
    return w[i + 1]! >>> 0;
  }

  allocHandle(entry: MaptrackEntry): number {
    if (this.maptrack.size >= MAX_MAPTRACK_HANDLES) throw new GrantStatusError(Gntst.no_space, `Domain ${this.domid} has no free grant handle`);
    while (this.maptrack.has(this.nextHandle)) this.nextHandle = (this.nextHandle + 1) % MAX_MAPTRACK_HANDLES;
    const handle = this.nextHandle;
    this.maptrack.set(handle, entry);
    this.nextHandle = (handle + 1) % MAX_MAPTRACK_HANDLES;
    return handle;
  }
}

export class GrantTables {
  private readonly tables = new Map<number, DomainGrantTable>();

  addDomain(domid: number, config: GrantDomainConfig): void {
    if (this.tables.has(domid)) throw new Error(`Grant table of domain ${domid} already exists`);
    const t = new DomainGrantTable(domid, config.physmap, config.maxFrames ?? DEFAULT_MAX_GRANT_FRAMES, config.privileged ?? false);
    t.grow(1); // Xen starts every table with one frame (the toolstack writes the reserved entries there).
    this.tables.set(domid, t);
  }

  /**
   * The control domain (dom0's in-process backends): a privileged table with no guest memory, so it can
   * hold maptrack handles of the grants it maps.
   */
  addControlDomain(domid = 0): void {
    this.addDomain(domid, { physmap: new RamPhysmap({ bytes: new Uint8Array(0), sizeBytes: 0 }), privileged: true });
  }

  /** Drops domid's table and every mapping it holds of others' grants (their pins are released). */
  removeDomain(domid: number): void {
    const t = this.tables.get(domid);
    if (t === undefined) return;
    for (const handle of [...t.maptrack.keys()]) this.unmapGrantRef(domid, handle);
    this.tables.delete(domid);
  }

  hasDomain(domid: number): boolean {
    return this.tables.has(domid);
  }

  /** domid's table as a save record (frames and where the guest placed them). */
  saveDomain(domid: number): GrantTableState {
    const t = this.own(domid);
    return {
      version: 1,
      gntVersion: 1,
      maxFrames: t.maxFrames,
      frames: t.frames.map(bytesToHex),
      frameGfns: [...t.frameGfn.entries()],
    };
  }

  /** Adds domid from a save record: frames refilled (reading/writing cleared) and placed at their gfns again. */
  restoreDomain(domid: number, state: GrantTableState, config: Omit<GrantDomainConfig, "maxFrames">): void {
    if (state.version !== 1 || state.gntVersion !== 1) throw new RangeError(`Grant-table record version ${String(state.version)} is not supported`);
    if (state.frames.length > state.maxFrames) throw new RangeError(`Saved grant table has ${state.frames.length} frames, limit ${state.maxFrames}`);
    this.addDomain(domid, { ...config, maxFrames: state.maxFrames });
    const t = this.tables.get(domid)!;
    t.grow(state.frames.length);
    state.frames.forEach((hex, i) => {
      hexToBytes(hex, t.frames[i]!);
      const w = t.frameWords[i]!;
      for (let e = 0; e < GRANT_ENTRIES_V1_PER_FRAME; e++) w[e * 2] = w[e * 2]! & ~(Gtf.reading | Gtf.writing);
    });
    for (const [idx, gfn] of state.frameGfns) this.mapFrame(domid, idx, gfn);
  }

  // ---- Operations on a domain's own table (hypercall sub-ops) ----

  /** GNTTABOP_query_size. Throws GrantStatusError(bad_domain / permission_denied). */
  querySize(caller: number, dom: number): { nrFrames: number; maxNrFrames: number } {
    const t = this.target(caller, dom);
    return { nrFrames: t.frames.length, maxNrFrames: t.maxFrames };
  }

  /** GNTTABOP_setup_table: grows to nrFrames; returns each frame's gfn (INVALID_GFN if not yet placed). */
  setupTable(caller: number, dom: number, nrFrames: number): bigint[] {
    const t = this.target(caller, dom);
    if (nrFrames > t.maxFrames || !t.grow(nrFrames)) {
      throw new GrantStatusError(Gntst.general_error, `Domain ${t.domid} is limited to ${t.maxFrames} grant frames, asked for ${nrFrames}`);
    }
    const out: bigint[] = [];
    for (let i = 0; i < nrFrames; i++) {
      const gfn = t.frameGfn.get(i);
      out.push(gfn === undefined ? INVALID_GFN : BigInt(gfn));
    }
    return out;
  }

  /** GNTTABOP_set_version: only v1 is offered (v2 → ENOSYS as a Xen built with max version 1). Returns the version. */
  setVersion(caller: number, version: number): number {
    const t = this.own(caller);
    if (version !== 1 && version !== 2) throw new XenError(Errno.EINVAL, `Grant table version "${version}" does not exist`);
    if (version === 2) throw new XenError(Errno.ENOSYS, "Grant table v2 is not offered");
    return t.version;
  }

  /** GNTTABOP_get_version. Throws XenError(ESRCH / EPERM). */
  getVersion(caller: number, dom: number): number {
    const domid = dom === DOMID_SELF ? caller : dom;
    const t = this.tables.get(domid);
    if (t === undefined) throw new XenError(Errno.ESRCH, `Cannot read the grant table version of domain "${dom}": no such domain`);
    if (domid !== caller && !this.tables.get(caller)?.privileged) {
      throw new XenError(Errno.EPERM, `Domain ${caller} may not read the grant table of domain ${domid}`);
    }
    return t.version;
  }

  /**
   * XENMEM_add_to_physmap(XENMAPSPACE_grant_table, idx, gfn) for domid: grows the table to idx + 1 frames
   * and shows frame idx at gfn (moving it if it was shown elsewhere). Status frames (idx bit 31) exist only
   * in v2: EINVAL.
   */
  mapFrame(domid: number, idx: number, gfn: number): void {
    const t = this.own(domid);
    if (idx >= 0x8000_0000) throw new XenError(Errno.EINVAL, `Grant status frame "${idx - 0x8000_0000}" does not exist in v1`);
    if (!Number.isInteger(idx) || idx < 0 || idx >= t.maxFrames || !t.grow(idx + 1)) {
      throw new XenError(Errno.EINVAL, `Grant frame "${idx}" is beyond domain ${domid}'s limit of ${t.maxFrames}`);
    }
    if (!Number.isSafeInteger(gfn) || gfn < 0) throw new XenError(Errno.EINVAL, `Cannot map grant frame at gfn "${gfn}"`);
    const old = t.frameGfn.get(idx);
    if (old === gfn && t.physmap.page(gfn) === t.frames[idx]) return;
    if (old !== undefined) t.physmap.unmapOverlay(old);
    t.physmap.mapOverlay(gfn, t.frames[idx]!);
    t.frameGfn.set(idx, gfn);
  }

  /** Number of frames domid's table has now. */
  nrFrames(domid: number): number {
    return this.own(domid).frames.length;
  }

  // ---- Toolstack ----

  /**
   * Fills the reserved entries as Xen's toolstack does (xc_dom_gnttab_seed): entry 0 grants the console page,
   * entry 1 the xenstore page, both to the backend domain (dom0), writable.
   */
  seedReservedEntries(domid: number, consoleGfn: number | undefined, xenstoreGfn: number | undefined, backendDomid = 0): void {
    const t = this.own(domid);
    const put = (ref: number, gfn: number) => {
      const [w, i] = t.word(ref);
      Atomics.store(w, i + 1, gfn | 0);
      Atomics.store(w, i, ((backendDomid & 0xffff) << 16) | Gtf.permit_access);
    };
    if (consoleGfn !== undefined) put(GNTTAB_RESERVED_CONSOLE, consoleGfn);
    if (xenstoreGfn !== undefined) put(GNTTAB_RESERVED_XENSTORE, xenstoreGfn);
  }

  /** flags, domid, frame of one entry (for tests and debugging). */
  entry(domid: number, ref: number): { flags: number; domid: number; frame: number } | undefined {
    const t = this.tables.get(domid);
    if (t === undefined || !Number.isInteger(ref) || ref < 0 || ref >= t.nrEntries) return undefined;
    const [w, i] = t.word(ref);
    const combo = Atomics.load(w, i);
    return { flags: combo & 0xffff, domid: (combo >>> 16) & 0xffff, frame: Atomics.load(w, i + 1) >>> 0 };
  }

  // ---- Mapping and copying another domain's grants ----

  /**
   * GNTTABOP_map_grant_ref by `mapper` of granter's entry `ref`. Pins the entry (GTF_reading, plus
   * GTF_writing unless readonly) and returns the live page. For a guest mapper, `atGfn` also shows the
   * page in the mapper's physmap (host_addr of an auto-translated guest). Throws GrantStatusError.
   */
  mapGrantRef(mapper: number, granter: number, ref: number, readonly: boolean, atGfn?: number): GrantMapping {
    const mt = this.tables.get(mapper);
    if (mt === undefined) throw new GrantStatusError(Gntst.bad_domain, `Domain "${mapper}" has no grant table`);
    const rdom = granter === DOMID_SELF ? mapper : granter;
    const rt = this.tables.get(rdom);
    if (rt === undefined) throw new GrantStatusError(Gntst.bad_domain, `Cannot map a grant of domain "${granter}": no such domain`);
    const frame = this.pin(rt, ref, mapper, readonly);
    const page = rt.physmap.page(frame);
    if (page === undefined) {
      this.unpin(rt, ref, readonly);
      throw new GrantStatusError(Gntst.bad_page, `Grant ${ref} of domain ${rdom} names gfn ${frame}, which holds no page`);
    }
    let handle: number;
    try {
      handle = mt.allocHandle({ granter: rdom, ref, readonly, atGfn });
    } catch (e) {
      this.unpin(rt, ref, readonly);
      throw e;
    }
    if (atGfn !== undefined) mt.physmap.mapOverlay(atGfn, page);
    return { handle, granter: rdom, ref, readonly, page, frame };
  }

  /** GNTTABOP_unmap_grant_ref: drops mapper's handle and its pin. Throws GrantStatusError(bad_handle). */
  unmapGrantRef(mapper: number, handle: number): void {
    const mt = this.tables.get(mapper);
    const m = mt?.maptrack.get(handle);
    if (mt === undefined || m === undefined) throw new GrantStatusError(Gntst.bad_handle, `Domain ${mapper} holds no grant handle "${handle}"`);
    mt.maptrack.delete(handle);
    if (m.atGfn !== undefined) mt.physmap.unmapOverlay(m.atGfn);
    const rt = this.tables.get(m.granter);
    if (rt !== undefined) this.unpin(rt, m.ref, m.readonly);
  }

  /** The mapping behind mapper's handle, if any. */
  mapping(mapper: number, handle: number): { granter: number; ref: number; readonly: boolean; atGfn: number | undefined } | undefined {
    return this.tables.get(mapper)?.maptrack.get(handle);
  }

  /**
   * Runs fn on granter's page for grant `ref` while it is pinned for `user` (GNTTABOP_copy's
   * acquire_grant_for_copy / release). Throws GrantStatusError.
   */
  withGrantedPage<T>(user: number, granter: number, ref: number, readonly: boolean, fn: (page: Uint8Array) => T): T {
    const rdom = granter === DOMID_SELF ? user : granter;
    const rt = this.tables.get(rdom);
    if (rt === undefined) throw new GrantStatusError(Gntst.bad_domain, `Cannot use a grant of domain "${granter}": no such domain`);
    const frame = this.pin(rt, ref, user, readonly);
    try {
      const page = rt.physmap.page(frame);
      if (page === undefined) throw new GrantStatusError(Gntst.bad_page, `Grant ${ref} of domain ${rdom} names gfn ${frame}, which holds no page`);
      return fn(page);
    } finally {
      this.unpin(rt, ref, readonly);
    }
  }

  /** Copies len bytes from granter's grant `ref` at offset into dst (a dom0 backend reading a request). */
  copyFromGrant(user: number, granter: number, ref: number, offset: number, dst: Uint8Array): void {
    checkRange(offset, dst.length);
    this.withGrantedPage(user, granter, ref, true, (page) => dst.set(page.subarray(offset, offset + dst.length)));
  }

  /** Copies src into granter's grant `ref` at offset (a dom0 backend writing a response / read data). */
  copyToGrant(user: number, granter: number, ref: number, offset: number, src: Uint8Array): void {
    checkRange(offset, src.length);
    this.withGrantedPage(user, granter, ref, false, (page) => page.set(src, offset));
  }

  /** The physmap of domid (for GNTTABOP_copy by gmfn). */
  physmapOf(domid: number): GuestPhysmap | undefined {
    return this.tables.get(domid)?.physmap;
  }

  // ---- helpers ----

  private own(domid: number): DomainGrantTable {
    const t = this.tables.get(domid);
    if (t === undefined) throw new XenError(Errno.ESRCH, `Domain "${domid}" has no grant table`);
    return t;
  }

  /** dom's table if caller may act on it, as setup_table/query_size report it: bad_domain / permission_denied. */
  private target(caller: number, dom: number): DomainGrantTable {
    const domid = dom === DOMID_SELF ? caller : dom;
    const t = this.tables.get(domid);
    if (t === undefined) throw new GrantStatusError(Gntst.bad_domain, `Domain "${dom}" has no grant table`);
    if (domid !== caller && !this.tables.get(caller)?.privileged) {
      throw new GrantStatusError(Gntst.permission_denied, `Domain ${caller} may not use the grant table of domain ${domid}`);
    }
    return t;
  }

  /** Xen _set_status_v1: checks the entry for `user` and sets reading/writing atomically. Returns the frame. */
  private pin(rt: DomainGrantTable, ref: number, user: number, readonly: boolean): number {
    if (!Number.isInteger(ref) || ref < 0 || ref >= rt.nrEntries) {
      throw new GrantStatusError(Gntst.bad_gntref, `Grant reference "${ref}" is beyond domain ${rt.domid}'s table`);
    }
    const [w, i] = rt.word(ref);
    for (let attempt = 0; ; attempt++) {
      const combo = Atomics.load(w, i);
      const flags = combo & 0xffff;
      const domid = (combo >>> 16) & 0xffff;
      if ((flags & (Gtf.type_mask | Gtf.sub_page)) !== Gtf.permit_access || domid !== user) {
        throw new GrantStatusError(Gntst.general_error, `Grant ${ref} of domain ${rt.domid} is not granted to domain ${user}`);
      }
      if (!readonly && (flags & Gtf.readonly) !== 0) {
        throw new GrantStatusError(Gntst.general_error, `Grant ${ref} of domain ${rt.domid} is read-only`);
      }
      const next = combo | Gtf.reading | (readonly ? 0 : Gtf.writing);
      if (Atomics.compareExchange(w, i, combo, next) === combo) break;
      if (attempt >= 4) throw new GrantStatusError(Gntst.general_error, `Grant ${ref} of domain ${rt.domid} keeps changing`);
    }
    const pin = rt.pins.get(ref) ?? { readers: 0, writers: 0 };
    if (readonly) pin.readers++;
    else pin.writers++;
    rt.pins.set(ref, pin);
    return Atomics.load(w, i + 1) >>> 0;
  }

  private unpin(rt: DomainGrantTable, ref: number, readonly: boolean): void {
    const pin = rt.pins.get(ref);
    if (pin === undefined) return;
    if (readonly) pin.readers = Math.max(0, pin.readers - 1);
    else pin.writers = Math.max(0, pin.writers - 1);
    let clear = 0;
    if (pin.writers === 0) clear |= Gtf.writing;
    if (pin.writers === 0 && pin.readers === 0) {
      clear |= Gtf.reading;
      rt.pins.delete(ref);
    }
    if (clear !== 0 && ref < rt.nrEntries) {
      const [w, i] = rt.word(ref);
      Atomics.and(w, i, ~clear);
    }
  }
}

function checkRange(offset: number, len: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + len > XEN_PAGE_SIZE) {
    throw new GrantStatusError(Gntst.bad_copy_arg, `Copy of ${len} bytes at offset ${offset} crosses the page`);
  }
}
