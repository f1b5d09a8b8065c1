// Guest transport of xenstored: the shared xenstore ring page (struct xenstore_domain_interface,
// xen/include/public/io/xs_wire.h; docs/misc/xenstore-ring.txt). Requests are read from req[] between req_cons and
// req_prod, replies and watch events written to rsp[] up to rsp_cons + 1024; indices are free-running u32.
// Works on any Uint8Array page, so tests need no guest.
//
// Design: onEvent() (called on the main thread when the guest kicks the store event channel) alternates
// "flush queued output" and "read one message" until neither makes progress, then notifies the guest once if any
// index moved. A request counts as outstanding until its reply is fully in the ring; an unprivileged domain with
// `outstanding` quota requests pending is not read further (C xenstored's domain_can_read()). Index fields are
// read and written with Atomics (the guest's vCPU threads touch them concurrently). Bad indices or an oversized
// message set the page's error field and the ring is no longer served, as C xenstored does.
import { XsType, encodeMessage, type XsMessage } from "../../abi/xen/xs_wire.ts";
import {
  XENSTORE_CONNECTED, XENSTORE_ERROR_PROTO, XENSTORE_ERROR_RINGIDX, XENSTORE_RECONNECT, XENSTORE_RING_SIZE,
  XenstoreDomainInterface as L, maskXenstoreIdx,
} from "../../abi/xen/xs_ring.ts";
import type { GuestRam } from "../../hv/ports.ts";
import type { Connection } from "./connection.ts";
import { XENSTORED_FEATURES } from "./features.ts";
import { MessageReader, ProtocolError } from "./message_reader.ts";
import type { DomainConnector, DomainLink, Xenstored } from "./xenstored.ts";

const PAGE_SIZE = 4096;
/** Queued watch events beyond this many bytes are dropped (C xenstored's per-domain memory quota is 2 MiB soft). */
const MAX_QUEUED_BYTES = 2 * 1024 * 1024;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error("The xenstore ring transport assumes a little-endian host, as x86 guests use");
}

export interface RingTransportOptions {
  readonly xenstored: Xenstored;
  readonly domid: number;
  /** The ring page: 4096 bytes of guest memory, 4-byte aligned. */
  readonly page: Uint8Array;
  /** Kick the guest: EVTCHNOP_send on xenstored's end of the domain's store event channel. */
  readonly notify: () => void;
}

interface Pending {
  readonly bytes: Uint8Array;
  written: number;
  readonly isReply: boolean;
}

type IndexField = "reqCons" | "reqProd" | "rspCons" | "rspProd" | "serverFeatures" | "connection" | "error";

export class XenstoreRingTransport implements DomainLink {
  readonly connection: Connection;
  private readonly page: Uint8Array;
  private readonly words: Int32Array;
  private readonly notifyGuest: () => void;
  private readonly xenstored: Xenstored;
  private readonly reader = new MessageReader();
  private readonly output: Pending[] = [];
  private queuedBytes = 0;
  private outstanding = 0;
  private closed = false;
  private failed = false;
  private droppedEvents = 0;
  private serving = false;
  private flushScheduled = false;

  /** The ring at guest frame `gfn` of `ram`. */
  static fromGuestRam(xenstored: Xenstored, domid: number, ram: GuestRam, gfn: number, notify: () => void): XenstoreRingTransport {
    const offset = gfn * PAGE_SIZE;
    if (!Number.isInteger(gfn) || gfn < 0 || offset + PAGE_SIZE > ram.sizeBytes) {
      throw new RangeError(`xenstore ring gfn ${gfn} of domain ${domid} is outside its RAM`);
    }
    return new XenstoreRingTransport({ xenstored, domid, page: ram.bytes.subarray(offset, offset + PAGE_SIZE), notify });
  }

  constructor(options: RingTransportOptions) {
    if (options.page.length < PAGE_SIZE || options.page.byteOffset % 4 !== 0) {
      throw new RangeError("xenstore ring page must be 4096 bytes, 4-byte aligned");
    }
    this.page = options.page;
    this.words = new Int32Array(options.page.buffer, options.page.byteOffset + L.reqCons, (L.size - L.reqCons) / 4);
    this.notifyGuest = options.notify;
    this.xenstored = options.xenstored;
    this.connection = options.xenstored.connect(options.domid, (m) => this.enqueue(m), `domain ${options.domid} ring`);
    this.store("serverFeatures", XENSTORED_FEATURES);
    this.store("error", 0);
    // As C do_introduce(): a guest that asked for a reconnect (or waits for xenstored) learns it is connected.
    if (this.load("connection") === XENSTORE_RECONNECT) {
      this.store("connection", XENSTORE_CONNECTED);
      queueMicrotask(() => this.notifyGuest());
    }
  }

  /** The guest signalled the event channel (or a timer polls): serve requests and flush replies. */
  onEvent(): void {
    if (this.closed || this.failed || this.serving) return;
    this.serving = true;
    try {
      let moved = false;
      for (;;) {
        const wrote = this.flush();
        if (wrote < 0) return;
        const read = this.readOne();
        if (read < 0) return;
        if (wrote === 0 && read === 0) break;
        moved = true;
      }
      if (moved) this.notifyGuest();
    } finally {
      this.serving = false;
    }
  }

  /** Stop serving: the domain was released. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.xenstored.disconnect(this.connection);
  }

  /** Replies not yet completely in the ring (for tests and diagnostics). */
  get outstandingRequests(): number {
    return this.outstanding;
  }

  private enqueue(message: XsMessage): void {
    const isReply = message.type !== XsType.WATCH_EVENT;
    if (!isReply && this.queuedBytes > MAX_QUEUED_BYTES) {
      if (this.droppedEvents++ === 0) this.xenstored.log(`xenstored: ${this.connection.label}: output backlog, dropping watch events`);
      return;
    }
    const bytes = encodeMessage(message);
    this.output.push({ bytes, written: 0, isReply });
    this.queuedBytes += bytes.length;
    if (isReply) this.outstanding++;
    // Output caused by someone else (a watch event from a dom0 write) goes out once the current request is done.
    if (!this.serving && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.onEvent();
      });
    }
  }

  /** Copies queued output into rsp[]; returns bytes written, or -1 if the ring indices are corrupt. */
  private flush(): number {
    let total = 0;
    while (this.output.length > 0) {
      const cons = this.load("rspCons");
      let prod = this.load("rspProd");
      const used = (prod - cons) >>> 0;
      if (used > XENSTORE_RING_SIZE) return this.fail(XENSTORE_ERROR_RINGIDX, `rsp indices ${cons}/${prod}`);
      const space = XENSTORE_RING_SIZE - used;
      if (space === 0) break;
      const head = this.output[0]!;
      const n = Math.min(space, head.bytes.length - head.written);
      for (let i = 0; i < n; i++) this.page[L.rsp + maskXenstoreIdx(prod + i)] = head.bytes[head.written + i]!;
      prod = (prod + n) >>> 0;
      this.store("rspProd", prod);
      head.written += n;
      total += n;
      if (head.written === head.bytes.length) {
        this.output.shift();
        this.queuedBytes -= head.bytes.length;
        if (head.isReply) this.outstanding--;
      }
    }
    return total;
  }

  /** Consumes bytes of at most one message from req[] and handles it; returns bytes read, or -1 on failure. */
  private readOne(): number {
    const limit = this.xenstored.quotas.limit("outstanding", this.connection.domid, this.connection.privileged);
    if (limit > 0 && this.outstanding >= limit && this.reader.idle) return 0;
    let total = 0;
    for (;;) {
      const cons = this.load("reqCons");
      const prod = this.load("reqProd");
      const avail = (prod - cons) >>> 0;
      if (avail > XENSTORE_RING_SIZE) return this.fail(XENSTORE_ERROR_RINGIDX, `req indices ${cons}/${prod}`);
      if (avail === 0) return total;
      const n = Math.min(avail, this.reader.bytesNeeded);
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i++) chunk[i] = this.page[L.req + maskXenstoreIdx(cons + i)]!;
      this.store("reqCons", (cons + n) >>> 0);
      total += n;
      let messages: XsMessage[];
      try {
        messages = this.reader.push(chunk);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        return this.fail(XENSTORE_ERROR_PROTO, e.message);
      }
      if (messages.length > 0) {
        for (const m of messages) this.xenstored.handle(this.connection, m);
        return total;
      }
    }
  }

  private fail(error: number, why: string): -1 {
    this.failed = true;
    this.store("error", error);
    this.xenstored.log(`xenstored: ${this.connection.label}: ${why}; ring no longer served (error ${error})`);
    this.notifyGuest();
    return -1;
  }

  private load(field: IndexField): number {
    return Atomics.load(this.words, (L[field] - L.reqCons) / 4) >>> 0;
  }

  private store(field: IndexField, value: number): void {
    Atomics.store(this.words, (L[field] - L.reqCons) / 4, value | 0);
  }
}

/** xenstored's end of a domain's store event channel (EVTCHNOP_bind_interdomain to the guest's unbound port). */
export interface StoreEventChannel {
  notify(): void;
  close(): void;
}

/** What the ring connector needs from the daemon: guest RAM and event channels. */
export interface RingHost {
  ramOf(domid: number): GuestRam | undefined;
  /** Binds to the guest's unbound `remotePort`; `onKick` runs on the main thread each time the guest sends on it. */
  bindEvtchn(domid: number, remotePort: number, onKick: () => void): StoreEventChannel;
}

/**
 * The DomainConnector that INTRODUCE uses in the daemon: maps the ring page at `gfn`, binds the event channel, and
 * serves any requests the guest queued before it was introduced.
 */
export function ringConnector(xenstored: Xenstored, host: RingHost): DomainConnector {
  return {
    open(domid, gfn, evtchnPort) {
      const ram = host.ramOf(domid);
      if (!ram) {
        xenstored.log(`xenstored: domain ${domid} has no RAM to map its ring from`);
        return undefined;
      }
      let channel: StoreEventChannel | undefined;
      const transport = XenstoreRingTransport.fromGuestRam(xenstored, domid, ram, gfn, () => channel?.notify());
      channel = host.bindEvtchn(domid, evtchnPort, () => transport.onEvent());
      transport.onEvent();
      return {
        connection: transport.connection,
        close() {
          transport.close();
          channel?.close();
        },
      };
    },
  };
}
