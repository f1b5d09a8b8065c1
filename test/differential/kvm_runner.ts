// Native runner: the batch program in ring 3 of a KVM guest (on this host's PVM KVM, ring-3 code runs on the
// real CPU). Long mode with the page tables, GDT, TSS and IDT written by program.ts; the vCPU starts in ring 3
// with IOPL 3, so the final `out` exits to us without any ring-0 code. Exceptions go through ring-0 stubs
// that report the vector on FAULT_PORT; the runner then restarts at the next sequence.
import { KvmRegs } from "../../src/abi/kvm/regs.ts";
import type { KvmSegment } from "../../src/abi/kvm/sregs.ts";
import { KVM_EXIT, KVM_RUN_OFF as R, exitReasonName } from "../../src/abi/kvm/kvm_run.ts";
import { KvmSystem, KvmVm, type KvmVcpuHandle } from "../../src/accel/kvm/kvm_vm.ts";
import * as ffi from "../../src/accel/kvm/ffi.ts";
import * as kvm from "../../src/accel/kvm/ioctl.ts";
import { existsSync } from "node:fs";
import * as L from "./layout.ts";
import { readFaultInfo, type AssembledBatch } from "./program.ts";

export interface SeqFault {
  seq: number;
  vector: number;
  rip: bigint;
  errorCode?: number;
  cr2?: bigint;
  /** GPRs (KVM order) when the fault was taken. */
  regs?: bigint[];
  /** Which runner saw it. */
  where: string;
}

export interface BatchRun {
  faults: SeqFault[];
  /** Number of KVM_RUN calls (each a round trip through the host kernel). */
  entries: number;
}

/** Why the native runner cannot work here, or null if it can. */
export function kvmUnavailable(): string | null {
  if (!existsSync(L_KVM)) return "/dev/kvm is missing: no KVM on this host";
  try {
    new KvmRunner().close();
    return null;
  } catch (e) {
    return `cannot create a KVM VM: ${(e as Error).message}`;
  }
}
const L_KVM = "/dev/kvm";

const seg = (selector: number, type: number, dpl: number, l: number, db: number): KvmSegment => ({
  base: 0n, limit: 0xffffffff, selector, type, present: 1, dpl, db, s: 1, l, g: 1, avl: 0, unusable: 0,
});

export class KvmRunner {
  private readonly vm: KvmVm;
  private readonly vcpu: KvmVcpuHandle;
  private readonly runView: DataView;
  private readonly run8: Uint8Array;

  constructor() {
    const system = KvmSystem.open();
    this.vm = KvmVm.create(system, { name: "diff", memoryBytes: L.RAM_BYTES });
    try {
      this.vcpu = this.vm.createVcpu(0);
      kvm.setCpuid2(this.vcpu.fd, system.supportedCpuid());
      this.run8 = ffi.nativeView(this.vcpu.runAddr, this.vcpu.runSizeBytes);
      this.runView = new DataView(this.run8.buffer, this.run8.byteOffset, this.run8.byteLength);
    } catch (e) {
      this.vm.close();
      throw e;
    }
  }

  /** Guest RAM (write the image here before run()). */
  get ram(): Uint8Array {
    return this.vm.ram;
  }

  private enterRing3(rip: number): void {
    const fd = this.vcpu.fd;
    const s = kvm.getSregs(fd);
    s.cs = seg(L.SEL.UCODE, 0xb, 3, 1, 0);
    s.ss = seg(L.SEL.UDATA, 0x3, 3, 0, 1);
    s.ds = s.es = s.fs = s.gs = { ...seg(0, 0x3, 3, 0, 1), unusable: 1 };
    s.tr = { base: BigInt(L.TSS), limit: 0x67, selector: L.SEL.TSS, type: 11, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 };
    s.ldt = { base: 0n, limit: 0xffff, selector: 0, type: 2, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 1 };
    s.gdt = { base: BigInt(L.GDT), limit: L.GDT_LIMIT };
    s.idt = { base: BigInt(L.IDT), limit: 32 * 16 - 1 };
    s.cr0 = 0x80010033n; // PG WP NE ET MP PE
    s.cr3 = BigInt(L.PML4);
    s.cr4 = 0x620n; // PAE OSFXSR OSXMMEXCPT
    s.efer = 0x501n; // LMA LME SCE
    kvm.setSregs(fd, s);
    const regs = new KvmRegs();
    regs.set("rip", BigInt(rip));
    regs.set("rsp", BigInt(L.SCRATCH));
    regs.set("rflags", 0x3002n); // IOPL 3
    kvm.setRegs(fd, regs);
  }

  /** Runs the batch already written to ram from its first sequence to the exit `out`. */
  run(batch: AssembledBatch): BatchRun {
    const faults: SeqFault[] = [];
    let entries = 0;
    let start = batch.seqs.length > 0 ? batch.seqs[0]!.prologue : batch.exitAddr;
    const regs = new KvmRegs();
    for (;;) {
      this.enterRing3(start);
      let exitInfo = "";
      for (;;) {
        entries++;
        const r = kvm.run(this.vcpu.fd);
        if (r === -4 || r === -11) continue; // EINTR / EAGAIN
        if (r < 0) throw new Error(`KVM_RUN failed: ${ffi.errnoName(-r)}`);
        const reason = this.runView.getUint32(R.exitReason, true);
        if (reason === KVM_EXIT.IO && this.run8[R.ioDirection] === 1) {
          const port = this.runView.getUint16(R.ioPort, true);
          if (port === L.EXIT_PORT) return { faults, entries };
          if (port === L.FAULT_PORT) {
            const off = Number(this.runView.getBigUint64(R.ioDataOffset, true));
            exitInfo = `vector ${this.runView.getUint32(off, true)}`;
            break;
          }
        }
        kvm.getRegs(this.vcpu.fd, regs);
        let extra = "";
        if (reason === KVM_EXIT.INTERNAL_ERROR) {
          const n = Math.min(this.run8[R.internalData + 8]!, 15);
          extra = ` suberror ${this.runView.getUint32(R.internalSuberror, true)} insn ${[...this.run8.subarray(R.internalData + 9, R.internalData + 9 + n)].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`;
        }
        throw new Error(`unexpected KVM exit ${exitReasonName(reason)}${extra} at rip 0x${regs.get("rip").toString(16)}`);
      }
      const vector = Number(/vector (\d+)/.exec(exitInfo)![1]);
      const info = readFaultInfo(this.ram, vector);
      const rip = info.rip;
      const seq = batch.seqs.findIndex((s, i) => BigInt(s.prologue) <= rip && rip < BigInt(batch.seqs[i + 1]?.prologue ?? batch.exitAddr));
      faults.push({ seq, vector, ...info, where: "native" });
      if (seq < 0) throw new Error(`native fault ${vector} outside any sequence at rip 0x${rip.toString(16)}`);
      start = batch.seqs[seq + 1]?.prologue ?? batch.exitAddr;
    }
  }

  close(): void {
    this.vm.close();
  }
}
