// The engine-agnostic platform side of one vCPU (implements VcpuIo): the port-I/O bus (0xe9 debug
// console, a minimal COM1 transmit stub), MMIO outside RAM, the Xen hypercall table, the hypercall-page
// MSR. Every engine (kvm, emu) calls this on the vCPU thread; events go to the owner as FromVcpu messages.
import type { GuestVirtualMemory, HypercallRequest, ShutdownReason } from "../hv/ports.ts";
import { Hypercall } from "../abi/xen/xen.ts";
import { VCPU_SSHOTTMR_future, VcpuOp, VcpuSetSingleshotTimer } from "../abi/xen/vcpu.ts";
import { HypercallDispatcher } from "../hv/hypercall/dispatch.ts";
import { HYPERCALL_PAGE_MSR, installHypercallPage } from "../hv/hypercall/hypercall_page.ts";
import type { PagingGuestMemory, PagingState } from "../hv/hypercall/guest_pagewalk.ts";
import type { VcpuControlBlock } from "./shared_layout.ts";
import type { VcpuIo } from "./engine.ts";
import type { FromVcpu, VcpuInit } from "./protocol.ts";

export const DEBUG_CONSOLE_PORT = 0xe9;
const COM1 = 0x3f8;
const UART_LSR = 5;
const UART_LSR_THRE_TEMT = 0x60; // transmitter empty: writes never wait
const CONSOLE_FLUSH_BYTES = 256;

export class VcpuPlatform implements VcpuIo {
  private pending: number[] = [];
  private readonly loggedPorts = new Set<string>();
  private readonly dispatcher: HypercallDispatcher;
  stopRequested = false;
  shutdownReason: ShutdownReason | null = null;

  private readonly ownerNumbers: ReadonlySet<number>;

  constructor(
    private readonly init: VcpuInit,
    private readonly ram: Uint8Array,
    private readonly post: (m: FromVcpu) => void,
    /** Needed only when init.ownerHypercalls is non-empty. */
    private readonly control?: VcpuControlBlock,
  ) {
    this.ownerNumbers = new Set(init.ownerHypercalls ?? []);
    this.dispatcher = new HypercallDispatcher(
      { domid: init.domid, privileged: init.privileged, handle: init.handle, ...(init.xenFeatures !== undefined ? { features: init.xenFeatures } : {}) },
      {
        console: (bytes) => this.console(bytes),
        log: (line) => this.log(line),
        shutdown: (reason) => this.shutdown(reason),
      },
    );
  }

  get hypercallCounts(): ReadonlyMap<number, number> {
    return this.dispatcher.counts;
  }

  pioRead(port: number, size: 1 | 2 | 4): number {
    if (port === DEBUG_CONSOLE_PORT) return DEBUG_CONSOLE_PORT; // Bochs/QEMU: reads back 0xe9 when present
    if (port >= COM1 && port < COM1 + 8) return port - COM1 === UART_LSR ? UART_LSR_THRE_TEMT : 0;
    this.logOnce(`in${size} port 0x${port.toString(16)}`, `d${this.init.domid}v${this.init.vcpuId}: read from unclaimed port 0x${port.toString(16)} returns all ones (logged once)`);
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  pioWrite(port: number, size: 1 | 2 | 4, value: number): void {
    if (port === DEBUG_CONSOLE_PORT || port === COM1) {
      this.consoleByte(value & 0xff);
      return;
    }
    if (port > COM1 && port < COM1 + 8) return;
    this.logOnce(`out${size} port 0x${port.toString(16)}`, `d${this.init.domid}v${this.init.vcpuId}: write to unclaimed port 0x${port.toString(16)} ignored (logged once)`);
  }

  mmioRead(gpa: number, size: 1 | 2 | 4 | 8): number {
    this.logOnce(`mmio r 0x${gpa.toString(16)}`, `d${this.init.domid}v${this.init.vcpuId}: read from unclaimed MMIO 0x${gpa.toString(16)} returns all ones (logged once)`);
    return size === 8 ? 0xffffffff : 2 ** (size * 8) - 1;
  }

  mmioWrite(gpa: number, _size: 1 | 2 | 4 | 8, _value: number): void {
    this.logOnce(`mmio w 0x${gpa.toString(16)}`, `d${this.init.domid}v${this.init.vcpuId}: write to unclaimed MMIO 0x${gpa.toString(16)} ignored (logged once)`);
  }

  hypercall(req: HypercallRequest, mem: GuestVirtualMemory): bigint {
    if (this.ownerNumbers.has(req.nr)) {
      const paging = (mem as Partial<PagingGuestMemory>).paging;
      if (paging !== undefined && this.control !== undefined) {
        const snapshot = this.noWaitArgs(req, mem);
        if (snapshot !== null) return this.ownerCallNoWait(req, paging, snapshot);
        return this.ownerCall(req, paging);
      }
      this.logOnce(`owner ${req.nr}`, `d${this.init.domid}: hypercall ${req.nr} cannot reach the owner from this engine (logged once)`);
    }
    return this.dispatcher.dispatch(req, mem);
  }

  /**
   * The argument bytes of an owner hypercall whose result is known before the owner runs it, or null. Only
   * VCPUOP_set_singleshot_timer on the calling vCPU without VCPU_SSHOTTMR_future: Xen answers 0 whatever the
   * deadline (a past one fires at once). Linux programs every timer event this way (flags 0), hundreds of times a
   * second, and each synchronous owner call blocks the vCPU for a thread round trip (~100 us).
   */
  private noWaitArgs(req: HypercallRequest, mem: GuestVirtualMemory): { va: bigint; bytes: Uint8Array } | null {
    if (req.nr !== Hypercall.vcpu_op || req.args[0] !== BigInt(VcpuOp.set_singleshot_timer) || req.args[1] !== BigInt(req.vcpuId)) return null;
    const va = req.args[2];
    let bytes: Uint8Array;
    try { bytes = mem.read(va, VcpuSetSingleshotTimer.size); } catch { return null; } // the owner reports the fault
    const flags = bytes[8]! | (bytes[9]! << 8) | (bytes[10]! << 16) | (bytes[11]! << 24);
    return (flags & VCPU_SSHOTTMR_future) === 0 ? { va, bytes } : null;
  }

  /** Posts an owner hypercall with its arguments copied (noWaitArgs) and returns its result, 0, without waiting. */
  private ownerCallNoWait(req: HypercallRequest, paging: PagingState, snapshot: { va: bigint; bytes: Uint8Array }): bigint {
    this.flushConsole();
    this.post({ kind: "hypercall", req, paging: { cr0: paging.cr0, cr3: paging.cr3, cr4: paging.cr4, efer: paging.efer }, snapshot });
    return 0n;
  }

  /** Runs a hypercall on the owner's thread: post it, block until the owner answers (shared_layout MAILBOX). */
  private ownerCall(req: HypercallRequest, paging: PagingState): bigint {
    this.flushConsole();
    this.control!.beginOwnerCall();
    this.post({ kind: "hypercall", req, paging: { cr0: paging.cr0, cr3: paging.cr3, cr4: paging.cr4, efer: paging.efer } });
    return this.control!.awaitOwnerResult();
  }

  wrmsr(index: number, value: bigint): boolean {
    if (index === HYPERCALL_PAGE_MSR) return installHypercallPage(this.ram, value);
    return false;
  }

  log(line: string): void {
    this.post({ kind: "log", line });
  }

  /** Console output from an engine-side device model (emu's platform UART, say). */
  consoleOutput(bytes: Uint8Array): void {
    this.console(bytes);
  }

  /** A shutdown the platform decided (ACPI S5, reset) rather than a hypercall: same path as SCHEDOP_shutdown. */
  requestShutdown(reason: ShutdownReason): void {
    this.shutdown(reason);
  }

  /** Sends buffered console bytes to the owner. Called by the loop whenever the engine returns. */
  flushConsole(): void {
    if (this.pending.length === 0) return;
    this.post({ kind: "console", bytes: Uint8Array.from(this.pending) });
    this.pending = [];
  }

  private consoleByte(b: number): void {
    this.pending.push(b);
    if (b === 0x0a || this.pending.length >= CONSOLE_FLUSH_BYTES) this.flushConsole();
  }

  private console(bytes: Uint8Array): void {
    this.flushConsole();
    this.post({ kind: "console", bytes: bytes.slice() });
  }

  private shutdown(reason: ShutdownReason): void {
    this.shutdownReason = reason;
    this.stopRequested = true;
  }

  private logOnce(key: string, line: string): void {
    if (this.loggedPorts.has(key)) return;
    this.loggedPorts.add(key);
    this.log(line);
  }
}
