// struct kvm_run (include/uapi/linux/kvm.h), the page mmapped from a vCPU fd: header and the x86 exit unions we use.

/** Byte offsets into struct kvm_run. */
export const KVM_RUN_OFF = {
  requestInterruptWindow: 0, // u8   IN
  immediateExit: 1, // u8   IN: KVM_RUN returns -EINTR at once when set (KVM_CAP_IMMEDIATE_EXIT)
  exitReason: 8, // u32  OUT
  readyForInterruptInjection: 12, // u8 OUT
  ifFlag: 13, // u8 OUT
  flags: 14, // u16 OUT
  cr8: 16, // u64
  apicBase: 24, // u64
  // union at +32
  ioDirection: 32, // u8: KVM_EXIT_IO_IN 0, OUT 1
  ioSize: 33, // u8
  ioPort: 34, // u16
  ioCount: 36, // u32
  ioDataOffset: 40, // u64, from the start of kvm_run
  mmioPhysAddr: 32, // u64
  mmioData: 40, // u8[8]
  mmioLen: 48, // u32
  mmioIsWrite: 52, // u8
  msrError: 32, // u8  IN: 1 → KVM injects #GP
  msrReason: 40, // u32 KVM_MSR_EXIT_REASON_*
  msrIndex: 44, // u32
  msrData: 48, // u64 (IN for RDMSR)
  internalSuberror: 32, // u32
  internalNdata: 36, // u32
  internalData: 40, // u64[16]; for EMULATION suberror: flags u64 +40, insn_size u8 +48, insn_bytes[15] +49
  failEntryReason: 32, // u64 hardware_entry_failure_reason
  failEntryCpu: 40, // u32
  systemEventType: 32, // u32
} as const;

export const KVM_EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  SET_TPR: 11,
  TPR_ACCESS: 12,
  NMI: 16,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
  IOAPIC_EOI: 26,
  X86_RDMSR: 29,
  X86_WRMSR: 30,
} as const;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;
export const KVM_INTERNAL_ERROR_EMULATION = 1;

const EXIT_NAMES = new Map<number, string>(Object.entries(KVM_EXIT).map(([k, v]) => [v, k]));
export function exitReasonName(reason: number): string {
  return EXIT_NAMES.get(reason) ?? `exit_${reason}`;
}
