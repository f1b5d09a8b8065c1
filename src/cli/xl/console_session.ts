// `xl console` / `xl create -c`: streams a domain's console to stdout and keystrokes back; Ctrl-] detaches.

import type { ConsoleHandlers, ConsoleStream } from "./daemon_client.ts";
import type { XlIo } from "./xl_io.ts";

/** Ctrl-] (GS), as xl console and telnet use. */
export const DETACH_BYTE = 0x1d;

/**
 * open() starts the stream (DaemonClient.openConsole) with the handlers given; then this runs until
 * the console ends (domain gone) or the user detaches. Returns the exit status.
 */
export async function runConsole(io: XlIo, open: (h: ConsoleHandlers) => Promise<ConsoleStream>, onOpen?: (s: ConsoleStream) => void): Promise<number> {
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));
  // Output that arrives with the reply waits until onOpen has printed its lines.
  let held: Uint8Array[] | undefined = [];
  const session = await open({
    data: (b) => (held ? held.push(b) : io.stdout.write(b)),
    end: () => finish(0),
  });
  onOpen?.(session);
  for (const b of held) io.stdout.write(b);
  held = undefined;
  const raw = io.stdin.isTTY === true && typeof io.stdin.setRawMode === "function";
  if (raw) io.stdin.setRawMode!(true);
  const onData = (chunk: Buffer): void => {
    const i = chunk.indexOf(DETACH_BYTE);
    if (i < 0) {
      session.input(chunk);
      return;
    }
    if (i > 0) session.input(chunk.subarray(0, i));
    session.detach();
    finish(0);
  };
  // stdin ending (a pipe, /dev/null) is not a detach: keep showing output until the domain goes.
  const onEnd = (): void => {};
  io.stdin.on("data", onData);
  io.stdin.on("end", onEnd);
  io.stdin.resume();
  try {
    return await done;
  } finally {
    io.stdin.off("data", onData);
    io.stdin.off("end", onEnd);
    if (raw) io.stdin.setRawMode!(false);
    io.stdin.pause();
  }
}
