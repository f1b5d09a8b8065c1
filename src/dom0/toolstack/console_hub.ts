// Console multiplexer (xenconsoled's role): per-domain output buffer, attached `xl console` clients, log sink.
//
// Design: output no client has seen yet is kept (bounded), so a client that attaches late — as
// `xl create -c` does, a moment after the guest starts — sees the guest's first lines, the way a
// pty buffers them for xenconsoled. Listeners survive a restart: the toolstack moves them to the new domid.

export interface ConsoleListener {
  data(bytes: Uint8Array): void;
  /** The console is gone (domain destroyed); reason is a sentence. */
  end(reason: string): void;
  /** The domain was restarted as newDomid (on_reboot=restart). */
  moved?(newDomid: number): void;
}

export interface ConsoleSink {
  /** Called for every byte the guest writes (per-domain log files). */
  write(name: string, domid: number, bytes: Uint8Array): void;
}

const UNREAD_LIMIT_BYTES = 64 * 1024;

interface ConsoleState {
  name: string;
  unread: Uint8Array[];
  unreadBytes: number;
  listeners: Set<ConsoleListener>;
}

export class ConsoleHub {
  private readonly consoles = new Map<number, ConsoleState>();
  constructor(private readonly sink?: ConsoleSink) {}

  open(domid: number, name: string, listeners: Set<ConsoleListener> = new Set()): void {
    this.consoles.set(domid, { name, unread: [], unreadBytes: 0, listeners });
  }

  rename(domid: number, name: string): void {
    const c = this.consoles.get(domid);
    if (c) c.name = name;
  }

  has(domid: number): boolean {
    return this.consoles.has(domid);
  }

  write(domid: number, bytes: Uint8Array): void {
    const c = this.consoles.get(domid);
    if (!c) return;
    try {
      this.sink?.write(c.name, domid, bytes);
    } catch {
      // A full disk must not stop the guest's console.
    }
    if (c.listeners.size === 0) {
      c.unread.push(bytes.slice());
      c.unreadBytes += bytes.length;
      while (c.unreadBytes > UNREAD_LIMIT_BYTES && c.unread.length > 1) c.unreadBytes -= c.unread.shift()!.length;
      return;
    }
    for (const l of c.listeners) safeCall(() => l.data(bytes));
  }

  /** Attaches a listener; unread output is delivered first. Returns detach. */
  attach(domid: number, l: ConsoleListener): () => void {
    const c = this.consoles.get(domid);
    if (!c) throw new Error(`domain ${domid} has no console`);
    c.listeners.add(l);
    const unread = c.unread;
    c.unread = [];
    c.unreadBytes = 0;
    for (const b of unread) safeCall(() => l.data(b));
    return () => {
      for (const cs of this.consoles.values()) cs.listeners.delete(l);
    };
  }

  /** The domain was restarted: its listeners follow it to newDomid. keepOld: the old domain lives on (rename-restart). */
  move(oldDomid: number, newDomid: number, keepOld = false): void {
    const c = this.consoles.get(oldDomid);
    const n = this.consoles.get(newDomid);
    if (!c || !n) return;
    if (!keepOld) this.consoles.delete(oldDomid);
    const moving = [...c.listeners];
    c.listeners.clear();
    for (const l of moving) {
      n.listeners.add(l);
      safeCall(() => l.moved?.(newDomid));
    }
    if (n.listeners.size > 0) {
      const unread = n.unread;
      n.unread = [];
      n.unreadBytes = 0;
      for (const b of unread) for (const l of n.listeners) safeCall(() => l.data(b));
    }
  }

  /** Ends the attached clients' sessions but keeps the console (a preserved, shut-down domain). */
  endListeners(domid: number, reason: string): void {
    const c = this.consoles.get(domid);
    if (!c) return;
    const ending = [...c.listeners];
    c.listeners.clear();
    for (const l of ending) safeCall(() => l.end(reason));
  }

  close(domid: number, reason: string): void {
    const c = this.consoles.get(domid);
    if (!c) return;
    this.consoles.delete(domid);
    for (const l of c.listeners) safeCall(() => l.end(reason));
  }
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's failure (client gone) is its own problem.
  }
}
