// Event channels as dom0's in-process backends use them (console, xenstored, blkback...): what libxenevtchn
// gives a real dom0 (alloc_unbound for a guest, bind_interdomain, notify, unbind) plus a handler per port that
// runs when the guest notifies it.
//
// Design: dom0 is an ordinary table in EventChannels (privileged) whose port ops are CallbackPorts, so a
// guest's EVTCHNOP_send on an interdomain port whose peer is dom0 calls the handler synchronously on the
// main thread. Handlers must not block; they typically schedule ring processing.
import { DOMID_SELF } from "../../abi/xen/xen.ts";
import type { EventChannels } from "./event_channels.ts";
import { CallbackPorts } from "./port_ops.ts";

export type PortHandler = (port: number) => void;

export class Dom0EventChannels {
  private readonly ports = new CallbackPorts();

  /** Registers dom0 (domid, usually 0) in channels. */
  constructor(
    private readonly channels: EventChannels,
    readonly domid = 0,
  ) {
    channels.addDomain(domid, { nrVcpus: 1, ops: this.ports, privileged: true });
  }

  /**
   * The toolstack's part of a guest's console/xenstore channel: an unbound port in the guest offered to dom0
   * (its number goes into HVM_PARAM_CONSOLE_EVTCHN / STORE_EVTCHN). Returns the guest's port.
   */
  allocUnboundInGuest(guestDomid: number): number {
    return this.channels.allocUnbound(this.domid, guestDomid, this.domid);
  }

  /** An unbound port in dom0 that guestDomid may bind to (a backend that waits for the frontend). */
  allocUnbound(guestDomid: number, handler: PortHandler): number {
    const port = this.channels.allocUnbound(this.domid, DOMID_SELF, guestDomid);
    this.ports.on(port, handler);
    return port;
  }

  /** Binds a new dom0 port to the guest's unbound port (offered to dom0). Returns dom0's local port. */
  bindInterdomain(guestDomid: number, guestPort: number, handler: PortHandler): number {
    // The bind raises the new local port once (Xen's lost-notification fixup); install the handler afterwards
    // so the backend is not called before it knows its port, then give it that one notification.
    const port = this.channels.bindInterdomain(this.domid, guestDomid, guestPort);
    this.ports.on(port, handler);
    return port;
  }

  /** Changes the handler of an open dom0 port. */
  setHandler(port: number, handler: PortHandler): void {
    this.ports.on(port, handler);
  }

  /** Notifies the guest end of dom0's port (EVTCHNOP_send from dom0). */
  notify(port: number): void {
    this.channels.send(this.domid, port);
  }

  /** Closes dom0's port; the guest's end goes back to unbound. */
  close(port: number): void {
    this.ports.off(port);
    this.channels.close(this.domid, port);
  }
}
