// A small xenstore client over xenstored's unix socket ($TSXEN_HOME/xenstored/socket), speaking Xen's wire protocol
// (xsd_sockmsg header + payload). One request in flight at a time; WATCH_EVENT messages are queued for watch().

import { createConnection, type Socket } from "node:net";
import {
  XsType, XSD_SOCKMSG_SIZE, bytesText, decodeHeader, encodeMessage, isXsErrno, nulTerminated, splitStrings,
  concatBytes, XS_WATCH_PATH, XS_WATCH_TOKEN, type XsErrno, type XsMessage,
} from "../../abi/xen/xs_wire.ts";
import { DaemonError } from "./exit_codes.ts";

/** Short descriptions of the xenstore errno names, for one-line error messages. */
export const XS_ERRNO_TEXT: Readonly<Record<XsErrno, string>> = {
  EINVAL: "invalid argument", EACCES: "permission denied", EEXIST: "node exists", EISDIR: "is a directory",
  ENOENT: "no such node", ENOMEM: "out of memory", ENOSPC: "quota exceeded", EIO: "I/O error",
  ENOTEMPTY: "not empty", ENOSYS: "not supported", EROFS: "read-only", EBUSY: "busy",
  EAGAIN: "transaction conflict, try again", EISCONN: "already connected", E2BIG: "too many watches", EPERM: "not permitted",
};

/** xenstored answered ERROR with an errno name. */
export class XsError extends Error {
  constructor(readonly errno: string) {
    super(isXsErrno(errno) ? `${errno} (${XS_ERRNO_TEXT[errno]})` : errno);
    this.name = "XsError";
  }
}

export interface XsWatchEvent {
  readonly path: string;
  readonly token: string;
}

/** Byte stream → complete messages. */
export class XsMessageSplitter {
  private buf: Uint8Array = new Uint8Array(0);
  push(chunk: Uint8Array): XsMessage[] {
    this.buf = this.buf.length === 0 ? chunk : concatBytes([this.buf, chunk]);
    const out: XsMessage[] = [];
    for (;;) {
      if (this.buf.length < XSD_SOCKMSG_SIZE) break;
      const h = decodeHeader(this.buf, 0);
      const end = XSD_SOCKMSG_SIZE + h.len;
      if (this.buf.length < end) break;
      out.push({ type: h.type, reqId: h.reqId, txId: h.txId, payload: this.buf.slice(XSD_SOCKMSG_SIZE, end) });
      this.buf = this.buf.subarray(end);
    }
    return out;
  }
}

/** A payload without its trailing NUL, as text. */
function payloadText(p: Uint8Array): string {
  return bytesText(p.length > 0 && p[p.length - 1] === 0 ? p.subarray(0, p.length - 1) : p);
}

export class XsSocketClient {
  private readonly splitter = new XsMessageSplitter();
  private nextReqId = 1;
  private pending: { reqId: number; resolve: (m: XsMessage) => void; reject: (e: Error) => void } | undefined;
  private readonly events: XsWatchEvent[] = [];
  private eventWaiter: (() => void) | undefined;
  private closedError: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.on("data", (chunk: Buffer) => {
      for (const m of this.splitter.push(new Uint8Array(chunk))) this.onMessage(m);
    });
    const onGone = (e?: Error): void => {
      this.closedError ??= e ?? new Error("xenstored closed the connection");
      this.pending?.reject(this.closedError);
      this.pending = undefined;
      this.eventWaiter?.();
    };
    sock.on("error", onGone);
    sock.on("close", () => onGone());
  }

  /** Connects; DaemonError "not running" when nothing listens on the socket. */
  static connect(socketPath: string): Promise<XsSocketClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(socketPath);
      s.once("connect", () => resolve(new XsSocketClient(s)));
      s.once("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT" || e.code === "ECONNREFUSED") reject(new DaemonError(`tsxen daemon is not running (no xenstored on "${socketPath}")`));
        else reject(new DaemonError(`cannot connect to xenstored on "${socketPath}": ${e.message}`));
      });
    });
  }

  private onMessage(m: XsMessage): void {
    if (m.type === XsType.WATCH_EVENT) {
      const { strings } = splitStrings(m.payload);
      this.events.push({ path: strings[XS_WATCH_PATH] ?? "", token: strings[XS_WATCH_TOKEN] ?? "" });
      this.eventWaiter?.();
      return;
    }
    const p = this.pending;
    if (p && p.reqId === m.reqId) {
      this.pending = undefined;
      p.resolve(m);
    }
  }

  /** Sends one request and waits for its reply; an ERROR reply throws XsError. */
  async request(type: number, payload: Uint8Array): Promise<Uint8Array> {
    if (this.closedError) throw this.closedError;
    if (this.pending) throw new Error("xenstore client: one request at a time");
    const reqId = this.nextReqId++;
    const reply = await new Promise<XsMessage>((resolve, reject) => {
      this.pending = { reqId, resolve, reject };
      this.sock.write(encodeMessage({ type, reqId, txId: 0, payload }));
    });
    if (reply.type === XsType.ERROR) throw new XsError(payloadText(reply.payload));
    if (reply.type !== type) throw new Error(`xenstore client: reply of type ${reply.type} to a request of type ${type}`);
    return reply.payload;
  }

  async read(path: string): Promise<string> {
    return bytesText(await this.request(XsType.READ, nulTerminated(path)));
  }

  /**
   * Writes a value (no trailing NUL on the wire, as libxenstore). A string is stored as its UTF-8 bytes, as a C tool
   * stores its argv; read() gives bytes back one char per byte.
   */
  async write(path: string, value: string | Uint8Array): Promise<void> {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    await this.request(XsType.WRITE, concatBytes([nulTerminated(path), bytes]));
  }

  async directory(path: string): Promise<string[]> {
    return splitStrings(await this.request(XsType.DIRECTORY, nulTerminated(path))).strings;
  }

  async rm(path: string): Promise<void> {
    await this.request(XsType.RM, nulTerminated(path));
  }

  /** Permission strings as xenstored stores them ("n0", "r1", ...). */
  async getPerms(path: string): Promise<string[]> {
    return splitStrings(await this.request(XsType.GET_PERMS, nulTerminated(path))).strings;
  }

  async setPerms(path: string, perms: readonly string[]): Promise<void> {
    await this.request(XsType.SET_PERMS, nulTerminated(path, ...perms));
  }

  async watch(path: string, token: string): Promise<void> {
    await this.request(XsType.WATCH, nulTerminated(path, token));
  }

  /** The next watch event (the one fired on registration included); throws once the connection is gone. */
  async nextEvent(): Promise<XsWatchEvent> {
    for (;;) {
      const e = this.events.shift();
      if (e) return e;
      if (this.closedError) throw this.closedError;
      await new Promise<void>((r) => (this.eventWaiter = r));
      this.eventWaiter = undefined;
    }
  }

  close(): void {
    this.closedError ??= new Error("xenstore client closed");
    this.sock.destroy();
  }
}
