// xenstored core: the store, connections, introduced domains, watch delivery and request dispatch, independent of
// any transport (socket_server.ts and ring_transport.ts feed it messages). Behaviour follows docs/misc/xenstore.txt
// and C xenstored (tools/xenstored). Runs on the main thread; every call is synchronous.
import { XENSTORE_PAYLOAD_MAX, XsType, errorPayload, nulTerminated, type XsMessage } from "../../abi/xen/xs_wire.ts";
import { Connection, type MessageSink } from "./connection.ts";
import { XenstoreError, fail } from "./errors.ts";
import type { Caller } from "./operations.ts";
import { canonicalize } from "./path.ts";
import { Quotas } from "./quota.ts";
import { REQUEST_HANDLERS } from "./requests.ts";
import { SPECIAL_INTRODUCE, SPECIAL_RELEASE, XENSTORED_FEATURES } from "./features.ts";
import { Store, type NodeView, type Transaction } from "./store.ts";
import { eventPathFor, eventVisibleTo, watchMatches, type WatchEvent } from "./watch.ts";


/** What INTRODUCE hands to the transport side: open the domain's ring page; close it again on RELEASE. */
export interface DomainConnector {
  open(domid: number, gfn: number, evtchnPort: number): DomainLink | undefined;
}

export interface DomainLink {
  /** The connection the ring transport created for the domain, if any. */
  readonly connection?: Connection;
  close(): void;
}

export interface DomainRecord {
  readonly domid: number;
  gfn: number;
  evtchnPort: number;
  /** Set by the toolstack's shutdown notice; @releaseDomain fires once per shutdown until RESUME. */
  shutdown: boolean;
  features: number;
  link: DomainLink | undefined;
}

export interface XenstoredOptions {
  readonly connector?: DomainConnector;
  readonly log?: (line: string) => void;
  /** Tests: rethrow internal errors instead of answering EIO (a bug in a handler must fail the test). */
  readonly strict?: boolean;
}

const EMPTY = new Uint8Array(0);
const OK = nulTerminated("OK");

export type RequestResult = { payload: Uint8Array; after?: () => void };

export class Xenstored {
  readonly store = new Store();
  readonly quotas = new Quotas();
  readonly connections = new Set<Connection>();
  readonly domains = new Map<number, DomainRecord>();
  private connector: DomainConnector | undefined;
  readonly log: (line: string) => void;
  private nextConnectionNumber = 1;
  private readonly strict: boolean;

  constructor(options: XenstoredOptions = {}) {
    this.connector = options.connector;
    this.strict = options.strict ?? false;
    this.log = options.log ?? (() => {});
    const dom0Only = [{ domid: 0, access: 0 }];
    this.store.put(SPECIAL_INTRODUCE, { value: EMPTY, perms: dom0Only, children: [] });
    this.store.put(SPECIAL_RELEASE, { value: EMPTY, perms: dom0Only, children: [] });
    this.store.put("/", { value: EMPTY, perms: dom0Only, children: ["tool"] });
    this.store.put("/tool", { value: EMPTY, perms: dom0Only, children: ["xenstored"] });
    this.store.put("/tool/xenstored", { value: EMPTY, perms: dom0Only, children: [] });
    this.domains.set(0, { domid: 0, gfn: 0, evtchnPort: 0, shutdown: false, features: XENSTORED_FEATURES, link: undefined });
  }

  /** Late wiring: the daemon sets the ring connector once event channels and guest memory are available. */
  setConnector(connector: DomainConnector | undefined): void {
    this.connector = connector;
  }

  /** A new client. Socket clients are dom0; a ring transport passes the guest's domid. */
  connect(domid: number, sink: MessageSink, label?: string): Connection {
    const conn = new Connection(domid, sink, label ?? `conn#${this.nextConnectionNumber++}`);
    this.connections.add(conn);
    return conn;
  }

  disconnect(conn: Connection): void {
    conn.reset();
    conn.closed = true;
    this.connections.delete(conn);
  }

  /** Processes one request and sends its reply (and any watch events) through the connections' sinks. */
  handle(conn: Connection, message: XsMessage): void {
    if (conn.closed) return;
    try {
      const result = this.dispatch(conn, message);
      if (result.payload.length > XENSTORE_PAYLOAD_MAX) fail("E2BIG", "Reply too long");
      conn.send({ type: message.type, reqId: message.reqId, txId: message.txId, payload: result.payload });
      result.after?.();
    } catch (e) {
      if (!(e instanceof XenstoreError)) {
        // A bug in a handler: never take the daemon down for it; the client gets EIO and the log gets the story.
        if (this.strict) throw e;
        this.log(`xenstored: internal error handling type ${message.type} from ${conn.label}: ${(e as Error).stack ?? e}`);
      }
      const errno = e instanceof XenstoreError ? e.errno : "EIO";
      conn.send({ type: XsType.ERROR, reqId: message.reqId, txId: message.txId, payload: errorPayload(errno) });
    }
  }

  private dispatch(conn: Connection, message: XsMessage): RequestResult {
    const handler = REQUEST_HANDLERS[message.type];
    if (!handler) fail("ENOSYS", `Unknown request type ${message.type}`);
    if (handler.privileged && !conn.privileged) fail("EACCES", `Domain ${conn.domid} may not send type ${message.type}`);
    let tx: Transaction | undefined;
    if (!handler.ignoresTransaction && message.txId !== 0) {
      tx = conn.transactions.get(message.txId);
      if (!tx) fail("ENOENT", `No transaction ${message.txId}`);
    }
    return handler.run(this, conn, message, tx);
  }

  // ---- helpers for request handlers ----

  ok(): RequestResult {
    return { payload: OK };
  }

  callerFor(conn: Connection): Caller {
    const privileged = conn.privileged;
    return {
      domid: conn.domid,
      privileged,
      target: conn.target,
      maxNodes: this.quotas.limit("nodes", conn.domid, privileged),
      maxNodeSizeBytes: this.quotas.limit("node-size", conn.domid, privileged),
      maxPermissions: this.quotas.limit("node-permissions", conn.domid, privileged),
    };
  }

  path(conn: Connection, raw: string | undefined, allowSpecial = false): string {
    return canonicalize(raw, { base: conn.base, allowSpecial, pathMax: this.quotas.limit("path-max", conn.domid, conn.privileged) });
  }

  view(tx: Transaction | undefined): NodeView {
    return tx ?? this.store;
  }

  /** Fires now, or when the transaction commits. */
  changed(events: readonly WatchEvent[], tx: Transaction | undefined): void {
    if (tx) tx.pendingEvents.push(...events);
    else this.fire(events);
  }

  /** Sends a WATCH_EVENT to every watch that matches an event its owner may see. */
  fire(events: readonly WatchEvent[]): void {
    for (const conn of [...this.connections]) {
      for (const event of events) {
        if (!eventVisibleTo(conn, event)) continue;
        for (const watch of conn.watches) {
          if (watchMatches(watch, event)) {
            conn.send({ type: XsType.WATCH_EVENT, reqId: 0, txId: 0, payload: nulTerminated(eventPathFor(watch, event.path), watch.token) });
          }
        }
      }
    }
  }

  /** fire_special_watches(): "@releaseDomain" for everyone watching it, and "@releaseDomain/<domid>" for depth watches. */
  fireSpecial(name: string, domid: number, which: "both" | "domain" | "plain" = "both"): void {
    const perms = this.store.get(name)?.perms;
    const events: WatchEvent[] = [];
    if (which !== "domain") events.push({ path: name, match: "nodepth", perms });
    if (which !== "plain") events.push({ path: `${name}/${domid}`, match: "depth", perms });
    this.fire(events);
  }

  // ---- domain management (INTRODUCE, RELEASE, ...), also the toolstack's in-process entry points ----

  isIntroduced(domid: number): boolean {
    return this.domains.has(domid);
  }

  /** INTRODUCE: start serving `domid`'s ring (through the connector) and fire @introduceDomain. */
  introduceDomain(domid: number, gfn: number, evtchnPort: number): void {
    if (!Number.isInteger(domid) || domid <= 0 || domid >= 0x7ff0) fail("EINVAL", `Cannot introduce domain ${domid}`);
    if (!Number.isInteger(evtchnPort) || evtchnPort <= 0) fail("EINVAL", `Invalid event channel ${evtchnPort}`);
    const existing = this.domains.get(domid);
    if (existing) {
      // Re-INTRODUCE (resume, restore, restarted daemon): same ring → reset its state; otherwise reopen it.
      if (existing.link && existing.gfn === gfn && existing.evtchnPort === evtchnPort) {
        existing.link.connection?.reset();
        return;
      }
      existing.link?.close();
      existing.gfn = gfn;
      existing.evtchnPort = evtchnPort;
      existing.link = this.connector?.open(domid, gfn, evtchnPort);
      return;
    }
    const record: DomainRecord = { domid, gfn, evtchnPort, shutdown: false, features: XENSTORED_FEATURES, link: undefined };
    this.domains.set(domid, record);
    record.link = this.connector?.open(domid, gfn, evtchnPort);
    this.log(`xenstored: introduced domain ${domid} (gfn ${gfn}, port ${evtchnPort})`);
    this.fireSpecial(SPECIAL_INTRODUCE, domid, "plain");
  }

  /**
   * RELEASE (or the domain died): drop its watches and transactions, close its ring, fire @releaseDomain, and give
   * its nodes to dom0 so that a later domain with the same id inherits nothing.
   */
  releaseDomain(domid: number): void {
    if (domid === 0) fail("EINVAL", "Cannot release dom0");
    const record = this.domains.get(domid);
    if (!record) fail("ENOENT", `Domain ${domid} is not introduced`);
    for (const conn of [...this.connections]) {
      if (conn.domid === domid) this.disconnect(conn);
    }
    record.link?.close();
    this.domains.delete(domid);
    this.quotas.forgetDomain(domid);
    this.forgetOwner(domid);
    this.log(`xenstored: released domain ${domid}`);
    this.fireSpecial(SPECIAL_RELEASE, domid, "both");
  }

  /** The toolstack saw the domain shut down: fire @releaseDomain once (until RESUME). */
  domainShutdown(domid: number): void {
    const record = this.domains.get(domid);
    if (!record || record.shutdown) return;
    record.shutdown = true;
    this.fireSpecial(SPECIAL_RELEASE, domid, "both");
  }

  resumeDomain(domid: number): void {
    if (domid === 0) fail("EINVAL", "Cannot resume dom0");
    const record = this.domains.get(domid);
    if (!record) fail("ENOENT", `Domain ${domid} is not introduced`);
    record.shutdown = false;
  }

  /** domain_adjust_node_perms(): nodes owned by a dead domain pass to dom0; its other entries are dropped. */
  private forgetOwner(domid: number): void {
    for (const path of [...this.store.paths()]) {
      const perms = this.store.get(path)!.perms;
      if (!perms.some((p) => p.domid === domid)) continue;
      const owner = perms[0]!.domid === domid ? { domid: 0, access: perms[0]!.access } : perms[0]!;
      this.store.replacePerms(path, [owner, ...perms.slice(1).filter((p) => p.domid !== domid)]);
    }
  }
}
