// KVM ioctl request numbers, encoded as Linux's _IO/_IOR/_IOW/_IOWR (include/uapi/linux/kvm.h, asm-generic/ioctl.h).

const KVMIO = 0xae;
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

/** _IOC(dir, type, nr, size): dir in bits 31:30, size 29:16, type 15:8, nr 7:0. */
export function ioc(dir: number, type: number, nr: number, sizeBytes: number): number {
  return ((dir << 30) | (sizeBytes << 16) | (type << 8) | nr) >>> 0;
}
const io = (nr: number): number => ioc(IOC_NONE, KVMIO, nr, 0);
const ior = (nr: number, size: number): number => ioc(IOC_READ, KVMIO, nr, size);
const iow = (nr: number, size: number): number => ioc(IOC_WRITE, KVMIO, nr, size);
const iowr = (nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, KVMIO, nr, size);

export const KVM = {
  // system ioctls (on /dev/kvm)
  GET_API_VERSION: io(0x00),
  CREATE_VM: io(0x01),
  CHECK_EXTENSION: io(0x03),
  GET_VCPU_MMAP_SIZE: io(0x04),
  GET_SUPPORTED_CPUID: iowr(0x05, 8), // struct kvm_cpuid2 header
  // vm ioctls
  CREATE_VCPU: io(0x41),
  SET_USER_MEMORY_REGION: iow(0x46, 32), // struct kvm_userspace_memory_region
  SET_TSS_ADDR: io(0x47),
  ENABLE_CAP: iow(0xa3, 104), // struct kvm_enable_cap
  SIGNAL_MSI: iow(0xa5, 32), // struct kvm_msi
  X86_SET_MSR_FILTER: iow(0xc6, 392), // struct kvm_msr_filter
  GET_TSC_KHZ: io(0xa3),
  // vcpu ioctls
  RUN: io(0x80),
  GET_REGS: ior(0x81, 144), // struct kvm_regs
  SET_REGS: iow(0x82, 144),
  GET_SREGS: ior(0x83, 312), // struct kvm_sregs
  SET_SREGS: iow(0x84, 312),
  SET_SIGNAL_MASK: iow(0x8b, 4), // struct kvm_signal_mask header
  SET_CPUID2: iow(0x90, 8), // struct kvm_cpuid2 header
} as const;

/** KVM_CAP_* numbers used by tsxen. */
export const KVM_CAP = {
  IRQCHIP: 0,
  NR_VCPUS: 9,
  XEN_HVM: 38,
  MAX_VCPUS: 66,
  SPLIT_IRQCHIP: 121,
  IMMEDIATE_EXIT: 136,
  X86_USER_SPACE_MSR: 188,
  X86_MSR_FILTER: 189,
} as const;

export const KVM_API_VERSION = 12;

/** KVM_CAP_X86_USER_SPACE_MSR arg0 bits: which failed MSR accesses exit to userspace. */
export const KVM_MSR_EXIT_REASON = { INVAL: 1, UNKNOWN: 2, FILTER: 4 } as const;
