import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuFault, CpuState, Mode } from "./cpu_state.ts";
import type { CpuIo, GuestRam } from "../../hv/ports.ts";
import { Access, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_LMA, EFER_LME, EFER_NXE, Mmu, TLB_SIZE, TLB_STRIDE } from "./mmu.ts";

// Golden page tables are built by hand in a 32 MiB test RAM; entry formats from Intel SDM vol. 3 §4.3-4.5.
const P = 1, W = 2, U = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;

export class TestIo implements CpuIo {
  readonly mmio: string[] = [];
  pioRead(): number { return 0xff; }
  pioWrite(): void {}
  mmioRead(gpa: number, size: number): number { this.mmio.push(`r${size}@${gpa.toString(16)}`); return 0x12345678 >>> 0; }
  mmioWrite(gpa: number, size: number, v: number): void { this.mmio.push(`w${size}@${gpa.toString(16)}=${v.toString(16)}`); }
  hypercall(): bigint { return 0n; }
}

export function makeRam(size = 32 << 20): GuestRam {
  return { bytes: new Uint8Array(size), sizeBytes: size };
}

function setup(): { cpu: CpuState; mmu: Mmu; ram: GuestRam; io: TestIo; dv: DataView } {
  const cpu = new CpuState(0);
  const ram = makeRam();
  const io = new TestIo();
  const mmu = new Mmu(cpu, ram, io);
  return { cpu, mmu, ram, io, dv: new DataView(ram.bytes.buffer) };
}

function put64(dv: DataView, addr: number, lo: number, hi = 0): void {
  dv.setUint32(addr, lo >>> 0, true);
  dv.setUint32(addr + 4, hi >>> 0, true);
}

/** 4-level tables at 0x10000: maps VA 0x0000_7f00_0040_0000 (user) and kernel 0xffff_ffff_8100_0000. */
function longMode(t: ReturnType<typeof setup>): void {
  const { cpu, dv } = t;
  cpu.cr0 = CR0_PE | CR0_PG | CR0_WP | 0x10;
  cpu.cr4 = CR4_PAE;
  cpu.efer = EFER_LME | EFER_LMA | EFER_NXE;
  cpu.cr3Lo = 0x10000;
  cpu.mode = Mode.Long64;
  // user VA 0x00007f0000400000: pml4 idx 254, pdpt idx 0, pd idx 2, pt idx 0
  put64(dv, 0x10000 + 254 * 8, 0x11000 | P | W | U);
  put64(dv, 0x11000 + 0 * 8, 0x12000 | P | W | U);
  put64(dv, 0x12000 + 2 * 8, 0x13000 | P | W | U);
  put64(dv, 0x13000 + 0 * 8, 0x200000 | P | W | U);          // rw user page -> 0x200000
  put64(dv, 0x13000 + 1 * 8, 0x201000 | P | U);              // ro user page
  put64(dv, 0x13000 + 2 * 8, 0x202000 | P | W | U, 0x80000000); // NX user page
  put64(dv, 0x13000 + 3 * 8, 0x203000 | P | W);              // supervisor page
  put64(dv, 0x13000 + 4 * 8, 0x204000 | P | W | U, 0x00000100); // reserved bit 40
  // kernel 0xffffffff81000000: pml4 511, pdpt 510, pd 8 -> 2 MiB page at 0x1000000 (global)
  put64(dv, 0x10000 + 511 * 8, 0x14000 | P | W);
  put64(dv, 0x14000 + 510 * 8, 0x15000 | P | W);
  put64(dv, 0x15000 + 8 * 8, 0x1000000 | P | W | PS | G);
  // 1 GiB page: 0xffff888000000000 -> 0 (pml4 273, pdpt 0)
  put64(dv, 0x10000 + 273 * 8, 0x16000 | P | W);
  put64(dv, 0x16000, 0 | P | W | PS);
}

const USER_VA_HI = 0x7f00;
function fault(cpu: CpuState, fn: () => unknown): { vector: number; code: number } {
  assert.throws(fn, (e) => e instanceof CpuFault);
  return { vector: cpu.faultVector, code: cpu.faultErrorCode };
}

test("paging off: linear equals physical and RAM accesses go to the byte array", () => {
  const t = setup();
  t.mmu.writeLin32(0x1234, 0, 0xdeadbeef | 0);
  assert.equal(t.dv.getUint32(0x1234, true), 0xdeadbeef);
  assert.equal(t.mmu.readLin32(0x1234, 0), 0xdeadbeef | 0);
  assert.equal(t.mmu.readLin16(0x1235, 0), 0xadbe);
  assert.equal(t.mmu.readLin8(0x1237, 0), 0xde);
  t.mmu.writeLin64(0x2000, 0, 0x11223344, 0x55667788);
  assert.equal(t.mmu.readLin64(0x2000, 0), 0x11223344);
  assert.equal(t.mmu.hiResult, 0x55667788);
});

test("non-RAM physical addresses go to CpuIo.mmio with the access size", () => {
  const t = setup();
  assert.equal(t.mmu.readLin32(0xfee00030 | 0, 0), 0x12345678);
  t.mmu.writeLin32(0xfee000b0 | 0, 0, 0);
  assert.deepEqual(t.io.mmio, ["r4@fee00030", "w4@fee000b0=0"]);
});

test("page-crossing reads and writes split across two pages", () => {
  const t = setup();
  longMode(t);
  // VA ...400ffe spans the rw page (0x200000) and the ro page; write must fault before storing anything.
  t.dv.setUint32(0x200ffc, 0xaabbccdd, true);
  t.dv.setUint32(0x201000, 0x11223344, true);
  assert.equal(t.mmu.readLin32(0x00400ffe, USER_VA_HI), 0x3344aabb);
  assert.equal(t.mmu.readLin64(0x00400ffc, USER_VA_HI), 0xaabbccdd | 0);
  assert.equal(t.mmu.hiResult, 0x11223344);
  t.cpu.cpl = 3;
  (t.mmu as unknown as { setUserMode(u: boolean): void }).setUserMode(true);
  const f = fault(t.cpu, () => t.mmu.writeLin32(0x00400ffe, USER_VA_HI, 0));
  assert.equal(f.vector, 14);
  assert.equal(f.code, 1 | 2 | 4);
  assert.equal(t.cpu.cr2Lo, 0x00401000);
  assert.equal(t.dv.getUint32(0x200ffc, true), 0xaabbccdd, "first page untouched");
});

test("4-level walk: 4 KiB, 2 MiB and 1 GiB pages translate and set accessed/dirty bits", () => {
  const t = setup();
  longMode(t);
  t.dv.setUint32(0x200010, 0xcafe, true);
  assert.equal(t.mmu.readLin32(0x00400010, USER_VA_HI), 0xcafe);
  assert.equal(t.dv.getUint32(0x10000 + 254 * 8, true) & A, A);
  assert.equal(t.dv.getUint32(0x13000, true) & (A | D), A, "read sets A only");
  t.mmu.writeLin8(0x00400011, USER_VA_HI, 1);
  assert.equal(t.dv.getUint32(0x13000, true) & (A | D), A | D, "write sets D");
  t.dv.setUint32(0x1034560, 0x77, true);
  assert.equal(t.mmu.readLin32(0x81034560 | 0, -1), 0x77);
  assert.equal(t.dv.getUint32(0x15000 + 64, true) & A, A);
  t.dv.setUint32(0x9abc0, 0x99, true);
  assert.equal(t.mmu.readLin32(0x0009abc0, 0xffff8880 | 0), 0x99);
});

test("page faults report P, W, U, RSVD and I in the error code and the address in CR2", () => {
  const t = setup();
  longMode(t);
  const user = (u: boolean) => (t.mmu as unknown as { setUserMode(u: boolean): void }).setUserMode(u);
  // not present (pt idx 5)
  let f = fault(t.cpu, () => t.mmu.readLin8(0x00405000, USER_VA_HI));
  assert.deepEqual(f, { vector: 14, code: 0 });
  assert.equal(t.cpu.cr2Lo, 0x00405000);
  assert.equal(t.cpu.cr2Hi, USER_VA_HI);
  user(true);
  f = fault(t.cpu, () => t.mmu.writeLin8(0x00405000, USER_VA_HI, 0));
  assert.equal(f.code, 2 | 4);
  f = fault(t.cpu, () => t.mmu.writeLin8(0x00401000, USER_VA_HI, 0));
  assert.equal(f.code, 1 | 2 | 4, "user write to read-only");
  f = fault(t.cpu, () => t.mmu.readLin8(0x00403000, USER_VA_HI));
  assert.equal(f.code, 1 | 4, "user read of supervisor page");
  f = fault(t.cpu, () => t.mmu.fetch8(0x00402000, USER_VA_HI));
  assert.equal(f.code, 1 | 4 | 16, "fetch from NX page");
  f = fault(t.cpu, () => t.mmu.readLin8(0x00404000, USER_VA_HI));
  assert.equal(f.code, 1 | 4 | 8, "reserved bit");
  user(false);
  // supervisor write to read-only user page: faults with WP, allowed without
  f = fault(t.cpu, () => t.mmu.writeLin8(0x00401000, USER_VA_HI, 0));
  assert.equal(f.code, 1 | 2);
  t.cpu.cr0 &= ~CR0_WP;
  t.mmu.flushTlb(false);
  t.mmu.writeLin8(0x00401000, USER_VA_HI, 5);
  assert.equal(t.ram.bytes[0x201000], 5);
  // NX ignored for reads, supervisor may read user pages
  assert.equal(t.mmu.readLin8(0x00402000, USER_VA_HI), 0);
});

test("non-canonical addresses raise #GP(0), or #SS(0) for stack accesses", () => {
  const t = setup();
  longMode(t);
  let f = fault(t.cpu, () => t.mmu.readLin8(0, 0x00008000));
  assert.deepEqual(f, { vector: 13, code: 0 });
  t.cpu.accessSeg = 2;
  f = fault(t.cpu, () => t.mmu.writeLin64(0, 0x00008000, 0, 0));
  assert.deepEqual(f, { vector: 12, code: 0 });
});

test("32-bit paging with 4 MiB PSE pages and 4 KiB pages", () => {
  const t = setup();
  const { cpu, dv } = t;
  cpu.cr0 = CR0_PE | CR0_PG | 0x10;
  cpu.cr4 = CR4_PSE;
  cpu.cr3Lo = 0x20000;
  dv.setUint32(0x20000 + (0x300 << 2), 0x400000 | P | W | PS, true); // 0xc0000000 -> 4 MiB at 0x400000
  dv.setUint32(0x20000 + (0x001 << 2), 0x21000 | P | W | U, true);   // 0x00400000 -> PT
  dv.setUint32(0x21000 + (0x003 << 2), 0x300000 | P | U, true);      // 0x00403000 -> 0x300000 read-only
  dv.setUint32(0x400000 + 0x12344, 0x4242, true);
  assert.equal(t.mmu.readLin32(0xc0012344 | 0, 0), 0x4242);
  dv.setUint32(0x300008, 0x5151, true);
  assert.equal(t.mmu.readLin32(0x00403008, 0), 0x5151);
  assert.equal(dv.getUint32(0x21000 + 12, true) & A, A);
  cpu.cr0 |= CR0_WP;
  t.mmu.flushTlb(false);
  const f = fault(cpu, () => t.mmu.writeLin8(0x00403008, 0, 1));
  assert.deepEqual(f, { vector: 14, code: 3 });
});

test("PAE paging: PDPTE, 2 MiB pages and NX", () => {
  const t = setup();
  const { cpu, dv } = t;
  cpu.cr0 = CR0_PE | CR0_PG | 0x10;
  cpu.cr4 = CR4_PAE;
  cpu.efer = EFER_NXE;
  cpu.cr3Lo = 0x30000;
  put64(dv, 0x30000 + 3 * 8, 0x31000 | P);                    // 0xc0000000 GiB
  put64(dv, 0x31000 + 1 * 8, 0x600000 | P | W | PS);          // 0xc0200000 -> 2 MiB at 0x600000
  put64(dv, 0x31000 + 2 * 8, 0x32000 | P | W);
  put64(dv, 0x32000 + 5 * 8, 0x700000 | P | W, 0x80000000);   // 0xc0405000 -> 0x700000, NX
  dv.setUint32(0x600000 + 0x1abcd, 0x6161, true);
  assert.equal(t.mmu.readLin32(0xc021abcd | 0, 0), 0x6161);
  dv.setUint8(0x700001, 0x90);
  assert.equal(t.mmu.readLin8(0xc0405001 | 0, 0), 0x90);
  const f = fault(cpu, () => t.mmu.fetch8(0xc0405001 | 0, 0));
  assert.deepEqual(f, { vector: 14, code: 1 | 16 });
  // with NXE clear, bit 63 is reserved
  cpu.efer = 0;
  t.mmu.flushTlb(false);
  const g = fault(cpu, () => t.mmu.readLin8(0xc0405001 | 0, 0));
  assert.deepEqual(g, { vector: 14, code: 1 | 8 });
});

test("TLB: stale until invlpg; CR3 writes drop non-global entries and keep global ones", () => {
  const t = setup();
  longMode(t);
  t.cpu.cr4 |= CR4_PGE;
  t.dv.setUint8(0x200000, 1);
  t.dv.setUint8(0x250000, 2);
  t.dv.setUint8(0x1000000, 3);
  t.dv.setUint8(0x1200000, 4);
  assert.equal(t.mmu.readLin8(0x00400000, USER_VA_HI), 1);
  assert.equal(t.mmu.readLin8(0x81000000 | 0, -1), 3);
  // remap both without telling the TLB
  put64(t.dv, 0x13000, 0x250000 | P | W | U);
  put64(t.dv, 0x15000 + 8 * 8, 0x1200000 | P | W | PS | G);
  assert.equal(t.mmu.readLin8(0x00400000, USER_VA_HI), 1, "stale translation still cached");
  t.mmu.invalidatePage(0x00400000, USER_VA_HI);
  assert.equal(t.mmu.readLin8(0x00400000, USER_VA_HI), 2);
  put64(t.dv, 0x13000, 0x200000 | P | W | U);
  t.mmu.flushTlb(true); // CR3 write with PGE
  assert.equal(t.mmu.readLin8(0x00400000, USER_VA_HI), 1, "non-global dropped");
  assert.equal(t.mmu.readLin8(0x81000000 | 0, -1), 3, "global survives CR3 write");
  t.mmu.invalidatePage(0x81010000 | 0, -1); // another 4 KiB slice of the same 2 MiB page
  assert.equal(t.mmu.readLin8(0x81000000 | 0, -1), 4, "invlpg anywhere in a large page drops it");
  t.mmu.flushTlb(false);
});

test("TLB flush with an overflowing fill log still drops everything", () => {
  const t = setup();
  // paging off: fill far more than the log holds
  for (let a = 0; a < 0x800000; a += 4096) t.mmu.readLin8(a, 0);
  t.cpu.cr0 = CR0_PE | CR0_PG | 0x10;
  t.cpu.cr4 = CR4_PSE;
  t.cpu.cr3Lo = 0x20000;
  t.mmu.flushTlb(true);
  const f = fault(t.cpu, () => t.mmu.readLin8(0x5000, 0));
  assert.equal(f.vector, 14);
});

test("writes to pages marked as code call codePageWritten with the written bytes and never hit the TLB", () => {
  const t = setup();
  const seen: number[][] = [];
  t.mmu.codePageWritten = (ppn, off, len) => seen.push([ppn, off, len]);
  t.mmu.writeLin8(0x5000, 0, 1); // fills the write TLB
  t.mmu.writeLin8(0x6000, 0, 1);
  t.mmu.markCodePage(5);
  t.mmu.writeLin8(0x5001, 0, 2);
  t.mmu.writeLin32(0x5ffe, 0, 0x01020304); // split into page 6 (unmarked)
  t.mmu.writeLin8(0x6002, 0, 2);
  t.mmu.writeLin64(0x5ab8, 0, 1, 2);
  t.mmu.writeLin16(0x5ff0, 0, 3);
  assert.deepEqual(seen, [[5, 1, 1], [5, 0xffe, 1], [5, 0xfff, 1], [5, 0xab8, 8], [5, 0xff0, 2]]);
  t.mmu.unmarkCodePage(5);
  t.mmu.writeLin8(0x5002, 0, 2);
  assert.equal(seen.length, 5);
  assert.equal(t.mmu.readLin32(0x5ffe, 0), 0x01020304);
  assert.equal(t.mmu.stats.codeWrites, 5);
});

test("a code page marked after its write entry was filled takes the slow path from then on", () => {
  const t = setup();
  longMode(t);
  const seen: number[][] = [];
  t.mmu.codePageWritten = (ppn, off, len) => seen.push([ppn, off, len]);
  t.mmu.writeLin32(0x00400010, USER_VA_HI, 1); // D set, write entry filled
  t.mmu.writeLin32(0x00400010, USER_VA_HI, 2);
  assert.deepEqual(seen, []);
  t.mmu.markCodePage(0x200);
  t.mmu.writeLin32(0x00400010, USER_VA_HI, 3);
  assert.deepEqual(seen, [[0x200, 0x10, 4]]);
  assert.equal(t.dv.getUint32(0x200010, true), 3);
});

test("the flat TLB holds tag lo/hi and the RAM page per entry; stats count walks, slow accesses and flushes", () => {
  const t = setup();
  longMode(t);
  const s0 = { ...t.mmu.stats };
  assert.equal(t.mmu.readLin32(0x00400010, USER_VA_HI), 0);
  const i = ((((0x00400010 >>> 12) ^ USER_VA_HI) & (TLB_SIZE - 1)) * TLB_STRIDE) + t.mmu.rBase;
  assert.deepEqual([...t.mmu.tlb.subarray(i, i + 3)], [0x00400000, USER_VA_HI, 0x200000]);
  assert.equal(t.mmu.jitTlb, t.mmu.tlb);
  t.mmu.readLin32(0x00400014, USER_VA_HI); // hit
  t.mmu.readLin32(0x00400ffe, USER_VA_HI); // page-crossing: slow, walks page 2
  t.mmu.writeLin8(0x00400000, USER_VA_HI, 1);
  t.mmu.flushTlb(true);
  t.mmu.flushTlb(false);
  t.mmu.invalidatePage(0, 0);
  const d = (k: keyof typeof s0): number => t.mmu.stats[k] - s0[k];
  assert.equal(d("walks"), 3);
  assert.equal(d("slowReads"), 2);
  assert.equal(d("slowWrites"), 1);
  assert.equal(d("flushes"), 1);
  assert.equal(d("fullFlushes"), 1);
  assert.equal(d("invlpgs"), 1);
  assert.equal(t.mmu.tlbMisses, t.mmu.stats.walks);
  assert.equal(t.mmu.tlb[i], 0x800, "flushed entries hold the empty tag");
  assert.equal(t.mmu.ram32.buffer, t.ram.bytes.buffer);
});

test("probe translates without faulting", () => {
  const t = setup();
  longMode(t);
  assert.equal(t.mmu.probe(0x00400123, USER_VA_HI, Access.Read, true), 0x200123);
  assert.equal(t.mmu.probe(0x00405000, USER_VA_HI, Access.Read, false), -1);
  assert.equal(t.mmu.probe(0, 0x8000, Access.Read, false), -1);
});

test("fetchPage and dataPage return RAM page offsets, check permissions and report code-page writes first", () => {
  const t = setup();
  longMode(t);
  const seen: number[][] = [];
  t.mmu.codePageWritten = (ppn, off, len) => seen.push([ppn, off, len]);
  assert.equal(t.mmu.fetchPage(0x00400000, USER_VA_HI), 0x200000);
  assert.equal(t.mmu.fetchPage(0x00400000, USER_VA_HI), 0x200000, "TLB hit");
  assert.equal(fault(t.cpu, () => t.mmu.fetchPage(0x00402000, USER_VA_HI)).code, 1 | 16);
  assert.equal(t.mmu.dataPage(0x00401000, USER_VA_HI, false), 0x201000);
  t.mmu.markCodePage(0x200);
  assert.equal(t.mmu.dataPage(0x00400100, USER_VA_HI, true), 0x200000);
  assert.deepEqual(seen, [[0x200, 0x100, 0xf00]], "the rest of the page from the address on");
  assert.equal(t.dv.getUint32(0x13000, true) & D, D, "dirty set");
  assert.equal(t.mmu.ram, t.ram.bytes);
});

test("flushes and invlpg bump cpu.tlbGen", () => {
  const t = setup();
  const g = t.cpu.tlbGen;
  t.mmu.flushTlb(true);
  t.mmu.invalidatePage(0, 0);
  assert.equal(t.cpu.tlbGen, g + 2);
});

test("invlpg drops every cached slice of a 1 GiB page and of a 32-bit 4 MiB page", () => {
  const t = setup();
  longMode(t);
  // 1 GiB page 0xffff888000000000 -> 0: cache slices in two different 2 MiB regions
  t.dv.setUint8(0x100, 1);
  t.dv.setUint8(0x600100, 2);
  assert.equal(t.mmu.readLin8(0x00000100, 0xffff8880 | 0), 1);
  assert.equal(t.mmu.readLin8(0x00600100, 0xffff8880 | 0), 2);
  put64(t.dv, 0x16000, 0x40000000 | P | W | PS); // remap to 1 GiB (outside RAM: reads go to MMIO)
  t.mmu.invalidatePage(0x00000000, 0xffff8880 | 0);
  t.io.mmio.length = 0;
  t.mmu.readLin8(0x00600100, 0xffff8880 | 0);
  assert.deepEqual(t.io.mmio, ["r1@40600100"], "slice in another 2 MiB region dropped");

  const u = setup();
  u.cpu.cr0 = CR0_PE | CR0_PG | 0x10;
  u.cpu.cr4 = CR4_PSE;
  u.cpu.cr3Lo = 0x20000;
  u.dv.setUint32(0x20000 + (0x300 << 2), 0x400000 | P | W | PS, true);
  u.dv.setUint8(0x400000 + 0x300000, 7);
  assert.equal(u.mmu.readLin8(0xc0300000 | 0, 0), 7); // upper 2 MiB half of the 4 MiB page
  u.dv.setUint32(0x20000 + (0x300 << 2), 0x800000 | P | W | PS, true);
  u.dv.setUint8(0x800000 + 0x300000, 8);
  u.mmu.invalidatePage(0xc0000000 | 0, 0); // lower half
  assert.equal(u.mmu.readLin8(0xc0300000 | 0, 0), 8);
});
