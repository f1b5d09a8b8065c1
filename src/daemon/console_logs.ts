// Per-domain console log files, $TSXEN_HOME/console/guest-<name>.log (as xenconsoled's --log=guest).
// Files are opened on first output and closed after a quiet spell, so idle domains hold no descriptors.

import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { ConsoleSink } from "../dom0/toolstack/console_hub.ts";

const IDLE_CLOSE_MS = 10_000;

export class ConsoleLogFiles implements ConsoleSink {
  private readonly open = new Map<string, { stream: WriteStream; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  pathFor(name: string): string {
    return join(this.dir, `guest-${name}.log`);
  }

  write(name: string, _domid: number, bytes: Uint8Array): void {
    let f = this.open.get(name);
    if (!f) {
      const stream = createWriteStream(this.pathFor(name), { flags: "a", mode: 0o600 });
      stream.on("error", () => this.close(name));
      f = { stream, timer: setTimeout(() => {}, 0) };
      this.open.set(name, f);
    }
    clearTimeout(f.timer);
    f.timer = setTimeout(() => this.close(name), IDLE_CLOSE_MS);
    f.timer.unref();
    f.stream.write(bytes);
  }

  private close(name: string): void {
    const f = this.open.get(name);
    if (!f) return;
    this.open.delete(name);
    clearTimeout(f.timer);
    f.stream.end();
  }

  closeAll(): void {
    for (const name of [...this.open.keys()]) this.close(name);
  }
}
