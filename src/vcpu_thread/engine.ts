// The contract between the engine-agnostic vCPU loop (worker.ts) and a CPU engine (kvm, emu).
// Runs entirely on the vCPU's thread.
import type { BootEntry, CpuIo } from "../hv/ports.ts";
import type { VcpuControlBlock } from "./shared_layout.ts";
import type { VcpuInit } from "./protocol.ts";

/** What an engine calls for everything outside the CPU: ports, MMIO, hypercalls, platform MSRs. */
export interface VcpuIo extends CpuIo {
  /** A WRMSR the platform owns (the Xen hypercall-page MSR). Returns false if unhandled (engine raises #GP). */
  wrmsr(index: number, value: bigint): boolean;
  /** Set once a hypercall or device asked this vCPU to leave the guest (e.g. SCHEDOP_shutdown). */
  readonly stopRequested: boolean;
  /** A hypervisor log line. */
  log(line: string): void;
}

export type EngineExit =
  /** The owner raised ATTENTION (pause, stop): the loop reads the command. */
  | { readonly kind: "attention" }
  /** VcpuIo.stopRequested became true. */
  | { readonly kind: "stopRequested" }
  /** The guest cannot go on (triple fault, emulation failure, failed entry). */
  | { readonly kind: "crashed"; readonly why: string };

export interface CpuEngine {
  /** Sets the boot vCPU's architectural state; with null leaves the vCPU waiting to be started. */
  reset(entry: BootEntry | null): void;
  /** Runs guest code until the loop must look (serving I/O and hypercalls through VcpuIo meanwhile). */
  run(): EngineExit;
  /** Human-readable registers for crash reports. Never throws. */
  registerDump(): string;
  /** Releases thread-local resources (the owner closes fds and memory). */
  close(): void;
}

/** The shape of an engine module named by VcpuInit.engineModule. */
export interface EngineModule {
  /** Guest RAM as this thread sees it (index = guest-physical address). */
  mapRam(init: VcpuInit): Uint8Array;
  createEngine(init: VcpuInit, ram: Uint8Array, io: VcpuIo, control: VcpuControlBlock): CpuEngine;
}
