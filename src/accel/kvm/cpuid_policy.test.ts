import { test } from "node:test";
import assert from "node:assert/strict";
import { guestCpuid } from "./cpuid_policy.ts";
import { applyBootEntry } from "./boot_state.ts";
import { KvmRegs } from "../../abi/kvm/regs.ts";
import { decodeSregs, KVM_SREGS_SIZE } from "../../abi/kvm/sregs.ts";

const leaf = (fn: number, ebx = 0, ecx = 0) => ({ function: fn, index: 0, flags: 0, eax: 0, ebx, ecx, edx: 0 });

test("guestCpuid() replaces KVM's hypervisor leaves with Xen's and sets the APIC id and hypervisor bit", () => {
  const out = guestCpuid([leaf(0), leaf(1, 0x00010800, 0x1), leaf(0x40000000, 0x4b4d564b), leaf(0x40000001)], { vcpuId: 3, domid: 9 });
  const base = out.filter((e) => e.function === 0x40000000);
  assert.equal(base.length, 1);
  assert.equal(base[0]!.ebx, 0x566e6558, "XenV");
  const l1 = out.find((e) => e.function === 1)!;
  assert.equal(l1.ebx >>> 24, 3);
  assert.equal(l1.ecx >>> 31, 1);
  assert.equal(out.find((e) => e.function === 0x40000004)!.ecx, 9);
});

test("guestCpuid() advertises the upcall vector only when event channels are served", () => {
  const leaf4 = (upcallVector: boolean) => guestCpuid([], { vcpuId: 0, domid: 1, upcallVector }).find((e) => e.function === 0x40000004)!;
  assert.equal(leaf4(false).eax & 64, 0);
  assert.equal(leaf4(true).eax & 64, 64);
});

test("guestCpuid() hides CX16 only when asked (kvm_pvm quirk)", () => {
  const l1 = (hideCx16: boolean) => guestCpuid([leaf(1, 0, 1 << 13)], { vcpuId: 0, domid: 1, hideCx16 }).find((e) => e.function === 1)!;
  assert.equal(l1(false).ecx & (1 << 13), 1 << 13);
  assert.equal(l1(true).ecx & (1 << 13), 0);
});

test("applyBootEntry() sets up PVH 32-bit entry: flat protected mode, paging off, EBX = start_info", () => {
  const regs = new KvmRegs();
  const s = decodeSregs(new Uint8Array(KVM_SREGS_SIZE));
  applyBootEntry({ kind: "pvh32", entry: 0x100000, ebx: 0x6000 }, regs, s);
  assert.equal(regs.get("rip"), 0x100000n);
  assert.equal(regs.get("rbx"), 0x6000n);
  assert.equal(regs.get("rflags"), 2n);
  assert.equal(s.cr0, 0x11n);
  assert.equal(s.efer, 0n);
  assert.deepEqual([s.cs.type, s.cs.db, s.cs.g, s.cs.limit, s.cs.l], [0xb, 1, 1, 0xffffffff, 0]);
  assert.deepEqual([s.ss.type, s.ds.db], [3, 1]);
  assert.deepEqual([s.tr.type, s.tr.limit, s.tr.s], [11, 0x67, 0]);
});

test("applyBootEntry() sets up the Linux 64-bit entry in long mode with RSI = boot_params", () => {
  const regs = new KvmRegs();
  const s = decodeSregs(new Uint8Array(KVM_SREGS_SIZE));
  applyBootEntry({ kind: "linux64", entry: 0x1000200n, rsi: 0x7000, cr3: 0x9000, gdtBase: 0x500 }, regs, s);
  assert.equal(regs.get("rsi"), 0x7000n);
  assert.equal(s.efer, 0x500n);
  assert.equal(s.cr3, 0x9000n);
  assert.equal(s.cs.l, 1);
});
