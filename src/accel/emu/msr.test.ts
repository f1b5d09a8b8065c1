import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuFault, Seg } from "./cpu_state.ts";
import { Vec } from "./fault.ts";
import { enterLongMode, makeMachine } from "./test_fixture.ts";

function gp(m: ReturnType<typeof makeMachine>, fn: () => unknown): void {
  assert.throws(fn, (e) => e instanceof CpuFault);
  assert.equal(m.cpu.faultVector, Vec.GP);
  assert.equal(m.cpu.faultErrorCode, 0);
}

test("unknown MSRs raise #GP(0) on read and write (rdmsr_safe relies on it)", () => {
  const m = makeMachine();
  enterLongMode(m);
  for (const msr of [0x1a0, 0x3a, 0x4b564d00, 0xc0010114, 0x6e0]) gp(m, () => m.sys.rdmsr(msr));
  gp(m, () => m.sys.wrmsr(0x1a0, 0, 0));
});

test("the boot profile's MSRs read and write back", () => {
  const m = makeMachine();
  enterLongMode(m);
  const { sys } = m;
  const rw: [number, number, number][] = [
    [0x174, 0x10, 0], [0x175, 0x3000, 0xfffffe00 | 0], [0x176, 0x81c01000 | 0, -1], [0xc0000081, 0, 0x00230010],
    [0xc0000082, 0x81c00080 | 0, -1], [0xc0000083, 0x81c00100 | 0, -1], [0xc0000084, 0x257fd5, 0],
    [0xc0000100, 0x4c0000, 0], [0xc0000101, 0x0f800000, 0xffff8880 | 0], [0xc0000102, 0, 0],
    [0x277, 0x00070406, 0x00070106], [0xc0010000, 0x430076, 0], [0xc0010015, 0x40, 0], [0xc0011029, 2, 0],
    [0xc0000103, 1, 0], [0x2ff, 0xc06, 0],
  ];
  for (const [msr, lo, hi] of rw) {
    sys.wrmsr(msr, lo, hi);
    assert.deepEqual([...sys.rdmsr(msr)], [lo, hi], `MSR ${msr.toString(16)}`);
  }
  assert.equal(m.cpu.segBaseHi[Seg.GS], 0xffff8880 | 0, "GS_BASE is the GS base");
  for (const msr of [0x8b, 0x179, 0xfe, 0xc0010055]) assert.deepEqual([...sys.rdmsr(msr)], [0, 0]);
  sys.wrmsr(0xc0010007, 0xffff, 0); // Linux's check_hw_exists(): no vPMU, the counter reads back 0
  assert.deepEqual([...sys.rdmsr(0xc0010007)], [0, 0]);
  assert.equal(sys.rdmsr(0x1b)[0] >>> 0, 0xfee00900, "APIC at 0xfee00000, enabled, BSP");
});

test("invalid values raise #GP: non-canonical bases, reserved EFER bits, bad PAT types, LME with paging on", () => {
  const m = makeMachine();
  enterLongMode(m);
  gp(m, () => m.sys.wrmsr(0xc0000100, 0, 0x8000));
  gp(m, () => m.sys.wrmsr(0xc0000080, 0xd01 | (1 << 12), 0));
  gp(m, () => m.sys.wrmsr(0xc0000080, 0x801, 0)); // clearing LME while paging
  gp(m, () => m.sys.wrmsr(0x277, 0x02, 0));
  m.sys.wrmsr(0xc0000080, 0x501, 0); // NXE off keeps LMA
  assert.equal(m.sys.rdmsr(0xc0000080)[0], 0x501);
});

test("rdmsr and wrmsr need CPL 0", () => {
  const m = makeMachine();
  enterLongMode(m);
  m.cpu.cpl = 3;
  m.sys.updateMode();
  gp(m, () => m.sys.rdmsr(0xc0000080));
});

test("an MSR delegate (the LAPIC) is asked first", () => {
  const writes: bigint[] = [];
  const m = makeMachine({
    msrDelegate: {
      readMsr: (msr) => (msr === 0x1b ? 0xfee00d00n : msr === 0x6e0 ? 0x123456789n : undefined),
      writeMsr: (msr, v) => (msr === 0x6e0 ? (writes.push(v), true) : msr === 0x1b ? false : undefined),
    },
  });
  enterLongMode(m);
  assert.equal(m.sys.rdmsr(0x1b)[0] >>> 0, 0xfee00d00);
  assert.deepEqual([...m.sys.rdmsr(0x6e0)], [0x23456789, 1]);
  m.sys.wrmsr(0x6e0, 5, 1);
  assert.deepEqual(writes, [0x100000005n]);
  gp(m, () => m.sys.wrmsr(0x1b, 0, 0));
  m.sys.wrmsr(0xc0000081, 1, 2); // not the delegate's
});
