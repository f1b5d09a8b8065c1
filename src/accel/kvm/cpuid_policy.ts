// The CPUID a kvm guest sees: KVM's supported set, with KVM's own hypervisor leaves (0x40000000..0x400000ff,
// "KVMKVMKVM") replaced by Xen's, the APIC id set per vCPU, and the hypervisor bit set.
import type { CpuidEntry } from "../../abi/kvm/cpuid.ts";
import { xenCpuidLeaves } from "../../hv/hypercall/xen_cpuid.ts";

const HYPERVISOR_LEAVES_START = 0x40000000;
const HYPERVISOR_LEAVES_END = 0x40010000;

export interface CpuidQuirks {
  /** kvm_pvm cannot emulate LOCK CMPXCHG16B (Linux's SLUB uses it): hide CX16 (xen-abi-on-kvm.md §1). */
  readonly hideCx16?: boolean;
}

export function guestCpuid(
  supported: readonly CpuidEntry[],
  opts: { vcpuId: number; domid: number; upcallVector?: boolean } & CpuidQuirks,
): CpuidEntry[] {
  const out: CpuidEntry[] = [];
  for (const e of supported) {
    if (e.function >= HYPERVISOR_LEAVES_START && e.function < HYPERVISOR_LEAVES_END) continue;
    const copy = { ...e };
    if (e.function === 1) {
      copy.ebx = ((copy.ebx & 0x00ffffff) | (opts.vcpuId << 24)) >>> 0; // initial APIC id
      copy.ecx = (copy.ecx | (1 << 31)) >>> 0; // hypervisor present
      if (opts.hideCx16 === true) copy.ecx = (copy.ecx & ~(1 << 13)) >>> 0;
    }
    out.push(copy);
  }
  for (const l of xenCpuidLeaves(opts)) out.push({ ...l, flags: 0 });
  return out;
}
