import { test } from "node:test";
import assert from "node:assert/strict";
import { KvmRegs } from "./regs.ts";
import { decodeSregs, encodeSregs, KVM_SREGS_SIZE } from "./sregs.ts";
import { decodeCpuid2, encodeCpuid2, emptyCpuid2 } from "./cpuid.ts";
import { encodeEnableCap, encodeMsi, encodeMsrFilter, encodeSignalMask, encodeUserspaceMemoryRegion } from "./vm_structs.ts";

// Golden bytes: offsets from include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h (x86-64 ABI,
// little-endian, natural alignment), written out by hand field by field.
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

test("kvm_regs places rax at byte 0, rip at 128 and rflags at 136", () => {
  const r = new KvmRegs();
  r.set("rax", 0x1122334455667788n);
  r.set("rip", 0x100000n);
  r.set("rflags", 2n);
  assert.equal(hex(r.bytes.subarray(0, 8)), "8877665544332211");
  assert.equal(hex(r.bytes.subarray(128, 144)), "00001000000000000200000000000000");
  assert.equal(r.get("rip"), 0x100000n);
});

test("kvm_sregs encodes cs at 0, tr at 144, gdt at 192, cr0 at 224, efer at 264 and decodes back", () => {
  const seg = { base: 0n, limit: 0xffffffff, selector: 0x10, type: 0xb, present: 1, dpl: 0, db: 1, s: 1, l: 0, g: 1, avl: 0, unusable: 0 };
  const s = decodeSregs(new Uint8Array(KVM_SREGS_SIZE));
  s.cs = { ...seg, base: 0x1234n };
  s.tr = { ...seg, selector: 0x18, type: 0xb, s: 0, limit: 0x67, g: 0 };
  s.gdt = { base: 0x5000n, limit: 0x27 };
  s.cr0 = 0x11n;
  s.efer = 0x500n;
  s.apicBase = 0xfee00900n;
  const b = encodeSregs(s);
  assert.equal(b.length, 312);
  assert.equal(hex(b.subarray(0, 24)), "3412000000000000" + "ffffffff" + "1000" + "0b010001010001000000");
  assert.equal(hex(b.subarray(144, 168)), "0000000000000000" + "67000000" + "1800" + "0b" + "01" + "00" + "01" + "00" + "00" + "00" + "00" + "00" + "00");
  assert.equal(hex(b.subarray(192, 202)), "00500000000000002700");
  assert.equal(hex(b.subarray(224, 232)), "1100000000000000");
  assert.equal(hex(b.subarray(264, 280)), "0005000000000000" + "0009e0fe00000000");
  assert.deepEqual(decodeSregs(b), s);
});

test("kvm_cpuid2 has an 8-byte header and 40-byte entries", () => {
  const b = encodeCpuid2([{ function: 0x40000000, index: 0, flags: 0, eax: 0x40000004, ebx: 0x566e6558, ecx: 0x65584d4d, edx: 0x4d4d566e }]);
  assert.equal(b.length, 48);
  assert.equal(hex(b), "01000000" + "00000000" + "00000040" + "00000000" + "00000000" + "04000040" + "58656e56" + "4d4d5865" + "6e564d4d" + "00".repeat(12));
  assert.deepEqual(decodeCpuid2(b)[0]!.ebx, 0x566e6558);
  assert.equal(new DataView(emptyCpuid2(100).buffer).getUint32(0, true), 100);
});

test("kvm_userspace_memory_region is slot, flags, gpa, size, host address", () => {
  const b = encodeUserspaceMemoryRegion({ slot: 1, flags: 0, guestPhysAddr: 0x100000n, memorySize: 0x200000n, userspaceAddr: 0x7f0000001000n });
  assert.equal(hex(b), "01000000" + "00000000" + "0000100000000000" + "0000200000000000" + "00100000007f0000");
});

test("kvm_enable_cap puts args at 8 and is 104 bytes", () => {
  const b = encodeEnableCap(121, [24n]);
  assert.equal(b.length, 104);
  assert.equal(hex(b.subarray(0, 16)), "79000000" + "00000000" + "1800000000000000");
});

test("kvm_msr_filter ranges start at 8 with the bitmap pointer at +16", () => {
  const b = encodeMsrFilter(0, [{ flags: 2, nmsrs: 1, base: 0x40000000, bitmapAddr: 0xdead000n }]);
  assert.equal(b.length, 392);
  assert.equal(hex(b.subarray(0, 32)), "00000000" + "00000000" + "02000000" + "01000000" + "00000040" + "00000000" + "00d0ea0d00000000");
});

test("kvm_msi and kvm_signal_mask layouts", () => {
  assert.equal(hex(encodeMsi({ addressLo: 0xfee00000, addressHi: 0, data: 0xf3 }).subarray(0, 12)), "0000e0fe" + "00000000" + "f3000000");
  assert.equal(hex(encodeSignalMask([12])), "08000000" + "0008000000000000");
});
