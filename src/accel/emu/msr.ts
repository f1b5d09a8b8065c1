// Model-specific registers of the emulated CPU (x86-boot-profile.md §5; Intel SDM vol. 4; AMD APM vol. 2
// appendix A, BKDG family 0Fh for the AMD ones).
//
// Design: rdmsr/wrmsr return false for an MSR this model does not have; the caller raises #GP(0), which
// Linux's rdmsr_safe/wrmsr_safe expect. An optional delegate (the LAPIC: APIC_BASE 0x1b, TSC_DEADLINE
// 0x6e0) is asked first. Values are (lo, hi) int32 halves; the result of a read is left in sys.msrLo/msrHi.
// Vendor is AMD (cpuid.ts), so the Intel-only MISC_ENABLE (0x1a0) is absent.

import { Seg } from "./cpu_state.ts";
import { EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, CR0_PG } from "./mmu.ts";
import type { X86System } from "./system.ts";

export const enum Msr {
  TSC = 0x10, APIC_BASE = 0x1b, PATCH_LEVEL = 0x8b, MTRRCAP = 0xfe, SYSENTER_CS = 0x174, SYSENTER_ESP = 0x175,
  SYSENTER_EIP = 0x176, MCG_CAP = 0x179, MCG_STATUS = 0x17a, PAT = 0x277, MTRR_DEF_TYPE = 0x2ff,
  TSC_DEADLINE = 0x6e0,
  EFER = 0xc0000080, STAR = 0xc0000081, LSTAR = 0xc0000082, CSTAR = 0xc0000083, SFMASK = 0xc0000084,
  FS_BASE = 0xc0000100, GS_BASE = 0xc0000101, KERNEL_GS_BASE = 0xc0000102, TSC_AUX = 0xc0000103,
  AMD_PERF_CTL0 = 0xc0010000, AMD_PERF_CTR3 = 0xc0010007, AMD_SYSCFG = 0xc0010010, AMD_HWCR = 0xc0010015,
  AMD_INT_PENDING = 0xc0010055, AMD_DE_CFG = 0xc0011029,
  XEN_HYPERCALL_PAGE = 0x40000000,
}

/** The LAPIC's MSR interface (devices/lapic Lapic.readMsr/writeMsr match it). */
export interface MsrDelegate {
  /** undefined: not this delegate's MSR. */
  readMsr(msr: number): bigint | undefined;
  /** undefined: not this delegate's MSR; false: the write raises #GP. */
  writeMsr(msr: number, value: bigint): boolean | undefined;
}

/** Plain storage for the MSRs without side effects, keyed by index. */
export class MsrFile {
  starLo = 0; starHi = 0;
  lstarLo = 0; lstarHi = 0;
  cstarLo = 0; cstarHi = 0;
  sfmask = 0;
  sysenterCs = 0;
  sysenterEspLo = 0; sysenterEspHi = 0;
  sysenterEipLo = 0; sysenterEipHi = 0;
  tscAux = 0;
  patLo = 0x00070406; patHi = 0x00070406;
  mtrrDefType = 0;
  hwcr = 0;
  deCfg = 0;
  syscfg = 0;
  readonly perf = new Int32Array(16); // 0xc0010000..7 as lo/hi pairs
}

function canonical(hi: number): boolean {
  return ((hi << 16) >> 16) === hi;
}

/** rdmsr: true with the value in sys.msrLo/msrHi, false for #GP. */
export function readMsr(sys: X86System, index: number): boolean {
  const m = sys.msrs;
  const cpu = sys.cpu;
  index >>>= 0;
  let lo = 0, hi = 0;
  const d = sys.msrDelegate?.readMsr(index);
  if (d !== undefined) {
    lo = Number(d & 0xffffffffn) | 0;
    hi = Number((d >> 32n) & 0xffffffffn) | 0;
  } else {
    switch (index) {
      case Msr.TSC: sys.tsc.read(); lo = sys.tsc.lo; hi = sys.tsc.hi; break;
      case Msr.APIC_BASE: lo = 0xfee00800 | (cpu.vcpuId === 0 ? 0x100 : 0); break;
      case Msr.PATCH_LEVEL: break;
      case Msr.MTRRCAP: break; // MTRR not advertised: no ranges, no fixed, no WC
      case Msr.SYSENTER_CS: lo = m.sysenterCs; break;
      case Msr.SYSENTER_ESP: lo = m.sysenterEspLo; hi = m.sysenterEspHi; break;
      case Msr.SYSENTER_EIP: lo = m.sysenterEipLo; hi = m.sysenterEipHi; break;
      case Msr.MCG_CAP: case Msr.MCG_STATUS: break;
      case Msr.PAT: lo = m.patLo; hi = m.patHi; break;
      case Msr.MTRR_DEF_TYPE: lo = m.mtrrDefType; break;
      case Msr.EFER: lo = cpu.efer; break;
      case Msr.STAR: lo = m.starLo; hi = m.starHi; break;
      case Msr.LSTAR: lo = m.lstarLo; hi = m.lstarHi; break;
      case Msr.CSTAR: lo = m.cstarLo; hi = m.cstarHi; break;
      case Msr.SFMASK: lo = m.sfmask; break;
      case Msr.FS_BASE: lo = cpu.segBaseLo[Seg.FS]; hi = cpu.segBaseHi[Seg.FS]; break;
      case Msr.GS_BASE: lo = cpu.segBaseLo[Seg.GS]; hi = cpu.segBaseHi[Seg.GS]; break;
      case Msr.KERNEL_GS_BASE: lo = cpu.kernelGsBaseLo; hi = cpu.kernelGsBaseHi; break;
      case Msr.TSC_AUX: lo = m.tscAux; break;
      case Msr.AMD_SYSCFG: lo = m.syscfg; break;
      case Msr.AMD_HWCR: lo = m.hwcr; break;
      case Msr.AMD_INT_PENDING: break;
      case Msr.AMD_DE_CFG: lo = m.deCfg; break;
      default:
        if (index >= Msr.AMD_PERF_CTL0 && index <= Msr.AMD_PERF_CTR3) {
          const k = (index - Msr.AMD_PERF_CTL0) * 2;
          lo = m.perf[k]; hi = m.perf[k + 1];
          break;
        }
        return false;
    }
  }
  sys.msrLo = lo | 0;
  sys.msrHi = hi | 0;
  return true;
}

/** wrmsr: false for #GP. */
export function writeMsr(sys: X86System, index: number, lo: number, hi: number): boolean {
  const m = sys.msrs;
  const cpu = sys.cpu;
  index >>>= 0;
  if (sys.msrDelegate !== undefined) {
    const d = sys.msrDelegate.writeMsr(index, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    if (d !== undefined) return d;
  }
  switch (index) {
    case Msr.TSC: sys.tsc.write(lo, hi); return true;
    case Msr.APIC_BASE: return true; // fixed at 0xfee00000, enabled (no delegate: nothing to model)
    case Msr.PATCH_LEVEL: return true; // Intel writes 0 before reading the microcode revision
    case Msr.SYSENTER_CS: m.sysenterCs = lo & 0xffff; return true;
    case Msr.SYSENTER_ESP: if (!canonical(hi)) return false; m.sysenterEspLo = lo; m.sysenterEspHi = hi; return true;
    case Msr.SYSENTER_EIP: if (!canonical(hi)) return false; m.sysenterEipLo = lo; m.sysenterEipHi = hi; return true;
    case Msr.MCG_STATUS: return lo === 0 && hi === 0;
    case Msr.PAT: {
      // Each byte must be a valid memory type: 0, 1, 4, 5, 6, 7.
      for (let k = 0; k < 8; k++) {
        const t = ((k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0xff);
        if (t === 2 || t === 3 || t > 7) return false;
      }
      m.patLo = lo; m.patHi = hi;
      return true;
    }
    case Msr.MTRR_DEF_TYPE: if (hi !== 0 || (lo & ~0xcff) !== 0) return false; m.mtrrDefType = lo; return true;
    case Msr.EFER: return sys.writeEfer(lo, hi);
    case Msr.STAR: m.starLo = lo; m.starHi = hi; return true;
    case Msr.LSTAR: if (!canonical(hi)) return false; m.lstarLo = lo; m.lstarHi = hi; return true;
    case Msr.CSTAR: if (!canonical(hi)) return false; m.cstarLo = lo; m.cstarHi = hi; return true;
    case Msr.SFMASK: if (hi !== 0) return false; m.sfmask = lo; return true;
    case Msr.FS_BASE: if (!canonical(hi)) return false; cpu.segBaseLo[Seg.FS] = lo; cpu.segBaseHi[Seg.FS] = hi; return true;
    case Msr.GS_BASE: if (!canonical(hi)) return false; cpu.segBaseLo[Seg.GS] = lo; cpu.segBaseHi[Seg.GS] = hi; return true;
    case Msr.KERNEL_GS_BASE: if (!canonical(hi)) return false; cpu.kernelGsBaseLo = lo; cpu.kernelGsBaseHi = hi; return true;
    case Msr.TSC_AUX: if (hi !== 0) return false; m.tscAux = lo; return true;
    case Msr.AMD_SYSCFG: m.syscfg = lo; return true;
    case Msr.AMD_HWCR: m.hwcr = lo; return true;
    case Msr.AMD_DE_CFG: m.deCfg = lo; return true;
    case Msr.XEN_HYPERCALL_PAGE:
      if (!sys.cpuidModel.opts.xen) return false;
      return sys.installHypercallPage((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    default:
      if (index >= Msr.AMD_PERF_CTL0 && index <= Msr.AMD_PERF_CTR3) {
        const k = (index - Msr.AMD_PERF_CTL0) * 2;
        // No vPMU: the counters (0xc0010004..7) hold nothing, so Linux's check_hw_exists() sees a broken PMU,
        // uses software events only, and never executes rdpmc.
        if (index < 0xc0010004) { m.perf[k] = lo; m.perf[k + 1] = hi; }
        return true;
      }
      return false;
  }
}

/** EFER bits this model accepts. */
export const EFER_WRITABLE = EFER_SCE | EFER_LME | EFER_NXE;

/** Validates an EFER write: only SCE/LME/NXE (LMA is read-only here), LME frozen while paging is on. */
export function eferWriteAllowed(cr0: number, oldEfer: number, lo: number, hi: number): boolean {
  if (hi !== 0 || (lo & ~(EFER_WRITABLE | EFER_LMA)) !== 0) return false;
  if ((cr0 & CR0_PG) !== 0 && ((lo ^ oldEfer) & EFER_LME) !== 0) return false;
  return true;
}

