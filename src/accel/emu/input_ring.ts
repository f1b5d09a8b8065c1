// A single-producer single-consumer byte ring in a SharedArrayBuffer: console input from the owner (main
// thread, producer) to the thread running an emu domain (consumer), which reads no messages while it runs.
//
// Layout (the only place that knows it): word 0 = producer index, word 1 = consumer index (free-running
// u32), bytes from 8 = data, RING_BYTES long. Each index has one writer.
const HEAD = 0; // written by the producer
const TAIL = 1; // written by the consumer
const DATA_OFFSET = 8;
export const RING_BYTES = 4096;

export class InputRing {
  private readonly idx: Int32Array;
  private readonly data: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.idx = new Int32Array(buffer, 0, 2);
    this.data = new Uint8Array(buffer, DATA_OFFSET, RING_BYTES);
  }

  static create(): InputRing {
    return new InputRing(new SharedArrayBuffer(DATA_OFFSET + RING_BYTES));
  }

  /** Producer: appends as many bytes as fit; returns how many were taken. */
  push(bytes: Uint8Array): number {
    const head = Atomics.load(this.idx, HEAD);
    const tail = Atomics.load(this.idx, TAIL);
    const free = RING_BYTES - ((head - tail) >>> 0);
    const n = Math.min(free, bytes.length);
    for (let i = 0; i < n; i++) this.data[(head + i) & (RING_BYTES - 1)] = bytes[i]!;
    Atomics.store(this.idx, HEAD, (head + n) | 0);
    return n;
  }

  /** Consumer: true when bytes are waiting. */
  available(): boolean {
    return Atomics.load(this.idx, HEAD) !== Atomics.load(this.idx, TAIL);
  }

  /** Consumer: takes every waiting byte. */
  drain(): Uint8Array {
    const head = Atomics.load(this.idx, HEAD);
    const tail = Atomics.load(this.idx, TAIL);
    const n = (head - tail) >>> 0;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.data[(tail + i) & (RING_BYTES - 1)]!;
    Atomics.store(this.idx, TAIL, head);
    return out;
  }
}
