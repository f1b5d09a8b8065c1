// String instructions movs/cmps/stos/lods/scas/ins/outs with rep/repe/repne (Intel SDM vol. 2).
// A rep instruction runs at most CHUNK iterations per execution and then restarts itself (RIP is not
// advanced), so it stays interruptible; RCX/RSI/RDI are updated after every iteration (or every fast-path
// block), so a fault restarts it consistently. rep stos / rep movs with DF=0 on RAM use bulk fills/copies
// through EmuSystem.dataPage when the system provides it.

import { ES, type CoreBase } from "../decode/decoder.ts";
import { LF_SUB } from "../flags.ts";

const CHUNK = 65536;
const DF = 1 << 10;

/** Counter value (clipped to 2^31 - 1 for huge 64-bit counts). */
function getCnt(c: CoreBase): number {
  const as = c.as;
  if (as === 8) return c.rhi[1] !== 0 ? 0x7fffffff : Math.min(c.rlo[1] >>> 0, 0x7fffffff);
  if (as === 4) return Math.min(c.rlo[1] >>> 0, 0x7fffffff);
  return c.rlo[1] & 0xffff;
}
function subCnt(c: CoreBase, n: number): void {
  const as = c.as, rlo = c.rlo;
  if (as === 8) { const s = (rlo[1] >>> 0) - n; rlo[1] = s | 0; if (s < 0) c.rhi[1] = (c.rhi[1] - 1) | 0; }
  else if (as === 4) { rlo[1] = (rlo[1] - n) | 0; c.rhi[1] = 0; }
  else rlo[1] = (rlo[1] & ~0xffff) | ((rlo[1] - n) & 0xffff);
}
/** Adds delta (|delta| < 2^31) to index register r at the address size. */
function addIdx(c: CoreBase, r: number, delta: number): void {
  const as = c.as, rlo = c.rlo;
  if (as === 8) {
    const s = (rlo[r] >>> 0) + delta;
    rlo[r] = s | 0;
    if (s > 0xffffffff) c.rhi[r] = (c.rhi[r] + 1) | 0; else if (s < 0) c.rhi[r] = (c.rhi[r] - 1) | 0;
  } else if (as === 4) { rlo[r] = (rlo[r] + delta) | 0; c.rhi[r] = 0; }
  else rlo[r] = (rlo[r] & ~0xffff) | ((rlo[r] + delta) & 0xffff);
}
/** Linear address of seg:index-register r (sets c.eaLo/eaHi). */
function idxLin(c: CoreBase, seg: number, r: number, override: boolean): void {
  const as = c.as;
  c.offLo = as === 2 ? c.rlo[r] & 0xffff : c.rlo[r];
  c.offHi = as === 8 ? c.rhi[r] : 0;
  if (override) c.segment(seg);
  else { const s = c.segOvr; c.segOvr = -1; c.segment(seg); c.segOvr = s; }
}

/** Executes string opcode `op`. Returns false when the instruction must run again (rep not finished). */
export function execString(c: CoreBase, op: number): boolean {
  const os = (op & 1) === 0 ? 1 : c.os;
  const rep = c.rep;
  const step = (c.cpu.eflagsRest & DF) !== 0 ? -os : os;
  let n: number;
  if (rep !== 0) {
    n = getCnt(c);
    if (n === 0) return true;
    if (n > CHUNK) n = CHUNK;
  } else n = 1;
  const kind = op & 0xfe;
  if (rep !== 0 && step > 0 && c.sys.dataPage !== undefined && c.sys.ram !== undefined && n > 1) {
    if (kind === 0xaa) return stosFast(c, os, n);
    if (kind === 0xa4) return movsFast(c, os, n);
  }
  const sys = c.sys;
  const cond = op === 0xa6 || op === 0xa7 || op === 0xae || op === 0xaf;
  let done = 0;
  while (done < n) {
    switch (kind) {
      case 0xa4: { // movs
        idxLin(c, 3, 6, true);
        const v = c.rdMem(os, c.eaLo, c.eaHi), vh = c.hi;
        idxLin(c, ES, 7, false);
        c.wrMem(os, c.eaLo, c.eaHi, v, vh);
        addIdx(c, 6, step); addIdx(c, 7, step);
        break;
      }
      case 0xa6: { // cmps
        idxLin(c, 3, 6, true);
        const a = c.rdMem(os, c.eaLo, c.eaHi), ah = c.hi;
        idxLin(c, ES, 7, false);
        const b = c.rdMem(os, c.eaLo, c.eaHi), bh = c.hi;
        cmpFlags(c, os, a, ah, b, bh);
        addIdx(c, 6, step); addIdx(c, 7, step);
        break;
      }
      case 0xaa: { // stos
        idxLin(c, ES, 7, false);
        c.wrMem(os, c.eaLo, c.eaHi, c.rlo[0], c.rhi[0]);
        addIdx(c, 7, step);
        break;
      }
      case 0xac: { // lods
        idxLin(c, 3, 6, true);
        const v = c.rdMem(os, c.eaLo, c.eaHi);
        c.setReg(os, 0, v, c.hi);
        addIdx(c, 6, step);
        break;
      }
      case 0xae: { // scas
        idxLin(c, ES, 7, false);
        const b = c.rdMem(os, c.eaLo, c.eaHi), bh = c.hi;
        const a = c.getReg(os, 0), ah = c.hi;
        cmpFlags(c, os, a, ah, b, bh);
        addIdx(c, 7, step);
        break;
      }
      case 0x6c: { // ins
        idxLin(c, ES, 7, false);
        const sz = os === 8 ? 4 : os;
        const v = sys.portIn(c.rlo[2] & 0xffff, sz as 1 | 2 | 4);
        c.wrMem(sz, c.eaLo, c.eaHi, v, 0);
        addIdx(c, 7, step);
        break;
      }
      default: { // outs
        idxLin(c, 3, 6, true);
        const sz = os === 8 ? 4 : os;
        const v = c.rdMem(sz, c.eaLo, c.eaHi);
        sys.portOut(c.rlo[2] & 0xffff, sz as 1 | 2 | 4, v);
        addIdx(c, 6, step);
        break;
      }
    }
    done++;
    if (rep !== 0) {
      subCnt(c, 1);
      if (cond) {
        const zf = c.zf();
        if ((rep === 0xf3 && zf === 0) || (rep === 0xf2 && zf !== 0)) { c.cpu.icount += done - 1; return true; }
      }
    }
  }
  if (rep === 0) return true;
  c.cpu.icount += done - 1;
  return getCnt(c) === 0;
}

function cmpFlags(c: CoreBase, os: number, a: number, ah: number, b: number, bh: number): void {
  let lo: number, hi = 0;
  if (os === 8) {
    lo = (a - b) | 0;
    hi = (ah - bh - ((a >>> 0) < (b >>> 0) ? 1 : 0)) | 0;
  } else {
    const m = os === 4 ? -1 : os === 2 ? 0xffff : 0xff;
    a &= m; b &= m; lo = (a - b) & m;
  }
  c.lfOp = LF_SUB; c.lfSize = os; c.lfResLo = lo; c.lfResHi = hi;
  c.lfS1Lo = a; c.lfS1Hi = ah; c.lfS2Lo = b; c.lfS2Hi = bh;
}

/** rep stos, DF=0: fills page by page through dataPage; falls back to element writes off RAM. */
function stosFast(c: CoreBase, os: number, n: number): boolean {
  const sys = c.sys, ram = sys.ram!;
  const vLo = c.rlo[0], vHi = c.rhi[0];
  let uniform = true;
  const b0 = vLo & 0xff;
  if (os >= 2 && ((vLo >>> 8) & 0xff) !== b0) uniform = false;
  if (os >= 4 && (((vLo >>> 16) & 0xff) !== b0 || ((vLo >>> 24) & 0xff) !== b0)) uniform = false;
  if (os === 8 && vHi !== (vLo & 0xff) * 0x01010101) uniform = false;
  let left = n;
  while (left > 0) {
    idxLin(c, ES, 7, false);
    const lo = c.eaLo, hi = c.eaHi;
    const inPage = 4096 - (lo & 0xfff);
    let cnt = Math.floor(inPage / os);
    if (cnt === 0) { // element straddles a page boundary
      c.wrMem(os, lo, hi, vLo, vHi);
      addIdx(c, 7, os); subCnt(c, 1); left--;
      continue;
    }
    if (cnt > left) cnt = left;
    const base = sys.dataPage!(lo, hi, true);
    if (base < 0) { // not RAM: element by element
      for (let i = 0; i < cnt; i++) {
        idxLin(c, ES, 7, false);
        c.wrMem(os, c.eaLo, c.eaHi, vLo, vHi);
        addIdx(c, 7, os); subCnt(c, 1);
      }
      left -= cnt;
      continue;
    }
    const p = base + (lo & 0xfff), bytes = cnt * os;
    if (uniform) ram.fill(b0, p, p + bytes);
    else {
      for (let i = 0; i < bytes; i += os) {
        const q = p + i;
        ram[q] = vLo; ram[q + 1] = vLo >>> 8;
        if (os >= 4) { ram[q + 2] = vLo >>> 16; ram[q + 3] = vLo >>> 24; }
        if (os === 8) { ram[q + 4] = vHi; ram[q + 5] = vHi >>> 8; ram[q + 6] = vHi >>> 16; ram[q + 7] = vHi >>> 24; }
      }
    }
    addIdx(c, 7, bytes); subCnt(c, cnt); left -= cnt;
  }
  c.cpu.icount += n - 1;
  return getCnt(c) === 0;
}

/** rep movs, DF=0: page-bounded copyWithin; overlapping forward copies go element-serially, non-RAM element by element. */
function movsFast(c: CoreBase, os: number, n: number): boolean {
  const sys = c.sys, ram = sys.ram!;
  let left = n;
  while (left > 0) {
    idxLin(c, 3, 6, true);
    const sLo = c.eaLo, sHi = c.eaHi;
    idxLin(c, ES, 7, false);
    const dLo = c.eaLo, dHi = c.eaHi;
    const room = Math.min(4096 - (sLo & 0xfff), 4096 - (dLo & 0xfff));
    let cnt = Math.floor(room / os);
    if (cnt > left) cnt = left;
    let sb = -1, db = -1;
    if (cnt > 0) {
      sb = sys.dataPage!(sLo, sHi, false);
      if (sb >= 0) db = sys.dataPage!(dLo, dHi, true);
    }
    if (cnt === 0 || sb < 0 || db < 0) {
      const v = c.rdMem(os, sLo, sHi), vh = c.hi;
      c.wrMem(os, dLo, dHi, v, vh);
      addIdx(c, 6, os); addIdx(c, 7, os); subCnt(c, 1); left--;
      continue;
    }
    const sp = sb + (sLo & 0xfff), dp = db + (dLo & 0xfff), bytes = cnt * os;
    const d = dp - sp;
    if (d > 0 && d < bytes) {
      // Forward overlapping copy: element by element like hardware (each element is read before it is
      // written). With d >= os that is the same as a byte-serial copy; with d < os each element is moved whole.
      if (d >= os) for (let i = 0; i < bytes; i++) ram[dp + i] = ram[sp + i];
      else for (let i = 0; i < bytes; i += os) ram.copyWithin(dp + i, sp + i, sp + i + os);
    } else ram.copyWithin(dp, sp, sp + bytes);
    addIdx(c, 6, bytes); addIdx(c, 7, bytes); subCnt(c, cnt); left -= cnt;
  }
  c.cpu.icount += n - 1;
  return getCnt(c) === 0;
}
