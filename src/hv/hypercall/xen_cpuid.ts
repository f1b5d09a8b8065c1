// The hypervisor CPUID leaves a Xen HVM/PVH guest looks for (public/arch-x86/cpuid.h): "XenVMMXenVMM"
// at 0x40000000, version, hypercall-page MSR, time, HVM features. Backends put these in place of their own.
import { XenHvmCpuid } from "../../abi/xen/hvm.ts";
import { HYPERCALL_PAGE_MSR } from "./hypercall_page.ts";
import { XEN_MAJOR, XEN_MINOR } from "./xen_version.ts";

export interface CpuidLeaf {
  readonly function: number;
  readonly index: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export const XEN_CPUID_BASE = 0x40000000;
/** upcallVector: advertise XEN_HVM_CPUID_UPCALL_VECTOR (the guest may ask for a per-vCPU LAPIC upcall vector
 * with HVMOP_set_evtchn_upcall_vector); only when event channels are served. */
export function xenCpuidLeaves(opts: { vcpuId: number; domid: number; tscKhz?: number; upcallVector?: boolean }): CpuidLeaf[] {
  const leaf = (fn: number, eax: number, ebx = 0, ecx = 0, edx = 0, index = 0): CpuidLeaf => ({
    function: XEN_CPUID_BASE + fn, index, eax: eax >>> 0, ebx: ebx >>> 0, ecx: ecx >>> 0, edx: edx >>> 0,
  });
  return [
    leaf(0, XEN_CPUID_BASE + 4, 0x566e6558, 0x65584d4d, 0x4d4d566e), // "XenVMMXenVMM"
    leaf(1, (XEN_MAJOR << 16) | XEN_MINOR),
    leaf(2, 1, HYPERCALL_PAGE_MSR), // one hypercall page, MSR base, no feature flags
    leaf(3, 0, 0, opts.tscKhz ?? 0, 0, 0), // time: subleaf 0 (flags, tsc_mode, tsc kHz, incarnation)
    leaf(4, XenHvmCpuid.VCPU_ID_PRESENT | XenHvmCpuid.DOMID_PRESENT | (opts.upcallVector === true ? XenHvmCpuid.UPCALL_VECTOR : 0), opts.vcpuId, opts.domid),
  ];
}
