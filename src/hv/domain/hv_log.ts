// Hypervisor console ring for `xl dmesg` (Xen: the console ring read by XEN_SYSCTL_readconsole).

export interface HvLogLine {
  /** Milliseconds since the hypervisor started. */
  readonly atMs: number;
  readonly text: string;
}

/** Bounded ring of log lines; the oldest are dropped first. */
export class HvLog {
  private readonly lines: HvLogLine[] = [];
  private dropped = 0;

  constructor(
    private readonly now: () => number,
    private readonly startMs: number,
    private readonly capacity = 2000,
    private readonly sink?: (line: HvLogLine) => void,
  ) {}

  write(text: string): void {
    for (const part of text.split("\n")) {
      if (part.length === 0) continue;
      const line = { atMs: this.now() - this.startMs, text: part };
      this.lines.push(line);
      if (this.lines.length > this.capacity) {
        this.lines.shift();
        this.dropped++;
      }
      this.sink?.(line);
    }
  }

  read(): readonly HvLogLine[] {
    return this.lines.slice();
  }

  /** Lines lost to the ring's bound since start. */
  get droppedLines(): number {
    return this.dropped;
  }

  clear(): void {
    this.lines.length = 0;
  }
}

/** Formats a line as Xen does: "(XEN) [   12.345678] text". */
export function formatHvLogLine(l: HvLogLine): string {
  const s = (l.atMs / 1000).toFixed(6).padStart(12, " ");
  return `(XEN) [${s}] ${l.text}`;
}
