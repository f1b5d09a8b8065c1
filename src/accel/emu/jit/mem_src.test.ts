import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuFault } from "../cpu_state.ts";
import { enterLongMode, makeMachine, type Machine, put64 } from "../test_fixture.ts";
import { FlatEmuSystem, setFlat64 } from "../../../testing/emu_flat_system.ts";
import { CpuState } from "../cpu_state.ts";
import { MEM_PROLOGUE, memRd, memWr, useMemPrologue } from "./mem_src.ts";

// The fragments run as they do in a block: (ea, eh) set, value in a/ah, through a function built like a block.
// 4 KiB mappings at VA 0x40000000 + k * 4096 (PML4[0] -> PDPT 0x11000 [1] -> PD 0x20000 [0] -> PT 0x21000).
const VA = 0x40000000, PT = 0x21000;
const P = 1, W = 2, U = 4, D = 0x40;

function mapPages(m: Machine): void {
  put64(m.dv, 0x11000 + 8, 0x20000 | 7);
  put64(m.dv, 0x20000, PT | 7);
  put64(m.dv, PT + 0 * 8, 0x400000 | P | W | U);      // rw, clean
  put64(m.dv, PT + 1 * 8, 0x401000 | P | U);          // read-only
  put64(m.dv, PT + 2 * 8, 0x402000 | P | W);          // supervisor only
  put64(m.dv, PT + 3 * 8, 0x403000 | P | W | U | D);  // rw, dirty
  put64(m.dv, PT + 4 * 8, 0xfec00000 | P | W);        // MMIO (IOAPIC)
}

type Frag = (c: unknown, h: unknown) => number[];

/** A function running one fragment at (lo, hi): reads return [a, ah], writes store (v, vh). */
function frag(kind: "r" | "w", os: number, withPrologue: boolean): Frag {
  useMemPrologue(withPrologue);
  const body = kind === "r" ? memRd(os, "a", "ah", true) : memWr(os, "v", "vh", true);
  useMemPrologue(false);
  const src = "const cpu = c.cpu, sys = c.sys; const [ea0, eh0, v, vh] = c.args;\n" +
    "let a = 0, ah = 0, ea = ea0, eh = eh0;\n" + (withPrologue ? MEM_PROLOGUE : "") + body + "\nreturn [a, ah];";
  return new Function("c", "H", src) as Frag;
}

interface Core { cpu: unknown; sys: unknown; args: number[] }
function core(m: { cpu: unknown; sys: unknown }): Core { return { cpu: m.cpu, sys: m.sys, args: [0, 0, 0, 0] }; }

function rd(c: Core, os: number, lo: number, hi: number, pro: boolean): [number, number] {
  c.args = [lo | 0, hi, 0, 0];
  const r = frag("r", os, pro)(c, null);
  return [r[0]!, r[1]!];
}
function wr(c: Core, os: number, lo: number, hi: number, v: number, vh: number, pro: boolean): void {
  c.args = [lo | 0, hi, v, vh];
  frag("w", os, pro)(c, null);
}

function setup(): { m: Machine; c: Core } {
  const m = makeMachine();
  enterLongMode(m);
  mapPages(m);
  m.sys.flushTlb(false);
  return { m, c: core(m) };
}

for (const pro of [false, true]) {
  const form = pro ? "with the block prologue" : "self-contained";

  test(`inline probes (${form}) read and write guest RAM like readLin/writeLin, aligned or not`, () => {
    const { m, c } = setup();
    m.dv.setUint32(0x403000 + 0x10, 0x11223344, true);
    m.dv.setUint32(0x403000 + 0x14, 0x55667788, true);
    for (let k = 0; k < 2; k++) { // miss (walk + fill), then hit
      assert.deepEqual(rd(c, 8, VA + 0x3010, 0, pro), [0x11223344, 0x55667788]);
      assert.deepEqual(rd(c, 4, VA + 0x3014, 0, pro), [0x55667788, 0]);
      assert.deepEqual(rd(c, 2, VA + 0x3012, 0, pro), [0x1122, 0]);
      assert.deepEqual(rd(c, 1, VA + 0x3013, 0, pro), [0x11, 0]);
      assert.deepEqual(rd(c, 4, VA + 0x3011, 0, pro), [0x88112233 | 0, 0], "misaligned");
      assert.deepEqual(rd(c, 8, VA + 0x3014, 0, pro), [0x55667788, m.dv.getInt32(0x403018, true)], "4-aligned qword");
    }
    wr(c, 8, VA + 0x3020, 0, 0x01020304, -2, pro);
    // Aligned accesses to pages in the TLB never call the system.
    const sysObj = m.sys as unknown as Record<string, unknown>;
    const names = ["readLin8", "readLin16", "readLin32", "readLin64", "writeLin8", "writeLin16", "writeLin32", "writeLin64"];
    for (const n of names) sysObj[n] = () => { throw new Error(`${n} called on a hit`); };
    assert.deepEqual(rd(c, 8, VA + 0x3010, 0, pro), [0x11223344, 0x55667788]);
    assert.deepEqual(rd(c, 2, VA + 0x3012, 0, pro), [0x1122, 0]);
    assert.deepEqual(rd(c, 1, VA + 0x3013, 0, pro), [0x11, 0]);
    wr(c, 4, VA + 0x3030, 0, 0x31, 0, pro);
    wr(c, 2, VA + 0x3034, 0, 0x32, 0, pro);
    wr(c, 1, VA + 0x3036, 0, 0x33, 0, pro);
    assert.equal(m.dv.getUint32(0x403030, true), 0x31);
    assert.equal(m.dv.getUint32(0x403034, true), 0x330032);
    for (const n of names) delete sysObj[n];
    wr(c, 8, VA + 0x3020, 0, 0x0a0b0c0d, -3, pro);
    assert.equal(m.dv.getUint32(0x403020, true), 0x0a0b0c0d);
    assert.equal(m.dv.getInt32(0x403024, true), -3);
    wr(c, 4, VA + 0x3028, 0, -1, 0, pro);
    wr(c, 2, VA + 0x3028, 0, 0x12345, 0, pro);
    wr(c, 1, VA + 0x302b, 0, 0x1ab, 0, pro);
    assert.equal(m.dv.getUint32(0x403028, true), 0xabff2345);
    wr(c, 4, VA + 0x302d, 0, 0x44332211, 0, pro); // misaligned
    assert.equal(m.dv.getUint32(0x40302d, true), 0x44332211);
    // Page-crossing: last 4 bytes of page 3 and first 4 of page 4 would be MMIO: use pages 0 -> 1 for reads.
    m.dv.setUint32(0x400ffc, 0xaabbccdd, true);
    m.dv.setUint32(0x401000, 0x99887766, true);
    assert.deepEqual(rd(c, 8, VA + 0xffc, 0, pro), [0xaabbccdd | 0, 0x99887766 | 0]);
  });

  test(`inline probes (${form}) do not use stale entries after invlpg or a CR3 write`, () => {
    const { m, c } = setup();
    m.dv.setUint32(0x403000, 111, true);
    m.dv.setUint32(0x405000, 222, true);
    assert.deepEqual(rd(c, 4, VA + 0x3000, 0, pro), [111, 0]);
    assert.deepEqual(rd(c, 4, VA + 0x3000, 0, pro), [111, 0], "hit");
    put64(m.dv, PT + 3 * 8, 0x405000 | P | W | U | D);
    m.sys.invlpg(VA + 0x3000, 0);
    assert.deepEqual(rd(c, 4, VA + 0x3000, 0, pro), [222, 0], "after invlpg");
    wr(c, 4, VA + 0x3004, 0, 7, 0, pro);
    assert.equal(m.dv.getUint32(0x405004, true), 7);
    // Same VA in a new address space: a copy of the tables whose PT maps the page elsewhere.
    for (let i = 0; i < 4096; i += 4) {
      m.dv.setUint32(0x30000 + i, m.dv.getUint32(0x10000 + i, true), true); // PML4
      m.dv.setUint32(0x31000 + i, m.dv.getUint32(0x11000 + i, true), true); // PDPT
      m.dv.setUint32(0x32000 + i, m.dv.getUint32(0x20000 + i, true), true); // PD
      m.dv.setUint32(0x33000 + i, m.dv.getUint32(PT + i, true), true);      // PT
    }
    put64(m.dv, 0x30000, 0x31000 | 7);
    put64(m.dv, 0x31000 + 8, 0x32000 | 7);
    put64(m.dv, 0x32000, 0x33000 | 7);
    put64(m.dv, 0x33000 + 3 * 8, 0x403000 | P | W | U | D);
    m.sys.writeCr(3, 0x30000, 0);
    assert.deepEqual(rd(c, 4, VA + 0x3000, 0, pro), [111, 0], "after CR3 write");
    wr(c, 4, VA + 0x3004, 0, 9, 0, pro);
    assert.equal(m.dv.getUint32(0x403004, true), 9);
    assert.equal(m.dv.getUint32(0x405004, true), 7);
    // A supervisor-only page read at CPL 3 faults even though the CPL 0 read filled the TLB.
    assert.deepEqual(rd(c, 4, VA + 0x2000, 0, pro), [0, 0]);
    m.sys.setCpl(3);
    assert.throws(() => rd(c, 4, VA + 0x2000, 0, pro), CpuFault);
    assert.equal(m.cpu.faultVector, 14);
    assert.equal(m.cpu.faultErrorCode, 4 | 1); // U, P
    m.sys.setCpl(0);
  });

  test(`inline writes (${form}) fault on read-only pages, set D on clean pages and report code-page writes`, () => {
    const { m, c } = setup();
    m.dv.setUint32(0x401000, 0x5a5a5a5a, true);
    assert.deepEqual(rd(c, 4, VA + 0x1000, 0, pro), [0x5a5a5a5a, 0], "read fills the read set");
    assert.throws(() => wr(c, 4, VA + 0x1000, 0, 1, 0, pro), CpuFault);
    assert.equal(m.cpu.faultVector, 14);
    assert.equal(m.cpu.faultErrorCode, 2 | 1); // W, P (CR0.WP is set: supervisor writes fault too)
    assert.equal(m.cpu.cr2Lo, VA + 0x1000);
    assert.equal(m.dv.getUint32(0x401000, true), 0x5a5a5a5a);
    // Clean page: read (A set, no D), then the first write walks and sets D.
    assert.deepEqual(rd(c, 4, VA, 0, pro), [0, 0]);
    assert.equal(m.dv.getUint32(PT, true) & D, 0);
    wr(c, 4, VA, 0, 5, 0, pro);
    assert.equal(m.dv.getUint32(PT, true) & D, D);
    assert.equal(m.dv.getUint32(0x400000, true), 5);
    // Code page: the write entry is dropped, every write takes the slow path and reports what it wrote.
    const seen: number[][] = [];
    m.sys.codePageWritten = (ppn, off, len) => seen.push([ppn, off, len]);
    wr(c, 8, VA + 0x3008, 0, 1, 2, pro); // fills the write set
    m.sys.markCodePage(0x403);
    wr(c, 8, VA + 0x3008, 0, 3, 4, pro);
    wr(c, 2, VA + 0x3ffe, 0, 0xbeef, 0, pro);
    assert.deepEqual(seen, [[0x403, 8, 8], [0x403, 0xffe, 2]]);
    assert.equal(m.dv.getUint32(0x403008, true), 3);
    assert.equal(m.dv.getUint16(0x403ffe, true), 0xbeef);
    m.sys.unmarkCodePage(0x403);
  });

  test(`inline probes (${form}) send MMIO to the device and miss on systems without a TLB`, () => {
    const { m, c } = setup();
    rd(c, 4, VA + 0x4000, 0, pro);
    rd(c, 4, VA + 0x4000, 0, pro);
    wr(c, 4, VA + 0x4010, 0, 0x77, 0, pro);
    assert.deepEqual(m.io.log.filter((l) => l.startsWith("m")), ["mr4 fec00000", "mr4 fec00000", "mw4 fec00010=77"]);
    const st = new CpuState(0);
    setFlat64(st);
    const flat = new FlatEmuSystem(st, 1 << 20);
    const fc = core({ cpu: st, sys: flat });
    flat.ram[0x1234] = 0x42;
    assert.deepEqual(rd(fc, 1, 0x1234, 0, pro), [0x42, 0]);
    wr(fc, 4, 0x2000, 0, 0x1234567, 0, pro);
    assert.equal(new DataView(flat.ram.buffer).getUint32(0x2000, true), 0x1234567);
    assert.throws(() => rd(fc, 4, 0x200000, 0, pro), CpuFault);
  });
}

test("fragments call readLin/writeLin unless inline probes are asked for", () => {
  assert.equal(memRd(4, "a", "ah", false), "a = sys.readLin32(ea, eh) | 0; ah = 0;");
  assert.equal(memWr(8, "r", "rh", false), "sys.writeLin64(ea, eh, r, rh);/*w*/");
  assert.match(memRd(8, "a", "ah", true), /jitTlb/);
  assert.match(memWr(1, "r", "0", true), /\/\*w\*\/$/);
});
