// What a hypercall handler sees: the calling domain and vCPU, its memory (guest-virtual) and the effects it may cause.
// Built by HypercallDispatcher for each call; runs on the calling vCPU's thread.
import type { GuestVirtualMemory, ShutdownReason } from "../ports.ts";

/** Side effects a hypercall can have outside the guest's memory. Implemented by the vCPU platform. */
export interface HypercallEffects {
  /** Guest console output (CONSOLEIO_write). */
  console(bytes: Uint8Array): void;
  /** A line for the hypervisor log (`xl dmesg`). */
  log(line: string): void;
  /** SCHEDOP_shutdown: the domain asks to stop; the calling vCPU must leave the guest after this call. */
  shutdown(reason: ShutdownReason): void;
}

/** Per-domain facts the hypercall table checks (Xen: struct domain). */
export interface HypercallDomain {
  readonly domid: number;
  /** dom0-like: may use privileged sub-ops (XENVER_commandline, domctl...). */
  readonly privileged: boolean;
  /** Xen's domain handle (UUID), 16 bytes. */
  readonly handle: Uint8Array;
  /** XENVER_get_features submap 0 for this domain (default: xen_version.ts PVH_DOMU_FEATURES). */
  readonly features?: number;
}

export interface HypercallContext {
  readonly domain: HypercallDomain;
  readonly vcpuId: number;
  /** The caller runs in 64-bit mode: pointers and longs are 64-bit. */
  readonly longMode: boolean;
  readonly mem: GuestVirtualMemory;
  readonly effects: HypercallEffects;
}

/** A hypercall: args are the five argument registers. Returns the value for rax (errors: throw XenError). */
export type HypercallHandler = (ctx: HypercallContext, args: readonly [bigint, bigint, bigint, bigint, bigint]) => bigint | number;

export interface HypercallEntry {
  readonly name: string;
  readonly handler: HypercallHandler;
  /** Only privileged domains may call it at all (others get -EPERM). */
  readonly privilegedOnly?: boolean;
}

/** Hypercall number → entry; absent numbers return -ENOSYS. */
export type HypercallTable = Readonly<Partial<Record<number, HypercallEntry>>>;
