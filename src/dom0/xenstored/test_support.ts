// Test helper: a raw wire client on a Xenstored, recording replies and watch events as decoded strings.
import { XsType, bytesText, concatBytes, nulTerminated, type XsMessage } from "../../abi/xen/xs_wire.ts";
import type { Connection } from "./connection.ts";
import type { Xenstored } from "./xenstored.ts";

export interface Reply {
  readonly type: number;
  /** Payload with NULs shown as "\0". */
  readonly text: string;
}

export class WireClient {
  readonly conn: Connection;
  readonly events: string[][] = [];
  private last: XsMessage | undefined;
  private reqId = 1;

  constructor(
    private readonly xs: Xenstored,
    domid: number,
  ) {
    this.conn = xs.connect(domid, (m) => {
      if (m.type === XsType.WATCH_EVENT) this.events.push(bytesText(m.payload).split("\0").slice(0, 2));
      else this.last = m;
    });
  }

  /** Sends type + strings (each NUL-terminated) + optional raw tail; returns the reply. */
  send(type: number, strings: string[], txId = 0, tail?: Uint8Array): Reply {
    const payload = concatBytes([strings.length ? nulTerminated(...strings) : new Uint8Array(0), tail ?? new Uint8Array(0)]);
    this.last = undefined;
    const reqId = this.reqId++;
    this.xs.handle(this.conn, { type, reqId, txId, payload });
    const reply = this.last as XsMessage | undefined;
    if (!reply) throw new Error("no reply");
    if (reply.reqId !== reqId || reply.txId !== txId) throw new Error("reply does not echo req_id/tx_id");
    return { type: reply.type, text: bytesText(reply.payload) };
  }

  /** "OK", the value, or "ERR:ENOENT". */
  op(type: number, ...strings: string[]): string {
    const r = this.send(type, strings);
    return r.type === XsType.ERROR ? `ERR:${r.text.replace(/\0$/, "")}` : r.text.replace(/\0$/, "");
  }

  tx(txId: number, type: number, ...strings: string[]): string {
    const r = this.send(type, strings, txId);
    return r.type === XsType.ERROR ? `ERR:${r.text.replace(/\0$/, "")}` : r.text.replace(/\0$/, "");
  }

  write(path: string, value: string): string {
    const r = this.send(XsType.WRITE, [path], 0, new TextEncoder().encode(value));
    return r.type === XsType.ERROR ? `ERR:${r.text.replace(/\0$/, "")}` : r.text.replace(/\0$/, "");
  }

  takeEvents(): string[][] {
    return this.events.splice(0);
  }
}
