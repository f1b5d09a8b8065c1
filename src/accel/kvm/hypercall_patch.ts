// Load-time patch for Linux kernels that make hypercalls with a raw vmcall/vmmcall instead of a
// hypercall page (Linux ≥ 6.1.192 / the XSA-466 fixes: xen_hypercall_amd / xen_hypercall_intel in
// .noinstr.text, xen-abi-on-kvm.md §3). Without KVM's Xen support a vmcall never reaches us (on kvm_pvm
// it never completes), so both sites become `out %eax,$HYPERCALL_PORT; nop`, which the kvm engine serves.
import { HYPERCALL_PORT } from "../../hv/hypercall/hypercall_page.ts";

const VMMCALL = [0x0f, 0x01, 0xd9];
const VMCALL = [0x0f, 0x01, 0xc1];
/** Distance from xen_hypercall_amd's vmmcall to xen_hypercall_intel's vmcall (16-byte aligned functions). */
const PAIR_DISTANCE = 16;
const OUT_NOP = [0xe7, HYPERCALL_PORT, 0x90];

export type HypercallPatchResult =
  | { readonly kind: "patched"; readonly region: number; readonly offset: number }
  | { readonly kind: "none" }
  | { readonly kind: "ambiguous"; readonly matches: number };

function matchAt(b: Uint8Array, at: number, pattern: readonly number[]): boolean {
  return b[at] === pattern[0] && b[at + 1] === pattern[1] && b[at + 2] === pattern[2];
}

/**
 * Finds the "vmmcall at a, vmcall at a+16" pair in the loaded image and patches it in place when it
 * occurs exactly once. Zero matches (a kernel that uses a hypercall page, or no Xen support) and
 * several matches (not the code we know) leave the image untouched.
 */
export function patchVmcallHypercalls(regions: readonly { readonly bytes: Uint8Array }[]): HypercallPatchResult {
  const found: { region: number; offset: number }[] = [];
  regions.forEach((r, region) => {
    const b = r.bytes;
    for (let i = b.indexOf(0x0f); i >= 0 && i + PAIR_DISTANCE + 3 <= b.length; i = b.indexOf(0x0f, i + 1)) {
      if (matchAt(b, i, VMMCALL) && matchAt(b, i + PAIR_DISTANCE, VMCALL)) found.push({ region, offset: i });
    }
  });
  if (found.length === 0) return { kind: "none" };
  if (found.length > 1) return { kind: "ambiguous", matches: found.length };
  const { region, offset } = found[0]!;
  const b = regions[region]!.bytes;
  b.set(OUT_NOP, offset);
  b.set(OUT_NOP, offset + PAIR_DISTANCE);
  return { kind: "patched", region, offset };
}
