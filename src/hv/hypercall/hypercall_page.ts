// The hypercall page a guest asks for by writing its guest-physical address to MSR 0x40000000
// (CPUID 0x40000002 EBX). Xen fills it with vmcall stubs (xen/arch/x86/hvm/vmx/vmx.c
// vmx_init_hypercall_page); we fill it with stubs that exit by port I/O, which every backend traps
// (xen-abi-on-kvm.md §3): stub i at i*32 = `mov $i,%eax; out %eax,$HYPERCALL_PORT; ret`.
import { Hypercall } from "../../abi/xen/xen.ts";

/** MSR the guest writes with the page's guest-physical address (| page index in bits 11:0). */
export const HYPERCALL_PAGE_MSR = 0x40000000;
/** The I/O port whose 32-bit OUT carries a hypercall: eax = number, args in the usual registers. */
export const HYPERCALL_PORT = 0x5a;
export const HYPERCALL_STUB_BYTES = 32;

/** Builds the 4096-byte page contents. */
export function buildHypercallPage(): Uint8Array {
  const page = new Uint8Array(4096).fill(0xcc); // int3 between stubs
  for (let i = 0; i < 4096 / HYPERCALL_STUB_BYTES; i++) {
    const o = i * HYPERCALL_STUB_BYTES;
    if (i === Hypercall.iret) {
      page.set([0x0f, 0x0b], o); // ud2: HVM guests have no iret hypercall
      continue;
    }
    page.set([0xb8, i & 0xff, (i >> 8) & 0xff, 0, 0, 0xe7, HYPERCALL_PORT, 0xc3], o);
  }
  return page;
}

const PAGE = buildHypercallPage();

/**
 * Handles a WRMSR to HYPERCALL_PAGE_MSR: copies the stubs into RAM at the page the value names.
 * Returns false when the page is outside RAM or the page index (bits 11:0) is not 0 (we offer one page),
 * which the caller turns into #GP as Xen does.
 */
export function installHypercallPage(ram: Uint8Array, msrValue: bigint): boolean {
  const index = Number(msrValue & 0xfffn);
  const gpa = msrValue & ~0xfffn;
  if (index !== 0 || gpa + 4096n > BigInt(ram.length)) return false;
  ram.set(PAGE, Number(gpa));
  return true;
}
