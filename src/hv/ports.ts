// The seams between the hypervisor core and what runs guest code (CPU backends, platform devices).
// Pure types: hv/ never imports node:* or koffi; accel/* and vcpu_thread/ implement these.

/** Guest physical RAM of one domain: one contiguous shared buffer starting at guest-physical 0. */
export interface GuestRam {
  /** Raw bytes; index = guest-physical address. Backed by a SharedArrayBuffer (emu) or a memfd mapping (kvm). */
  readonly bytes: Uint8Array;
  readonly sizeBytes: number;
}

/** A level- or edge-triggered interrupt line into an interrupt controller. */
export interface IrqLine {
  raise(): void;
  lower(): void;
  /** Edge: raise then lower. */
  pulse(): void;
}

/** A device on the I/O-port bus. Offsets are relative to the device's base port. */
export interface PioDevice {
  readonly name: string;
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** A device on the MMIO bus. Offsets are relative to the device's base address. */
export interface MmioDevice {
  readonly name: string;
  read(offset: number, size: 1 | 2 | 4 | 8): number;
  write(offset: number, size: 1 | 2 | 4 | 8, value: number): void;
}

/** Why a domain stopped running on its own (Xen SHUTDOWN_* reasons plus backend-level failures). */
export type ShutdownReason = "poweroff" | "reboot" | "suspend" | "crash" | "watchdog" | "soft_reset";

/** Xen hypercall arguments as the guest passed them (64-bit: rdi rsi rdx r10 r8; 32-bit: ebx ecx edx esi edi). */
export interface HypercallRequest {
  readonly vcpuId: number;
  readonly nr: number;
  readonly args: readonly [bigint, bigint, bigint, bigint, bigint];
  /** True when the caller runs in 64-bit mode (pointer args are 64-bit guest-virtual addresses). */
  readonly longMode: boolean;
}

/** Access to a vCPU's address space for copy_from_guest/copy_to_guest (guest-virtual, paging-aware). */
export interface GuestVirtualMemory {
  /** Copies len bytes from guest-virtual va; throws GuestFault if unmapped. */
  read(va: bigint, len: number): Uint8Array;
  write(va: bigint, data: Uint8Array): void;
}

/** Initial architectural state of the boot vCPU, produced by a boot loader (boot/), applied by a backend. */
export type BootEntry =
  /** PVH: 32-bit flat protected mode, paging off, EBX = hvm_start_info gpa (xen docs/misc/pvh.pandoc). */
  | { readonly kind: "pvh32"; readonly entry: number; readonly ebx: number }
  /** Linux 64-bit boot protocol: long mode with identity-mapped page tables built by the loader, RSI = boot_params. */
  | { readonly kind: "linux64"; readonly entry: bigint; readonly rsi: number; readonly cr3: number; readonly gdtBase: number }
  /** Real mode at CS:IP (firmware / reset vector). */
  | { readonly kind: "real16"; readonly cs: number; readonly ip: number };

/** Everything a backend needs to start a guest: RAM contents to place and the boot vCPU's entry state. */
export interface BootImage {
  readonly regions: readonly { readonly gpa: number; readonly bytes: Uint8Array }[];
  readonly entry: BootEntry;
  /** Human-readable summary for the log ("PVH ELF64 entry 0x1000850, initrd 3.1 MiB at 0x...") */
  readonly description: string;
}

export type AccelKind = "emu" | "kvm";

/** Result of probing a backend on this host. */
export interface AccelProbe {
  readonly kind: AccelKind;
  /** Can run tiny guests at all. */
  readonly usable: boolean;
  /** Can run a full guest kernel (false on a PVM KVM). */
  readonly fullGuests: boolean;
  readonly reason: string;
}

// ---- Domain execution: how the core (main thread) starts and controls a domain's vCPUs ----

export interface LaunchSpec {
  readonly domid: number;
  readonly name: string;
  readonly type: "pvh" | "hvm";
  readonly memoryBytes: number;
  readonly vcpus: number;
  readonly image: BootImage;
  /** The domain's Xen guest interface (PVH): hypercalls served on the owner thread, event upcalls, PV console. */
  readonly xen?: XenDomainPort;
  /** Options for the software CPU (xl.cfg emu_jit); other backends ignore them. */
  readonly emu?: EmuLaunchOptions;
}

/** Settings a software-CPU backend honours; each absent field takes the backend's default. */
export interface EmuLaunchOptions {
  /** Compile guest code to host code (block JIT) instead of interpreting every instruction. */
  readonly jit?: boolean;
}

/**
 * A running domain's execution profile (xl emu-stats): what its CPU backend counts, as plain JSON. Counters are
 * totals since the domain started, so two snapshots give rates over an interval.
 */
export interface ExecutionProfile {
  readonly backend: AccelKind;
  /** Monotonic time of the snapshot in the domain's own run time (pauses excluded), seconds. */
  readonly runSeconds: number;
  /** Of which the vCPUs were busy (not idle in HLT), seconds; -1 if unknown. */
  readonly busySeconds: number;
  readonly instructions: number;
  /** Whether guest code is compiled (JIT) or interpreted. */
  readonly jit: boolean;
  /** Exits to the platform: port I/O, MMIO, interrupt injections, hypercalls (whatever the backend counts). */
  readonly exits: Readonly<Record<string, number>>;
  /** Numeric JIT cache statistics (names as the backend has them: blocksCompiled, blockRuns, ...). */
  readonly jitStats: Readonly<Record<string, number>>;
  /** Numeric memory-translation statistics, if the backend keeps any. */
  readonly mmuStats: Readonly<Record<string, number>>;
  /** The most executed compiled blocks: guest RIP (hex), block runs, instructions in the block. */
  readonly hotBlocks: readonly { readonly rip: string; readonly runs: number; readonly insns: number }[];
  /** Guest RIPs sampled at the end of each run slice (hex, count): where time goes with or without a JIT. */
  readonly ripSamples: readonly { readonly rip: string; readonly count: number }[];
  readonly sampleCount: number;
  readonly notes: readonly string[];
}

/** What the backend does for the Xen layer of one domain (called on the main thread). */
export interface XenBackendHooks {
  /** Raise interrupt vector on vcpuId's LAPIC (the event-channel upcall). */
  inject(vcpuId: number, vector: number): void;
  /**
   * The guest's TSC time base, readable on the main thread: TSC = floor(nowNs() * tscKhz / 1e6). With it the
   * Xen layer offers pvclock (XENFEAT_hvm_safe_pvclock) and VCPUOP timers; without it Linux keeps TSC + LAPIC.
   */
  readonly guestClock?: { nowNs(): number; readonly tscKhz: number };
  /**
   * Pages the Xen layer maps into the guest's physmap outside RAM (grant frames): allocated here so the CPU can
   * reach them, then reported mapped/unmapped at a gfn (hv/xen PhysmapHooks). Without it they live in plain memory.
   */
  readonly overlays?: {
    allocPage(): Uint8Array;
    mapped(gfn: number, page: Uint8Array): void;
    unmapped(gfn: number): void;
  };
}

/** The Xen guest interface of one domain as a backend sees it: created by the toolstack, attached at launch. */
export interface XenDomainPort {
  /** Called once guest RAM exists and before any vCPU runs (main thread). */
  attach(ram: GuestRam, hooks: XenBackendHooks, events: ExecutionEvents): XenDomainAttachment;
}

export interface XenDomainAttachment {
  /** Hypercalls the owner (main thread) serves: the vCPU thread forwards these numbers. */
  readonly ownerHypercalls: {
    readonly numbers: readonly number[];
    handle(req: HypercallRequest, mem: GuestVirtualMemory): bigint;
  };
  /** XENVER_get_features submap 0 the vCPU threads report. */
  readonly xenFeatures: number;
  /** Keyboard input for the PV console (xl console). */
  consoleInput(bytes: Uint8Array): void;
  /** The domain is going away: unbind backends, release its Xen state. Idempotent. */
  detach(): void;
}

/** Callbacks from a running domain to the core. Called on the main thread. */
export interface ExecutionEvents {
  /** Bytes the guest wrote to a console (port 0xe9, 8250 serial, console_io, PV console ring). */
  console(bytes: Uint8Array): void;
  /** A hypervisor log line for `xl dmesg` (unknown hypercall, emulation failure, register dump...). */
  log(line: string): void;
  /** The guest asked to shut down (SCHEDOP_shutdown, ACPI S5, reset). */
  shutdown(reason: ShutdownReason): void;
  /** The domain crashed below the guest's control: triple fault, emulation failure, backend bug. */
  crashed(why: string, registerDump: string): void;
}

export interface DomainExecution {
  pause(): Promise<void>;
  unpause(): Promise<void>;
  /** Stops every vCPU and releases the domain's memory. Idempotent. */
  destroy(): Promise<void>;
  /** Keyboard input from `xl console` to the guest's console. */
  consoleInput(bytes: Uint8Array): void;
  /** CPU time consumed by this domain's vCPUs, in ns. */
  cpuTimeNs(): number;
  /** The backend's execution profile, if it keeps one (emu); null when the domain cannot answer (stopped). */
  profile?(): Promise<ExecutionProfile | null>;
}

export interface ExecutionBackend {
  readonly kind: AccelKind;
  probe(): AccelProbe;
  launch(spec: LaunchSpec, events: ExecutionEvents): Promise<DomainExecution>;
}

// ---- Inside a domain's execution thread: what a CPU engine calls synchronously ----

/** The platform side a CPU engine calls on guest I/O and hypercalls (runs on the vCPU's thread). */
export interface CpuIo {
  pioRead(port: number, size: 1 | 2 | 4): number;
  pioWrite(port: number, size: 1 | 2 | 4, value: number): void;
  /** Accesses to guest-physical addresses outside RAM (LAPIC, IOAPIC, HPET...). */
  mmioRead(gpa: number, size: 1 | 2 | 4 | 8): number;
  mmioWrite(gpa: number, size: 1 | 2 | 4 | 8, value: number): void;
  /** A Xen hypercall (vmcall/vmmcall or a hypercall-page stub). Returns the value for rax. */
  hypercall(req: HypercallRequest, mem: GuestVirtualMemory): bigint;
}
