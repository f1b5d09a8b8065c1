// The kvm CPU engine (an EngineModule, engine.ts): runs one vCPU with KVM_RUN on its own thread and
// serves exits through VcpuIo. Port-I/O hypercalls: a 32-bit OUT to HYPERCALL_PORT carries the number in
// eax (xen-abi-on-kvm.md §3). Kicked by the owner with kvm_run.immediate_exit + a signal (KICK_SIGNAL).
import { KvmRegs } from "../../abi/kvm/regs.ts";
import type { KvmSregs } from "../../abi/kvm/sregs.ts";
import type { CpuidEntry } from "../../abi/kvm/cpuid.ts";
import { KVM_EXIT, KVM_EXIT_IO_OUT, KVM_INTERNAL_ERROR_EMULATION, KVM_RUN_OFF as R, exitReasonName } from "../../abi/kvm/kvm_run.ts";
import { HYPERCALL_PORT } from "../../hv/hypercall/hypercall_page.ts";
import { PagingGuestMemory } from "../../hv/hypercall/guest_pagewalk.ts";
import { hypercallRequest, hypercallResultRax } from "../../hv/hypercall/hypercall_abi.ts";
import type { BootEntry } from "../../hv/ports.ts";
import type { CpuEngine, EngineExit, EngineModule, VcpuIo } from "../../vcpu_thread/engine.ts";
import type { VcpuInit } from "../../vcpu_thread/protocol.ts";
import type { VcpuControlBlock } from "../../vcpu_thread/shared_layout.ts";
import { applyBootEntry } from "./boot_state.ts";
import * as ffi from "./ffi.ts";
import * as kvm from "./ioctl.ts";

/** VcpuInit.engineData for the kvm engine (built by backend.ts). */
export interface KvmEngineData {
  readonly vcpuFd: number;
  readonly runAddr: bigint;
  readonly runSizeBytes: number;
  readonly cpuid: readonly CpuidEntry[];
}

const EINTR = 4;
const EAGAIN = 11;
const MSR_EXIT_REASON_FILTER = 4;
const EFER_LMA = 0x400n;

const hex = (v: bigint | number, width = 16): string => v.toString(16).padStart(width, "0");

export class KvmEngine implements CpuEngine {
  private readonly fd: number;
  private readonly run8: Uint8Array;
  private readonly runView: DataView;
  private readonly regs = new KvmRegs();
  private readonly loggedMsrs = new Set<string>();

  constructor(
    private readonly init: VcpuInit,
    private readonly ram: Uint8Array,
    private readonly io: VcpuIo,
    control: VcpuControlBlock,
  ) {
    const data = init.engineData as KvmEngineData;
    this.fd = data.vcpuFd;
    this.run8 = ffi.nativeView(data.runAddr, data.runSizeBytes);
    this.runView = new DataView(this.run8.buffer, this.run8.byteOffset, this.run8.byteLength);
    control.setThreadId(ffi.currentThreadId());
    kvm.setSignalMask(this.fd, []); // whatever this thread blocks, a kick interrupts KVM_RUN
    kvm.setCpuid2(this.fd, data.cpuid);
  }

  reset(entry: BootEntry | null): void {
    if (entry === null) return; // an AP: KVM's LAPIC holds it until INIT/SIPI
    const s = kvm.getSregs(this.fd);
    const regs = new KvmRegs();
    applyBootEntry(entry, regs, s);
    kvm.setSregs(this.fd, s);
    kvm.setRegs(this.fd, regs);
  }

  run(): EngineExit {
    const io = this.io;
    const v = this.runView;
    for (;;) {
      const r = kvm.run(this.fd);
      // Clear before the loop reads the command (shared_layout.ts ordering): a later kick is never lost.
      this.run8[R.immediateExit] = 0;
      if (r < 0) {
        if (r === -EINTR) return { kind: "attention" };
        if (r === -EAGAIN) continue;
        return { kind: "crashed", why: `KVM_RUN failed: ${ffi.errnoName(-r)}` };
      }
      const reason = v.getUint32(R.exitReason, true);
      switch (reason) {
        case KVM_EXIT.IO:
          this.handleIo();
          break;
        case KVM_EXIT.MMIO:
          this.handleMmio();
          break;
        case KVM_EXIT.X86_WRMSR:
        case KVM_EXIT.X86_RDMSR:
          this.handleMsr(reason === KVM_EXIT.X86_WRMSR);
          break;
        case KVM_EXIT.INTR:
          return { kind: "attention" };
        case KVM_EXIT.HLT:
        case KVM_EXIT.IRQ_WINDOW_OPEN:
        case KVM_EXIT.IOAPIC_EOI:
          break;
        case KVM_EXIT.SHUTDOWN:
          return { kind: "crashed", why: "triple fault (KVM_EXIT_SHUTDOWN)" };
        case KVM_EXIT.INTERNAL_ERROR:
          return { kind: "crashed", why: this.internalError() };
        case KVM_EXIT.FAIL_ENTRY:
          return { kind: "crashed", why: `VM entry failed: hardware reason 0x${v.getBigUint64(R.failEntryReason, true).toString(16)}` };
        case KVM_EXIT.SYSTEM_EVENT:
          return { kind: "crashed", why: `KVM system event ${v.getUint32(R.systemEventType, true)}` };
        default:
          return { kind: "crashed", why: `unexpected KVM exit ${exitReasonName(reason)}` };
      }
      if (io.stopRequested) return { kind: "stopRequested" };
    }
  }

  private handleIo(): void {
    const v = this.runView;
    const out = v.getUint8(R.ioDirection) === KVM_EXIT_IO_OUT;
    const size = v.getUint8(R.ioSize) as 1 | 2 | 4;
    const port = v.getUint16(R.ioPort, true);
    const count = v.getUint32(R.ioCount, true);
    const dataOff = Number(v.getBigUint64(R.ioDataOffset, true));
    if (port === HYPERCALL_PORT && out && size === 4 && count === 1) {
      this.hypercall();
      return;
    }
    for (let i = 0; i < count; i++) {
      const at = dataOff + i * size;
      if (out) {
        const value = size === 1 ? v.getUint8(at) : size === 2 ? v.getUint16(at, true) : v.getUint32(at, true);
        this.io.pioWrite(port, size, value);
      } else {
        const value = this.io.pioRead(port, size);
        if (size === 1) v.setUint8(at, value);
        else if (size === 2) v.setUint16(at, value, true);
        else v.setUint32(at, value >>> 0, true);
      }
    }
  }

  private hypercall(): void {
    const regs = this.regs;
    kvm.getRegs(this.fd, regs);
    const s = kvm.getSregs(this.fd);
    const longMode = (s.efer & EFER_LMA) !== 0n && s.cs.l === 1;
    const mem = new PagingGuestMemory(this.ram, {
      cr0: Number(s.cr0 & 0xffffffffn),
      cr3: Number(s.cr3),
      cr4: Number(s.cr4 & 0xffffffffn),
      efer: Number(s.efer & 0xffffffffn),
    });
    const req = hypercallRequest(this.init.vcpuId, longMode, {
      rax: regs.get("rax"), rbx: regs.get("rbx"), rcx: regs.get("rcx"), rdx: regs.get("rdx"),
      rsi: regs.get("rsi"), rdi: regs.get("rdi"), r8: regs.get("r8"), r10: regs.get("r10"),
    });
    regs.set("rax", hypercallResultRax(longMode, this.io.hypercall(req, mem)));
    kvm.setRegs(this.fd, regs); // RIP unchanged: KVM completes the OUT on the next KVM_RUN
  }

  private handleMmio(): void {
    const v = this.runView;
    const gpa = Number(v.getBigUint64(R.mmioPhysAddr, true));
    const len = v.getUint32(R.mmioLen, true) as 1 | 2 | 4 | 8;
    if (v.getUint8(R.mmioIsWrite) !== 0) {
      const value = len === 1 ? v.getUint8(R.mmioData) : len === 2 ? v.getUint16(R.mmioData, true) : v.getUint32(R.mmioData, true);
      this.io.mmioWrite(gpa, len, value);
    } else {
      const value = this.io.mmioRead(gpa, len);
      this.run8.fill(0, R.mmioData, R.mmioData + 8);
      if (len === 1) v.setUint8(R.mmioData, value);
      else if (len === 2) v.setUint16(R.mmioData, value, true);
      else v.setUint32(R.mmioData, value >>> 0, true);
    }
  }

  private handleMsr(write: boolean): void {
    const v = this.runView;
    const reason = v.getUint32(R.msrReason, true);
    const index = v.getUint32(R.msrIndex, true);
    let ok = false;
    if (write && reason === MSR_EXIT_REASON_FILTER) ok = this.io.wrmsr(index, v.getBigUint64(R.msrData, true));
    if (!ok) {
      const key = `${write ? "wr" : "rd"}${index}`;
      if (!this.loggedMsrs.has(key)) {
        this.loggedMsrs.add(key);
        this.io.log(`d${this.init.domid}v${this.init.vcpuId}: ${write ? "WRMSR" : "RDMSR"} 0x${index.toString(16)} not handled: #GP (logged once)`);
      }
    }
    v.setUint8(R.msrError, ok ? 0 : 1); // 1: KVM injects #GP
  }

  private internalError(): string {
    const v = this.runView;
    const sub = v.getUint32(R.internalSuberror, true);
    if (sub !== KVM_INTERNAL_ERROR_EMULATION) return `KVM internal error, suberror ${sub}`;
    const flags = v.getBigUint64(R.internalData, true);
    if ((flags & 1n) === 0n) return "instruction emulation failed";
    const n = Math.min(v.getUint8(R.internalData + 8), 15);
    const bytes = [...this.run8.subarray(R.internalData + 9, R.internalData + 9 + n)].map((b) => hex(b, 2)).join(" ");
    return `instruction emulation failed at bytes ${bytes}`;
  }

  registerDump(): string {
    try {
      const r = new KvmRegs();
      kvm.getRegs(this.fd, r);
      const s: KvmSregs = kvm.getSregs(this.fd);
      const g = r.toRecord();
      const line = (names: (keyof typeof g)[]): string => names.map((n) => `${n.padStart(3)}=${hex(g[n])}`).join(" ");
      return [
        line(["rax", "rbx", "rcx", "rdx"]),
        line(["rsi", "rdi", "rsp", "rbp"]),
        line(["r8", "r9", "r10", "r11"]),
        line(["r12", "r13", "r14", "r15"]),
        `rip=${hex(g.rip)} rflags=${hex(g.rflags, 8)}`,
        `cr0=${hex(s.cr0, 8)} cr2=${hex(s.cr2)} cr3=${hex(s.cr3)} cr4=${hex(s.cr4, 8)} efer=${hex(s.efer, 4)}`,
        `cs=${hex(s.cs.selector, 4)} (base ${hex(s.cs.base)} l=${s.cs.l} db=${s.cs.db}) ss=${hex(s.ss.selector, 4)} ` +
          `gdt=${hex(s.gdt.base)}/${hex(s.gdt.limit, 4)} idt=${hex(s.idt.base)}/${hex(s.idt.limit, 4)}`,
      ].join("\n");
    } catch (e) {
      return `(registers unavailable: ${e instanceof Error ? e.message : String(e)})`;
    }
  }

  close(): void {}
}

export const kvmEngineModule: EngineModule = {
  mapRam(init) {
    if (init.ram.kind !== "native") throw new TypeError("The kvm engine needs natively mapped guest RAM");
    return ffi.nativeView(init.ram.addr, init.ram.sizeBytes);
  },
  createEngine: (init, ram, io, control) => new KvmEngine(init, ram, io, control),
};
export const { mapRam, createEngine } = kvmEngineModule;
