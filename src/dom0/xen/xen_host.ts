// dom0's side of the Xen guest interface for every PVH domain: the hypervisor core's Xen state (event
// channels, grant tables, XenGuests), dom0's own event-channel table, the PV console backends and the
// xenstore rings served by xenstored. What libxl + xenconsoled + xenstored do for a new domain.
//
// Design: one XenHost per daemon (main thread). The toolstack asks domainPort() for each PVH domain and passes
// the result in LaunchSpec.xen; the CPU backend calls attach() once guest RAM exists, before any vCPU runs.
// attach() creates the domain's XenGuest over that RAM, places the console and xenstore rings in the first two
// special pages (top of RAM, e820-reserved), offers their event channels to dom0, starts the console backend,
// writes the domain's xenstore layout and introduces the domain to xenstored. The hypercalls that need this
// state (memory_op, grant_table_op, vcpu_op, event_channel_op, hvm_op) are served here on the main thread
// (xenOwnerHypercalls); the backend forwards them from the vCPU thread.
import { randomUUID } from "node:crypto";
import { guestE820, specialPagesGpa } from "../../boot/e820.ts";
import { Dom0EventChannels } from "../../hv/evtchn/dom0_evtchn.ts";
import { EventChannels } from "../../hv/evtchn/event_channels.ts";
import { GrantTables } from "../../hv/gnttab/grant_table.ts";
import type { ExecutionEvents, GuestRam, XenBackendHooks, XenDomainAttachment, XenDomainPort } from "../../hv/ports.ts";
import { setupConsoleAndStore } from "../../hv/xen/domain_setup.ts";
import { xenOwnerHypercalls } from "../../hv/xen/entry_points.ts";
import { RamPhysmap } from "../../hv/xen/guest_physmap.ts";
import { pvhFeatureSubmap } from "../../abi/xen/features.ts";
import { VcpuInfoLayout } from "../../abi/xen/xen.ts";
import { derivedTscClock, type XenClock } from "../../hv/xen/time.ts";
import type { XenGuest } from "../../hv/xen/xen_guest.ts";
import { XenGuests } from "../../hv/xen/xen_guest.ts";
import { PvConsoleBackend } from "../backends/console/console_backend.ts";
import type { XenstoreClient } from "../xenstored/client.ts";
import { createDomainLayout, removeDomainLayout } from "../xenstored/domain_layout.ts";
import { domainPath } from "../xenstored/path.ts";
import { dom0RingHost } from "../xenstored/ring_host.ts";
import type { RingHost } from "../xenstored/ring_transport.ts";
import type { Xenstored } from "../xenstored/xenstored.ts";

const PAGE = 4096;
/** pvclock and wallclock refresh (Xen refreshes on schedule-in and about once a second). */
const TIME_REFRESH_MS = 1000;

/** The parts of startXenstoredService()'s result XenHost uses. */
export interface XenstoreAccess {
  readonly xenstored: Xenstored;
  readonly client: XenstoreClient;
  attachRingHost(host: RingHost): void;
}

export interface XenDomainSpec {
  readonly domid: number;
  readonly name: string;
  readonly memoryBytes: number;
  readonly maxmemBytes?: number;
  readonly vcpus: number;
  readonly uuid?: string;
}

/** Where a domain's console and xenstore rings live (guest frame numbers). */
export function specialPageGfns(memoryBytes: number): { console: number; store: number } {
  const first = specialPagesGpa(memoryBytes) / PAGE;
  return { console: first, store: first + 1 };
}

interface AttachedDomain {
  readonly spec: XenDomainSpec;
  readonly uuid: string;
  readonly console: PvConsoleBackend;
  readonly stopTimers: () => void;
  readonly timers: DomainTimers;
}

export class XenHost {
  readonly events = new EventChannels();
  readonly grants = new GrantTables();
  readonly xen = new XenGuests(this.events, this.grants);
  readonly dom0 = new Dom0EventChannels(this.events);
  private readonly rams = new Map<number, GuestRam>();
  private readonly attached = new Map<number, AttachedDomain>();

  constructor(
    private readonly xenstore: XenstoreAccess,
    private readonly log: (line: string) => void = () => {},
  ) {
    xenstore.attachRingHost(dom0RingHost(this.dom0, (domid) => this.rams.get(domid)));
  }

  /** The LaunchSpec.xen of a new PVH domain. */
  domainPort(spec: XenDomainSpec): XenDomainPort {
    return { attach: (ram, hooks, events) => this.attach(spec, ram, hooks, events) };
  }

  isAttached(domid: number): boolean {
    return this.attached.has(domid);
  }

  /** xl shutdown / reboot: the PV control channel (control/shutdown), which the guest's xenbus watches. */
  requestShutdown(domid: number, reason: "poweroff" | "reboot" | "suspend" | "halt"): void {
    if (!this.attached.has(domid)) throw new Error(`Domain ${domid} has no Xen control channel`);
    this.xenstore.client.write(`${domainPath(domid)}/control/shutdown`, reason);
  }

  /** The domain shut down (SCHEDOP_shutdown): @releaseDomain for dom0 watchers. */
  domainShutdown(domid: number): void {
    if (this.attached.has(domid)) this.xenstore.xenstored.domainShutdown(domid);
  }

  private attach(spec: XenDomainSpec, ram: GuestRam, hooks: XenBackendHooks, events: ExecutionEvents): XenDomainAttachment {
    const { domid } = spec;
    if (this.attached.has(domid)) throw new Error(`Domain ${domid} is already attached to the Xen layer`);
    this.rams.set(domid, ram);
    // With the guest's TSC time base the domain gets pvclock (clocksource xen) and VCPUOP timers (VIRQ_TIMER);
    // without it, Linux keeps the TSC and the LAPIC timer.
    const gc = hooks.guestClock;
    const wallclockNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
    const clock: XenClock = gc !== undefined
      ? derivedTscClock(() => gc.nowNs(), wallclockNs, gc.tscKhz)
      : derivedTscClock(() => performance.now() * 1e6, wallclockNs, 1_000_000);
    const timers = new DomainTimers(spec.vcpus);
    const e820 = guestE820(spec.memoryBytes, "pvh").map((r) => ({ addr: r.addr, size: r.size, type: r.type }));
    const guest = this.xen.add({
      domid,
      nrVcpus: spec.vcpus,
      physmap: new RamPhysmap(ram, hooks.overlays === undefined ? {} : {
        allocOverlayPage: () => hooks.overlays!.allocPage(),
        overlayMapped: (gfn, page) => hooks.overlays!.mapped(gfn, page),
        overlayUnmapped: (gfn) => hooks.overlays!.unmapped(gfn),
      }),
      clock,
      hooks: {
        inject: (vcpu, vector) => hooks.inject(vcpu, vector),
        ...(gc !== undefined ? { timerChanged: (vcpu: number, deadlineNs: bigint | undefined) => timers.set(vcpu, deadlineNs) } : {}),
      },
      e820,
      maxPages: Math.floor((spec.maxmemBytes ?? spec.memoryBytes) / PAGE),
    });
    let console: PvConsoleBackend | undefined;
    const uuid = spec.uuid ?? randomUUID();
    try {
      const gfns = specialPageGfns(spec.memoryBytes);
      const { consolePort, storePort } = setupConsoleAndStore(this.xen, this.dom0, domid, gfns.console, gfns.store);
      console = new PvConsoleBackend({
        domid,
        page: guest.physmap.page(gfns.console)!,
        guestPort: consolePort,
        evtchn: this.dom0,
        output: (bytes) => events.console(bytes),
      });
      createDomainLayout(this.xenstore.client, {
        domid,
        name: spec.name,
        uuid,
        memoryKiB: Math.floor(spec.memoryBytes / 1024),
        maxMemoryKiB: Math.floor((spec.maxmemBytes ?? spec.memoryBytes) / 1024),
        vcpus: spec.vcpus,
        store: { gfn: gfns.store, evtchnPort: storePort },
        console: { gfn: gfns.console, evtchnPort: consolePort },
      });
      this.xenstore.client.introduceDomain(domid, gfns.store, storePort);
    } catch (e) {
      console?.close();
      this.xen.remove(domid);
      this.rams.delete(domid);
      throw e;
    }
    timers.guest = guest;
    const refresh = setInterval(() => guest.updateAllTimes(), TIME_REFRESH_MS);
    refresh.unref();
    const dom: AttachedDomain = { spec, uuid, console, timers, stopTimers: () => { clearInterval(refresh); timers.stop(); } };
    this.attached.set(domid, dom);
    this.log(`d${domid}: Xen interface ready (console ring gfn 0x${specialPageGfns(spec.memoryBytes).console.toString(16)}, xenstore introduced)`);
    const service = xenOwnerHypercalls(
      this.xen,
      { domid, privileged: false, handle: uuidBytes(uuid) },
      { console: (b) => events.console(b), log: (l) => events.log(l), shutdown: (r) => events.shutdown(r) },
    );
    let detached = false;
    return {
      ownerHypercalls: { numbers: service.numbers, handle: (req, mem) => service.handle(req, mem) },
      xenFeatures: pvhFeatureSubmap({ safePvclock: gc !== undefined }),
      consoleInput: (bytes) => console.input(bytes),
      detach: () => {
        if (detached) return;
        detached = true;
        this.detach(domid);
      },
    };
  }

  /**
   * The domain's event-channel and timer state as the owner sees it: a line with the system time, one per vCPU
   * (upcall and selector bits, upcall vector, the Xen timer's deadline and whether a host timer is armed for it) and
   * one with the pending ports below EVTCHN_DESCRIBE_PORTS, for diagnosing a guest that stopped receiving events
   * (xl debug-keys e; tests print it when a guest times out).
   */
  describeEvents(domid: number): string {
    const guest = this.xen.guest(domid);
    const dom = this.attached.get(domid);
    if (guest === undefined || dom === undefined) return `d${domid}: no Xen state`;
    const now = guest.clock.systemTimeNs();
    const lines = [`d${domid}: system time ${now} ns`];
    for (let v = 0; v < guest.nrVcpus; v++) {
      const info = guest.sharedInfo.vcpuInfo(v);
      const upcall = info === undefined ? "?" : Atomics.load(info.bytes, info.offset + VcpuInfoLayout.evtchnUpcallPending);
      const sel = info === undefined ? "?" : [1, 0].map((k) => (Atomics.load(info.words, (info.offset + VcpuInfoLayout.evtchnPendingSel) / 4 + k) >>> 0).toString(16).padStart(8, "0")).join("");
      const next = guest.timers.nextDeadline(v);
      lines.push(`  vcpu${v}: upcall_pending=${upcall} pending_sel=${sel} upcall vector ${guest.params.upcallVector(v) ?? "none"} timer ${next === undefined ? "none" : `${next - now} ns from now`} host timer ${dom.timers.armed(v) ? "armed" : "not armed"}`);
    }
    const ports: string[] = [];
    for (let port = 1; port < EVTCHN_DESCRIBE_PORTS; port++) {
      if (guest.evtchn.isPending(port)) ports.push(`${port}${guest.evtchn.isMasked(port) ? " (masked)" : ""}`);
    }
    lines.push(`  pending ports: ${ports.length === 0 ? "none" : ports.join(", ")}`);
    return lines.join("\n");
  }

  private detach(domid: number): void {
    const dom = this.attached.get(domid);
    if (dom === undefined) return;
    this.attached.delete(domid);
    dom.stopTimers();
    dom.console.close();
    const step = (what: string, fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        this.log(`d${domid}: ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    step("xenstore release", () => this.xenstore.client.releaseDomain(domid));
    step("xenstore layout removal", () => removeDomainLayout(this.xenstore.client, domid, dom.uuid));
    step("Xen state removal", () => this.xen.remove(domid));
    this.rams.delete(domid);
  }
}

/** setTimeout's largest delay (ms); a longer one is clamped to 1 ms by Node, which would spin. A deadline further
 * out (Linux parks an unused timer near INT64_MAX ns) fires early and is re-armed. */
const MAX_TIMER_DELAY_MS = 0x7fffffff;
/** describeEvents looks at ports below this (Linux's first ports: VIRQs, IPIs, console, xenstore, devices). */
const EVTCHN_DESCRIBE_PORTS = 1024;

/** Host timers behind each vCPU's Xen timer deadline (VCPUOP singleshot/periodic): fire → guest.runTimers(vcpu). */
class DomainTimers {
  guest: XenGuest | undefined;
  private readonly handles: (ReturnType<typeof setTimeout> | undefined)[];
  private stopped = false;

  constructor(vcpus: number) {
    this.handles = new Array(vcpus).fill(undefined);
  }

  set(vcpu: number, deadlineNs: bigint | undefined): void {
    const h = this.handles[vcpu];
    if (h !== undefined) clearTimeout(h);
    this.handles[vcpu] = undefined;
    if (deadlineNs === undefined || this.stopped || this.guest === undefined) return;
    const delayMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Number(deadlineNs - this.guest.clock.systemTimeNs()) / 1e6));
    this.handles[vcpu] = setTimeout(() => this.fire(vcpu), Math.ceil(delayMs));
  }

  private fire(vcpu: number): void {
    this.handles[vcpu] = undefined;
    const guest = this.guest;
    if (guest === undefined || this.stopped) return;
    // expire() re-reports the next deadline through set(); a timer that fired early is re-armed here.
    if (guest.runTimers(vcpu)) {
      // VIRQ_TIMER was just raised, so upcall_pending should be 1. If it is 0 the port was already pending with no
      // upcall outstanding: an earlier selector bit was lost (the emu CPU's xchg on evtchn_pending_sel is not
      // atomic against the owner's Atomics.or). Re-mark every selector and upcall, as register_vcpu_info does.
      const info = guest.sharedInfo.vcpuInfo(vcpu);
      if (info !== undefined && Atomics.load(info.bytes, info.offset + VcpuInfoLayout.evtchnUpcallPending) === 0) guest.evtchn.markAllPending(vcpu);
    } else {
      const next = guest.timers.nextDeadline(vcpu);
      if (next !== undefined) {
        const delayMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(1, Number(next - guest.clock.systemTimeNs()) / 1e6));
        this.handles[vcpu] = setTimeout(() => this.fire(vcpu), Math.ceil(delayMs));
      }
    }
  }

  armed(vcpu: number): boolean {
    return this.handles[vcpu] !== undefined;
  }

  stop(): void {
    this.stopped = true;
    for (const h of this.handles) if (h !== undefined) clearTimeout(h);
  }
}

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16 && i * 2 + 2 <= hex.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
