// Saved state of xenstored: the whole tree with permissions, introduced domains and quota settings, as a named,
// versioned record (for a daemon restart or a dom0-side checkpoint). Connections, watches and open transactions
// are not saved: clients reconnect and re-register, as after a C xenstored restart without live update.
import { bytesText, textBytes } from "../../abi/xen/xs_wire.ts";
import { formatPerm, parsePerm } from "./perms.ts";
import { QUOTA_NAMES, type QuotaName } from "./quota.ts";
import { Xenstored, type XenstoredOptions } from "./xenstored.ts";

export interface XenstoredStateV1 {
  readonly version: 1;
  /** Every node, parents before children; values as latin1 strings (one char per byte). */
  readonly nodes: readonly { readonly path: string; readonly value: string; readonly perms: readonly string[]; readonly children: readonly string[] }[];
  readonly domains: readonly { readonly domid: number; readonly gfn: number; readonly evtchnPort: number; readonly shutdown: boolean; readonly features: number }[];
  readonly quotas: Readonly<Partial<Record<QuotaName, number>>>;
  readonly domainQuotas: readonly { readonly domid: number; readonly quotas: Readonly<Partial<Record<QuotaName, number>>> }[];
}

export function saveXenstored(xs: Xenstored): XenstoredStateV1 {
  const nodes = [...xs.store.paths()].sort(byDepth).map((path) => {
    const node = xs.store.get(path)!;
    return { path, value: bytesText(node.value), perms: node.perms.map(formatPerm), children: [...node.children] };
  });
  const domains = [...xs.domains.values()].map((d) => ({ domid: d.domid, gfn: d.gfn, evtchnPort: d.evtchnPort, shutdown: d.shutdown, features: d.features }));
  const quotas: Partial<Record<QuotaName, number>> = {};
  for (const name of QUOTA_NAMES) quotas[name] = xs.quotas.value(name);
  const domainQuotas = domains.map((d) => {
    const own: Partial<Record<QuotaName, number>> = {};
    for (const name of QUOTA_NAMES) if (xs.quotas.value(name, d.domid) !== xs.quotas.value(name)) own[name] = xs.quotas.value(name, d.domid);
    return { domid: d.domid, quotas: own };
  });
  return { version: 1, nodes, domains, quotas, domainQuotas };
}

/**
 * A xenstored holding the saved tree. Domains come back introduced but without a ring: the caller re-opens rings
 * (setConnector + introduceDomain again, which keeps the record) once guest memory is mapped.
 */
export function restoreXenstored(state: XenstoredStateV1, options: XenstoredOptions = {}): Xenstored {
  if (state.version !== 1) throw new Error(`Cannot restore xenstored state version "${String(state.version)}"`);
  const xs = new Xenstored(options);
  for (const path of [...xs.store.paths()]) xs.store.remove(path);
  for (const n of state.nodes) {
    xs.store.put(n.path, { value: textBytes(n.value), perms: n.perms.map(parsePerm), children: [...n.children] });
  }
  for (const [name, value] of Object.entries(state.quotas)) xs.quotas.set(name as QuotaName, value!);
  for (const d of state.domains) {
    xs.domains.set(d.domid, { domid: d.domid, gfn: d.gfn, evtchnPort: d.evtchnPort, shutdown: d.shutdown, features: d.features, link: undefined });
  }
  for (const dq of state.domainQuotas) {
    for (const [name, value] of Object.entries(dq.quotas)) xs.quotas.set(name as QuotaName, value!, dq.domid);
  }
  const problems = xs.store.verify();
  if (problems.length > 0) throw new Error(`Saved xenstored state is inconsistent: ${problems.slice(0, 3).join("; ")}`);
  return xs;
}

function byDepth(a: string, b: string): number {
  const da = a === "/" ? 0 : a.split("/").length;
  const db = b === "/" ? 0 : b.split("/").length;
  return da - db || (a < b ? -1 : a > b ? 1 : 0);
}
