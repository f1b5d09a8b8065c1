import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuState, FAULT } from "../cpu_state.ts";
import { FlatEmuSystem, setFlat64 } from "../../../testing/emu_flat_system.ts";
import { CoreBase } from "./decoder.ts";

const M64 = (1n << 64n) - 1n;
const EDGES = [0, 1, -1, 0x7fffffff, -0x80000000, 0xfff, -4096, 0x12345678, -0x12345678];

test("64-bit ModRM/SIB effective addresses match a BigInt reference, carries and canonical faults included", () => {
  const st = new CpuState(0);
  setFlat64(st);
  const sys = new FlatEmuSystem(st, 1 << 16);
  const c = new CoreBase(st, sys);
  let seed = 12345;
  const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) | 0; return seed; };
  const pick = (): number => ((rnd() >>> 8) & 3) === 0 ? EDGES[(rnd() >>> 8) % EDGES.length]! : rnd();
  const code = new Uint8Array(16);
  for (let iter = 0; iter < 200_000; iter++) {
    for (let r = 0; r < 16; r++) { st.rlo[r] = pick(); st.rhi[r] = ((rnd() >>> 8) & 1) === 0 ? pick() : st.rlo[r] >> 31; }
    let modrm = rnd() & 0xff;
    if ((modrm >> 6) === 3) modrm &= 0x3f;
    const sib = rnd() & 0xff;
    for (let i = 0; i < 16; i++) code[i] = rnd() & 0xff;
    code[0] = modrm; code[1] = sib;
    c.is64 = true; c.as = 8; c.os = 8; c.segOvr = -1;
    const rex = rnd() & 0xf;
    c.rex = 0x40 | rex; c.rexR = (rex & 4) << 1; c.rexX = (rex & 2) << 2; c.rexB = (rex & 1) << 3;
    c.fRam = code; c.fBase = 0; c.fStart = 0; c.fPtr = 0; c.fLimit = 16;
    c.startLo = 0x1000; c.startHi = 0;
    const noSeg = (iter & 1) === 0;
    c.noSeg = noSeg;
    // Reference.
    const mod = modrm >> 6, rm = modrm & 7;
    const reg64 = (r: number): bigint => (BigInt(st.rhi[r]! >>> 0) << 32n) | BigInt(st.rlo[r]! >>> 0);
    const s8 = (b: number): bigint => BigInt((b << 24) >> 24);
    const s32 = (p: number): bigint => BigInt(code[p]! | (code[p + 1]! << 8) | (code[p + 2]! << 16) | (code[p + 3]! << 24));
    let ea = 0n, p = 1, isSS = false, ripRel = false;
    if (rm === 4) {
      p = 2;
      const idx = ((sib >> 3) & 7) | c.rexX, b = sib & 7;
      if (b === 5 && mod === 0) { ea += s32(p); p += 4; }
      else { const base = b | c.rexB; ea += reg64(base); isSS = base === 4 || base === 5; }
      if (idx !== 4) ea += reg64(idx) << BigInt(sib >> 6);
    } else if (rm === 5 && mod === 0) {
      ripRel = true; ea = 0x1000n + 5n + s32(1); p = 5;
    } else { const base = rm | c.rexB; ea += reg64(base); isSS = base === 4 || base === 5; }
    if (!ripRel) { if (mod === 1) { ea += s8(code[p]!); p += 1; } else if (mod === 2) { ea += s32(p); p += 4; } }
    ea &= M64;
    const lo = Number(ea & 0xffffffffn) | 0, hi = Number(ea >> 32n) | 0;
    let faulted = false;
    try { c.decodeModrm(0); } catch (e) { if (e !== FAULT) throw e; faulted = true; }
    const canonical = ((hi << 16) >> 16) === hi;
    assert.equal(faulted, !noSeg && !canonical, `fault, iter ${iter}`);
    assert.equal(c.fPtr, p, `length, iter ${iter}`);
    assert.equal(c.offLo, lo, `offLo, iter ${iter}`);
    assert.equal(c.offHi, hi, `offHi, iter ${iter}`);
    if (!noSeg && canonical) {
      assert.equal(c.eaLo, lo); assert.equal(c.eaHi, hi);
      if (!ripRel) assert.equal(c.eaSeg, isSS ? 2 : 3);
    }
    if (faulted) assert.equal(st.faultVector, isSS ? 12 : 13);
  }
});
