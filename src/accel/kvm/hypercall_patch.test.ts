import { test } from "node:test";
import assert from "node:assert/strict";
import { patchVmcallHypercalls } from "./hypercall_patch.ts";

// Layout as in Debian's 6.1.0-56 vmlinux (xen-abi-on-kvm.md §3): vmmcall + jmp thunk + padding, then
// 16 bytes later vmcall + jmp thunk.
function kernelText(): Uint8Array {
  const b = new Uint8Array(256).fill(0x90);
  b.set([0x0f, 0x01, 0xd9, 0xe9, 1, 2, 3, 4], 0x40);
  b.set([0x0f, 0x01, 0xc1, 0xe9, 1, 2, 3, 4], 0x50);
  b.set([0x0f, 0x01, 0xd0], 0x80); // xgetbv: a 0f 01 that is not a hypercall
  return b;
}

test("the vmmcall/vmcall pair becomes out %eax,$0x5a; nop and nothing else changes", () => {
  const text = kernelText();
  const before = text.slice();
  assert.deepEqual(patchVmcallHypercalls([{ bytes: new Uint8Array(64) }, { bytes: text }]), { kind: "patched", region: 1, offset: 0x40 });
  assert.deepEqual([...text.subarray(0x40, 0x44)], [0xe7, 0x5a, 0x90, 0xe9]);
  assert.deepEqual([...text.subarray(0x50, 0x54)], [0xe7, 0x5a, 0x90, 0xe9]);
  const changed = [...text].flatMap((v, i) => (v !== before[i] ? [i] : []));
  assert.deepEqual(changed, [0x40, 0x41, 0x42, 0x50, 0x51, 0x52]);
});

test("an image without the pair is left alone, and two pairs are reported as ambiguous", () => {
  assert.deepEqual(patchVmcallHypercalls([{ bytes: new Uint8Array(100) }]), { kind: "none" });
  const a = kernelText();
  const b = kernelText();
  assert.deepEqual(patchVmcallHypercalls([{ bytes: a }, { bytes: b }]), { kind: "ambiguous", matches: 2 });
  assert.equal(a[0x40], 0x0f, "untouched");
});
