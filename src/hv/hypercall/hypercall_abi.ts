// How a hypercall sits in the registers (xen/arch/x86/hvm/hypercall.c hvm_hypercall): number in eax;
// 64-bit callers pass rdi rsi rdx r10 r8, 32-bit callers ebx ecx edx esi edi; the result goes to rax/eax.
// Shared by every engine: kvm (OUT to HYPERCALL_PORT) and emu (the same OUT, or vmcall/vmmcall).
import type { HypercallRequest } from "../ports.ts";

/** The general registers a hypercall reads, as 64-bit values. */
export interface HypercallRegs {
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
  rsi: bigint;
  rdi: bigint;
  r8: bigint;
  r10: bigint;
}

const LOW32 = 0xffffffffn;

export function hypercallRequest(vcpuId: number, longMode: boolean, r: HypercallRegs): HypercallRequest {
  const nr = Number(r.rax & LOW32);
  const args: [bigint, bigint, bigint, bigint, bigint] = longMode
    ? [r.rdi, r.rsi, r.rdx, r.r10, r.r8]
    : [r.rbx & LOW32, r.rcx & LOW32, r.rdx & LOW32, r.rsi & LOW32, r.rdi & LOW32];
  return { vcpuId, nr, args, longMode };
}

/** The new rax: 32-bit callers see eax only (upper half cleared, as a 32-bit register write does). */
export function hypercallResultRax(longMode: boolean, result: bigint): bigint {
  return longMode ? BigInt.asUintN(64, result) : result & LOW32;
}
