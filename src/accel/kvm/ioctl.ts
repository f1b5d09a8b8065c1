// Typed KVM ioctls: numbers from abi/kvm/ioctl_numbers.ts, argument layouts from abi/kvm/*.ts.
import { KVM } from "../../abi/kvm/ioctl_numbers.ts";
import { KvmRegs } from "../../abi/kvm/regs.ts";
import { decodeSregs, encodeSregs, KVM_SREGS_SIZE, type KvmSregs } from "../../abi/kvm/sregs.ts";
import { decodeCpuid2, emptyCpuid2, encodeCpuid2, type CpuidEntry } from "../../abi/kvm/cpuid.ts";
import { encodeEnableCap, encodeMsrFilter, encodeSignalMask, encodeUserspaceMemoryRegion } from "../../abi/kvm/vm_structs.ts";
import { ioctlBuffer, ioctlRaw, ioctlValue } from "./ffi.ts";

export function checkExtension(fd: number, cap: number): number {
  const r = ioctlRaw(fd, KVM.CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

export function getSupportedCpuid(kvmFd: number): CpuidEntry[] {
  const buf = emptyCpuid2(256);
  ioctlBuffer(kvmFd, KVM.GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID");
  return decodeCpuid2(buf);
}

export function enableCap(fd: number, cap: number, args: readonly bigint[], what: string): void {
  ioctlBuffer(fd, KVM.ENABLE_CAP, encodeEnableCap(cap, args), `KVM_ENABLE_CAP ${what}`);
}

export function setUserMemoryRegion(vmFd: number, slot: number, gpa: bigint, sizeBytes: bigint, hostAddr: bigint): void {
  ioctlBuffer(
    vmFd,
    KVM.SET_USER_MEMORY_REGION,
    encodeUserspaceMemoryRegion({ slot, flags: 0, guestPhysAddr: gpa, memorySize: sizeBytes, userspaceAddr: hostAddr }),
    `KVM_SET_USER_MEMORY_REGION slot ${slot}`,
  );
}

export function setMsrFilter(vmFd: number, defaultFlags: number, ranges: Parameters<typeof encodeMsrFilter>[1]): void {
  ioctlBuffer(vmFd, KVM.X86_SET_MSR_FILTER, encodeMsrFilter(defaultFlags, ranges), "KVM_X86_SET_MSR_FILTER");
}

export function setCpuid2(vcpuFd: number, entries: readonly CpuidEntry[]): void {
  ioctlBuffer(vcpuFd, KVM.SET_CPUID2, encodeCpuid2(entries), "KVM_SET_CPUID2");
}

export function setSignalMask(vcpuFd: number, blocked: readonly number[]): void {
  ioctlBuffer(vcpuFd, KVM.SET_SIGNAL_MASK, encodeSignalMask(blocked), "KVM_SET_SIGNAL_MASK");
}

export function getRegs(vcpuFd: number, regs: KvmRegs): void {
  ioctlBuffer(vcpuFd, KVM.GET_REGS, regs.bytes, "KVM_GET_REGS");
}

export function setRegs(vcpuFd: number, regs: KvmRegs): void {
  ioctlBuffer(vcpuFd, KVM.SET_REGS, regs.bytes, "KVM_SET_REGS");
}

export function getSregs(vcpuFd: number): KvmSregs {
  const buf = new Uint8Array(KVM_SREGS_SIZE);
  ioctlBuffer(vcpuFd, KVM.GET_SREGS, buf, "KVM_GET_SREGS");
  return decodeSregs(buf);
}

export function setSregs(vcpuFd: number, s: KvmSregs): void {
  ioctlBuffer(vcpuFd, KVM.SET_SREGS, encodeSregs(s), "KVM_SET_SREGS");
}

/** KVM_RUN: 0 on an exit to read from kvm_run, or -errno (-EINTR when kicked). */
export function run(vcpuFd: number): number {
  return ioctlRaw(vcpuFd, KVM.RUN, 0);
}

export { ioctlValue };
