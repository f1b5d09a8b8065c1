// The emu CPU's MSR path reaches the LAPIC's x2APIC registers (devices/lapic): rdmsr/wrmsr of 0x800-0x8ff on
// an EmuMachine vCPU, #GP where the SDM says, and the x2APIC bit stays out of CPUID (see lapic.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuFault } from "./cpu_state.ts";
import { Vec } from "./fault.ts";
import { EmuMachine } from "./machine.ts";

function machine(vcpus = 1): EmuMachine {
  const bytes = new Uint8Array(new SharedArrayBuffer(4 << 20));
  return new EmuMachine({
    ram: { bytes, sizeBytes: bytes.length },
    vcpus,
    type: "pvh",
    entry: { kind: "pvh32", entry: 0x100000, ebx: 0 },
    console: () => {},
    log: () => {},
    shutdown: () => {},
  });
}

function gp(m: EmuMachine, fn: () => unknown, what: string): void {
  assert.throws(fn, (e) => e instanceof CpuFault, what);
  assert.equal(m.vcpus[0]!.state.faultVector, Vec.GP, what);
  assert.equal(m.vcpus[0]!.state.faultErrorCode, 0, what);
}

test("x2APIC MSRs raise #GP in xAPIC mode and work once APIC_BASE.EXTD is set", () => {
  const m = machine(2);
  const { sys } = m.vcpus[0]!;
  gp(m, () => sys.rdmsr(0x802), "ID in xAPIC mode");
  gp(m, () => sys.wrmsr(0x80b, 0, 0), "EOI in xAPIC mode");
  sys.wrmsr(0x1b, 0xfee00d00 | 0, 0);
  assert.equal(sys.rdmsr(0x1b)[0] >>> 0, 0xfee00d00);
  assert.deepEqual([...sys.rdmsr(0x802)], [0, 0]);
  assert.deepEqual([...sys.rdmsr(0x80d)], [1, 0]);
  assert.deepEqual([...m.vcpus[1]!.sys.rdmsr(0x1b)].map((v) => v >>> 0), [0xfee00800, 0], "the AP stays in xAPIC mode");
  sys.wrmsr(0x80f, 0x1ff, 0);
  sys.wrmsr(0x83f, 0xf3, 0); // self-IPI
  assert.equal(m.pc.lapics[0]!.hasPendingInterrupt(), true);
  assert.equal(m.pc.lapics[0]!.acknowledge(), 0xf3);
  sys.wrmsr(0x80b, 0, 0);
  assert.deepEqual([...sys.rdmsr(0x811)], [0, 0], "ISR word 1 is clear after EOI");
  gp(m, () => sys.rdmsr(0x80b), "EOI is write-only");
  gp(m, () => sys.wrmsr(0x80b, 1, 0), "non-zero EOI");
  gp(m, () => sys.wrmsr(0x802, 5, 0), "ID is read-only");
  gp(m, () => sys.wrmsr(0x808, 0, 1), "bits 63:32 of TPR");
  gp(m, () => sys.wrmsr(0x1b, 0xfee00900 | 0, 0), "x2APIC → xAPIC");
  sys.wrmsr(0x830, 0x40, 1); // fixed vector 0x40 to x2APIC ID 1 (high half = destination)
  assert.deepEqual([...sys.rdmsr(0x830)], [0x40, 1]);
});

test("the emu CPU does not advertise x2APIC in CPUID (Linux would switch to it)", () => {
  const m = machine();
  const ecx = m.vcpus[0]!.sys.cpuid(1, 0)[2];
  assert.equal(ecx & (1 << 21), 0);
});
