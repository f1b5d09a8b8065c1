// The Xen guest interface state of one domain (shared_info and vcpu_info, 2-level event delivery, pvclock,
// HVM params, VCPUOP state and timers, memory reservation) and the registry the hypercall handlers look
// domains up in.
//
// Design: XenGuest composes the per-domain pieces and is created at one wiring point (domain build) with
// the ports it needs: the domain's GuestPhysmap, a XenClock, and inject(vcpuId, vector), the CPU backend's
// way to raise an interrupt vector on a vCPU (kvm: KVM_SIGNAL_MSI; emu: the LAPIC). Cross-domain state
// (event channels, grant tables) lives in the shared EventChannels / GrantTables objects; XenGuests adds and
// removes a domain in all of them at once. Main thread only.
import { Errno } from "../../abi/xen/errno.ts";
import { E820Type } from "../../abi/xen/memory.ts";
import { VcpuInfoLayout, Virq } from "../../abi/xen/xen.ts";
import { Evtchn2l } from "../evtchn/event_2l.ts";
import type { EventChannels } from "../evtchn/event_channels.ts";
import type { GrantTables } from "../gnttab/grant_table.ts";
import type { GuestCall } from "./guest_call.ts";
import { resolveDomid } from "./guest_call.ts";
import type { GuestPhysmap } from "./guest_physmap.ts";
import { HvmParams } from "./hvm_params.ts";
import { SharedInfo } from "./shared_info.ts";
import { PvClock, type XenClock } from "./time.ts";
import { VcpuTimers, type TimerChange, type VcpuTimersState } from "./vcpu_timers.ts";
import type { SharedInfoState } from "./shared_info.ts";
import type { HvmParamsState } from "./hvm_params.ts";
import type { EvtchnDomainState } from "../evtchn/state.ts";
import type { GrantTableState } from "../gnttab/state.ts";
import { XenError } from "./xen_error.ts";

/** One e820 region of the domain's memory map (what XENMEM_memory_map returns). */
export interface E820Region {
  readonly addr: number;
  readonly size: number;
  readonly type: number;
}

/** What the CPU backend does for the Xen core of one domain. */
export interface XenVcpuHooks {
  /** Raise interrupt `vector` on vcpuId (the event-channel upcall). */
  inject(vcpuId: number, vector: number): void;
  /** VCPUOP_up: bring vcpuId online; return false if it cannot run yet (Xen: not initialised → EINVAL). */
  vcpuUp?(vcpuId: number): boolean;
  /** VCPUOP_down: take vcpuId offline. */
  vcpuDown?(vcpuId: number): void;
  /** The next timer deadline of vcpuId changed (Xen system time, ns; undefined = none). */
  timerChanged?: TimerChange;
  /** A port of this domain became pending (masked or not): wake vCPUs blocked in SCHEDOP_poll on it. */
  portPending?(port: number): void;
}

export interface XenGuestConfig {
  readonly domid: number;
  readonly nrVcpus: number;
  readonly physmap: GuestPhysmap;
  readonly clock: XenClock;
  readonly hooks: XenVcpuHooks;
  /** The domain's memory map (RAM, reserved ranges) as built by the domain builder. */
  readonly e820: readonly E820Region[];
  /** Page limit (maxmem); populated pages may not exceed it. */
  readonly maxPages: number;
  /** Pages populated at build (defaults to the RAM pages in e820). */
  readonly totPages?: number;
  /** The control domain (dom0's in-process toolstack). */
  readonly privileged?: boolean;
  readonly maxGrantFrames?: number;
}

export class XenGuest {
  readonly domid: number;
  readonly nrVcpus: number;
  readonly physmap: GuestPhysmap;
  readonly privileged: boolean;
  readonly sharedInfo: SharedInfo;
  readonly evtchn: Evtchn2l;
  readonly params: HvmParams;
  readonly clock: PvClock;
  readonly timers: VcpuTimers;
  readonly e820: readonly E820Region[];
  maxPages: number;
  totPages: number;
  private readonly online: boolean[];
  private readonly hooks: XenVcpuHooks;

  constructor(
    config: XenGuestConfig,
    private readonly events: EventChannels,
  ) {
    this.domid = config.domid;
    this.nrVcpus = config.nrVcpus;
    this.physmap = config.physmap;
    this.privileged = config.privileged ?? false;
    this.e820 = config.e820;
    this.maxPages = config.maxPages;
    this.totPages = config.totPages ?? config.e820.filter((r) => r.type === E820Type.ram).reduce((n, r) => n + Math.floor(r.size / 4096), 0);
    this.sharedInfo = new SharedInfo(config.physmap, config.nrVcpus);
    this.params = new HvmParams(config.nrVcpus);
    this.clock = new PvClock(config.clock);
    const hooks = config.hooks;
    this.hooks = hooks;
    const sharedInfo = this.sharedInfo;
    // The target re-reads sharedInfo.words on each use: placing shared_info switches pages.
    this.evtchn = new Evtchn2l({
      get words() {
        return sharedInfo.words;
      },
      vcpuInfo: (v) => sharedInfo.vcpuInfo(v),
      upcall: (v) => this.upcall(v),
      portPending: (port) => hooks.portPending?.(port),
    });
    this.timers = new VcpuTimers(config.nrVcpus, (v) => events.sendVirq(this.domid, Virq.TIMER, v), hooks.timerChanged);
    this.online = Array.from({ length: config.nrVcpus }, (_, i) => i === 0);
  }

  /** vcpu_info upcall_pending went 0 → 1: inject the vCPU's upcall vector, if the guest registered one. */
  upcall(vcpuId: number): void {
    const vector = this.params.upcallVector(vcpuId);
    if (vector !== undefined) this.hooks.inject(vcpuId, vector);
  }

  /** HVMOP_set_evtchn_upcall_vector: set, then deliver an upcall already pending (hvm_assert_evtchn_irq). */
  setUpcallVector(vcpuId: number, vector: number): void {
    this.params.setUpcallVector(vcpuId, vector);
    const info = this.sharedInfo.vcpuInfo(vcpuId);
    if (info !== undefined && Atomics.load(info.bytes, info.offset + VcpuInfoLayout.evtchnUpcallPending) !== 0) this.upcall(vcpuId);
  }

  hasVcpu(vcpuId: number): boolean {
    return Number.isInteger(vcpuId) && vcpuId >= 0 && vcpuId < this.nrVcpus;
  }

  isVcpuUp(vcpuId: number): boolean {
    return this.online[vcpuId] === true;
  }

  /** Marks vcpuId online or offline (the backend calls this when an AP starts through INIT/SIPI too). */
  setVcpuOnline(vcpuId: number, up: boolean): void {
    if (this.hasVcpu(vcpuId)) this.online[vcpuId] = up;
  }

  vcpuUp(vcpuId: number): void {
    if (this.hooks.vcpuUp !== undefined && !this.hooks.vcpuUp(vcpuId)) {
      throw new XenError(Errno.EINVAL, `vCPU ${vcpuId} of domain ${this.domid} is not initialised`);
    }
    this.online[vcpuId] = true;
  }

  vcpuDown(vcpuId: number): void {
    this.hooks.vcpuDown?.(vcpuId);
    this.online[vcpuId] = false;
  }

  /** Refreshes vcpuId's pvclock (on schedule-in, after register_vcpu_info, about once a second). */
  updateTime(vcpuId: number): void {
    const info = this.sharedInfo.vcpuInfo(vcpuId);
    if (info !== undefined) this.clock.fill(info);
  }

  /** Refreshes every vCPU's pvclock and the wallclock. */
  updateAllTimes(): void {
    for (let v = 0; v < this.nrVcpus; v++) this.updateTime(v);
    this.clock.writeWallclock(this.sharedInfo);
  }

  /** Fires vcpuId's timers that are due now. */
  runTimers(vcpuId: number): boolean {
    return this.timers.expire(vcpuId, this.clock.systemTimeNs());
  }

  /** This domain's own part of a save record (the caller adds event channels and grants: XenGuests.save). */
  saveOwn(): Omit<XenGuestState, "evtchn" | "gnttab"> {
    return {
      version: 1,
      systemTimeNs: String(this.clock.systemTimeNs()),
      totPages: this.totPages,
      maxPages: this.maxPages,
      online: [...this.online],
      sharedInfo: this.sharedInfo.save(),
      params: this.params.save(),
      timers: this.timers.save(),
    };
  }

  /** Loads saveOwn() into this fresh guest (its RAM already restored). */
  restoreOwn(state: Omit<XenGuestState, "evtchn" | "gnttab">): void {
    if (state.version !== 1) throw new RangeError(`Xen guest record version ${String(state.version)} is not supported`);
    this.clock.resumeAt(BigInt(state.systemTimeNs));
    this.totPages = state.totPages;
    this.maxPages = state.maxPages;
    state.online.forEach((up, v) => this.setVcpuOnline(v, up));
    this.sharedInfo.restore(state.sharedInfo);
    this.params.restore(state.params);
    this.timers.restore(state.timers);
  }
}

/** The Xen-interface state of one domain: a named, versioned record for save/restore and migration. */
export interface XenGuestState {
  readonly version: 1;
  readonly systemTimeNs: string;
  readonly totPages: number;
  readonly maxPages: number;
  readonly online: readonly boolean[];
  readonly sharedInfo: SharedInfoState;
  readonly params: HvmParamsState;
  readonly timers: VcpuTimersState;
  readonly evtchn: EvtchnDomainState;
  readonly gnttab: GrantTableState;
}

/** What the hypercall handlers need: the shared cross-domain objects and a domain lookup with permission check. */
export interface XenEnv {
  readonly events: EventChannels;
  readonly grants: GrantTables;
  guest(domid: number): XenGuest | undefined;
  /** The guest named by domid (DOMID_SELF = caller) if the caller may act on it: ESRCH / EPERM. */
  targetGuest(call: GuestCall, domid: number, what: string): XenGuest;
}

/** The registry of XenGuests: adding a domain registers it with event channels and grant tables too. */
export class XenGuests implements XenEnv {
  private readonly guests = new Map<number, XenGuest>();

  constructor(
    readonly events: EventChannels,
    readonly grants: GrantTables,
  ) {}

  add(config: XenGuestConfig): XenGuest {
    if (this.guests.has(config.domid)) throw new Error(`Domain ${config.domid} already has Xen guest state`);
    const guest = new XenGuest(config, this.events);
    this.events.addDomain(config.domid, { nrVcpus: config.nrVcpus, ops: guest.evtchn, privileged: guest.privileged });
    this.grants.addDomain(config.domid, { physmap: config.physmap, maxFrames: config.maxGrantFrames, privileged: guest.privileged });
    this.guests.set(config.domid, guest);
    return guest;
  }

  /** The whole Xen-interface state of domid (take it with the domain paused). */
  save(domid: number): XenGuestState {
    const guest = this.guests.get(domid);
    if (guest === undefined) throw new Error(`Domain ${domid} has no Xen guest state`);
    return { ...guest.saveOwn(), evtchn: this.events.saveDomain(domid), gnttab: this.grants.saveDomain(domid) };
  }

  /**
   * Re-creates a domain from config (its RAM already restored into config.physmap) and a save record. The
   * domid may differ from the saved one; interdomain channels to peers that are gone come back unbound.
   */
  restore(config: XenGuestConfig, state: XenGuestState): XenGuest {
    if (this.guests.has(config.domid)) throw new Error(`Domain ${config.domid} already has Xen guest state`);
    const guest = new XenGuest(config, this.events);
    this.events.restoreDomain(config.domid, state.evtchn, { ops: guest.evtchn, privileged: guest.privileged });
    try {
      this.grants.restoreDomain(config.domid, state.gnttab, { physmap: config.physmap, privileged: guest.privileged });
      guest.restoreOwn(state);
    } catch (e) {
      this.events.removeDomain(config.domid);
      this.grants.removeDomain(config.domid);
      throw e;
    }
    this.guests.set(config.domid, guest);
    return guest;
  }

  remove(domid: number): void {
    this.events.removeDomain(domid);
    this.grants.removeDomain(domid);
    this.guests.delete(domid);
  }

  guest(domid: number): XenGuest | undefined {
    return this.guests.get(domid);
  }

  targetGuest(call: GuestCall, domid: number, what: string): XenGuest {
    const id = resolveDomid(call, domid);
    const guest = this.guests.get(id);
    if (guest === undefined) throw new XenError(Errno.ESRCH, `Cannot ${what} of domain "${domid}": no such domain`);
    if (id !== call.domid && !call.privileged) throw new XenError(Errno.EPERM, `Domain ${call.domid} may not ${what} of domain ${id}`);
    return guest;
  }
}
