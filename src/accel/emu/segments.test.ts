import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuFault, Mode, Seg, SegAttr } from "./cpu_state.ts";
import { Vec } from "./fault.ts";
import { enterLongMode, GDT, makeMachine, put64, SEL } from "./test_fixture.ts";

function faultOf(m: { cpu: { faultVector: number; faultErrorCode: number } }, fn: () => unknown): [number, number] {
  assert.throws(fn, (e) => e instanceof CpuFault);
  return [m.cpu.faultVector, m.cpu.faultErrorCode];
}

test("real-mode loads set base = selector << 4 and keep the cached limit (unreal mode)", () => {
  const m = makeMachine();
  m.cpu.segLimit[Seg.DS] = -1;
  m.sys.loadSegment(Seg.DS, 0x1234);
  assert.equal(m.cpu.segSel[Seg.DS], 0x1234);
  assert.equal(m.cpu.segBaseLo[Seg.DS], 0x12340);
  assert.equal(m.cpu.segLimit[Seg.DS], -1);
  m.sys.farJump(0x2000, 0x10, 0);
  assert.equal(m.cpu.segBaseLo[Seg.CS], 0x20000);
  assert.equal(m.cpu.mode, Mode.Real);
});

test("protected-mode data loads decode base, limit (with G) and attributes and set the accessed bit", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  // 0x60: data, base 0x12345678, limit 0xabcde (byte granular), DPL 0, not yet accessed
  put64(dv, GDT + 0x60, 0x5678bcde | 0, 0x120a9234);
  cpu.gdtrLimit = 0x67;
  sys.loadSegment(Seg.FS, 0x60);
  assert.equal(cpu.segBaseLo[Seg.FS], 0x12345678);
  assert.equal(cpu.segLimit[Seg.FS], 0xabcde);
  assert.equal(cpu.segAttr[Seg.FS] & 0xff, 0x93);
  assert.equal(dv.getUint8(GDT + 0x65), 0x93, "accessed bit written back");
  sys.loadSegment(Seg.ES, SEL.KDATA);
  assert.equal(cpu.segLimit[Seg.ES], -1, "4 GiB with G");
  assert.equal(cpu.segAttr[Seg.ES] & SegAttr.DB, SegAttr.DB);
});

test("null selectors: fine for data segments, #GP for SS outside 64-bit mode or at CPL 3", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys } = m;
  sys.loadSegment(Seg.DS, 0);
  assert.notEqual(cpu.segAttr[Seg.DS] & SegAttr.Unusable, 0);
  sys.loadSegment(Seg.SS, 0); // 64-bit mode, CPL 0
  assert.equal(cpu.segSel[Seg.SS], 0);
  sys.farJump(SEL.KCODE32, 0x1000, 0); // compatibility mode
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.SS, 0)), [Vec.GP, 0]);
});

test("type, privilege and presence checks raise #GP(sel), #SS(sel) or #NP(sel)", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.SS, SEL.KCODE)), [Vec.GP, SEL.KCODE], "code into SS");
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.SS, SEL.UDATA)), [Vec.GP, SEL.UDATA & ~3], "RPL != CPL");
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.DS, SEL.TSS)), [Vec.GP, SEL.TSS], "system descriptor");
  sys.loadSegment(Seg.DS, SEL.KCODE); // readable code is fine in DS
  dv.setUint8(GDT + SEL.KDATA + 5, 0x13); // not present
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.DS, SEL.KDATA)), [Vec.NP, SEL.KDATA]);
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.SS, SEL.KDATA)), [Vec.SS, SEL.KDATA]);
  dv.setUint8(GDT + SEL.KDATA + 5, 0x93);
  // from CPL 3, a DPL 0 data segment is refused
  cpu.cpl = 3; sys.updateMode();
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.DS, SEL.KDATA)), [Vec.GP, SEL.KDATA]);
  sys.loadSegment(Seg.DS, SEL.UDATA);
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.CS, SEL.UCODE)), [Vec.UD, 0], "mov cs");
  // LDT selector with no LDT
  assert.deepEqual(faultOf(m, () => sys.loadSegment(Seg.DS, 0x0f)), [Vec.GP, 0x0c]);
});

test("a 64-bit code segment (L=1) selects 64-bit mode, and the defaults follow CS.D elsewhere", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys } = m;
  assert.equal(cpu.mode, Mode.Long64);
  sys.farJump(SEL.CODE16, 0x10, 0);
  assert.equal(cpu.mode, Mode.Compat16);
  assert.equal(cpu.defaultOpSize, 16);
  sys.farJump(SEL.KCODE32, 0x10, 0);
  assert.equal(cpu.mode, Mode.Compat32);
  assert.equal(cpu.defaultAddrSize, 32);
  sys.farJump(SEL.KCODE, 0x10, 0xffff8000 | 0);
  assert.equal(cpu.mode, Mode.Long64);
  assert.deepEqual(faultOf(m, () => sys.farJump(SEL.KCODE, 0, 0x8000)), [Vec.GP, 0], "non-canonical target");
  assert.deepEqual(faultOf(m, () => sys.farJump(SEL.CODE16, 0x10000, 0)), [Vec.GP, 0], "beyond the limit");
});

test("a far return to an outer privilege level pops SS:RSP and nulls data segments above the new CPL", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { cpu, sys, dv } = m;
  sys.loadSegment(Seg.DS, SEL.KDATA);
  const sp = 0x7000;
  put64(dv, sp, 0x401000);
  put64(dv, sp + 8, SEL.UCODE);
  put64(dv, sp + 16 + 8, 0x7ff000); // after 8 bytes of popped parameters
  put64(dv, sp + 24 + 8, SEL.UDATA);
  cpu.rlo[4] = sp;
  sys.farReturn(64, 8);
  assert.equal(cpu.cpl, 3);
  assert.equal(cpu.rlo[4], 0x7ff000 + 8);
  assert.equal(cpu.segSel[Seg.SS], SEL.UDATA);
  assert.notEqual(cpu.segAttr[Seg.DS] & SegAttr.Unusable, 0, "DS with DPL 0 nulled");
});
