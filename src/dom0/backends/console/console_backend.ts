// The PV console backend (xenconsoled's role for one domain): serves the guest's console ring
// (struct xencons_interface at HVM_PARAM_CONSOLE_PFN, xen/include/public/io/console.h) over the interdomain
// event channel bound to HVM_PARAM_CONSOLE_EVTCHN. Guest output (out[]) goes to `output` (the domain's console
// stream, so `xl console` shows hvc0); input from `xl console` goes into in[].
//
// Design: on every kick from the guest (EVTCHNOP_send, handled synchronously on the main thread) read out[]
// from out_cons to out_prod, advance out_cons, then move queued input into in[] while there is room; notify the
// guest once if any index moved (as xenconsoled's handle_ring_read / buffer write path). Index words are read
// and written with Atomics: the guest's vCPU threads change them concurrently. Input that does not fit waits in
// a bounded queue until the guest consumes (its kick tells us).
import {
  XENCONS_IN_SIZE, XENCONS_OUT_SIZE, XenconsInterface as L, maskConsInIdx, maskConsOutIdx,
} from "../../../abi/xen/console_ring.ts";
import type { Dom0EventChannels } from "../../../hv/evtchn/dom0_evtchn.ts";

/** Input beyond this many queued bytes is dropped (a paste into a guest that does not read). */
const MAX_QUEUED_INPUT = 64 * 1024;

export interface PvConsoleOptions {
  readonly domid: number;
  /** The ring page (4096 bytes of guest memory, 4-byte aligned). */
  readonly page: Uint8Array;
  /** The guest's console port (HVM_PARAM_CONSOLE_EVTCHN), offered to dom0 unbound. */
  readonly guestPort: number;
  readonly evtchn: Pick<Dom0EventChannels, "bindInterdomain" | "notify" | "close">;
  /** Bytes the guest wrote to hvc0. */
  readonly output: (bytes: Uint8Array) => void;
}

export class PvConsoleBackend {
  private readonly words: Int32Array;
  private readonly page: Uint8Array;
  private readonly port: number;
  private queued: number[] = [];
  private closed = false;

  constructor(private readonly opts: PvConsoleOptions) {
    if (opts.page.length < 4096 || opts.page.byteOffset % 4 !== 0) throw new RangeError(`console ring of domain ${opts.domid} is not a 4-byte aligned page`);
    this.page = opts.page;
    this.words = new Int32Array(opts.page.buffer, opts.page.byteOffset, 1024);
    this.port = opts.evtchn.bindInterdomain(opts.domid, opts.guestPort, () => this.service());
  }

  /** Keyboard input for the guest. */
  input(bytes: Uint8Array): void {
    if (this.closed) return;
    const room = MAX_QUEUED_INPUT - this.queued.length;
    for (let i = 0; i < bytes.length && i < room; i++) this.queued.push(bytes[i]!);
    this.service();
  }

  /** Reads the guest's output and writes pending input; notifies the guest if anything moved. */
  service(): void {
    if (this.closed) return;
    const w = this.words;
    let moved = false;
    // out[]: guest → backend.
    const outProd = Atomics.load(w, L.outProd / 4) >>> 0;
    let outCons = Atomics.load(w, L.outCons / 4) >>> 0;
    let pending = (outProd - outCons) >>> 0;
    if (pending > XENCONS_OUT_SIZE) pending = XENCONS_OUT_SIZE; // a bad producer index: take one ring's worth
    if (pending > 0) {
      const out = new Uint8Array(pending);
      for (let i = 0; i < pending; i++) out[i] = this.page[L.out + maskConsOutIdx(outCons + i)]!;
      outCons = (outCons + pending) >>> 0;
      Atomics.store(w, L.outCons / 4, outCons | 0);
      moved = true;
      this.opts.output(out);
    }
    // in[]: backend → guest.
    if (this.queued.length > 0) {
      const inCons = Atomics.load(w, L.inCons / 4) >>> 0;
      let inProd = Atomics.load(w, L.inProd / 4) >>> 0;
      const used = (inProd - inCons) >>> 0;
      const room = used > XENCONS_IN_SIZE ? 0 : XENCONS_IN_SIZE - used;
      const n = Math.min(room, this.queued.length);
      if (n > 0) {
        for (let i = 0; i < n; i++) this.page[L.in + maskConsInIdx(inProd + i)] = this.queued[i]!;
        inProd = (inProd + n) >>> 0;
        Atomics.store(w, L.inProd / 4, inProd | 0); // after the bytes (Atomics.store is a full barrier)
        this.queued = this.queued.slice(n);
        moved = true;
      }
    }
    if (moved) this.opts.evtchn.notify(this.port);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.opts.evtchn.close(this.port);
    } catch {
      // The guest's side is already gone.
    }
  }
}
