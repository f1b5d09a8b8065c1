// Event channels of all domains: per-domain port tables and the EVTCHNOP_* operations with Xen's checks and
// errors. Follows xen/common/event_channel.c (dummy XSM policy: a domain acts on itself; the privileged
// domain on anyone) and xen/include/public/event_channel.h.
//
// Design: one EventChannels object holds every domain's table, because interdomain binding and close touch
// two tables at once. A table is an array of channel records indexed by port (4096 ports, 2-level ABI on a
// 64-bit guest); port 0 is reserved. Delivery goes through the domain's EvtchnPortOps (guest memory or
// dom0 callbacks), so this file knows nothing about shared_info. Caller ids are real domids (the hypercall
// layer resolves DOMID_SELF before it calls, except where Xen accepts DOMID_SELF inside a struct).
// Main thread only.
import { Errno } from "../../abi/xen/errno.ts";
import { EVTCHN_2L_NR_CHANNELS, EvtchnStat } from "../../abi/xen/event_channel.ts";
import { DOMID_SELF, NR_VIRQS, Virq, virqIsPerVcpu } from "../../abi/xen/xen.ts";
import { XenError } from "../xen/xen_error.ts";
import type { EvtchnPortOps } from "./port_ops.ts";
import type { EvtchnDomainState } from "./state.ts";

export type Channel =
  | { readonly state: "free" }
  | { readonly state: "reserved" }
  | { readonly state: "unbound"; readonly remoteDomid: number; readonly vcpu: number }
  | { readonly state: "interdomain"; readonly remoteDomid: number; readonly remotePort: number; readonly vcpu: number }
  | { readonly state: "virq"; readonly virq: number; readonly vcpu: number }
  | { readonly state: "ipi"; readonly vcpu: number };

export interface EvtchnStatusResult {
  readonly status: number; // EVTCHNSTAT_*
  readonly vcpu: number;
  /** unbound: remote domid; interdomain: remote domid; virq: the virq. */
  readonly u0: number;
  /** interdomain: remote port. */
  readonly u1: number;
}

export interface EvtchnDomainConfig {
  readonly nrVcpus: number;
  readonly ops: EvtchnPortOps;
  /** The control domain (dom0): may act on other domains' ports and bind global VIRQs. */
  readonly privileged?: boolean;
  readonly nrPorts?: number;
}

const FREE: Channel = { state: "free" };

class PortTable {
  readonly channels: Channel[];
  /** virqPorts[vcpu][virq] = port or 0. Global VIRQs use vcpu 0's row, as Xen. */
  readonly virqPorts: Uint32Array[];

  constructor(
    readonly domid: number,
    readonly nrVcpus: number,
    readonly ops: EvtchnPortOps,
    readonly privileged: boolean,
    readonly nrPorts: number,
  ) {
    this.channels = new Array<Channel>(nrPorts).fill(FREE);
    this.channels[0] = { state: "reserved" };
    this.virqPorts = Array.from({ length: nrVcpus }, () => new Uint32Array(NR_VIRQS));
  }

  valid(port: number): boolean {
    return Number.isInteger(port) && port >= 0 && port < this.nrPorts;
  }

  channel(port: number): Channel | undefined {
    return this.valid(port) ? this.channels[port] : undefined;
  }

  allocPort(): number {
    for (let p = 1; p < this.nrPorts; p++) if (this.channels[p]!.state === "free") return p;
    throw new XenError(Errno.ENOSPC, `Domain ${this.domid} has no free event-channel port`);
  }

  hasVcpu(vcpu: number): boolean {
    return Number.isInteger(vcpu) && vcpu >= 0 && vcpu < this.nrVcpus;
  }
}

export class EventChannels {
  private readonly tables = new Map<number, PortTable>();

  addDomain(domid: number, config: EvtchnDomainConfig): void {
    if (this.tables.has(domid)) throw new Error(`Event channels of domain ${domid} already exist`);
    const nrPorts = config.nrPorts ?? EVTCHN_2L_NR_CHANNELS;
    this.tables.set(domid, new PortTable(domid, config.nrVcpus, config.ops, config.privileged ?? false, nrPorts));
  }

  /** Closes every port of domid (interdomain peers become unbound to it, as on domain death) and forgets it. */
  removeDomain(domid: number): void {
    const t = this.tables.get(domid);
    if (t === undefined) return;
    for (let p = 1; p < t.nrPorts; p++) if (t.channels[p]!.state !== "free") this.closePort(t, p);
    this.tables.delete(domid);
  }

  hasDomain(domid: number): boolean {
    return this.tables.has(domid);
  }

  /** The port table of domid as a save record. */
  saveDomain(domid: number): EvtchnDomainState {
    const t = this.own(domid);
    const ports: EvtchnDomainState["ports"][number][] = [];
    for (let p = 1; p < t.nrPorts; p++) {
      const chn = t.channels[p]!;
      if (chn.state !== "free" && chn.state !== "reserved") ports.push({ port: p, ...chn });
    }
    return { version: 1, nrVcpus: t.nrVcpus, nrPorts: t.nrPorts, ports };
  }

  /**
   * Adds domid with a saved port table. An interdomain channel comes back connected if its peer port (in a
   * domain present now) points back at it or is unbound and offered to domid (the peer was restored first);
   * otherwise it becomes unbound, offered to the old peer, so that peer (a dom0 backend after a daemon
   * restart, say) can bind again, as after Xen's close.
   */
  restoreDomain(domid: number, state: EvtchnDomainState, config: Omit<EvtchnDomainConfig, "nrVcpus" | "nrPorts">): void {
    if (state.version !== 1) throw new RangeError(`Event-channel record version ${String(state.version)} is not supported`);
    this.addDomain(domid, { ...config, nrVcpus: state.nrVcpus, nrPorts: state.nrPorts });
    const t = this.tables.get(domid)!;
    for (const entry of state.ports) {
      const { port, ...chn } = entry;
      if (!t.valid(port) || port === 0) throw new RangeError(`Saved port ${port} is outside the table`);
      if ("vcpu" in chn && !t.hasVcpu(chn.vcpu)) throw new RangeError(`Saved port ${port} names vCPU ${chn.vcpu}`);
      let restored: Channel = chn as Channel;
      if (chn.state === "interdomain") {
        const rt = chn.remoteDomid === domid ? t : this.tables.get(chn.remoteDomid);
        const peer = rt?.channel(chn.remotePort);
        if (rt !== undefined && peer !== undefined && peer.state === "unbound" && peer.remoteDomid === domid) {
          rt.channels[chn.remotePort] = { state: "interdomain", remoteDomid: domid, remotePort: port, vcpu: peer.vcpu };
        } else if (!(peer !== undefined && peer.state === "interdomain" && peer.remoteDomid === domid && peer.remotePort === port)) {
          restored = { state: "unbound", remoteDomid: chn.remoteDomid, vcpu: chn.vcpu };
        }
      }
      if (restored.state === "virq") {
        const row = virqIsPerVcpu(restored.virq) ? restored.vcpu : 0;
        t.virqPorts[row]![restored.virq] = port;
      }
      t.channels[port] = restored;
    }
  }

  /** The channel record of (domid, port), for status displays and tests. */
  channel(domid: number, port: number): Channel | undefined {
    return this.tables.get(domid)?.channel(port);
  }

  // ---- EVTCHNOP_* as issued by domain `caller` ----

  /** EVTCHNOP_alloc_unbound: a port in `dom` that `remoteDom` may bind to. */
  allocUnbound(caller: number, dom: number, remoteDom: number): number {
    const t = this.target(caller, dom, "allocate an unbound port");
    const port = t.allocPort();
    t.channels[port] = { state: "unbound", remoteDomid: remoteDom === DOMID_SELF ? caller : remoteDom, vcpu: 0 };
    return port;
  }

  /** EVTCHNOP_bind_interdomain: connect a new local port of `caller` to (remoteDom, remotePort). */
  bindInterdomain(caller: number, remoteDom: number, remotePort: number): number {
    const lt = this.own(caller);
    const rdom = remoteDom === DOMID_SELF ? caller : remoteDom;
    const rt = this.tables.get(rdom);
    if (rt === undefined) throw new XenError(Errno.ESRCH, `Cannot bind to domain "${remoteDom}": no such domain`);
    const rchn = rt.channel(remotePort);
    if (rchn === undefined) throw new XenError(Errno.EINVAL, `Cannot bind to port "${remotePort}" of domain ${rdom}: invalid port`);
    const lport = lt.allocPort();
    if (rchn.state !== "unbound" || rchn.remoteDomid !== caller) {
      throw new XenError(Errno.EINVAL, `Cannot bind to port "${remotePort}" of domain ${rdom}: it is not offered to domain ${caller}`);
    }
    lt.channels[lport] = { state: "interdomain", remoteDomid: rdom, remotePort, vcpu: 0 };
    rt.channels[remotePort] = { state: "interdomain", remoteDomid: caller, remotePort: lport, vcpu: rchn.vcpu };
    // Notifications sent to the unbound remote port were dropped: raise the new local port once (as Xen).
    lt.ops.setPending(0, lport);
    return lport;
  }

  /** EVTCHNOP_bind_virq. */
  bindVirq(caller: number, virq: number, vcpu: number): number {
    const t = this.own(caller);
    if (!Number.isInteger(virq) || virq < 0 || virq >= NR_VIRQS) throw new XenError(Errno.EINVAL, `Cannot bind VIRQ "${virq}": no such VIRQ`);
    const perVcpu = virqIsPerVcpu(virq);
    if (!perVcpu && vcpu !== 0) throw new XenError(Errno.EINVAL, `Cannot bind global VIRQ "${virq}" to vCPU ${vcpu}: only vCPU 0`);
    if (!t.hasVcpu(vcpu)) throw new XenError(Errno.ENOENT, `Cannot bind VIRQ "${virq}" to vCPU "${vcpu}": no such vCPU`);
    if (!perVcpu && virq !== Virq.ARGO && !t.privileged) {
      throw new XenError(Errno.EBUSY, `Cannot bind global VIRQ "${virq}": it belongs to the control domain`);
    }
    if (t.virqPorts[vcpu]![virq] !== 0) throw new XenError(Errno.EEXIST, `VIRQ "${virq}" of vCPU ${vcpu} is already bound`);
    const port = t.allocPort();
    t.channels[port] = { state: "virq", virq, vcpu };
    t.virqPorts[vcpu]![virq] = port;
    return port;
  }

  /** EVTCHNOP_bind_ipi. */
  bindIpi(caller: number, vcpu: number): number {
    const t = this.own(caller);
    if (!t.hasVcpu(vcpu)) throw new XenError(Errno.ENOENT, `Cannot bind an IPI to vCPU "${vcpu}": no such vCPU`);
    const port = t.allocPort();
    t.channels[port] = { state: "ipi", vcpu };
    return port;
  }

  /** EVTCHNOP_bind_vcpu: route port's notifications to another vCPU. */
  bindVcpu(caller: number, port: number, vcpu: number): void {
    const t = this.own(caller);
    if (!t.hasVcpu(vcpu)) throw new XenError(Errno.ENOENT, `Cannot move port "${port}" to vCPU "${vcpu}": no such vCPU`);
    const chn = t.channel(port);
    if (chn === undefined) throw new XenError(Errno.EINVAL, `Cannot move port "${port}": invalid port`);
    switch (chn.state) {
      case "virq":
        if (virqIsPerVcpu(chn.virq)) throw new XenError(Errno.EINVAL, `Cannot move per-vCPU VIRQ port "${port}"`);
        t.channels[port] = { ...chn, vcpu };
        return;
      case "unbound":
      case "interdomain":
        t.channels[port] = { ...chn, vcpu };
        return;
      default:
        throw new XenError(Errno.EINVAL, `Cannot move port "${port}": it is ${chn.state}`);
    }
  }

  /** EVTCHNOP_close. An interdomain peer port goes back to unbound (offered to the closer again). */
  close(caller: number, port: number): void {
    const t = this.own(caller);
    const chn = t.channel(port);
    if (chn === undefined) throw new XenError(Errno.EINVAL, `Cannot close port "${port}": invalid port`);
    if (chn.state === "free" || chn.state === "reserved") throw new XenError(Errno.EINVAL, `Cannot close port "${port}": it is not open`);
    this.closePort(t, port);
  }

  /** EVTCHNOP_send. Sending on an unbound port is silently dropped, as Xen. */
  send(caller: number, port: number): void {
    const t = this.own(caller);
    const chn = t.channel(port);
    if (chn === undefined) throw new XenError(Errno.EINVAL, `Cannot send on port "${port}": invalid port`);
    switch (chn.state) {
      case "interdomain": {
        const rt = this.tables.get(chn.remoteDomid);
        const rchn = rt?.channel(chn.remotePort);
        if (rt === undefined || rchn === undefined || rchn.state !== "interdomain") return;
        rt.ops.setPending(rchn.vcpu, chn.remotePort);
        return;
      }
      case "ipi":
        t.ops.setPending(chn.vcpu, port);
        return;
      case "unbound":
        return;
      default:
        throw new XenError(Errno.EINVAL, `Cannot send on port "${port}": it is ${chn.state}`);
    }
  }

  /** EVTCHNOP_unmask. */
  unmask(caller: number, port: number): void {
    const t = this.own(caller);
    const chn = t.channel(port);
    if (chn === undefined) throw new XenError(Errno.EINVAL, `Cannot unmask port "${port}": invalid port`);
    t.ops.unmask("vcpu" in chn ? chn.vcpu : 0, port);
  }

  /** EVTCHNOP_status. */
  status(caller: number, dom: number, port: number): EvtchnStatusResult {
    const t = this.target(caller, dom, "read the status of a port");
    const chn = t.channel(port);
    if (chn === undefined) throw new XenError(Errno.EINVAL, `Cannot read the status of port "${port}": invalid port`);
    switch (chn.state) {
      case "free":
      case "reserved":
        return { status: EvtchnStat.closed, vcpu: 0, u0: 0, u1: 0 };
      case "unbound":
        return { status: EvtchnStat.unbound, vcpu: chn.vcpu, u0: chn.remoteDomid, u1: 0 };
      case "interdomain":
        return { status: EvtchnStat.interdomain, vcpu: chn.vcpu, u0: chn.remoteDomid, u1: chn.remotePort };
      case "virq":
        return { status: EvtchnStat.virq, vcpu: chn.vcpu, u0: chn.virq, u1: 0 };
      case "ipi":
        return { status: EvtchnStat.ipi, vcpu: chn.vcpu, u0: 0, u1: 0 };
    }
  }

  /** EVTCHNOP_reset: close every port of dom. */
  reset(caller: number, dom: number): void {
    const t = this.target(caller, dom, "reset event channels");
    for (let p = 1; p < t.nrPorts; p++) if (t.channels[p]!.state !== "free") this.closePort(t, p);
  }

  // ---- Raised by the hypervisor ----

  /** Raises VIRQ virq of domid: per-vCPU VIRQs on vcpu, global ones on vCPU 0's binding. Unbound: dropped. */
  sendVirq(domid: number, virq: number, vcpu = 0): void {
    const t = this.tables.get(domid);
    if (t === undefined || virq < 0 || virq >= NR_VIRQS) return;
    const row = virqIsPerVcpu(virq) ? vcpu : 0;
    if (!t.hasVcpu(row)) return;
    const port = t.virqPorts[row]![virq]!;
    if (port === 0) return;
    const chn = t.channels[port]!;
    t.ops.setPending(virqIsPerVcpu(virq) ? vcpu : "vcpu" in chn ? chn.vcpu : 0, port);
  }

  /** True when VIRQ virq of domid (on vcpu, for per-vCPU VIRQs) is bound. */
  virqBound(domid: number, virq: number, vcpu = 0): boolean {
    const t = this.tables.get(domid);
    if (t === undefined || virq < 0 || virq >= NR_VIRQS) return false;
    const row = virqIsPerVcpu(virq) ? vcpu : 0;
    return t.hasVcpu(row) && t.virqPorts[row]![virq] !== 0;
  }

  isPending(domid: number, port: number): boolean {
    const t = this.tables.get(domid);
    return t !== undefined && t.valid(port) && t.ops.isPending(port);
  }

  isMasked(domid: number, port: number): boolean {
    const t = this.tables.get(domid);
    return t !== undefined && t.valid(port) && t.ops.isMasked(port);
  }

  // ---- helpers ----

  private own(caller: number): PortTable {
    const t = this.tables.get(caller);
    if (t === undefined) throw new XenError(Errno.ESRCH, `Domain "${caller}" has no event channels`);
    return t;
  }

  /** Table of dom (DOMID_SELF = caller) if caller may act on it (itself, or privileged): ESRCH / EPERM. */
  private target(caller: number, dom: number, what: string): PortTable {
    const domid = dom === DOMID_SELF ? caller : dom;
    const t = this.tables.get(domid);
    if (t === undefined) throw new XenError(Errno.ESRCH, `Cannot ${what} of domain "${dom}": no such domain`);
    if (domid !== caller && !this.tables.get(caller)?.privileged) {
      throw new XenError(Errno.EPERM, `Domain ${caller} may not ${what} of domain ${domid}`);
    }
    return t;
  }

  private closePort(t: PortTable, port: number): void {
    const chn = t.channels[port]!;
    switch (chn.state) {
      case "virq": {
        const row = virqIsPerVcpu(chn.virq) ? chn.vcpu : 0;
        t.virqPorts[row]![chn.virq] = 0;
        break;
      }
      case "interdomain": {
        const rt = this.tables.get(chn.remoteDomid);
        const rchn = rt?.channel(chn.remotePort);
        if (rt !== undefined && rchn !== undefined && rchn.state === "interdomain" && rchn.remoteDomid === t.domid) {
          rt.channels[chn.remotePort] = { state: "unbound", remoteDomid: t.domid, vcpu: rchn.vcpu };
        }
        break;
      }
      default:
        break;
    }
    t.channels[port] = FREE;
    t.ops.clearPending(port);
  }
}
