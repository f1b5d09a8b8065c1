import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuFault, Fl, Mode, Reg, Seg, SegAttr } from "./cpu_state.ts";
import { Vec } from "./fault.ts";
import { EFER_LMA } from "./mmu.ts";
import { enterLongMode, GDT, KSTACK, makeMachine, put64, SEL, writeGate64, writeGdt, writePageTables } from "./test_fixture.ts";

function faultOf(m: { cpu: { faultVector: number; faultErrorCode: number } }, fn: () => unknown): [number, number] {
  assert.throws(fn, (e) => e instanceof CpuFault);
  return [m.cpu.faultVector, m.cpu.faultErrorCode];
}

test("the PVH-style path real -> protected -> compatibility -> 64-bit mode updates mode and sizes", () => {
  const m = makeMachine();
  const { cpu, sys, dv } = m;
  assert.equal(cpu.mode, Mode.Real);
  assert.equal(cpu.defaultOpSize, 16);
  writeGdt(dv);
  writePageTables(dv);
  // lgdt from memory at 0x500: limit, base
  dv.setUint16(0x500, 0x5f, true);
  dv.setUint32(0x502, GDT, true);
  sys.lgdt(0x500, 0, 32);
  assert.equal(cpu.gdtrBaseLo, GDT);
  sys.writeCr(0, 0x11, 0); // PE
  assert.equal(cpu.mode, Mode.Protected16, "CS still holds the real-mode cache");
  sys.farJump(SEL.KCODE32, 0x100000, 0);
  assert.equal(cpu.mode, Mode.Protected32);
  assert.equal(cpu.defaultOpSize, 32);
  sys.loadSegment(Seg.DS, SEL.KDATA);
  sys.loadSegment(Seg.SS, SEL.KDATA);
  sys.writeCr(4, 0x20, 0); // PAE
  sys.writeCr(3, 0x10000, 0);
  sys.wrmsr(0xc0000080, 0x100, 0); // LME
  sys.writeCr(0, 0x80000011 | 0, 0); // PG
  assert.equal(cpu.efer & EFER_LMA, EFER_LMA);
  assert.equal(cpu.mode, Mode.Compat32);
  assert.equal(sys.rdmsr(0xc0000080)[0], 0x500);
  sys.farJump(SEL.KCODE, 0x100200, 0);
  assert.equal(cpu.mode, Mode.Long64);
  assert.equal(cpu.defaultAddrSize, 64);
  assert.equal(cpu.defaultOpSize, 32);
  assert.equal(cpu.ripLo, 0x100200);
  // can't turn paging off in 64-bit mode
  assert.deepEqual(faultOf(m, () => sys.writeCr(0, 0x11, 0)), [Vec.GP, 0]);
});

test("CR writes: PG without PE, PAE cleared in long mode and unsupported CR4 bits raise #GP", () => {
  const m = makeMachine();
  assert.deepEqual(faultOf(m, () => m.sys.writeCr(0, 0x80000000 | 0, 0)), [Vec.GP, 0]);
  assert.deepEqual(faultOf(m, () => m.sys.writeCr(4, 1 << 20, 0)), [Vec.GP, 0], "SMEP");
  assert.deepEqual(faultOf(m, () => m.sys.writeCr(4, 1 << 18, 0)), [Vec.GP, 0], "OSXSAVE");
  m.sys.writeCr(4, 0x6b0, 0); // Linux's final CR4
  assert.equal(m.sys.readCr(4)[0], 0x6b0);
  assert.deepEqual(faultOf(m, () => m.sys.writeCr(5, 0, 0)), [Vec.UD, 0]);
  enterLongMode(m);
  assert.deepEqual(faultOf(m, () => m.sys.writeCr(4, 0x690, 0)), [Vec.GP, 0], "PAE off in long mode");
  m.sys.writeCr(8, 0xf, 0);
  assert.equal(m.sys.readCr(8)[0], 0xf);
});

test("CR3 writes keep global translations and drop the others; toggling CR4.PGE drops all", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { sys, dv } = m;
  dv.setUint8(0x1000, 0x11);
  assert.equal(sys.readLin8(0x80001000 | 0, -1), 0x11); // global kernel mapping
  assert.equal(sys.readLin8(0x1000, 0), 0x11); // non-global identity mapping
  put64(dv, 0x14000, (1 << 21) | 0x183); // kernel 2 MiB page 0 -> phys 2 MiB
  put64(dv, 0x12000, (1 << 21) | 0x87);
  dv.setUint8(0x201000, 0x22);
  sys.writeCr(3, 0x10000, 0);
  assert.equal(sys.readLin8(0x1000, 0), 0x22);
  assert.equal(sys.readLin8(0x80001000 | 0, -1), 0x11, "global entry survived");
  sys.writeCr(4, m.cpu.cr4 & ~0x80, 0);
  sys.writeCr(4, m.cpu.cr4 | 0x80, 0);
  assert.equal(sys.readLin8(0x80001000 | 0, -1), 0x22);
});

test("syscall and sysretq follow STAR/LSTAR/SFMASK and swap CPL", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys } = m;
  sys.wrmsr(0xc0000081, 0, 0x00230010);
  sys.wrmsr(0xc0000082, 0x81c00080 | 0, -1);
  sys.wrmsr(0xc0000084, 0x257fd5, 0);
  // as user: sysret first to get to CPL 3
  cpu.rlo[Reg.RCX] = 0x401000; cpu.rhi[Reg.RCX] = 0;
  cpu.rlo[Reg.R11] = 0x246;
  sys.sysret(64);
  assert.equal(cpu.cpl, 3);
  assert.equal(cpu.mode, Mode.Long64);
  assert.equal(cpu.segSel[Seg.CS], 0x33);
  assert.equal(cpu.segSel[Seg.SS], 0x2b);
  assert.equal(cpu.ripLo, 0x401000);
  assert.equal(sys.flags.getEflags(), 0x246);
  cpu.ripLo = 0x401010; // past the syscall instruction
  sys.syscall();
  assert.equal(cpu.cpl, 0);
  assert.equal(cpu.segSel[Seg.CS], 0x10);
  assert.equal(cpu.segSel[Seg.SS], 0x18);
  assert.equal(cpu.ripLo, 0x81c00080 | 0);
  assert.equal(cpu.ripHi, -1);
  assert.equal(cpu.rlo[Reg.RCX], 0x401010);
  assert.equal(cpu.rlo[Reg.R11], 0x246);
  assert.equal(sys.flags.getEflags() & (Fl.IF | Fl.DF | Fl.TF), 0, "masked by SFMASK");
  // sysretl to compatibility mode
  cpu.rlo[Reg.RCX] = 0x8048000; cpu.rlo[Reg.R11] = 0x202;
  sys.sysret(32);
  assert.equal(cpu.mode, Mode.Compat32);
  assert.equal(cpu.segSel[Seg.CS], 0x23);
  // non-canonical RCX -> #GP (from CPL 0)
  sys.syscall();
  cpu.rhi[Reg.RCX] = 0x8000;
  assert.deepEqual(faultOf(m, () => sys.sysret(64)), [Vec.GP, 0]);
});

test("syscall without EFER.SCE is #UD; sysret at CPL 3 is #GP", () => {
  const m = makeMachine();
  enterLongMode(m);
  m.sys.wrmsr(0xc0000080, 0xd00, 0);
  assert.deepEqual(faultOf(m, () => m.sys.syscall()), [Vec.UD, 0]);
  m.sys.wrmsr(0xc0000080, 0xd01, 0);
  m.sys.sysret(64);
  assert.deepEqual(faultOf(m, () => m.sys.sysret(64)), [Vec.GP, 0]);
});

test("swapgs exchanges GS.base with KERNEL_GS_BASE and needs CPL 0 in 64-bit mode", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys } = m;
  sys.wrmsr(0xc0000101, 0x0f800000, 0xffff8880 | 0);
  sys.wrmsr(0xc0000102, 0x1234, 0);
  sys.swapgs();
  assert.equal(cpu.segBaseLo[Seg.GS], 0x1234);
  assert.deepEqual([...sys.rdmsr(0xc0000102)], [0x0f800000, 0xffff8880 | 0]);
  cpu.cpl = 3; sys.updateMode();
  assert.deepEqual(faultOf(m, () => sys.swapgs()), [Vec.GP, 0]);
});

test("sysenter and sysexit use the SYSENTER MSRs", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys } = m;
  sys.wrmsr(0x174, 0x10, 0);
  sys.wrmsr(0x175, 0x3000, 0xfffffe00 | 0);
  sys.wrmsr(0x176, 0x81c01000 | 0, -1);
  sys.sysenter();
  assert.equal(cpu.ripLo, 0x81c01000 | 0);
  assert.equal(cpu.rhi[Reg.RSP], 0xfffffe00 | 0);
  cpu.rlo[Reg.RDX] = 0x8049000; cpu.rlo[Reg.RCX] = 0xbfff0000 | 0;
  sys.sysexit(32);
  assert.equal(cpu.cpl, 3);
  assert.equal(cpu.segSel[Seg.CS], 0x23);
  assert.equal(cpu.mode, Mode.Compat32);
});

test("far call and far return through the GDT, including lretq to reload CS", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  cpu.ripLo = 0x1005;
  sys.farCall(SEL.KCODE32, 0x2000, 0, 32);
  assert.equal(cpu.mode, Mode.Compat32);
  assert.equal(cpu.rlo[Reg.RSP], KSTACK - 8);
  assert.deepEqual([dv.getUint32(KSTACK - 8, true), dv.getUint32(KSTACK - 4, true)], [0x1005, SEL.KCODE]);
  sys.farReturn(32, 0);
  assert.equal(cpu.mode, Mode.Long64);
  assert.equal(cpu.ripLo, 0x1005);
  assert.equal(cpu.rlo[Reg.RSP], KSTACK);
  // lretq: push $cs; push $rip; lretq
  put64(dv, KSTACK - 16, 0x3000);
  put64(dv, KSTACK - 8, SEL.KCODE);
  cpu.rlo[Reg.RSP] = KSTACK - 16;
  sys.farReturn(64, 0);
  assert.equal(cpu.ripLo, 0x3000);
  assert.equal(cpu.rlo[Reg.RSP], KSTACK);
});

test("far jump to a non-code or not-present descriptor faults with the selector", () => {
  const m = makeMachine();
  enterLongMode(m);
  assert.deepEqual(faultOf(m, () => m.sys.farJump(SEL.KDATA, 0, 0)), [Vec.GP, SEL.KDATA]);
  assert.deepEqual(faultOf(m, () => m.sys.farJump(SEL.UCODE, 0, 0)), [Vec.GP, SEL.UCODE & ~3], "DPL 3 code from CPL 0");
  m.dv.setUint8(GDT + SEL.KCODE32 + 5, 0x1b); // clear P
  assert.deepEqual(faultOf(m, () => m.sys.farJump(SEL.KCODE32, 0, 0)), [Vec.NP, SEL.KCODE32]);
  assert.deepEqual(faultOf(m, () => m.sys.farJump(0x200, 0, 0)), [Vec.GP, 0x200], "beyond the GDT limit");
});

test("hlt halts; serviceInterrupts delivers an external vector only when IF is set and no shadow", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, irq, dv } = m;
  writeGate64(dv, 0xec, 0x81009000 | 0, -1);
  sys.hlt();
  assert.equal(cpu.halted, true);
  assert.equal(sys.instructionBudget(), 0);
  irq.pending.push(0xec);
  cpu.eflagsRest = 0x2;
  assert.equal(sys.serviceInterrupts(), false, "IF clear");
  cpu.eflagsRest = 0x202;
  cpu.interruptShadow = true;
  assert.equal(sys.serviceInterrupts(), false, "sti shadow");
  cpu.interruptShadow = false;
  assert.equal(sys.serviceInterrupts(), true);
  assert.equal(cpu.halted, false);
  assert.equal(cpu.ripLo, 0x81009000 | 0);
  assert.ok(sys.instructionBudget() > 0);
  cpu.cpl = 3; sys.updateMode();
  assert.deepEqual(faultOf(m, () => sys.hlt()), [Vec.GP, 0]);
});

test("port I/O at CPL 3 needs IOPL or the TSS bitmap", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, io } = m;
  assert.equal(sys.portIn(0x3fd, 1), 0x5a);
  sys.portOut(0x3f8, 1, 0x41);
  assert.deepEqual(io.log, ["in1 3fd", "out1 3f8=41"]);
  cpu.cpl = 3; sys.updateMode();
  assert.deepEqual(faultOf(m, () => sys.portIn(0x3fd, 1)), [Vec.GP, 0]);
  cpu.eflagsRest |= Fl.IOPL;
  sys.portOut(0x80, 1, 0);
});

test("vmcall passes the 64-bit hypercall arguments and writes the result to RAX", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, io, dv } = m;
  cpu.rlo[Reg.RAX] = 18; // console_io
  cpu.rlo[Reg.RDI] = 0; cpu.rlo[Reg.RSI] = 5; cpu.rlo[Reg.RDX] = 0x80005000 | 0; cpu.rhi[Reg.RDX] = -1;
  io.hypercallResult = -38n;
  sys.hypercall();
  assert.equal(io.hypercalls[0]!.nr, 18);
  assert.deepEqual(io.hypercalls[0]!.args.slice(0, 3), [0n, 5n, 0xffffffff80005000n]);
  assert.equal(io.hypercalls[0]!.longMode, true);
  assert.equal(cpu.rlo[Reg.RAX], -38);
  assert.equal(cpu.rhi[Reg.RAX], -1);
  // the GuestVirtualMemory reads through this vCPU's page tables
  dv.setUint32(0x5000, 0x6c6c6568, true);
  assert.deepEqual([...io.lastMem!.read(0xffffffff80005000n, 4)], [0x68, 0x65, 0x6c, 0x6c]);
  io.lastMem!.write(0x5002n, new Uint8Array([0x21]));
  assert.equal(dv.getUint8(0x5002), 0x21);
  assert.throws(() => io.lastMem!.read(0x100000000000n, 1), /not mapped/);
});

test("wrmsr 0x40000000 fills the hypercall page with vmcall stubs (or hands it to the Xen layer)", () => {
  const m = makeMachine();
  enterLongMode(m);
  m.sys.wrmsr(0x40000000, 0x7000, 0);
  const stub = [...m.ram.bytes.subarray(0x7000 + 17 * 32, 0x7000 + 17 * 32 + 9)];
  assert.deepEqual(stub, [0xb8, 17, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3]);
  assert.deepEqual(faultOf(m, () => m.sys.wrmsr(0x40000000, 0x7001, 0)), [Vec.GP, 0]);
  const seen: bigint[] = [];
  const x = makeMachine({ hypercallPage: (v) => { seen.push(v); return true; } });
  enterLongMode(x);
  x.sys.wrmsr(0x40000000, 0x8000, 0);
  assert.deepEqual(seen, [0x8000n]);
  const plain = makeMachine({ cpuid: { xen: false } });
  enterLongMode(plain);
  assert.deepEqual(faultOf(plain, () => plain.sys.wrmsr(0x40000000, 0x7000, 0)), [Vec.GP, 0]);
});

test("rdtsc derives from the clock at 2 GHz and never repeats a value", () => {
  const m = makeMachine();
  m.clock.t = 1_000_000_000; // 1 s
  const [lo, hi] = m.sys.rdtsc();
  assert.equal(hi * 2 ** 32 + (lo >>> 0), 2_000_000_000);
  const [lo2] = m.sys.rdtsc();
  assert.equal(lo2 >>> 0, 2_000_000_001);
  m.clock.t = 3_000_000_000;
  const [lo3, hi3] = m.sys.rdtsc();
  assert.equal(hi3 * 2 ** 32 + (lo3 >>> 0), 6_000_000_000);
  // IA32_TSC write offsets it
  m.sys.wrmsr(0x10, 1000, 0);
  assert.equal(m.sys.rdtsc()[0], 1000);
});

test("lidt/sidt and sgdt round-trip 64-bit bases", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  dv.setUint16(0x600, 0xfff, true);
  put64(dv, 0x602, 0xfe000000 | 0, 0xfffffe00 | 0);
  sys.lidt(0x600, 0, 64);
  assert.equal(cpu.idtrLimit, 0xfff);
  assert.equal(cpu.idtrBaseHi, 0xfffffe00 | 0);
  sys.sidt(0x700, 0);
  assert.equal(dv.getUint16(0x700, true), 0xfff);
  assert.equal(dv.getBigUint64(0x702, true), 0xfffffe00fe000000n);
  sys.sgdt(0x710, 0);
  assert.equal(dv.getUint32(0x712, true), GDT);
});

test("ltr marks the TSS busy and lldt loads a 16-byte LDT descriptor", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  assert.equal((dv.getUint8(GDT + SEL.TSS + 5) & 0xf), 0xb, "busy TSS");
  assert.equal(cpu.segAttr[Seg.TR] & 0xf, 0xb);
  // LDT at GDT+0x60 (after the 16-bit entries), base 0xffff888000004000
  put64(dv, GDT + 0x60, 0x4000ffff | 0, 0x00008200);
  put64(dv, GDT + 0x68, 0xffff8880 | 0, 0);
  cpu.gdtrLimit = 0x6f;
  sys.lldt(0x60);
  assert.equal(cpu.segBaseLo[Seg.LDTR], 0x4000);
  assert.equal(cpu.segBaseHi[Seg.LDTR], 0xffff8880 | 0);
  assert.equal(cpu.segAttr[Seg.LDTR] & SegAttr.Unusable, 0);
  sys.lldt(0);
  assert.notEqual(cpu.segAttr[Seg.LDTR] & SegAttr.Unusable, 0);
});

test("EmuSystem methods that read guest memory through the TLB fault with #PF and set CR2", () => {
  const m = makeMachine();
  enterLongMode(m);
  assert.deepEqual(faultOf(m, () => m.sys.lgdt(0, 0x10, 64)), [Vec.PF, 0]);
  assert.equal(m.cpu.cr2Hi, 0x10);
});

test("operand sizes are accepted in bytes (the core's os) as well as bits", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  put64(dv, KSTACK - 16, 0x3000);
  put64(dv, KSTACK - 8, SEL.KCODE);
  cpu.rlo[Reg.RSP] = KSTACK - 16;
  sys.farReturn(8, 0);
  assert.equal(cpu.rlo[Reg.RSP], KSTACK);
  sys.wrmsr(0xc0000081, 0, 0x00230010);
  cpu.rlo[Reg.RCX] = 0x401000;
  sys.sysret(8);
  assert.equal(cpu.mode, Mode.Long64);
  assert.equal(cpu.segSel[Seg.CS], 0x33);
});

test("a triple fault sets cpu.tripleFault so the core's run loop stops", () => {
  const m = makeMachine();
  enterLongMode(m);
  m.cpu.idtrLimit = 0;
  m.sys.deliverInterrupt(Vec.GP, "exception", true, 0);
  assert.equal(m.cpu.tripleFault, true);
  assert.equal(m.sys.serviceInterrupts(), false);
});

test("saveState/restoreState carry the MSRs and the TSC offset to another system", () => {
  const a = makeMachine();
  enterLongMode(a);
  a.sys.wrmsr(0xc0000082, 0x81c00080 | 0, -1);
  a.sys.wrmsr(0xc0010001, 0x430076, 0);
  a.sys.wrmsr(0x10, 5000, 0);
  const saved = JSON.parse(JSON.stringify(a.sys.saveState()));
  const b = makeMachine();
  enterLongMode(b);
  b.sys.restoreState(saved);
  assert.deepEqual([...b.sys.rdmsr(0xc0000082)], [0x81c00080 | 0, -1]);
  assert.deepEqual([...b.sys.rdmsr(0xc0010001)], [0x430076, 0]);
  assert.equal(b.sys.rdtsc()[0], 5000);
});

test("an NMI is delivered through vector 2 and blocks further NMIs until iret", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  writeGate64(dv, Vec.NMI, 0x8100a000 | 0, -1);
  cpu.eflagsRest = 0x202;
  cpu.ripLo = 0x1000;
  sys.nmi();
  assert.equal(sys.serviceInterrupts(), true);
  assert.equal(cpu.ripLo, 0x8100a000 | 0);
  cpu.eflagsRest |= Fl.IF;
  sys.nmi();
  assert.equal(sys.serviceInterrupts(), false, "blocked while the handler runs");
  sys.iret(8);
  assert.equal(cpu.ripLo, 0x1000);
  assert.equal(sys.serviceInterrupts(), true, "the pending NMI follows the iret");
});
