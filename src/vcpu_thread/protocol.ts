// Everything that crosses between a domain's owner (main thread) and its vCPU threads.
// main → vCPU: VcpuInit once (workerData), then commands through the control block (shared_layout.ts),
//   because a vCPU thread sits inside the guest and reads no messages while it runs.
// vCPU → main: FromVcpu messages (postMessage), handled on the main thread.
import type { BootEntry, GuestVirtualMemory, HypercallRequest, ShutdownReason } from "../hv/ports.ts";
import type { PagingState } from "../hv/hypercall/guest_pagewalk.ts";

/** Where guest RAM lives, as a vCPU thread can reach it. */
export type RamShare =
  /** A native mapping in this process (kvm: memfd mmapped MAP_SHARED); address valid in every thread. */
  | { readonly kind: "native"; readonly addr: bigint; readonly sizeBytes: number }
  /** A SharedArrayBuffer (emu): RAM is its first sizeBytes (default: all of it). With the emu JIT's wasm tier the
   * buffer is that of `wasmMemory`, a shared WebAssembly.Memory holding RAM and then per-vCPU areas. */
  | { readonly kind: "sab"; readonly buffer: SharedArrayBuffer; readonly sizeBytes?: number; readonly wasmMemory?: { readonly buffer: ArrayBufferLike } };

export interface VcpuInit {
  readonly domid: number;
  readonly name: string;
  readonly vcpuId: number;
  readonly vcpuCount: number;
  readonly privileged: boolean;
  /** Xen domain handle (UUID), 16 bytes. */
  readonly handle: Uint8Array;
  /** URL of the module exporting an EngineModule (engine.ts): accel/kvm/kvm_engine.ts, an emu engine... */
  readonly engineModule: string;
  /** Engine-specific, structured-cloneable setup (kvm: vCPU fd, kvm_run address). */
  readonly engineData: unknown;
  readonly ram: RamShare;
  /** Boot state for the boot vCPU; null for vCPUs that wait to be started (INIT/SIPI, VCPUOP_up). */
  readonly entry: BootEntry | null;
  /** The control block (shared_layout.ts). */
  readonly control: SharedArrayBuffer;
  /** Hypercall numbers the owner serves (OwnerHypercalls); the vCPU thread forwards them and waits. */
  readonly ownerHypercalls?: readonly number[];
  /** XENVER_get_features submap 0 for this domain (default: hv/hypercall PVH_DOMU_FEATURES). */
  readonly xenFeatures?: number;
}

/**
 * Hypercalls that need state only the owner (main thread) holds: event channels, grant tables, memory,
 * HVM params (hv/xen). The vCPU thread posts the request and blocks on the control block's MAILBOX
 * until the owner answers; the guest's memory is shared, so `handle` reads and writes it directly.
 */
export interface OwnerHypercalls {
  readonly numbers: readonly number[];
  /** Main thread. `mem` translates with the calling vCPU's paging state at the time of the call. */
  handle(req: HypercallRequest, mem: GuestVirtualMemory): bigint;
}

/** The one message to a vCPU thread: its VcpuInit, for a thread that was started idle (warm). */
export type ToVcpu = { readonly kind: "start"; readonly init: VcpuInit };

/** workerData of an idle (warm) thread: which engine module to load ahead of time. */
export interface WarmThreadData {
  readonly warm: true;
  readonly engineModule?: string;
}

export type FromVcpu =
  /** The engine is set up and about to run the guest (or failed: then `error`). */
  | { readonly kind: "ready" }
  | { readonly kind: "initFailed"; readonly error: string }
  | { readonly kind: "console"; readonly bytes: Uint8Array }
  | { readonly kind: "log"; readonly line: string }
  /** The guest asked to shut down; this vCPU has left the guest (state halted). */
  | { readonly kind: "shutdown"; readonly reason: ShutdownReason }
  /** A hypercall for the owner (OwnerHypercalls); the vCPU waits for completeOwnerCall(), unless `snapshot` is set:
   * then the vCPU already returned the call's only possible result (0) and went on, and the owner reads the
   * argument bytes the vCPU copied (snapshot.bytes at guest-virtual snapshot.va) instead of guest memory, which the
   * guest may have reused since (VcpuPlatform.ownerCallNoWait). */
  | { readonly kind: "hypercall"; readonly req: HypercallRequest; readonly paging: PagingState; readonly snapshot?: { readonly va: bigint; readonly bytes: Uint8Array } }
  /** The vCPU cannot continue: triple fault, emulation failure, engine or hypervisor bug. */
  | { readonly kind: "crashed"; readonly why: string; readonly registerDump: string };
