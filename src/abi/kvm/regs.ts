// struct kvm_regs (arch/x86/include/uapi/asm/kvm.h): 18 little-endian u64, 144 bytes.

export const KVM_REGS_SIZE = 144;

/** Field order of struct kvm_regs; the index times 8 is the byte offset. */
export const KVM_REG_NAMES = [
  "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
] as const;
export type KvmRegName = (typeof KVM_REG_NAMES)[number];

export const REG: Readonly<Record<KvmRegName, number>> = Object.fromEntries(
  KVM_REG_NAMES.map((name, i) => [name, i]),
) as Record<KvmRegName, number>;

/** General-purpose registers, a view over one 144-byte buffer passed straight to KVM_GET/SET_REGS. */
export class KvmRegs {
  readonly bytes = new Uint8Array(KVM_REGS_SIZE);
  private readonly words = new BigUint64Array(this.bytes.buffer);

  get(name: KvmRegName): bigint {
    return this.words[REG[name]]!;
  }
  set(name: KvmRegName, value: bigint): void {
    this.words[REG[name]] = BigInt.asUintN(64, value);
  }
  toRecord(): Record<KvmRegName, bigint> {
    return Object.fromEntries(KVM_REG_NAMES.map((n, i) => [n, this.words[i]!])) as Record<KvmRegName, bigint>;
  }
}
