// The daemon's control socket: reads JSON-line requests (protocol.ts), calls the toolstack, writes replies.
// Runs on the daemon's main thread. A bad request gets an error reply; it never reaches the toolstack.

import type { Socket } from "node:net";
import { checkDomainConfig } from "../dom0/toolstack/domain_config.ts";
import type { Toolstack } from "../dom0/toolstack/toolstack.ts";
import type { ConsoleListener } from "../dom0/toolstack/console_hub.ts";
import { ProtocolError, toWireError } from "./errors.ts";
import { encodeLine, LineSplitter, type Op, type ServerMessage } from "./protocol.ts";

export interface ServerHooks {
  /** "daemon.stop": called after the reply is sent. */
  stop(): void;
  log(line: string): void;
}

interface ConsoleSession {
  domid: number;
  detach: () => void;
}

const OPS = new Set<Op>([
  "ping", "create", "list", "info", "dmesg", "debug-keys", "destroy", "pause", "unpause", "shutdown", "reboot",
  "domid", "domname", "profile", "console.attach", "console.input", "console.detach", "daemon.stop",
]);

type Args = Record<string, unknown>;

function str(args: Args, key: string): string {
  const v = args[key];
  if (typeof v !== "string" || v === "") throw new ProtocolError(`argument "${key}" must be a non-empty string`);
  return v;
}

function bool(args: Args, key: string): boolean {
  const v = args[key];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw new ProtocolError(`argument "${key}" must be true or false`);
  return v;
}

export function serveConnection(sock: Socket, ts: Toolstack, hooks: ServerHooks, version: string): void {
  const splitter = new LineSplitter();
  const sessions = new Map<number, ConsoleSession>();
  const send = (m: ServerMessage): void => {
    if (!sock.destroyed && sock.writable) sock.write(encodeLine(m));
  };

  sock.setEncoding("utf8");
  sock.on("data", (chunk: string) => {
    let lines: string[];
    try {
      lines = splitter.push(chunk);
    } catch (e) {
      send({ id: 0, ok: false, error: toWireError(new ProtocolError(String(e))) });
      sock.destroy();
      return;
    }
    for (const line of lines) void handleLine(line);
  });
  sock.on("error", () => undefined);
  sock.on("close", () => {
    for (const s of sessions.values()) s.detach();
    sessions.clear();
  });

  async function handleLine(line: string): Promise<void> {
    let id = 0;
    try {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        throw new ProtocolError("request is not JSON");
      }
      if (typeof msg !== "object" || msg === null) throw new ProtocolError("request is not an object");
      const m = msg as { id?: unknown; op?: unknown; args?: unknown };
      if (typeof m.id !== "number" || !Number.isSafeInteger(m.id)) throw new ProtocolError("request has no numeric id");
      id = m.id;
      if (typeof m.op !== "string" || !OPS.has(m.op as Op)) throw new ProtocolError(`unknown operation ${JSON.stringify(m.op)}`);
      const args = (m.args ?? {}) as Args;
      if (typeof args !== "object" || args === null || Array.isArray(args)) throw new ProtocolError("args must be an object");
      const op = m.op as Op;
      if (op === "console.input") {
        const s = sessions.get(id);
        if (s) ts.consoleInput(s.domid, Buffer.from(str(args, "data"), "base64"));
        return;
      }
      if (op === "console.attach") {
        attach(id, str(args, "dom"));
        return;
      }
      if (op === "create" && args.console === true) {
        await createWithConsole(id, args);
        return;
      }
      const result = await dispatch(op, args);
      send({ id, ok: true, result: result ?? null });
      if (op === "daemon.stop") hooks.stop();
    } catch (e) {
      const err = toWireError(e);
      if (err.kind === "internal") hooks.log(`request ${line.slice(0, 200)} failed: ${e instanceof Error ? e.stack : String(e)}`);
      send({ id, ok: false, error: err });
    }
  }

  /** Console listener for request id; events wait until the request's reply has gone out. */
  function consoleStream(id: number) {
    let ready = false;
    const queued: ServerMessage[] = [];
    const emit = (m: ServerMessage): void => {
      if (ready) send(m);
      else queued.push(m);
    };
    const session: ConsoleSession = { domid: -1, detach: () => {} };
    const listener: ConsoleListener = {
      data: (b) => emit({ id, event: "console", data: Buffer.from(b).toString("base64") }),
      moved: (domid) => {
        session.domid = domid;
        emit({ id, event: "moved", domid });
      },
      end: (reason) => {
        sessions.delete(id);
        emit({ id, event: "end", reason });
      },
    };
    const open = (domid: number, detach: () => void): void => {
      session.domid = domid;
      session.detach = detach;
      sessions.set(id, session);
    };
    const flush = (): void => {
      ready = true;
      for (const m of queued) send(m);
      queued.length = 0;
    };
    return { listener, open, flush };
  }

  function attach(id: number, dom: string): void {
    const c = consoleStream(id);
    const a = ts.attachConsole(dom, c.listener);
    c.open(a.domid, a.detach);
    send({ id, ok: true, result: { domid: a.domid } });
    c.flush();
  }

  async function createWithConsole(id: number, args: Args): Promise<void> {
    const config = checkDomainConfig(args.config);
    const c = consoleStream(id);
    let result;
    try {
      result = await ts.createDomain(config, (domid) => c.open(domid, ts.attachNewConsole(domid, c.listener)));
    } catch (e) {
      sessions.delete(id);
      throw e;
    }
    send({ id, ok: true, result });
    c.flush();
  }

  async function dispatch(op: Op, args: Args): Promise<unknown> {
    switch (op) {
      case "ping":
        return { version, pid: process.pid };
      case "create":
        return ts.createDomain(checkDomainConfig(args.config));
      case "list":
        return ts.list(bool(args, "long"));
      case "info":
        return ts.info();
      case "dmesg":
        return ts.dmesg(bool(args, "clear"));
      case "debug-keys":
        ts.debugKeys(str(args, "keys"));
        return {};
      case "destroy":
        return ts.destroy(str(args, "dom"));
      case "pause":
        return ts.pause(str(args, "dom"));
      case "unpause":
        return ts.unpause(str(args, "dom"));
      case "reboot":
        return ts.shutdown(str(args, "dom"), "reboot");
      case "shutdown": {
        const r = await ts.shutdown(str(args, "dom"), "poweroff");
        if (bool(args, "wait")) {
          const t = args.timeoutS;
          const timeoutS = typeof t === "number" && t > 0 ? t : 60;
          await ts.waitForShutdown(r.domid, timeoutS * 1000);
        }
        return r;
      }
      case "domid":
        return ts.domidOf(str(args, "name"));
      case "domname": {
        const domid = args.domid;
        if (typeof domid !== "number" || !Number.isInteger(domid) || domid < 0) throw new ProtocolError('argument "domid" must be a domain id');
        return ts.nameOf(domid);
      }
      case "profile":
        return ts.profile(str(args, "dom"));
      case "console.detach":
        for (const s of sessions.values()) s.detach();
        sessions.clear();
        return null;
      case "daemon.stop":
        return null;
      case "console.attach":
      case "console.input":
        throw new ProtocolError(`operation ${op} is handled elsewhere`);
    }
  }
}
