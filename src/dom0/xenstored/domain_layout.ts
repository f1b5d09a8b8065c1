// The standard xenstore layout of a domain, as libxl writes it (tools/libs/light/libxl_create.c
// libxl__domain_make, libxl_dom.c libxl__build_post): /local/domain/<domid> readable by the guest, with its own
// writable device/, data/, console/ and the control/ nodes a guest must write (shutdown, sysrq, feature-*).
import type { XenstoreClient } from "./client.ts";
import { domainPath } from "./path.ts";
import type { XsPerm } from "./perms.ts";

export interface DomainLayoutConfig {
  readonly domid: number;
  readonly name: string;
  readonly uuid: string;
  /** Current balloon target and maximum, KiB. */
  readonly memoryKiB: number;
  readonly maxMemoryKiB?: number;
  readonly vcpus?: number;
  /** xenstore ring: gfn and the guest's unbound event channel, written as store/ring-ref and store/port. */
  readonly store?: { readonly gfn: number; readonly evtchnPort: number };
  /** PV console ring: gfn and event channel, written as console/ring-ref and console/port. */
  readonly console?: { readonly gfn: number; readonly evtchnPort: number };
}

/** dom0 owns it, the guest may read it ("n0" "r<domid>"). */
export function readOnlyFor(domid: number): XsPerm[] {
  return [{ domid: 0, access: 0 }, { domid, access: 1 }];
}

/** The guest owns it ("n<domid>"): full access for the guest and dom0, nobody else. */
export function ownedBy(domid: number): XsPerm[] {
  return [{ domid, access: 0 }];
}

/** Writes the whole layout in one transaction. Returns the domain's path. */
export function createDomainLayout(xs: XenstoreClient, config: DomainLayoutConfig): string {
  const { domid } = config;
  const dom = domainPath(domid);
  const vm = `/vm/${config.uuid}`;
  const ro = readOnlyFor(domid);
  const rw = ownedBy(domid);
  xs.transaction((tx) => {
    const put = (path: string, value: string, perms: XsPerm[] = ro): void => {
      xs.write(path, value, tx);
      xs.setPerms(path, perms, tx);
    };
    const dir = (path: string, perms: XsPerm[]): void => {
      xs.mkdir(path, tx);
      xs.setPerms(path, perms, tx);
    };
    xs.mkdir("/local/domain", tx);
    xs.rm(dom, tx);
    dir(dom, ro);
    dir(vm, ro);
    put(`${vm}/name`, config.name);
    put(`${vm}/uuid`, config.uuid);
    put(`${dom}/vm`, vm);
    put(`${dom}/name`, config.name);
    put(`${dom}/domid`, String(domid));
    dir(`${dom}/cpu`, ro);
    for (let i = 0; i < (config.vcpus ?? 1); i++) put(`${dom}/cpu/${i}/availability`, "online");
    dir(`${dom}/memory`, ro);
    put(`${dom}/memory/target`, String(config.memoryKiB));
    put(`${dom}/memory/static-max`, String(config.maxMemoryKiB ?? config.memoryKiB));
    dir(`${dom}/device`, rw);
    dir(`${dom}/data`, rw);
    dir(`${dom}/drivers`, rw);
    dir(`${dom}/attr`, rw);
    dir(`${dom}/error`, rw);
    dir(`${dom}/control`, ro);
    for (const node of ["shutdown", "sysrq", "feature-poweroff", "feature-reboot", "feature-suspend", "feature-s3", "feature-s4"]) {
      dir(`${dom}/control/${node}`, rw);
    }
    dir(`${dom}/console`, rw);
    if (config.console) {
      put(`${dom}/console/ring-ref`, String(config.console.gfn));
      put(`${dom}/console/port`, String(config.console.evtchnPort));
      put(`${dom}/console/type`, "xenconsoled");
      put(`${dom}/console/limit`, "1048576");
    }
    dir(`${dom}/store`, ro);
    if (config.store) {
      put(`${dom}/store/ring-ref`, String(config.store.gfn));
      put(`${dom}/store/port`, String(config.store.evtchnPort));
    }
  });
  return dom;
}

/** dom0's own entry, as xen-init-dom0 writes it. */
export function createDom0Layout(xs: XenstoreClient): void {
  xs.write("/local/domain/0/name", "Domain-0");
  xs.write("/local/domain/0/domid", "0");
  xs.mkdir("/local/domain/0/backend");
}

/** Removes a domain's nodes (libxl's destroy path); the caller releases the domain in xenstored too. */
export function removeDomainLayout(xs: XenstoreClient, domid: number, uuid?: string): void {
  xs.rm(domainPath(domid));
  if (uuid) xs.rm(`/vm/${uuid}`);
}
