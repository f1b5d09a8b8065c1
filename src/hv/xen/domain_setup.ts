// What Xen's toolstack does for a new PVH domain's Xen interface before it runs (libxl/xc_dom: console and
// xenstore pages, their event channels offered to dom0, HVM params, reserved grant entries), so the guest's
// hvc0 and xenbus find everything at boot (xen-abi-on-kvm.md §5 step 9, §8).
import { HvmParam } from "../../abi/xen/hvm.ts";
import type { Dom0EventChannels } from "../evtchn/dom0_evtchn.ts";
import { XEN_PAGE_SIZE } from "../../abi/xen/xen.ts";
import type { XenGuests } from "./xen_guest.ts";

export interface ConsoleAndStore {
  /** Guest port for the PV console (HVM_PARAM_CONSOLE_EVTCHN); xenconsoled binds it with dom0.bindInterdomain. */
  readonly consolePort: number;
  /** Guest port for xenstore (HVM_PARAM_STORE_EVTCHN); xenstored binds it with dom0.bindInterdomain. */
  readonly storePort: number;
}

/**
 * Prepares the console and xenstore rings of domid at consoleGfn / storeGfn (RAM pages the builder reserved
 * in e820): zeroes them, offers one unbound port each to dom0, records pfns and ports in the HVM params and
 * grants both pages to the backend domain in reserved entries 0 and 1. Then writes the pvclock and wallclock.
 */
export function setupConsoleAndStore(
  xen: XenGuests,
  dom0: Dom0EventChannels,
  domid: number,
  consoleGfn: number,
  storeGfn: number,
): ConsoleAndStore {
  const guest = xen.guest(domid);
  if (guest === undefined) throw new Error(`Domain ${domid} has no Xen guest state`);
  for (const gfn of [consoleGfn, storeGfn]) {
    const page = guest.physmap.page(gfn);
    if (page === undefined || page.length !== XEN_PAGE_SIZE) throw new Error(`gfn 0x${gfn.toString(16)} of domain ${domid} is not a page`);
    page.fill(0);
  }
  const consolePort = dom0.allocUnboundInGuest(domid);
  const storePort = dom0.allocUnboundInGuest(domid);
  guest.params.setByToolstack(HvmParam.CONSOLE_PFN, BigInt(consoleGfn));
  guest.params.setByToolstack(HvmParam.CONSOLE_EVTCHN, BigInt(consolePort));
  guest.params.setByToolstack(HvmParam.STORE_PFN, BigInt(storeGfn));
  guest.params.setByToolstack(HvmParam.STORE_EVTCHN, BigInt(storePort));
  xen.grants.seedReservedEntries(domid, consoleGfn, storeGfn, dom0.domid);
  guest.updateAllTimes();
  return { consolePort, storePort };
}
