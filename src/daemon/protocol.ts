// The xl ⇄ daemon wire protocol: one JSON object per line over the unix socket $TSXEN_HOME/tsxend.sock.
//
//   xl → daemon   {"id":1,"op":"list","args":{"long":false}}
//   daemon → xl   {"id":1,"ok":true,"result":[...]}   or   {"id":1,"ok":false,"error":{"kind":"not_found","message":"..."}}
//   console       after {"op":"console.attach"} (or "create" with console:true) succeeds, the daemon sends {"id":N,"event":"console","data":"<base64>"},
//                 {"id":N,"event":"moved","domid":M} and finally {"id":N,"event":"end","reason":"..."}; xl sends
//                 {"id":N,"op":"console.input","args":{"data":"<base64>"}} (no reply) and "console.detach".

import type { DomainConfig } from "../dom0/toolstack/domain_config.ts";

export const PROTOCOL_VERSION = 1;
/** A line longer than this is a protocol error (a DomainConfig is a few hundred bytes). */
export const MAX_LINE_BYTES = 1 << 20;

export type ErrorKind =
  | "config" | "not_found" | "exists" | "no_memory" | "bad_state" | "invalid"
  | "backend" | "boot" | "protocol" | "internal";

export interface WireError {
  readonly kind: ErrorKind;
  readonly message: string;
}

/** Every operation with its arguments. */
export interface OpArgs {
  "ping": Record<string, never>;
  /** console: attach this connection to the new domain's console before it starts (xl create -c). */
  "create": { config: DomainConfig; console?: boolean };
  "list": { long?: boolean };
  "info": Record<string, never>;
  "dmesg": { clear?: boolean };
  /** xl debug-keys: Xen debug keys, output to the hypervisor log. */
  "debug-keys": { keys: string };
  "destroy": { dom: string };
  "pause": { dom: string };
  "unpause": { dom: string };
  "shutdown": { dom: string; wait?: boolean; timeoutS?: number };
  "reboot": { dom: string };
  "domid": { name: string };
  "domname": { domid: number };
  /** xl emu-stats: the domain's execution profile (hv/ports.ts ExecutionProfile). */
  "profile": { dom: string };
  "console.attach": { dom: string };
  "console.input": { data: string };
  "console.detach": Record<string, never>;
  "daemon.stop": Record<string, never>;
}
export type Op = keyof OpArgs;

export interface Request<O extends Op = Op> {
  readonly id: number;
  readonly op: O;
  readonly args?: OpArgs[O];
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

export type StreamEvent =
  | { readonly id: number; readonly event: "console"; readonly data: string }
  | { readonly id: number; readonly event: "moved"; readonly domid: number }
  | { readonly id: number; readonly event: "end"; readonly reason: string };

export type ServerMessage = Reply | StreamEvent;

export function encodeLine(msg: unknown): string {
  return JSON.stringify(msg) + "\n";
}

/** Splits a byte stream into lines; throws when a line exceeds MAX_LINE_BYTES. */
export class LineSplitter {
  private buf = "";
  push(chunk: string): string[] {
    this.buf += chunk;
    const parts = this.buf.split("\n");
    this.buf = parts.pop()!;
    if (this.buf.length > MAX_LINE_BYTES) throw new Error(`protocol line longer than ${MAX_LINE_BYTES} bytes`);
    return parts.filter((p) => p.length > 0);
  }
}
