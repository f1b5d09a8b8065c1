// Unix-socket transport of xenstored, speaking Xen's wire protocol (xsd_sockmsg header + payload) so that dom0
// tools built on libxenstore (Debian's xenstore-utils) work against us. libxenstore 4.17 connects to
// $XENSTORED_PATH if set, else $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket (tools/xenstore/xs_lib.c).
// Socket clients are dom0 and privileged, as in C xenstored. Runs on the main thread.
import { mkdirSync, statSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { encodeMessage } from "../../abi/xen/xs_wire.ts";
import { MessageReader, ProtocolError } from "./message_reader.ts";
import type { Xenstored } from "./xenstored.ts";

/** Where libxenstore looks when XENSTORED_PATH and XENSTORED_RUNDIR are unset. */
export const DEFAULT_XENSTORED_SOCKET = "/var/run/xenstored/socket";

export interface XenstoredSocketServer {
  readonly socketPath: string;
  /** Number of connected clients. */
  readonly clientCount: number;
  /** Disconnects every client, stops listening and removes the socket file. */
  close(): Promise<void>;
}

/** Serves `xenstored` on a unix socket at `socketPath` (a stale socket file there is replaced). */
export async function startXenstoredSocket(xenstored: Xenstored, socketPath: string): Promise<XenstoredSocketServer> {
  mkdirSync(dirname(socketPath), { recursive: true });
  removeStaleSocket(socketPath);
  const sockets = new Set<Socket>();
  let nextClient = 1;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const reader = new MessageReader();
    const conn = xenstored.connect(0, (m) => socket.write(encodeMessage(m)), `socket#${nextClient++}`);
    socket.on("data", (chunk: Buffer) => {
      let messages;
      try {
        messages = reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        // docs/misc/xenstore.txt: a client exceeding XENSTORE_PAYLOAD_MAX has its connection killed.
        xenstored.log(`xenstored: ${conn.label}: ${e.message}; closing the connection`);
        socket.destroy();
        return;
      }
      for (const m of messages) xenstored.handle(conn, m);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      sockets.delete(socket);
      xenstored.disconnect(conn);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    socketPath,
    get clientCount() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          removeStaleSocket(socketPath);
          resolve();
        });
      }),
  };
}

function removeStaleSocket(socketPath: string): void {
  try {
    if (statSync(socketPath).isSocket()) unlinkSync(socketPath);
  } catch {
    // absent: nothing to remove
  }
}
