import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuFault, FAULT, Fl, Mode, Reg, Seg } from "./cpu_state.ts";
import { Vec } from "./fault.ts";
import {
  enterLongMode, IDT, IST1, KSTACK, makeMachine, put64, qwords, RSP0, SEL, writeGate64,
} from "./test_fixture.ts";

test("a long-mode exception at CPL 0 pushes SS, RSP, RFLAGS, CS, RIP and the error code on the 16-byte aligned stack", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  writeGate64(dv, Vec.GP, 0x81001000 | 0, -1);
  cpu.rlo[Reg.RSP] = KSTACK - 8; // misaligned on purpose
  cpu.ripLo = 0x401000;
  cpu.eflagsRest = 0x202;
  sys.deliverInterrupt(Vec.GP, "exception", true, 0x28);
  // frame at (KSTACK-8)&~15 - 48
  const top = (KSTACK - 8) & ~15;
  assert.equal(cpu.rlo[Reg.RSP], top - 48);
  assert.deepEqual(qwords(dv, top - 48, 6), [0x28n, 0x401000n, BigInt(SEL.KCODE), 0x202n, BigInt(KSTACK - 8), BigInt(SEL.KDATA)]);
  assert.equal(cpu.ripLo, 0x81001000 | 0);
  assert.equal(cpu.ripHi, -1);
  assert.equal(cpu.eflagsRest & Fl.IF, 0, "interrupt gate clears IF");
  assert.equal(cpu.mode, Mode.Long64);
});

test("an interrupt from CPL 3 switches to RSP0, loads a null SS with RPL 0 and pushes the user SS:RSP", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  writeGate64(dv, 0x20, 0x81002000 | 0, -1, { trap: true });
  cpu.cpl = 3;
  cpu.segSel[Seg.CS] = SEL.UCODE;
  cpu.segAttr[Seg.CS] |= 3 << 5;
  cpu.segSel[Seg.SS] = SEL.UDATA;
  sys.updateMode();
  cpu.rlo[Reg.RSP] = 0x7ffff000 | 0; cpu.rhi[Reg.RSP] = 0x7f;
  cpu.ripLo = 0x401234; cpu.ripHi = 0;
  cpu.eflagsRest = 0x202;
  sys.deliverInterrupt(0x20, "external", false, 0);
  assert.equal(cpu.cpl, 0);
  assert.equal(cpu.rlo[Reg.RSP], RSP0 - 40);
  assert.deepEqual(qwords(dv, RSP0 - 40, 5), [0x401234n, BigInt(SEL.UCODE), 0x202n, 0x7f7ffff000n, BigInt(SEL.UDATA)]);
  assert.equal(cpu.segSel[Seg.SS], 0);
  assert.equal(cpu.segSel[Seg.CS], SEL.KCODE);
  assert.equal(cpu.eflagsRest & Fl.IF, Fl.IF, "trap gate keeps IF");
  assert.equal(sys.user, false, "TLB sets switched to supervisor");
});

test("an IST gate always switches to the IST stack, even at the same privilege level", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  writeGate64(dv, Vec.DF, 0x81003000 | 0, -1, { ist: 1 });
  sys.deliverInterrupt(Vec.DF, "exception", true, 0);
  assert.equal(cpu.rlo[Reg.RSP], IST1 - 48);
  assert.equal(dv.getBigUint64(IST1 - 8, true), BigInt(SEL.KDATA));
  assert.equal(dv.getBigUint64(IST1 - 16, true), BigInt(KSTACK));
});

test("software int checks the gate DPL, and iretq returns to the interrupted context", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  writeGate64(dv, 0x80, 0x81004000 | 0, -1, { dpl: 0 });
  writeGate64(dv, Vec.GP, 0x81005000 | 0, -1);
  // From CPL 3, int 0x80 with a DPL 0 gate -> #GP(0x80*8+2)
  cpu.cpl = 3;
  cpu.segSel[Seg.CS] = SEL.UCODE;
  cpu.segSel[Seg.SS] = SEL.UDATA;
  sys.updateMode();
  cpu.rlo[Reg.RSP] = 0x100000;
  cpu.ripLo = 0x400002;
  // The #GP is a fault of the int instruction: thrown back to the core, which delivers it (as here).
  assert.throws(() => sys.deliverInterrupt(0x80, "software", false, 0), (e) => e === FAULT);
  assert.equal(cpu.faultVector, Vec.GP);
  assert.equal(cpu.ripLo, 0x400002, "RIP untouched");
  sys.deliverInterrupt(cpu.faultVector, "exception", cpu.faultHasError, cpu.faultErrorCode);
  assert.equal(cpu.ripLo, 0x81005000 | 0);
  assert.equal(dv.getBigUint64(RSP0 - 48, true), BigInt(0x80 * 8 + 2), "error code names the gate");
  // iretq back to CPL 3 (discard the error code first, as a handler does)
  cpu.rlo[Reg.RSP] = RSP0 - 40;
  sys.iret(64);
  assert.equal(cpu.cpl, 3);
  assert.equal(cpu.mode, Mode.Long64);
  assert.equal(cpu.ripLo, 0x400002);
  assert.equal(cpu.rlo[Reg.RSP], 0x100000);
  assert.equal(cpu.segSel[Seg.SS], SEL.UDATA);
  assert.equal(cpu.segSel[Seg.CS], SEL.UCODE);
  assert.equal(sys.user, true);
});

test("iretq to self at CPL 0 (the kernel's serializing idiom) restores RSP, flags and RIP", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  // push ss; push rsp; pushfq; push cs; push rip as sync_core() does
  const sp = KSTACK - 40;
  put64(dv, sp, 0x81000123 | 0, -1);
  put64(dv, sp + 8, SEL.KCODE);
  put64(dv, sp + 16, 0x246);
  put64(dv, sp + 24, KSTACK);
  put64(dv, sp + 32, SEL.KDATA);
  cpu.rlo[Reg.RSP] = sp;
  cpu.eflagsRest = 0x2;
  sys.iret(64);
  assert.equal(cpu.ripLo, 0x81000123 | 0);
  assert.equal(cpu.ripHi, -1);
  assert.equal(cpu.rlo[Reg.RSP], KSTACK);
  assert.equal(sys.flags.getEflags(), 0x246);
  assert.equal(cpu.cpl, 0);
});

test("iretq with a null SS is allowed when returning to CPL 0 in 64-bit mode", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  const sp = KSTACK - 40;
  put64(dv, sp, 0x1000);
  put64(dv, sp + 8, SEL.KCODE);
  put64(dv, sp + 16, 0x2);
  put64(dv, sp + 24, 0x7000);
  put64(dv, sp + 32, 0);
  cpu.rlo[Reg.RSP] = sp;
  sys.iret(64);
  assert.equal(cpu.segSel[Seg.SS], 0);
  assert.equal(cpu.rlo[Reg.RSP], 0x7000);
});

test("a #PF during delivery of a #PF becomes #DF; a fault during #DF is a triple fault", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  writeGate64(dv, Vec.PF, 0x81006000 | 0, -1);
  writeGate64(dv, Vec.DF, 0x81007000 | 0, -1, { ist: 1 });
  cpu.rlo[Reg.RSP] = 0; cpu.rhi[Reg.RSP] = 0x10; // unmapped stack: pushing faults with #PF
  sys.deliverInterrupt(Vec.PF, "exception", true, 2);
  assert.equal(cpu.ripLo, 0x81007000 | 0, "#DF handler on the IST stack");
  assert.equal(dv.getBigUint64(IST1 - 48, true), 0n, "#DF error code 0");
  // Now make #DF itself undeliverable.
  writeGate64(dv, Vec.DF, 0x81007000 | 0, -1, { present: false });
  sys.deliverInterrupt(Vec.DF, "exception", true, 0);
  assert.equal(m.tripleFaults.length, 1);
  assert.equal(cpu.halted, true);
});

test("an empty IDT turns int3 into a triple fault (reboot=t)", () => {
  const m = makeMachine();
  enterLongMode(m);
  m.cpu.idtrLimit = 0;
  assert.throws(() => m.sys.deliverInterrupt(Vec.BP, "software", false, 0), (e) => e === FAULT);
  assert.equal(m.cpu.faultVector, Vec.GP);
  assert.equal(m.cpu.faultErrorCode, Vec.BP * 8 + 2);
  m.sys.deliverInterrupt(m.cpu.faultVector, "exception", m.cpu.faultHasError, m.cpu.faultErrorCode);
  assert.equal(m.tripleFaults.length, 1);
});

test("real-mode interrupts go through the IVT and iret returns", () => {
  const m = makeMachine();
  const { cpu, sys, dv } = m;
  cpu.segSel[Seg.CS] = 0x1000; cpu.segBaseLo[Seg.CS] = 0x10000;
  cpu.segSel[Seg.SS] = 0; cpu.segBaseLo[Seg.SS] = 0;
  cpu.rlo[Reg.RSP] = 0x7c00;
  cpu.ripLo = 0x0123;
  cpu.eflagsRest = 0x202;
  dv.setUint16(0x10 * 4, 0x5678, true);
  dv.setUint16(0x10 * 4 + 2, 0xf000, true);
  sys.deliverInterrupt(0x10, "software", false, 0);
  assert.equal(cpu.segSel[Seg.CS], 0xf000);
  assert.equal(cpu.segBaseLo[Seg.CS], 0xf0000);
  assert.equal(cpu.ripLo, 0x5678);
  assert.equal(cpu.rlo[Reg.RSP], 0x7c00 - 6);
  assert.deepEqual([dv.getUint16(0x7bfa, true), dv.getUint16(0x7bfc, true), dv.getUint16(0x7bfe, true)], [0x0123, 0x1000, 0x202]);
  assert.equal(cpu.eflagsRest & Fl.IF, 0);
  sys.iret(16);
  assert.equal(cpu.segSel[Seg.CS], 0x1000);
  assert.equal(cpu.ripLo, 0x0123);
  assert.equal(cpu.rlo[Reg.RSP], 0x7c00);
  assert.equal(cpu.eflagsRest & Fl.IF, Fl.IF);
});

test("32-bit protected mode: an interrupt from CPL 3 switches to SS0:ESP0 from the TSS", () => {
  const m = makeMachine();
  const { cpu, sys, dv } = m;
  // GDT: 0x08 code32 DPL0, 0x10 data DPL0, 0x1b code32 DPL3, 0x23 data DPL3, 0x28 TSS32 at 0x3000
  const gdt = 0x1000;
  put64(dv, gdt + 0x08, 0x0000ffff, 0x00cf9b00);
  put64(dv, gdt + 0x10, 0x0000ffff, 0x00cf9300);
  put64(dv, gdt + 0x18, 0x0000ffff, 0x00cffb00);
  put64(dv, gdt + 0x20, 0x0000ffff, 0x00cff300);
  put64(dv, gdt + 0x28, 0x30000067, 0x00008900);
  dv.setUint32(0x3000 + 4, 0x9000, true); // esp0
  dv.setUint32(0x3000 + 8, 0x10, true);   // ss0
  // 32-bit interrupt gate 0x21 -> 0x08:0x12345678
  dv.setUint32(0x2000 + 0x21 * 8, (0x08 << 16) | 0x5678, true);
  dv.setUint32(0x2000 + 0x21 * 8 + 4, (0x1234 << 16) | 0x8e00, true);
  cpu.gdtrBaseLo = gdt; cpu.gdtrLimit = 0x2f;
  cpu.idtrBaseLo = 0x2000; cpu.idtrLimit = 0x7ff;
  sys.writeCr(0, 0x11, 0);
  sys.farJump(0x08, 0x100, 0);
  assert.equal(cpu.mode, Mode.Protected32);
  sys.ltr(0x28);
  // drop to CPL 3 with iret: frame eip, cs, eflags, esp, ss
  cpu.rlo[Reg.RSP] = 0x7000;
  sys.loadSegment(Seg.SS, 0x10);
  dv.setUint32(0x7000, 0x400000, true);
  dv.setUint32(0x7004, 0x1b, true);
  dv.setUint32(0x7008, 0x202, true);
  dv.setUint32(0x700c, 0x6000, true);
  dv.setUint32(0x7010, 0x23, true);
  sys.iret(32);
  assert.equal(cpu.cpl, 3);
  assert.equal(cpu.rlo[Reg.RSP], 0x6000);
  sys.deliverInterrupt(0x21, "external", false, 0);
  assert.equal(cpu.cpl, 0);
  assert.equal(cpu.segSel[Seg.SS], 0x10);
  assert.equal(cpu.rlo[Reg.RSP], 0x9000 - 20);
  assert.deepEqual([0, 4, 8, 12, 16].map((o) => dv.getUint32(0x9000 - 20 + o, true)), [0x400000, 0x1b, 0x202, 0x6000, 0x23]);
  assert.equal(cpu.ripLo, 0x12345678);
});

test("a fault thrown by delivery surfaces as CpuFault only through the double-fault logic", () => {
  const m = makeMachine();
  enterLongMode(m);
  // benign external interrupt whose gate is not present -> #NP delivered instead (then #GP/#DF chain).
  writeGate64(m.dv, 0x30, 0x1000, 0, { present: false });
  writeGate64(m.dv, Vec.NP, 0x81008000 | 0, -1);
  assert.doesNotThrow(() => m.sys.deliverInterrupt(0x30, "external", false, 0));
  assert.equal(m.cpu.ripLo, 0x81008000 | 0);
  assert.equal(m.dv.getBigUint64(KSTACK - 48, true), BigInt(0x30 * 8 + 2 + 1), "error code with IDT and EXT bits");
  assert.ok(!(m.cpu instanceof CpuFault));
});

void IDT;
