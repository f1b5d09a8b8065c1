// One call to start xenstored for the daemon: the core, dom0's layout, the unix socket for host tools, and (once
// the hypervisor can supply guest RAM and event channels) the ring connector for INTRODUCE. Main thread only.
import { join } from "node:path";
import { XenstoreClient } from "./client.ts";
import { createDom0Layout } from "./domain_layout.ts";
import { ringConnector, type RingHost } from "./ring_transport.ts";
import { startXenstoredSocket, type XenstoredSocketServer } from "./socket_server.ts";
import { Xenstored } from "./xenstored.ts";

/** Where the daemon puts the socket under its state dir; host tools need XENSTORED_PATH set to this. */
export function xenstoredSocketPath(stateDir: string): string {
  return join(stateDir, "xenstored", "socket");
}

export interface XenstoredServiceOptions {
  /** Unix socket path (see xenstoredSocketPath); omit to serve no socket. */
  readonly socketPath?: string;
  /** Guest RAM and event channels for ring connections; can also be set later with attachRingHost(). */
  readonly ringHost?: RingHost;
  readonly log?: (line: string) => void;
}

export interface XenstoredService {
  readonly xenstored: Xenstored;
  /** Privileged in-process client for the toolstack. */
  readonly client: XenstoreClient;
  readonly socket: XenstoredSocketServer | undefined;
  /** Wires INTRODUCE to guest rings (call once the hypervisor core exists). */
  attachRingHost(host: RingHost): void;
  /** Closes the socket and every connection. */
  stop(): Promise<void>;
}

export async function startXenstoredService(options: XenstoredServiceOptions = {}): Promise<XenstoredService> {
  const xenstored = new Xenstored({ log: options.log });
  if (options.ringHost) xenstored.setConnector(ringConnector(xenstored, options.ringHost));
  const client = new XenstoreClient(xenstored);
  createDom0Layout(client);
  const socket = options.socketPath ? await startXenstoredSocket(xenstored, options.socketPath) : undefined;
  options.log?.(`xenstored: ready${socket ? ` on ${socket.socketPath}` : ""}`);
  return {
    xenstored,
    client,
    socket,
    attachRingHost: (host) => xenstored.setConnector(ringConnector(xenstored, host)),
    async stop() {
      await socket?.close();
      for (const domid of [...xenstored.domains.keys()]) if (domid !== 0) xenstored.releaseDomain(domid);
      for (const conn of [...xenstored.connections]) xenstored.disconnect(conn);
    },
  };
}
