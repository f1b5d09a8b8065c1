// Rewrites a Linux guest's Xen hypercall instructions to port I/O, for CPU backends where VMCALL/VMMCALL
// cannot reach userspace (xen-abi-on-kvm.md §3, recipe step 1). Since the XSA-466 fixes Linux (6.1.192,
// also Debian's 6.1.176 build) issues HVM/PVH hypercalls through two functions in .noinstr.text:
// xen_hypercall_amd (`0f 01 d9` vmmcall) and, 16 bytes later, xen_hypercall_intel (`0f 01 c1` vmcall).
// Each 3-byte instruction becomes `e7 PP 90` (out %eax,$PP; nop): the backend sees a 32-bit OUT with the
// hypercall number in EAX. The pattern must match exactly once; anything else is refused.
// Design: the matching region is split around the 19 patched bytes, so the (cached) kernel bytes are
// never modified or copied.
import { hex } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";
import type { BootImage } from "../hv/ports.ts";

const VMMCALL = [0x0f, 0x01, 0xd9];
const VMCALL = [0x0f, 0x01, 0xc1];
const VMCALL_DISTANCE = 16;

export interface HypercallPatchResult {
  readonly image: BootImage;
  /** Guest-physical address of the patched vmmcall (the vmcall is 16 bytes later). */
  readonly gpa: number;
}

function matchesAt(b: Uint8Array, at: number, pattern: readonly number[]): boolean {
  return at >= 0 && at + pattern.length <= b.length && pattern.every((v, i) => b[at + i] === v);
}

export function patchXenHypercalls(image: BootImage, port: number): HypercallPatchResult {
  if (!Number.isInteger(port) || port < 0 || port > 0xff) throw new BootError(`hypercall port ${port} does not fit an 8-bit OUT immediate`);
  const needle = Buffer.from(VMMCALL);
  const hits: { region: number; offset: number }[] = [];
  image.regions.forEach((r, region) => {
    const b = Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
    for (let at = b.indexOf(needle); at >= 0; at = b.indexOf(needle, at + 1)) {
      if (matchesAt(r.bytes, at + VMCALL_DISTANCE, VMCALL)) hits.push({ region, offset: at });
    }
  });
  if (hits.length !== 1) {
    throw new BootError(`expected the Xen hypercall functions (vmmcall, vmcall 16 bytes later) once in the kernel, found them ${hits.length} times`);
  }
  const { region, offset } = hits[0]!;
  const r = image.regions[region]!;
  const patched = r.bytes.slice(offset, offset + VMCALL_DISTANCE + VMCALL.length);
  patched.set([0xe7, port, 0x90], 0);
  patched.set([0xe7, port, 0x90], VMCALL_DISTANCE);
  const end = offset + patched.length;
  const pieces = [
    { gpa: r.gpa, bytes: r.bytes.subarray(0, offset) },
    { gpa: r.gpa + offset, bytes: patched },
    { gpa: r.gpa + end, bytes: r.bytes.subarray(end) },
  ].filter((p) => p.bytes.length > 0);
  const regions = [...image.regions.slice(0, region), ...pieces, ...image.regions.slice(region + 1)];
  const gpa = r.gpa + offset;
  return {
    image: { ...image, regions, description: `${image.description}, Xen hypercalls at ${hex(gpa)} rewritten to out ${hex(port)}` },
    gpa,
  };
}
