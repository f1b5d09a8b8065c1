// xl's side of the daemon socket (protocol in src/daemon/protocol.ts): requests, replies, console streams.

import { createConnection, type Socket } from "node:net";
import { encodeLine, LineSplitter, type Op, type OpArgs, type ServerMessage } from "../../daemon/protocol.ts";
import { DaemonError, RemoteError } from "./exit_codes.ts";

export interface ConsoleHandlers {
  data(bytes: Uint8Array): void;
  end(reason: string): void;
  moved?(domid: number): void;
}

export interface ConsoleStream {
  readonly result: unknown;
  input(bytes: Uint8Array): void;
  detach(): void;
}

export class DaemonClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly streams = new Map<number, ConsoleHandlers>();
  private closedWhy: string | undefined;

  private constructor(private readonly sock: Socket) {
    const splitter = new LineSplitter();
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      for (const line of splitter.push(chunk)) this.onMessage(JSON.parse(line) as ServerMessage);
    });
    sock.on("close", () => this.onClose("the daemon closed the connection"));
    sock.on("error", (e) => this.onClose(`connection to the daemon failed: ${e.message}`));
  }

  /** Connects to the daemon's socket; DaemonError if nothing listens there. */
  static connect(socketPath: string): Promise<DaemonClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(socketPath);
      const onError = (e: NodeJS.ErrnoException): void => {
        sock.destroy();
        if (e.code === "ENOENT" || e.code === "ECONNREFUSED") reject(new DaemonError(`tsxen daemon is not running (no daemon on "${socketPath}")`));
        else if (e.code === "EACCES") reject(new DaemonError(`Cannot reach the tsxen daemon: no permission on "${socketPath}"`));
        else reject(new DaemonError(`Cannot reach the tsxen daemon on "${socketPath}": ${e.message}`));
      };
      sock.once("error", onError);
      sock.once("connect", () => {
        sock.off("error", onError);
        resolve(new DaemonClient(sock));
      });
    });
  }

  request<O extends Op>(op: O, args?: OpArgs[O]): Promise<unknown> {
    if (this.closedWhy) return Promise.reject(new DaemonError(this.closedWhy));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.sock.write(encodeLine({ id, op, args: args ?? {} }));
    });
  }

  /**
   * Sends op (console.attach, or create with console:true) and turns this request into a console
   * stream. Returns the op's result and functions to send input and detach.
   */
  async openConsole<O extends "console.attach" | "create">(op: O, args: OpArgs[O], h: ConsoleHandlers): Promise<ConsoleStream> {
    const id = this.nextId;
    this.streams.set(id, h);
    let result: unknown;
    try {
      result = await this.request(op, args);
    } catch (e) {
      this.streams.delete(id);
      throw e;
    }
    return {
      result,
      input: (bytes) => {
        if (!this.closedWhy) this.sock.write(encodeLine({ id, op: "console.input", args: { data: Buffer.from(bytes).toString("base64") } }));
      },
      detach: () => {
        this.streams.delete(id);
        if (!this.closedWhy) this.sock.write(encodeLine({ id: this.nextId++, op: "console.detach", args: {} }));
      },
    };
  }

  close(): void {
    this.closedWhy ??= "connection closed";
    this.sock.end();
    this.sock.destroy();
  }

  private onMessage(m: ServerMessage): void {
    if ("event" in m) {
      const h = this.streams.get(m.id);
      if (!h) return;
      if (m.event === "console") h.data(Buffer.from(m.data, "base64"));
      else if (m.event === "moved") h.moved?.(m.domid);
      else if (m.event === "end") {
        this.streams.delete(m.id);
        h.end(m.reason);
      }
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new RemoteError(m.error.kind, m.error.message));
  }

  private onClose(why: string): void {
    if (this.closedWhy === undefined) this.closedWhy = why;
    for (const p of this.pending.values()) p.reject(new DaemonError(why));
    this.pending.clear();
    for (const h of this.streams.values()) h.end(why);
    this.streams.clear();
  }
}
