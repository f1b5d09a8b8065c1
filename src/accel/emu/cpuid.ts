// The CPUID model of the emulated CPU (Intel SDM vol. 2A CPUID; AMD APM vol. 3 appendix E) and the Xen
// hypervisor leaves (xen/include/public/arch-x86/cpuid.h).
//
// Design: the minimal model of x86-boot-profile.md §7, as data the core can consult (CPUID_FEATURES: which
// instructions are advertised). Vendor AuthenticAMD, family 15 model 107 stepping 1 (QEMU's qemu64), the
// configuration the boot profile measured: Linux then takes the AMD code paths (no leaf 2/4/0xb, the AMD
// MSRs in msr.ts, the FXSAVE-leak workaround). Only implemented features are advertised: no SSE3+, no
// CX16, no POPCNT, no XSAVE/AVX, no FSGSBASE/SMEP/SMAP, no RDTSCP, no MCE/MCA/MTRR.
// TSC: 2.0 GHz by default (TSC = host monotonic ns * tscKhz / 1e6, see tsc.ts); reported in the Xen time
// leaf 0x40000003 ECX. Linux does not read that leaf on HVM: pass tsc_early_khz=<tscKhz> on the kernel
// command line or let it calibrate against the PIT. 0x80000007 EDX.8 (invariant TSC) is set: our TSC is
// derived from a monotonic host clock and never stops.

/** Leaf 1 EDX feature bits. */
export const enum Cpuid1Edx {
  FPU = 1 << 0, VME = 1 << 1, DE = 1 << 2, PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6, MCE = 1 << 7,
  CX8 = 1 << 8, APIC = 1 << 9, SEP = 1 << 11, MTRR = 1 << 12, PGE = 1 << 13, MCA = 1 << 14, CMOV = 1 << 15,
  PAT = 1 << 16, PSE36 = 1 << 17, CLFLUSH = 1 << 19, MMX = 1 << 23, FXSR = 1 << 24, SSE = 1 << 25, SSE2 = 1 << 26,
  HTT = 1 << 28,
}

/** Leaf 1 ECX feature bits. */
export const enum Cpuid1Ecx {
  SSE3 = 1 << 0, PCLMULQDQ = 1 << 1, MONITOR = 1 << 3, SSSE3 = 1 << 9, FMA = 1 << 12, CX16 = 1 << 13,
  SSE41 = 1 << 19, SSE42 = 1 << 20, X2APIC = 1 << 21, MOVBE = 1 << 22, POPCNT = 1 << 23, TSC_DEADLINE = 1 << 24,
  AES = 1 << 25, XSAVE = 1 << 26, OSXSAVE = 1 << 27, AVX = 1 << 28, RDRAND = 1 << 30, HYPERVISOR = 1 << 31,
}

/** Leaf 0x80000001 EDX / ECX feature bits. */
export const enum CpuidExt1Edx { SYSCALL = 1 << 11, NX = 1 << 20, MMXEXT = 1 << 22, PDPE1GB = 1 << 26, RDTSCP = 1 << 27, LM = 1 << 29 }
export const enum CpuidExt1Ecx { LAHF_LM = 1 << 0, SVM = 1 << 2, ABM = 1 << 5, PREFETCHW = 1 << 8 }

/** The advertised feature words: the core checks these before executing optional instructions. */
export const CPUID_FEATURES = {
  leaf1Edx: Cpuid1Edx.FPU | Cpuid1Edx.PSE | Cpuid1Edx.TSC | Cpuid1Edx.MSR | Cpuid1Edx.PAE | Cpuid1Edx.CX8 |
    Cpuid1Edx.APIC | Cpuid1Edx.PGE | Cpuid1Edx.CMOV | Cpuid1Edx.PAT | Cpuid1Edx.CLFLUSH | Cpuid1Edx.MMX |
    Cpuid1Edx.FXSR | Cpuid1Edx.SSE | Cpuid1Edx.SSE2,
  /** HYPERVISOR only (TSC_DEADLINE is added when CpuidOptions.tscDeadline is set). */
  leaf1Ecx: Cpuid1Ecx.HYPERVISOR | 0,
  ext1Edx: CpuidExt1Edx.SYSCALL | CpuidExt1Edx.NX | CpuidExt1Edx.PDPE1GB | CpuidExt1Edx.LM,
  ext1Ecx: 0,
  /** Leaf 7 subleaf 0 EBX/ECX/EDX: nothing (no BMI, ERMS, FSGSBASE, SMEP, SMAP...). */
  leaf7Ebx: 0,
  physAddrBits: 40,
  linearAddrBits: 48,
} as const;

/** AMD's 0x80000001 EDX repeats these leaf 1 EDX bits. */
const AMD_EXT1_MIRROR = 0x0183f3ff;

export const CPUID_VENDOR = "AuthenticAMD";
export const CPUID_BRAND = "tsxen emu x86-64";
/** Family 15, model 107 (ext model 6, model 0xb), stepping 1. */
export const CPUID_SIGNATURE = 0x00060fb1;
export const DEFAULT_TSC_KHZ = 2_000_000;
export const XEN_CPUID_BASE = 0x40000000;

/** One explicit leaf (used to override the built-in Xen leaves, e.g. with hv/hypercall's xenCpuidLeaves()). */
export interface CpuidLeafValue {
  readonly function: number;
  readonly index: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export interface CpuidOptions {
  readonly vcpuId: number;
  /** Xen leaves at 0x40000000 (off for a plain HVM guest). */
  readonly xen: boolean;
  readonly domid?: number;
  /** Xen version reported in 0x40000001 (default 4.17). */
  readonly xenVersion?: { readonly major: number; readonly minor: number };
  readonly tscKhz?: number;
  /** Advertise TSC-deadline mode (leaf 1 ECX.24): only when the LAPIC implements MSR 0x6e0. */
  readonly tscDeadline?: boolean;
  /** Replaces the built-in 0x40000000.. leaves when xen is set. */
  readonly hypervisorLeaves?: readonly CpuidLeafValue[];
  /** Logical processors per package, for leaf 1 EBX / 0x80000008 ECX (default 1). */
  readonly cpusPerPackage?: number;
}

function str4(s: string, at: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) v |= (s.charCodeAt(at + k) || 0) << (8 * k);
  return v | 0;
}

/** Xen HVM CPUID leaf 4 flags. */
const XEN_HVM_CPUID_VCPU_ID_PRESENT = 1 << 3;
const XEN_HVM_CPUID_DOMID_PRESENT = 1 << 4;
const XEN_HVM_CPUID_UPCALL_VECTOR = 1 << 6;

export class CpuidModel {
  /** Result of the last query: eax, ebx, ecx, edx (reused, never reallocated). */
  readonly out: [number, number, number, number] = [0, 0, 0, 0];
  readonly tscKhz: number;
  private readonly leaf1Ecx: number;

  constructor(readonly opts: CpuidOptions) {
    this.tscKhz = opts.tscKhz ?? DEFAULT_TSC_KHZ;
    this.leaf1Ecx = CPUID_FEATURES.leaf1Ecx | (opts.tscDeadline ? Cpuid1Ecx.TSC_DEADLINE : 0);
  }

  /** Leaf 1 ECX as advertised (with the optional TSC_DEADLINE). */
  get advertisedLeaf1Ecx(): number {
    return this.leaf1Ecx;
  }

  query(leaf: number, subleaf: number): [number, number, number, number] {
    const o = this.out;
    o[0] = o[1] = o[2] = o[3] = 0;
    leaf >>>= 0;
    const cpus = this.opts.cpusPerPackage ?? 1;
    switch (leaf) {
      case 0:
        o[0] = 0xd;
        o[1] = str4(CPUID_VENDOR, 0);
        o[3] = str4(CPUID_VENDOR, 4);
        o[2] = str4(CPUID_VENDOR, 8);
        break;
      case 1:
        o[0] = CPUID_SIGNATURE;
        o[1] = ((this.opts.vcpuId & 0xff) << 24) | ((cpus & 0xff) << 16) | (8 << 8); // APIC id, count, clflush 64 B
        o[2] = this.leaf1Ecx;
        o[3] = CPUID_FEATURES.leaf1Edx | (cpus > 1 ? Cpuid1Edx.HTT : 0);
        break;
      case 7:
        // subleaf 0: EAX = max subleaf 0, no features
        break;
      case 0xd:
        break;
      case 0x80000000:
        o[0] = 0x80000008;
        o[1] = str4(CPUID_VENDOR, 0);
        o[3] = str4(CPUID_VENDOR, 4);
        o[2] = str4(CPUID_VENDOR, 8);
        break;
      case 0x80000001:
        o[0] = CPUID_SIGNATURE;
        o[2] = CPUID_FEATURES.ext1Ecx;
        o[3] = (CPUID_FEATURES.leaf1Edx & AMD_EXT1_MIRROR) | CPUID_FEATURES.ext1Edx;
        break;
      case 0x80000002: case 0x80000003: case 0x80000004: {
        const at = (leaf - 0x80000002) * 16;
        for (let r = 0; r < 4; r++) o[r] = str4(CPUID_BRAND, at + 4 * r);
        break;
      }
      case 0x80000005: // L1 TLB and cache: 64 KiB 2-way 64-byte lines I and D (QEMU's values)
        o[0] = 0x01ff01ff; o[1] = 0x01ff01ff; o[2] = 0x40020140; o[3] = 0x40020140;
        break;
      case 0x80000006: // L2: 512 KiB 16-way
        o[1] = 0x42004200; o[2] = 0x02008140;
        break;
      case 0x80000007:
        o[3] = 1 << 8; // invariant TSC
        break;
      case 0x80000008:
        o[0] = (CPUID_FEATURES.linearAddrBits << 8) | CPUID_FEATURES.physAddrBits;
        o[2] = (cpus - 1) & 0xff;
        break;
      default:
        if (leaf >= 0x40000000 && leaf < 0x40010000 && this.opts.xen) this.xenLeaf(leaf, subleaf);
    }
    o[0] |= 0; o[1] |= 0; o[2] |= 0; o[3] |= 0;
    return o;
  }

  private xenLeaf(leaf: number, subleaf: number): void {
    const o = this.out;
    const custom = this.opts.hypervisorLeaves;
    if (custom !== undefined) {
      for (const l of custom) {
        if (l.function >>> 0 === leaf && (l.index === subleaf || l.index === 0)) {
          o[0] = l.eax; o[1] = l.ebx; o[2] = l.ecx; o[3] = l.edx;
          if (l.index === subleaf) return;
        }
      }
      return;
    }
    const ver = this.opts.xenVersion ?? { major: 4, minor: 17 };
    switch (leaf - XEN_CPUID_BASE) {
      case 0:
        o[0] = XEN_CPUID_BASE + 4;
        o[1] = 0x566e6558; o[2] = 0x65584d4d; o[3] = 0x4d4d566e; // "XenVMMXenVMM"
        break;
      case 1:
        o[0] = (ver.major << 16) | ver.minor;
        break;
      case 2:
        o[0] = 1; // hypercall pages
        o[1] = 0x40000000; // hypercall page MSR
        break;
      case 3:
        if (subleaf === 0) o[2] = this.tscKhz; // guest TSC kHz
        else if (subleaf === 2) o[2] = this.tscKhz; // host TSC kHz
        break;
      case 4:
        o[0] = XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_UPCALL_VECTOR |
          (this.opts.domid !== undefined ? XEN_HVM_CPUID_DOMID_PRESENT : 0);
        o[1] = this.opts.vcpuId;
        o[2] = this.opts.domid ?? 0;
        break;
    }
  }
}
