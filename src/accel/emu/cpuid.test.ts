import { test } from "node:test";
import assert from "node:assert/strict";
import { Cpuid1Ecx, Cpuid1Edx, CpuidExt1Edx, CPUID_FEATURES, CpuidModel } from "./cpuid.ts";

function str(...regs: number[]): string {
  return regs.map((r) => String.fromCharCode(r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, (r >>> 24) & 0xff)).join("");
}

test("vendor, max leaves and brand string", () => {
  const c = new CpuidModel({ vcpuId: 0, xen: true });
  const [a, b, cx, d] = c.query(0, 0);
  assert.equal(a, 0xd);
  assert.equal(str(b, d, cx), "AuthenticAMD");
  assert.equal(c.query(0x80000000, 0)[0] >>> 0, 0x80000008);
  let brand = "";
  for (let l = 0x80000002; l <= 0x80000004; l++) brand += str(...c.query(l, 0));
  assert.equal(brand.replace(/\0+$/, ""), "tsxen emu x86-64");
  assert.equal(c.query(0x80000008, 0)[0], 0x3028, "48-bit linear, 40-bit physical");
});

test("leaf 1 and 0x80000001 advertise exactly the minimal model", () => {
  const c = new CpuidModel({ vcpuId: 3, xen: false });
  const [eax, ebx, ecx, edx] = c.query(1, 0);
  assert.equal(eax, 0x00060fb1);
  assert.equal(ebx >>> 24, 3, "initial APIC id = vcpu id");
  assert.equal((ebx >>> 8) & 0xff, 8, "clflush line 64 bytes");
  for (const f of [Cpuid1Edx.FPU, Cpuid1Edx.PSE, Cpuid1Edx.TSC, Cpuid1Edx.MSR, Cpuid1Edx.PAE, Cpuid1Edx.CX8, Cpuid1Edx.APIC,
    Cpuid1Edx.CMOV, Cpuid1Edx.MMX, Cpuid1Edx.FXSR, Cpuid1Edx.SSE, Cpuid1Edx.SSE2, Cpuid1Edx.PGE, Cpuid1Edx.PAT, Cpuid1Edx.CLFLUSH]) {
    assert.notEqual(edx & f, 0);
  }
  for (const f of [Cpuid1Edx.MCE, Cpuid1Edx.MCA, Cpuid1Edx.MTRR, Cpuid1Edx.SEP, Cpuid1Edx.VME, Cpuid1Edx.DE, Cpuid1Edx.PSE36]) {
    assert.equal(edx & f, 0);
  }
  assert.equal(ecx, Cpuid1Ecx.HYPERVISOR | 0, "no SSE3+, CX16, POPCNT, XSAVE, AVX, x2APIC, TSC-deadline");
  const e = c.query(0x80000001, 0);
  for (const f of [CpuidExt1Edx.SYSCALL, CpuidExt1Edx.NX, CpuidExt1Edx.LM, CpuidExt1Edx.PDPE1GB]) assert.notEqual(e[3] & f, 0);
  assert.equal(e[3] & CpuidExt1Edx.RDTSCP, 0);
  assert.equal(e[2], 0);
  assert.deepEqual([...c.query(7, 0)], [0, 0, 0, 0]);
  assert.deepEqual([...c.query(0xd, 1)], [0, 0, 0, 0]);
  assert.equal(CPUID_FEATURES.leaf1Ecx & Cpuid1Ecx.POPCNT, 0, "the core can check what is advertised");
  assert.equal(new CpuidModel({ vcpuId: 0, xen: false, tscDeadline: true }).query(1, 0)[2] & Cpuid1Ecx.TSC_DEADLINE, Cpuid1Ecx.TSC_DEADLINE);
});

test("the Xen leaves say XenVMMXenVMM 4.17 with the hypercall MSR and the vcpu id, and switch off", () => {
  const c = new CpuidModel({ vcpuId: 1, xen: true, domid: 7 });
  const [max, b, cx, d] = c.query(0x40000000, 0);
  assert.equal(max, 0x40000004);
  assert.equal(str(b, cx, d), "XenVMMXenVMM");
  assert.equal(c.query(0x40000001, 0)[0], (4 << 16) | 17);
  assert.deepEqual([...c.query(0x40000002, 0)].slice(0, 2), [1, 0x40000000]);
  const [flags, vcpu, domid] = c.query(0x40000004, 0);
  assert.equal(flags, 8 | 16 | 64);
  assert.equal(vcpu, 1);
  assert.equal(domid, 7);
  assert.equal(c.query(0x40000003, 0)[2], 2_000_000);
  assert.deepEqual([...c.query(0x40000100, 0)], [0, 0, 0, 0], "no second signature further up");
  const off = new CpuidModel({ vcpuId: 0, xen: false });
  assert.deepEqual([...off.query(0x40000000, 0)], [0, 0, 0, 0]);
});

test("hypervisor leaves can be replaced by the Xen layer's list", () => {
  const c = new CpuidModel({
    vcpuId: 0, xen: true,
    hypervisorLeaves: [{ function: 0x40000000, index: 0, eax: 0x40000004, ebx: 1, ecx: 2, edx: 3 }],
  });
  assert.deepEqual([...c.query(0x40000000, 0)], [0x40000004, 1, 2, 3]);
  assert.deepEqual([...c.query(0x40000001, 0)], [0, 0, 0, 0]);
});
