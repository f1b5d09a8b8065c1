// One handler per xenstore request type (docs/misc/xenstore.txt "Defined Xenstore message types"): argument parsing
// as C xenstored's get_strings()/onearg(), then the operation. Errors are thrown as XenstoreError.
import {
  XENSTORE_SERVER_FEATURE_WATCHDEPTH, XsType, concatBytes, nulTerminated, splitStrings, type XsMessage,
} from "../../abi/xen/xs_wire.ts";
import type { Connection } from "./connection.ts";
import { fail } from "./errors.ts";
import * as ops from "./operations.ts";
import { domainPath } from "./path.ts";
import { formatPerm, parsePerm } from "./perms.ts";
import { QUOTA_NAMES, isQuotaName } from "./quota.ts";
import { Transaction } from "./store.ts";
import type { RequestResult, Xenstored } from "./xenstored.ts";
import { XENSTORED_FEATURES } from "./features.ts";
import { eventPathFor } from "./watch.ts";

export interface RequestHandler {
  /** XS_FLAG_PRIV: dom0 only (EACCES otherwise). */
  readonly privileged?: boolean;
  /** XS_FLAG_NOTID: tx_id is ignored. */
  readonly ignoresTransaction?: boolean;
  run(xs: Xenstored, conn: Connection, message: XsMessage, tx: Transaction | undefined): RequestResult;
}

const DOMID_SELF = 0x7ff0;

/** onearg(): exactly one string, terminated by the payload's only NUL. */
function oneArg(payload: Uint8Array): string {
  const { strings, rest } = splitStrings(payload);
  if (strings.length !== 1 || rest.length !== 0) fail("EINVAL", "Expected exactly one argument");
  return strings[0]!;
}

function nulCount(payload: Uint8Array): number {
  let n = 0;
  for (const b of payload) if (b === 0) n++;
  return n;
}

/** parse_domid(): decimal 0..65535. */
function parseDomid(text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) > 65535) fail("EINVAL", `Invalid domid "${text}"`);
  return Number(text);
}

/** atoi(): leading decimal digits (with sign), 0 if none. */
function atoi(text: string | undefined): number {
  const n = Number.parseInt(text ?? "", 10);
  return Number.isNaN(n) ? 0 : n;
}

function listPayload(names: readonly string[]): Uint8Array {
  return names.length === 0 ? new Uint8Array(0) : nulTerminated(...names);
}

function knownDomain(xs: Xenstored, domid: number) {
  const record = xs.domains.get(domid);
  if (!record) fail("ENOENT", `Domain ${domid} is not known`);
  return record;
}

const read: RequestHandler = {
  run: (xs, conn, m, tx) => ({ payload: ops.read(xs.view(tx), xs.callerFor(conn), xs.path(conn, oneArg(m.payload))) }),
};

const write: RequestHandler = {
  run(xs, conn, m, tx) {
    const { strings } = splitStrings(m.payload);
    if (strings.length < 1) fail("EINVAL", "WRITE needs a path");
    const path = xs.path(conn, strings[0]);
    const value = m.payload.slice(strings[0]!.length + 1);
    xs.changed(ops.write(xs.view(tx), xs.callerFor(conn), path, value), tx);
    return xs.ok();
  },
};

const mkdir: RequestHandler = {
  run(xs, conn, m, tx) {
    xs.changed(ops.mkdir(xs.view(tx), xs.callerFor(conn), xs.path(conn, oneArg(m.payload))), tx);
    return xs.ok();
  },
};

const rm: RequestHandler = {
  run(xs, conn, m, tx) {
    xs.changed(ops.rm(xs.view(tx), xs.callerFor(conn), xs.path(conn, oneArg(m.payload))), tx);
    return xs.ok();
  },
};

const directory: RequestHandler = {
  run: (xs, conn, m, tx) => ({ payload: listPayload(ops.directory(xs.view(tx), xs.callerFor(conn), xs.path(conn, oneArg(m.payload)))) }),
};

const directoryPart: RequestHandler = {
  run(xs, conn, m, tx) {
    if (nulCount(m.payload) !== 2) fail("EINVAL", "DIRECTORY_PART needs a path and an offset");
    const { strings } = splitStrings(m.payload);
    const part = ops.directoryPart(xs.view(tx), xs.callerFor(conn), xs.path(conn, strings[0]), Math.max(0, atoi(strings[1])));
    const parts = [nulTerminated(String(part.generation)), listPayload(part.names)];
    if (part.complete) parts.push(new Uint8Array(1));
    return { payload: concatBytes(parts) };
  },
};

const getPerms: RequestHandler = {
  run(xs, conn, m, tx) {
    const perms = ops.getPerms(xs.view(tx), xs.callerFor(conn), xs.path(conn, oneArg(m.payload), true));
    return { payload: nulTerminated(...perms.map(formatPerm)) };
  },
};

const setPerms: RequestHandler = {
  run(xs, conn, m, tx) {
    if (nulCount(m.payload) < 2) fail("EINVAL", "SET_PERMS needs a path and permissions");
    const { strings } = splitStrings(m.payload);
    const caller = xs.callerFor(conn);
    const wanted = strings.length - 1;
    if (!caller.privileged && caller.maxPermissions > 0 && wanted > caller.maxPermissions) fail("ENOSPC", "Too many permissions");
    const perms = strings.slice(1).map(parsePerm);
    xs.changed(ops.setPerms(xs.view(tx), caller, xs.path(conn, strings[0], true), perms), tx);
    return xs.ok();
  },
};

const watch: RequestHandler = {
  ignoresTransaction: true,
  run(xs, conn, m) {
    const { strings } = splitStrings(m.payload);
    let depth = -1;
    if (strings.length >= 3 && (XENSTORED_FEATURES & XENSTORE_SERVER_FEATURE_WATCHDEPTH) !== 0) {
      depth = atoi(strings[2]);
      if (depth < 0) fail("EINVAL", "Negative watch depth");
    } else if (strings.length !== 2) fail("EINVAL", "WATCH needs a path and a token");
    const raw = strings[0]!;
    const token = strings[1]!;
    const relative = !raw.startsWith("/") && !raw.startsWith("@");
    const path = xs.path(conn, raw, true);
    if (conn.watches.some((w) => w.path === path && w.token === token)) fail("EEXIST", `Watch "${path}" "${token}" exists`);
    const limit = xs.quotas.limit("watches", conn.domid, conn.privileged);
    if (limit > 0 && conn.watches.length >= limit) fail("E2BIG", `Domain ${conn.domid} has too many watches`);
    const w = { path, token, depth, prefixLength: relative ? conn.base.length + 1 : 0 };
    conn.watches.push(w);
    return {
      payload: nulTerminated("OK"),
      // Fire once up front, as C xenstored does: the client learns the current state without a race.
      after: () => conn.send({ type: XsType.WATCH_EVENT, reqId: 0, txId: 0, payload: nulTerminated(eventPathFor(w, path), token) }),
    };
  },
};

const unwatch: RequestHandler = {
  ignoresTransaction: true,
  run(xs, conn, m) {
    const { strings } = splitStrings(m.payload);
    if (strings.length < 2) fail("EINVAL", "UNWATCH needs a path and a token");
    const path = xs.path(conn, strings[0], true);
    const index = conn.watches.findIndex((w) => w.path === path && w.token === strings[1]);
    if (index < 0) fail("ENOENT", `No watch "${path}" "${strings[1]}"`);
    conn.watches.splice(index, 1);
    return xs.ok();
  },
};

const transactionStart: RequestHandler = {
  run(xs, conn, _m, tx) {
    if (tx) fail("EBUSY", "Nested transactions are not supported");
    const limit = xs.quotas.limit("transactions", conn.domid, conn.privileged);
    if (limit > 0 && conn.transactions.size >= limit) fail("ENOSPC", `Domain ${conn.domid} has too many transactions`);
    let id = conn.nextTransactionId;
    while (id === 0 || conn.transactions.has(id)) id = (id + 1) >>> 0;
    conn.nextTransactionId = (id + 1) >>> 0;
    const accessLimit = xs.quotas.limit("transaction-nodes", conn.domid, conn.privileged);
    conn.transactions.set(id, new Transaction(id, xs.store, accessLimit));
    return { payload: nulTerminated(String(id)) };
  },
};

const transactionEnd: RequestHandler = {
  run(xs, conn, m, tx) {
    const arg = oneArg(m.payload);
    if (arg !== "T" && arg !== "F") fail("EINVAL", "TRANSACTION_END takes T or F");
    if (!tx) fail("ENOENT", "No transaction");
    conn.transactions.delete(tx.id);
    if (arg === "T") {
      if (!tx.isConsistent()) fail("EAGAIN", `Transaction ${tx.id} conflicts with a concurrent change`);
      const maxNodes = xs.quotas.limit("nodes", conn.domid, conn.privileged);
      if (maxNodes > 0) {
        for (const [domid, growth] of tx.ownerGrowth()) {
          if (domid !== 0 && xs.store.ownedNodes(domid) + growth > maxNodes) fail("ENOSPC", `Domain ${domid} would own too many nodes`);
        }
      }
      tx.commit();
      xs.fire(tx.pendingEvents);
    }
    return xs.ok();
  },
};

const introduce: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    const { strings } = splitStrings(m.payload);
    if (strings.length < 3) fail("EINVAL", "INTRODUCE needs domid, gfn and event channel");
    xs.introduceDomain(parseDomid(strings[0]), atoi(strings[1]), atoi(strings[2]));
    return xs.ok();
  },
};

const release: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    xs.releaseDomain(parseDomid(oneArg(m.payload)));
    return xs.ok();
  },
};

const resume: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    xs.resumeDomain(parseDomid(oneArg(m.payload)));
    return xs.ok();
  },
};

const getDomainPath: RequestHandler = {
  run: (_xs, _conn, m) => ({ payload: nulTerminated(domainPath(parseDomid(oneArg(m.payload)))) }),
};

const isDomainIntroduced: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    const domid = parseDomid(oneArg(m.payload));
    return { payload: nulTerminated(domid === DOMID_SELF || xs.isIntroduced(domid) ? "T" : "F") };
  },
};

const setTarget: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    const { strings } = splitStrings(m.payload);
    if (strings.length < 2) fail("EINVAL", "SET_TARGET needs two domids");
    const domid = parseDomid(strings[0]);
    const target = parseDomid(strings[1]);
    knownDomain(xs, domid);
    knownDomain(xs, target);
    const conns = [...xs.connections].filter((c) => c.domid === domid);
    if (conns.length === 0) fail("EINVAL", `Domain ${domid} is not connected`);
    for (const c of conns) c.target = target;
    return xs.ok();
  },
};

const resetWatches: RequestHandler = {
  run(xs, conn) {
    conn.reset();
    return xs.ok();
  },
};

const getFeature: RequestHandler = {
  run(xs, conn, m) {
    const { strings } = splitStrings(m.payload);
    if (strings.length === 0) return { payload: nulTerminated(String(xs.domains.get(conn.domid)?.features ?? XENSTORED_FEATURES)) };
    if (!conn.privileged) fail("EACCES", "Only dom0 may ask about other domains");
    if (strings.length > 1) fail("EINVAL", "GET_FEATURE takes at most a domid");
    return { payload: nulTerminated(String(knownDomain(xs, parseDomid(strings[0])).features)) };
  },
};

const setFeature: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    const { strings } = splitStrings(m.payload);
    if (strings.length !== 2) fail("EINVAL", "SET_FEATURE needs a domid and a value");
    const record = knownDomain(xs, parseDomid(strings[0]));
    const features = atoi(strings[1]);
    if (record.domid === 0 || record.link !== undefined) fail("EBUSY", "Features are fixed once a domain is connected");
    if ((features & ~XENSTORED_FEATURES) !== 0) fail("EINVAL", `Unsupported features ${features}`);
    record.features = features;
    return xs.ok();
  },
};

const getQuota: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    const { strings } = splitStrings(m.payload);
    if (strings.length > 2) fail("EINVAL", "GET_QUOTA takes at most a domid and a name");
    if (strings.length === 0) return { payload: nulTerminated(QUOTA_NAMES.join(" ")) };
    const domid = strings.length === 2 ? knownDomain(xs, parseDomid(strings[0])).domid : undefined;
    const name = strings[strings.length - 1]!;
    if (!isQuotaName(name)) fail("EINVAL", `Unknown quota "${name}"`);
    return { payload: nulTerminated(String(xs.quotas.value(name, domid))) };
  },
};

const setQuota: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    const { strings } = splitStrings(m.payload);
    if (strings.length < 2 || strings.length > 3) fail("EINVAL", "SET_QUOTA needs [domid] name value");
    const domid = strings.length === 3 ? knownDomain(xs, parseDomid(strings[0])).domid : undefined;
    const name = strings[strings.length - 2]!;
    if (!isQuotaName(name)) fail("EINVAL", `Unknown quota "${name}"`);
    xs.quotas.set(name, atoi(strings[strings.length - 1]), domid);
    return xs.ok();
  },
};

/** CONTROL: the commands that make sense here; the rest of C xenstored's set (live-update, logfile...) is EINVAL. */
const control: RequestHandler = {
  privileged: true,
  run(xs, _conn, m) {
    const { strings } = splitStrings(m.payload);
    switch (strings[0]) {
      case "print":
        xs.log(`xenstored: ${strings.slice(1).join(" ")}`);
        return xs.ok();
      case "check":
      case "log":
      case "logfile":
      case "memreport":
        return xs.ok();
      case "help":
        return { payload: nulTerminated("check\nhelp\nlog\nlogfile\nmemreport\nprint\nquota\n") };
      case "quota":
        return { payload: nulTerminated(QUOTA_NAMES.map((n) => `${n}: ${xs.quotas.value(n)}`).join("\n") + "\n") };
      default:
        fail("EINVAL", `Unknown CONTROL command "${strings[0]}"`);
    }
  },
};

/** Indexed by XS_* type; missing entries (WATCH_EVENT, ERROR, 20, unknown) answer ENOSYS. */
export const REQUEST_HANDLERS: Readonly<Record<number, RequestHandler>> = {
  [XsType.CONTROL]: control,
  [XsType.DIRECTORY]: directory,
  [XsType.READ]: read,
  [XsType.GET_PERMS]: getPerms,
  [XsType.WATCH]: watch,
  [XsType.UNWATCH]: unwatch,
  [XsType.TRANSACTION_START]: transactionStart,
  [XsType.TRANSACTION_END]: transactionEnd,
  [XsType.INTRODUCE]: introduce,
  [XsType.RELEASE]: release,
  [XsType.GET_DOMAIN_PATH]: getDomainPath,
  [XsType.WRITE]: write,
  [XsType.MKDIR]: mkdir,
  [XsType.RM]: rm,
  [XsType.SET_PERMS]: setPerms,
  [XsType.IS_DOMAIN_INTRODUCED]: isDomainIntroduced,
  [XsType.RESUME]: resume,
  [XsType.SET_TARGET]: setTarget,
  [XsType.RESET_WATCHES]: resetWatches,
  [XsType.DIRECTORY_PART]: directoryPart,
  [XsType.GET_FEATURE]: getFeature,
  [XsType.SET_FEATURE]: setFeature,
  [XsType.GET_QUOTA]: getQuota,
  [XsType.SET_QUOTA]: setQuota,
};
