// The owner's (main thread's) handle on one vCPU thread: spawns the worker, forwards its messages,
// pauses/unpauses/stops it through the control block, and kicks the engine out of the guest.
// Engine-agnostic: the kick is injected (kvm: immediate_exit + signal; emu: ATTENTION alone suffices).
import { Worker } from "node:worker_threads";
import { Errno } from "../abi/xen/errno.ts";
import { PagingGuestMemory, type PagingState } from "../hv/hypercall/guest_pagewalk.ts";
import type { GuestVirtualMemory, HypercallRequest } from "../hv/ports.ts";
import type { FromVcpu, OwnerHypercalls, ToVcpu, VcpuInit, WarmThreadData } from "./protocol.ts";
import { VcpuCommand, VcpuControlBlock, VcpuState } from "./shared_layout.ts";
import { threadBoot } from "./worker_bundle.ts";

/** How long stop() waits for a thread that does not leave the guest before terminating it. */
const STOP_TIMEOUT_MS = 5000;

/** Idle vCPU threads that already loaded tsx, the loop and (optionally) an engine module. */
const warmThreads: { worker: Worker; engineModule?: string }[] = [];
const warmTargets = new Map<string, number>();

function spawnWarm(engineModule?: string): void {
  // The thread starts from worker.ts bundled to JavaScript when it can, else through tsx (worker_bundle.ts).
  const boot = threadBoot(engineModule);
  const data: WarmThreadData = { warm: true, engineModule: boot.engineModule };
  const worker = new Worker(boot.code, { eval: true, workerData: data, name: "vcpu-warm" });
  worker.unref(); // an idle thread never keeps the process alive
  const entry = { worker, engineModule };
  worker.once("exit", () => {
    const i = warmThreads.indexOf(entry);
    if (i >= 0) warmThreads.splice(i, 1);
  });
  worker.on("error", () => {});
  warmThreads.push(entry);
}

/**
 * Keeps `count` idle vCPU threads ready for `engineModule`, so a domain starts without paying for a
 * thread's start-up (≈250 ms: tsx and the engine's modules). Replenished as threads are taken.
 */
export function prewarmVcpuThreads(count: number, engineModule?: string): void {
  warmTargets.set(engineModule ?? "", count);
  const have = warmThreads.filter((w) => w.engineModule === engineModule).length;
  for (let i = have; i < count; i++) spawnWarm(engineModule);
}

/** Idle threads ready for `engineModule`. */
export function warmThreadCount(engineModule?: string): number {
  return warmThreads.filter((w) => w.engineModule === engineModule).length;
}

/** Stops keeping warm threads and ends the idle ones. */
export async function stopPrewarming(): Promise<void> {
  warmTargets.clear();
  await Promise.all(warmThreads.splice(0).map((w) => w.worker.terminate()));
}

function takeWarm(engineModule: string): Worker | undefined {
  const i = warmThreads.findIndex((w) => w.engineModule === engineModule);
  if (i < 0) return undefined;
  const [entry] = warmThreads.splice(i, 1);
  const target = warmTargets.get(engineModule) ?? 0;
  if (target > 0) setImmediate(() => prewarmVcpuThreads(target, engineModule));
  entry!.worker.removeAllListeners("error");
  entry!.worker.removeAllListeners("exit");
  entry!.worker.ref();
  return entry!.worker;
}

export interface VcpuThreadOptions {
  /** VcpuInit without `control` (the host creates the control block). */
  readonly init: Omit<VcpuInit, "control">;
  /** Forces the engine back to the loop; ATTENTION is already raised when called. */
  readonly kick: (control: VcpuControlBlock) => void;
  readonly onMessage: (m: FromVcpu) => void;
  /** The worker died without reporting (an uncaught error in the thread itself). */
  readonly onThreadError: (error: Error) => void;
  /** Serves forwarded hypercalls on this (the owner's) thread; `ram` is guest RAM as the owner sees it. */
  readonly ownerHypercalls?: { readonly service: OwnerHypercalls; readonly ram: Uint8Array };
}

export class VcpuThread {
  /** stop() was called: owner calls the vCPU did not wait for are dropped (serveOwnerCall). */
  private stopping = false;
  readonly control = VcpuControlBlock.create();
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private readonly ready: Promise<void>;
  private alive = true;

  constructor(private readonly opts: VcpuThreadOptions) {
    const boot = threadBoot(opts.init.engineModule);
    const init: VcpuInit = { ...opts.init, engineModule: boot.engineModule ?? opts.init.engineModule, control: this.control.buffer, ownerHypercalls: opts.ownerHypercalls?.service.numbers ?? [] };
    const warm = takeWarm(opts.init.engineModule);
    if (warm !== undefined) {
      this.worker = warm;
      const start: ToVcpu = { kind: "start", init };
      this.worker.postMessage(start);
    } else {
      this.worker = new Worker(boot.code, { eval: true, workerData: init, name: `${init.name}-vcpu${init.vcpuId}` });
    }
    let readyOk!: () => void;
    let readyFail!: (e: Error) => void;
    this.ready = new Promise((res, rej) => ((readyOk = res), (readyFail = rej)));
    this.ready.catch(() => {});
    this.worker.on("message", (m: FromVcpu) => {
      if (m.kind === "ready") readyOk();
      else if (m.kind === "initFailed") readyFail(new Error(m.error));
      else if (m.kind === "hypercall") this.serveOwnerCall(m.req, m.paging, m.snapshot);
      else opts.onMessage(m);
    });
    this.worker.on("error", (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      readyFail(err);
      opts.onThreadError(err);
    });
    this.exited = new Promise((res) =>
      this.worker.once("exit", () => {
        this.alive = false;
        res();
      }),
    );
    this.exited.then(() => readyFail(new Error("vCPU thread exited during start-up")));
  }

  /** Main thread: runs a forwarded hypercall and wakes the waiting vCPU. A throw is a hypervisor bug: the
   * vCPU gets -EFAULT back and the domain is reported crashed. With a snapshot the vCPU did not wait (it returned
   * 0): the call reads its arguments from the snapshot, and any other result is a hypervisor bug too. */
  private serveOwnerCall(req: HypercallRequest, paging: PagingState, snapshot?: { va: bigint; bytes: Uint8Array }): void {
    // a timer call still in flight from a vCPU being stopped (domain destroyed) has nothing left to do: the owner may
    // already have torn the domain's Xen state down
    if (snapshot !== undefined && this.stopping) return;
    const owner = this.opts.ownerHypercalls;
    let result = BigInt.asUintN(64, -BigInt(Errno.ENOSYS));
    try {
      if (owner !== undefined) {
        const mem = new PagingGuestMemory(owner.ram, paging);
        result = owner.service.handle(req, snapshot === undefined ? mem : new SnapshotMemory(mem, snapshot.va, snapshot.bytes));
      }
      if (snapshot !== undefined && result !== 0n) throw new Error(`answered ${BigInt.asIntN(64, result)} where the vCPU already returned 0`);
    } catch (e) {
      result = BigInt.asUintN(64, -BigInt(Errno.EFAULT));
      this.opts.onMessage({
        kind: "crashed",
        why: `hypercall ${req.nr} failed in the hypervisor: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
        registerDump: "",
      });
    }
    if (snapshot === undefined) this.control.completeOwnerCall(result);
  }

  /** Resolves once the engine is set up and the guest is about to run; rejects if set-up failed. */
  started(): Promise<void> {
    return this.ready;
  }

  state(): VcpuState {
    return this.control.state();
  }

  /**
   * The native thread id while the thread exists, else 0n. Main thread: Node joins an ended thread only
   * from this thread's event loop, so an id returned here stays valid until the caller yields.
   */
  threadId(): bigint {
    return this.alive ? this.control.threadId() : 0n;
  }

  async pause(): Promise<void> {
    if (this.control.state() >= VcpuState.halted) return;
    this.control.command(VcpuCommand.pause);
    this.opts.kick(this.control);
    await this.control.waitState((s) => s === VcpuState.paused || s >= VcpuState.halted);
  }

  async unpause(): Promise<void> {
    if (this.control.state() >= VcpuState.halted) return;
    this.control.command(VcpuCommand.run);
    await this.control.waitState((s) => s !== VcpuState.paused);
  }

  /**
   * Stops the thread and waits for it to exit. Idempotent. Returns false if the thread could not be
   * ended (stuck in a native call even after terminate()): its memory must then stay mapped.
   */
  async stop(): Promise<boolean> {
    this.stopping = true;
    this.control.command(VcpuCommand.stop);
    this.opts.kick(this.control);
    if (await this.exitedWithin(STOP_TIMEOUT_MS)) return true;
    this.opts.kick(this.control);
    void this.worker.terminate();
    return this.exitedWithin(STOP_TIMEOUT_MS);
  }

  private async exitedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((res) => (timer = setTimeout(() => res(false), ms)));
    const r = await Promise.race([this.exited.then(() => true), timeout]);
    clearTimeout(timer);
    return r;
  }

}

/** Guest memory whose bytes [va, va + bytes.length) are served from a copy the vCPU took when it made the call. */
class SnapshotMemory implements GuestVirtualMemory {
  constructor(private readonly mem: GuestVirtualMemory, private readonly va: bigint, private readonly bytes: Uint8Array) {}
  read(va: bigint, len: number): Uint8Array {
    const off = va - this.va;
    if (off >= 0n && off + BigInt(len) <= BigInt(this.bytes.length)) return this.bytes.slice(Number(off), Number(off) + len);
    return this.mem.read(va, len);
  }
  write(va: bigint, data: Uint8Array): void { this.mem.write(va, data); }
}
