// The vCPU control block: the only file that knows SharedArrayBuffer offsets shared by the owner
// (main thread) and a vCPU thread. Waits use Atomics.wait / waitAsync; nothing polls.
//
// Design: main → vCPU commands go through one word (COMMAND) because the vCPU thread is usually
// blocked inside the guest (KVM_RUN, or an emu slice) and cannot read messages. After changing
// COMMAND the owner raises ATTENTION and kicks the engine (kvm: immediate_exit + signal; emu: the
// slice loop checks ATTENTION). The vCPU thread publishes its STATE; the owner awaits it.
//
// Word   Writer      Meaning
// 0      main        COMMAND: VcpuCommand
// 1      vCPU        STATE: VcpuState
// 2      main/vCPU   ATTENTION: 1 = look at COMMAND (main sets, vCPU clears before reading COMMAND)
// 3      vCPU/main   MAILBOX: owner-call handshake (idle 0 → vCPU: pending 1 → main: done 2 → vCPU: idle 0)
// 4..5   vCPU        THREAD: native thread id (pthread_t) for signals, as BigInt64 at byte 16
// 6..7   main        RESULT: the owner call's 64-bit result, as BigInt64 at byte 24

export const CONTROL_BLOCK_BYTES = 64;

/** Atomics.waitAsync (Node ≥ 16; typed in lib ES2024, newer than this project's lib setting). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

const COMMAND = 0;
const STATE = 1;
const ATTENTION = 2;
const MAILBOX = 3;
const THREAD_I64 = 2; // index in the BigInt64Array view (byte 16)
const RESULT_I64 = 3; // byte 24
const MAILBOX_IDLE = 0;
const MAILBOX_PENDING = 1;
const MAILBOX_DONE = 2;

export const VcpuCommand = { run: 0, pause: 1, stop: 2 } as const;
export type VcpuCommand = (typeof VcpuCommand)[keyof typeof VcpuCommand];

/** vCPU lifecycle: starting → running ⇄ paused → (halted: guest shut down or crashed) → stopped. */
export const VcpuState = { starting: 0, running: 1, paused: 2, halted: 3, stopped: 4 } as const;
export type VcpuState = (typeof VcpuState)[keyof typeof VcpuState];

export class VcpuControlBlock {
  private readonly words: Int32Array;
  private readonly wide: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    if (buffer.byteLength < CONTROL_BLOCK_BYTES) throw new RangeError("vCPU control block too small");
    this.words = new Int32Array(buffer, 0, CONTROL_BLOCK_BYTES / 4);
    this.wide = new BigInt64Array(buffer, 0, CONTROL_BLOCK_BYTES / 8);
  }

  static create(): VcpuControlBlock {
    return new VcpuControlBlock(new SharedArrayBuffer(CONTROL_BLOCK_BYTES));
  }

  // ---- main thread ----

  /** Main thread: sets the command and raises ATTENTION; the caller then kicks the engine. */
  command(cmd: VcpuCommand): void {
    Atomics.store(this.words, COMMAND, cmd);
    Atomics.store(this.words, ATTENTION, 1);
    Atomics.notify(this.words, COMMAND);
  }

  /** Main thread: resolves once STATE satisfies `done` (never blocks the event loop). */
  async waitState(done: (s: VcpuState) => boolean): Promise<VcpuState> {
    for (;;) {
      const s = Atomics.load(this.words, STATE) as VcpuState;
      if (done(s)) return s;
      const w = waitAsync(this.words, STATE, s);
      if (w.async) await w.value;
    }
  }

  /** Main thread: answers the pending owner call (see beginOwnerCall) and wakes the vCPU. */
  completeOwnerCall(result: bigint): void {
    Atomics.store(this.wide, RESULT_I64, BigInt.asIntN(64, result));
    Atomics.store(this.words, MAILBOX, MAILBOX_DONE);
    Atomics.notify(this.words, MAILBOX);
  }

  // ---- vCPU thread ----

  /** vCPU thread: marks an owner call pending. Call before posting the request message. */
  beginOwnerCall(): void {
    Atomics.store(this.words, MAILBOX, MAILBOX_PENDING);
  }

  /** vCPU thread: blocks until the owner completed the pending call; returns its result. */
  awaitOwnerResult(): bigint {
    while (Atomics.load(this.words, MAILBOX) === MAILBOX_PENDING) Atomics.wait(this.words, MAILBOX, MAILBOX_PENDING);
    const r = BigInt.asUintN(64, Atomics.load(this.wide, RESULT_I64));
    Atomics.store(this.words, MAILBOX, MAILBOX_IDLE);
    return r;
  }

  /** vCPU thread: clears ATTENTION, then reads COMMAND (this order loses no command). */
  takeCommand(): VcpuCommand {
    Atomics.store(this.words, ATTENTION, 0);
    return Atomics.load(this.words, COMMAND) as VcpuCommand;
  }

  /** vCPU thread (emu engines: between slices): true when the owner wants the thread to look at COMMAND. */
  attentionRequested(): boolean {
    return Atomics.load(this.words, ATTENTION) !== 0;
  }

  /** vCPU thread: blocks while COMMAND still equals `cmd`. */
  waitWhileCommand(cmd: VcpuCommand): void {
    while (Atomics.load(this.words, COMMAND) === cmd) Atomics.wait(this.words, COMMAND, cmd);
  }

  /** vCPU thread: blocks until COMMAND is stop. */
  waitForStop(): void {
    for (;;) {
      const c = Atomics.load(this.words, COMMAND);
      if (c === VcpuCommand.stop) return;
      Atomics.wait(this.words, COMMAND, c);
    }
  }

  setState(s: VcpuState): void {
    Atomics.store(this.words, STATE, s);
    Atomics.notify(this.words, STATE);
  }

  setThreadId(id: bigint): void {
    Atomics.store(this.wide, THREAD_I64, id);
  }

  // ---- either ----

  state(): VcpuState {
    return Atomics.load(this.words, STATE) as VcpuState;
  }
  threadId(): bigint {
    return Atomics.load(this.wide, THREAD_I64);
  }
}
