// struct kvm_cpuid2 / kvm_cpuid_entry2 (arch/x86/include/uapi/asm/kvm.h): header {nent u32, padding u32},
// then 40-byte entries {function, index, flags, eax, ebx, ecx, edx, padding[3]} (all u32).

export const KVM_CPUID_ENTRY_SIZE = 40;
/** kvm_cpuid_entry2.flags: the leaf has subleaves selected by ECX (index). */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export function encodeCpuid2(entries: readonly CpuidEntry[]): Uint8Array {
  const bytes = new Uint8Array(8 + entries.length * KVM_CPUID_ENTRY_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, entries.length, true);
  entries.forEach((e, i) => {
    const o = 8 + i * KVM_CPUID_ENTRY_SIZE;
    v.setUint32(o, e.function >>> 0, true);
    v.setUint32(o + 4, e.index >>> 0, true);
    v.setUint32(o + 8, e.flags >>> 0, true);
    v.setUint32(o + 12, e.eax >>> 0, true);
    v.setUint32(o + 16, e.ebx >>> 0, true);
    v.setUint32(o + 20, e.ecx >>> 0, true);
    v.setUint32(o + 24, e.edx >>> 0, true);
  });
  return bytes;
}

/** An empty kvm_cpuid2 with room for `capacity` entries (for KVM_GET_SUPPORTED_CPUID). */
export function emptyCpuid2(capacity: number): Uint8Array {
  const bytes = new Uint8Array(8 + capacity * KVM_CPUID_ENTRY_SIZE);
  new DataView(bytes.buffer).setUint32(0, capacity, true);
  return bytes;
}

export function decodeCpuid2(bytes: Uint8Array): CpuidEntry[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nent = v.getUint32(0, true);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < nent; i++) {
    const o = 8 + i * KVM_CPUID_ENTRY_SIZE;
    out.push({
      function: v.getUint32(o, true),
      index: v.getUint32(o + 4, true),
      flags: v.getUint32(o + 8, true),
      eax: v.getUint32(o + 12, true),
      ebx: v.getUint32(o + 16, true),
      ecx: v.getUint32(o + 20, true),
      edx: v.getUint32(o + 24, true),
    });
  }
  return out;
}
