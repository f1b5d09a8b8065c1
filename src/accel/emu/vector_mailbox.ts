// Interrupt vectors raised from another thread (the owner's Xen layer: event-channel upcalls) for the emu
// thread, whose LAPICs are plain objects only it can touch.
//
// Design: one SharedArrayBuffer of Int32: word 0 is a sequence number bumped (and notified) on every post;
// then 8 words (a 256-bit vector set) per vCPU. post() ORs the vector's bit in with Atomics and wakes the emu
// thread if it sleeps on word 0; the emu thread drain()s between slices and after each hypercall, turning
// every bit into lapic.acceptExternal(vector). Posting the same vector twice before a drain delivers it once,
// as a second edge on a pending IRR bit does on real hardware.
const WORDS_PER_VCPU = 8;

export class VectorMailbox {
  readonly words: Int32Array;
  private seenSeq = 0;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  static create(vcpus: number): VectorMailbox {
    return new VectorMailbox(new SharedArrayBuffer(4 * (1 + WORDS_PER_VCPU * vcpus)));
  }

  get vcpus(): number {
    return (this.words.length - 1) / WORDS_PER_VCPU;
  }

  /** Any thread: raise vector on vcpuId. */
  post(vcpuId: number, vector: number): void {
    if (!(vcpuId >= 0 && vcpuId < this.vcpus)) return;
    const v = vector & 0xff;
    Atomics.or(this.words, 1 + vcpuId * WORDS_PER_VCPU + (v >> 5), 1 << (v & 31));
    Atomics.add(this.words, 0, 1);
    Atomics.notify(this.words, 0);
  }

  /** Emu thread: hands every posted vector to accept(vcpuId, vector). Cheap when nothing was posted. */
  drain(accept: (vcpuId: number, vector: number) => void): void {
    const seq = Atomics.load(this.words, 0);
    if (seq === this.seenSeq) return;
    this.seenSeq = seq;
    const n = this.vcpus;
    for (let cpu = 0; cpu < n; cpu++) {
      for (let w = 0; w < WORDS_PER_VCPU; w++) {
        const i = 1 + cpu * WORDS_PER_VCPU + w;
        if (Atomics.load(this.words, i) === 0) continue;
        let bits = Atomics.exchange(this.words, i, 0);
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits);
          bits &= ~(1 << b);
          accept(cpu, w * 32 + b);
        }
      }
    }
  }

  /** Emu thread: sleeps up to ms unless something was posted since the last drain. */
  sleep(ms: number): void {
    Atomics.wait(this.words, 0, this.seenSeq, ms);
  }
}
