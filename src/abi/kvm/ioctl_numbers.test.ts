import { test } from "node:test";
import assert from "node:assert/strict";
import { KVM, ioc } from "./ioctl_numbers.ts";

// Expected values: as printed by a C program including <linux/kvm.h> (x86-64), also listed in strace's ioctl tables.
test("ioc() encodes direction, size, type and number like Linux's _IOC", () => {
  assert.equal(ioc(3, 0xae, 0x05, 8), 0xc008ae05);
});

test("KVM ioctl numbers match <linux/kvm.h> on x86-64", () => {
  assert.equal(KVM.GET_API_VERSION, 0xae00);
  assert.equal(KVM.CREATE_VM, 0xae01);
  assert.equal(KVM.CHECK_EXTENSION, 0xae03);
  assert.equal(KVM.GET_VCPU_MMAP_SIZE, 0xae04);
  assert.equal(KVM.GET_SUPPORTED_CPUID, 0xc008ae05);
  assert.equal(KVM.CREATE_VCPU, 0xae41);
  assert.equal(KVM.SET_USER_MEMORY_REGION, 0x4020ae46);
  assert.equal(KVM.SET_TSS_ADDR, 0xae47);
  assert.equal(KVM.ENABLE_CAP, 0x4068aea3);
  assert.equal(KVM.SIGNAL_MSI, 0x4020aea5);
  assert.equal(KVM.X86_SET_MSR_FILTER, 0x4188aec6);
  assert.equal(KVM.RUN, 0xae80);
  assert.equal(KVM.GET_REGS, 0x8090ae81);
  assert.equal(KVM.SET_REGS, 0x4090ae82);
  assert.equal(KVM.GET_SREGS, 0x8138ae83);
  assert.equal(KVM.SET_SREGS, 0x4138ae84);
  assert.equal(KVM.SET_SIGNAL_MASK, 0x4004ae8b);
  assert.equal(KVM.SET_CPUID2, 0x4008ae90);
});
