// xl's exit statuses, in one place. Every error xl can meet is mapped here.

import { ConfigError } from "../../dom0/toolstack/config_error.ts";
import type { ErrorKind } from "../../daemon/protocol.ts";

export const EXIT = {
  ok: 0,
  /** The operation failed (bad state, backend or boot failure, daemon-side error). */
  failed: 1,
  usage: 2,
  config: 3,
  noSuchDomain: 4,
  /** The daemon is not running, cannot be reached, or is already running. */
  daemon: 5,
  exists: 6,
  noMemory: 7,
} as const;

/** Wrong command line: the message is printed with the command's usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The daemon is not running / not reachable / already running. */
export class DaemonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DaemonError";
  }
}

/** An error the daemon replied with. */
export class RemoteError extends Error {
  constructor(readonly kind: ErrorKind, message: string) {
    super(message);
    this.name = "RemoteError";
  }
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof ConfigError) return EXIT.config;
  if (e instanceof DaemonError) return EXIT.daemon;
  if (e instanceof RemoteError) {
    switch (e.kind) {
      case "config": return EXIT.config;
      case "not_found": return EXIT.noSuchDomain;
      case "exists": return EXIT.exists;
      case "no_memory": return EXIT.noMemory;
      case "protocol": return EXIT.daemon;
      default: return EXIT.failed;
    }
  }
  return EXIT.failed;
}
