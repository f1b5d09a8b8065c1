// In-process xenstore client for the toolstack (privileged, dom0 by default). It speaks the same requests as any
// wire client, through Xenstored.handle(), so semantics cannot drift; replies arrive synchronously.
import { XsType, bytesText, concatBytes, isXsErrno, nulTerminated, splitStrings, type XsMessage } from "../../abi/xen/xs_wire.ts";
import type { Connection } from "./connection.ts";
import { XenstoreError } from "./errors.ts";
import { formatPerm, parsePerm, type XsPerm } from "./perms.ts";
import type { Xenstored } from "./xenstored.ts";

export type WatchCallback = (path: string, token: string) => void;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Values given as strings are stored as UTF-8 (xenstore values are bytes; the tools treat them as text). */
function valueBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? utf8Encoder.encode(value) : value;
}

export class XenstoreClient {
  private readonly conn: Connection;
  private reply: XsMessage | undefined;
  private nextReqId = 1;
  private readonly watchCallbacks = new Map<string, WatchCallback>();

  constructor(
    private readonly xenstored: Xenstored,
    domid = 0,
    label = "toolstack",
  ) {
    this.conn = xenstored.connect(domid, (m) => this.receive(m), label);
  }

  close(): void {
    this.xenstored.disconnect(this.conn);
  }

  /**
   * Watch callbacks run from a microtask, never inside the request that caused the event: a callback may then
   * call back into xenstored without re-entering a half-finished operation.
   */
  private receive(message: XsMessage): void {
    if (message.type === XsType.WATCH_EVENT) {
      const [path, token] = splitStrings(message.payload).strings;
      queueMicrotask(() => this.watchCallbacks.get(token ?? "")?.(path ?? "", token ?? ""));
      return;
    }
    this.reply = message;
  }

  /** Sends one request and returns the reply payload; throws XenstoreError for an ERROR reply. */
  request(type: number, payload: Uint8Array, txId = 0): Uint8Array {
    const reqId = this.nextReqId++;
    this.reply = undefined;
    this.xenstored.handle(this.conn, { type, reqId, txId, payload });
    const reply = this.reply as XsMessage | undefined;
    this.reply = undefined;
    if (!reply) throw new Error(`xenstored sent no reply to request type ${type}`);
    if (reply.type === XsType.ERROR) {
      const name = splitStrings(reply.payload).strings[0] ?? "EIO";
      throw new XenstoreError(isXsErrno(name) ? name : "EIO", `xenstore request ${type} failed: ${name}`);
    }
    return reply.payload;
  }

  readBytes(path: string, txId = 0): Uint8Array {
    return this.request(XsType.READ, nulTerminated(path), txId);
  }

  read(path: string, txId = 0): string {
    return utf8Decoder.decode(this.readBytes(path, txId));
  }

  /** The value, or undefined if the node does not exist. */
  tryRead(path: string, txId = 0): string | undefined {
    try {
      return this.read(path, txId);
    } catch (e) {
      if (e instanceof XenstoreError && e.errno === "ENOENT") return undefined;
      throw e;
    }
  }

  write(path: string, value: string | Uint8Array, txId = 0): void {
    this.request(XsType.WRITE, concatBytes([nulTerminated(path), valueBytes(value)]), txId);
  }

  mkdir(path: string, txId = 0): void {
    this.request(XsType.MKDIR, nulTerminated(path), txId);
  }

  rm(path: string, txId = 0): void {
    this.request(XsType.RM, nulTerminated(path), txId);
  }

  directory(path: string, txId = 0): string[] {
    return splitStrings(this.request(XsType.DIRECTORY, nulTerminated(path), txId)).strings;
  }

  getPerms(path: string, txId = 0): XsPerm[] {
    return splitStrings(this.request(XsType.GET_PERMS, nulTerminated(path), txId)).strings.map(parsePerm);
  }

  /** Permissions as objects or as strings ("n0", "r5"); the first entry is the owner. */
  setPerms(path: string, perms: readonly (XsPerm | string)[], txId = 0): void {
    const strings = perms.map((p) => (typeof p === "string" ? p : formatPerm(p)));
    this.request(XsType.SET_PERMS, nulTerminated(path, ...strings), txId);
  }

  /** Registers a watch; the callback also runs once soon after (fire-on-register). Returns the unwatch function. */
  watch(path: string, token: string, callback: WatchCallback): () => void {
    this.watchCallbacks.set(token, callback);
    try {
      this.request(XsType.WATCH, nulTerminated(path, token));
    } catch (e) {
      this.watchCallbacks.delete(token);
      throw e;
    }
    return () => {
      this.watchCallbacks.delete(token);
      this.request(XsType.UNWATCH, nulTerminated(path, token));
    };
  }

  transactionStart(): number {
    return Number(splitStrings(this.request(XsType.TRANSACTION_START, nulTerminated(""))).strings[0]);
  }

  /** Commits (or with commit=false aborts); a conflicting commit throws XenstoreError EAGAIN. */
  transactionEnd(txId: number, commit: boolean): void {
    this.request(XsType.TRANSACTION_END, nulTerminated(commit ? "T" : "F"), txId);
  }

  /** Runs `body` in a transaction and commits, retrying on EAGAIN up to `attempts` times. */
  transaction<T>(body: (txId: number) => T, attempts = 16): T {
    for (let i = 1; ; i++) {
      const txId = this.transactionStart();
      let result: T;
      try {
        result = body(txId);
      } catch (e) {
        this.transactionEnd(txId, false);
        throw e;
      }
      try {
        this.transactionEnd(txId, true);
        return result;
      } catch (e) {
        if (!(e instanceof XenstoreError && e.errno === "EAGAIN") || i >= attempts) throw e;
      }
    }
  }

  introduceDomain(domid: number, gfn: number, evtchnPort: number): void {
    this.request(XsType.INTRODUCE, nulTerminated(String(domid), String(gfn), String(evtchnPort)));
  }

  releaseDomain(domid: number): void {
    this.request(XsType.RELEASE, nulTerminated(String(domid)));
  }

  isDomainIntroduced(domid: number): boolean {
    return bytesText(this.request(XsType.IS_DOMAIN_INTRODUCED, nulTerminated(String(domid)))) === "T\0";
  }

  getDomainPath(domid: number): string {
    return splitStrings(this.request(XsType.GET_DOMAIN_PATH, nulTerminated(String(domid)))).strings[0]!;
  }

  /** GET_QUOTA: the global value, or domain `domid`'s. */
  getQuota(name: string, domid?: number): number {
    const args = domid === undefined ? [name] : [String(domid), name];
    return Number(splitStrings(this.request(XsType.GET_QUOTA, nulTerminated(...args))).strings[0]);
  }

  /** SET_QUOTA: the global default, or domain `domid`'s own value. */
  setQuota(name: string, value: number, domid?: number): void {
    const args = domid === undefined ? [name, String(value)] : [String(domid), name, String(value)];
    this.request(XsType.SET_QUOTA, nulTerminated(...args));
  }

  control(...args: string[]): string {
    return bytesText(this.request(XsType.CONTROL, nulTerminated(...args))).replace(/\0$/, "");
  }
}
