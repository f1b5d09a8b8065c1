import { test } from "node:test";
import assert from "node:assert/strict";
import { PagingGuestMemory, translate } from "./guest_pagewalk.ts";
import { GuestFault } from "./xen_error.ts";

const ram = (): Uint8Array => new Uint8Array(0x200000);
function put64(r: Uint8Array, at: number, v: number): void {
  const d = new DataView(r.buffer);
  d.setUint32(at, v % 2 ** 32, true);
  d.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
}
const LONG = { cr0: 0x80000011, cr3: 0x1000, cr4: 0x20, efer: 0x500 };

test("translate() is the identity while paging is off", () => {
  assert.equal(translate(ram(), { cr0: 0x11, cr3: 0, cr4: 0, efer: 0 }, 0x1234n), 0x1234);
});

test("translate() walks 4-level tables with 4 KiB and 2 MiB pages", () => {
  const r = ram();
  put64(r, 0x1000, 0x2003); // PML4[0] → PDPT at 0x2000
  put64(r, 0x2000, 0x3003); // PDPT[0] → PD at 0x3000
  put64(r, 0x3000, 0x4003); // PD[0] → PT at 0x4000
  put64(r, 0x4000 + 5 * 8, 0x9003); // PT[5]: va 0x5000 → 0x9000
  put64(r, 0x3008, 0x200083); // PD[1]: 2 MiB page va 0x200000 → 0x200000
  assert.equal(translate(r, LONG, 0x5abcn), 0x9abc);
  assert.equal(translate(r, LONG, 0x212345n), 0x212345);
  assert.throws(() => translate(r, LONG, 0x6000n), GuestFault);
  assert.throws(() => translate(r, LONG, 0x0000800000000000n), /non-canonical/);
});

test("translate() handles the upper half of a 4-level address space", () => {
  const r = ram();
  put64(r, 0x1000 + 511 * 8, 0x2003); // PML4[511]
  put64(r, 0x2000 + 510 * 8, 0x3003); // PDPT[510]
  put64(r, 0x3000, 0x80083); // PD[0]: 2 MiB page at 0 (frame 0x80000 aligns down to 0)
  assert.equal(translate(r, LONG, 0xffffffff80001234n), 0x1234);
});

test("translate() walks 32-bit non-PAE and PAE tables", () => {
  const r = ram();
  new DataView(r.buffer).setUint32(0x1000 + 1 * 4, 0x5003, true); // PDE[1] → PT 0x5000 (va 0x400000..)
  new DataView(r.buffer).setUint32(0x5000 + 2 * 4, 0x7003, true); // PTE[2] → 0x7000
  assert.equal(translate(r, { cr0: 0x80000011, cr3: 0x1000, cr4: 0, efer: 0 }, 0x402010n), 0x7010);
  const p = ram();
  put64(p, 0x1000, 0x2001); // PDPTE[0] → PD 0x2000
  put64(p, 0x2000, 0x3003); // PDE[0] → PT 0x3000
  put64(p, 0x3000 + 8, 0x8003); // PTE[1] → 0x8000
  assert.equal(translate(p, { cr0: 0x80000011, cr3: 0x1000, cr4: 0x20, efer: 0 }, 0x1004n), 0x8004);
});

test("PagingGuestMemory copies across a page boundary into discontiguous frames", () => {
  const r = ram();
  put64(r, 0x1000, 0x2003);
  put64(r, 0x2000, 0x3003);
  put64(r, 0x3000, 0x4003);
  put64(r, 0x4000 + 0 * 8, 0xa003); // va 0x0000 → 0xa000
  put64(r, 0x4000 + 1 * 8, 0x6003); // va 0x1000 → 0x6000
  const mem = new PagingGuestMemory(r, LONG);
  mem.write(0xffen, new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual([...r.subarray(0xaffe, 0xb000)], [1, 2]);
  assert.deepEqual([...r.subarray(0x6000, 0x6002)], [3, 4]);
  assert.deepEqual([...mem.read(0xffen, 4)], [1, 2, 3, 4]);
  assert.throws(() => mem.read(0x1ff0n, 0x20), GuestFault);
});
