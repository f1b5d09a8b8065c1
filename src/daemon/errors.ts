// Maps any error raised while serving a request to the wire's {kind, message}.

import { DomainError } from "../hv/domain/domain_errors.ts";
import { ConfigError } from "../dom0/toolstack/config_error.ts";
import { ToolstackError } from "../dom0/toolstack/toolstack_error.ts";
import type { WireError } from "./protocol.ts";

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export function toWireError(e: unknown): WireError {
  if (e instanceof ConfigError) return { kind: "config", message: e.message };
  if (e instanceof DomainError) return { kind: e.code, message: e.message };
  if (e instanceof ToolstackError) return { kind: e.kind, message: e.message };
  if (e instanceof ProtocolError) return { kind: "protocol", message: e.message };
  const msg = e instanceof Error ? e.message : String(e);
  return { kind: "internal", message: `Internal error in the daemon: ${msg} (see daemon.log)` };
}
