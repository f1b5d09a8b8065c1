// EvtchnPortOps: how a domain's ports become pending (Xen struct evtchn_port_ops, xen/common/event_channel.h).
// Two implementations: Evtchn2l (guest memory, the 2-level ABI) and CallbackPorts (in-process dom0 backends).

export interface EvtchnPortOps {
  /** Raise port: mark it pending and, if unmasked, notify vcpuId. */
  setPending(vcpuId: number, port: number): void;
  clearPending(port: number): void;
  /** EVTCHNOP_unmask: clear the mask and re-deliver if pending. */
  unmask(vcpuId: number, port: number): void;
  isPending(port: number): boolean;
  isMasked(port: number): boolean;
}

/**
 * Ports of an in-process domain (dom0's backends): raising a port calls its handler synchronously.
 * There is no guest memory, so pending/mask state is not kept; handlers are per port.
 */
export class CallbackPorts implements EvtchnPortOps {
  private readonly handlers = new Map<number, (port: number) => void>();

  on(port: number, handler: (port: number) => void): void {
    this.handlers.set(port, handler);
  }

  off(port: number): void {
    this.handlers.delete(port);
  }

  setPending(_vcpuId: number, port: number): void {
    this.handlers.get(port)?.(port);
  }

  clearPending(_port: number): void {}
  unmask(_vcpuId: number, _port: number): void {}
  isPending(_port: number): boolean {
    return false;
  }
  isMasked(_port: number): boolean {
    return false;
  }
}
