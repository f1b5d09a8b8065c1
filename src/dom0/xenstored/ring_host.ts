// The RingHost that the daemon passes to xenstored: guest RAM from the domain table, event channels through
// hv/evtchn's Dom0EventChannels (bind_interdomain to the guest's STORE_EVTCHN port, notify, close), the way C
// xenstored uses libxenevtchn and foreign mappings.
import type { GuestRam } from "../../hv/ports.ts";
import type { Dom0EventChannels } from "../../hv/evtchn/dom0_evtchn.ts";
import type { RingHost } from "./ring_transport.ts";

export function dom0RingHost(
  evtchn: Pick<Dom0EventChannels, "bindInterdomain" | "notify" | "close">,
  ramOf: (domid: number) => GuestRam | undefined,
): RingHost {
  return {
    ramOf,
    bindEvtchn(domid, remotePort, onKick) {
      const port = evtchn.bindInterdomain(domid, remotePort, () => onKick());
      return {
        notify: () => evtchn.notify(port),
        close: () => evtchn.close(port),
      };
    },
  };
}
