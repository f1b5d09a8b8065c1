// Which guest code bytes a JIT block depends on: byte intervals within its physical page, so that a write next to
// a block (data sharing the page, a patched neighbour) keeps it and only a write into it drops it.
//
// A translation lists the start RIP of every instruction (ripsLo, all on the block's page). The length of an
// instruction is the distance to the next one when the block went on sequentially; control transfers that the
// translator may follow inside a block (jmp, and jcc/call should it ever follow them) are measured from their
// encoding instead, since the next instruction is then their target. The last instruction ends where the
// translator stopped decoding (`bytes`). Anything implausible (a length outside 1..15) covers 15 bytes: too
// much coverage only costs an extra invalidation, too little would run stale code.

/** Legacy and REX prefixes as the translator accepts them in 64-bit mode. */
function isPrefix(b: number): boolean {
  return b === 0x66 || b === 0x67 || b === 0xf2 || b === 0xf3 || b === 0xf0 || b === 0x26 || b === 0x2e ||
    b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65 || (b & 0xf0) === 0x40;
}

/** Length of the branch at ram[p] (jmp/jcc/call/loop/jrcxz with a relative target), 0 for anything else. */
export function branchLength(ram: Uint8Array, p: number, pageEnd: number): number {
  let q = p, o16 = false;
  while (q < pageEnd && q - p < 14 && isPrefix(ram[q]!)) { if (ram[q] === 0x66) o16 = true; q++; }
  if (q >= pageEnd) return 0;
  const b = ram[q]!;
  const n = q - p;
  if (b === 0xeb || (b >= 0x70 && b <= 0x7f) || (b >= 0xe0 && b <= 0xe3)) return n + 2;
  if (b === 0xe8 || b === 0xe9) return n + (o16 ? 3 : 5);
  if (b === 0x0f && q + 1 < pageEnd && (ram[q + 1]! & 0xf0) === 0x80) return n + (o16 ? 4 : 6);
  return 0;
}

/**
 * Intervals [start, end) of page offsets (sorted, merged, flattened into one array) covered by a block whose
 * first byte is at physical `phys`, with instruction starts ripsLo (low RIP halves; only the page offset is used)
 * and `bytes` = offset after the last decoded byte relative to phys. Returns null when the instruction starts are
 * not all on phys's page (the caller must not track such a block by page). `lens`: each instruction's length, when
 * the translator knows them (a wasm region's instructions are not in address order).
 */
export function blockCoverage(ram: Uint8Array, phys: number, ripsLo: Int32Array, ripsHi: Int32Array, bytes: number, lens?: Uint8Array): Int32Array | null {
  const n = ripsLo.length;
  const base = phys - (phys & 0xfff);
  const pageEnd = Math.min(base + 4096, ram.length);
  if (n === 0) return new Int32Array(0);
  const page0 = ripsLo[0]! & ~0xfff, hi0 = ripsHi[0]!;
  const iv: number[] = [];
  for (let i = 0; i < n; i++) {
    if ((ripsLo[i]! & ~0xfff) !== page0 || ripsHi[i] !== hi0) return null;
    const off = ripsLo[i]! & 0xfff;
    let len = lens !== undefined ? lens[i]! : branchLength(ram, base + off, pageEnd);
    if (len === 0) len = i + 1 < n ? (ripsLo[i + 1]! & 0xfff) - off : (phys & 0xfff) + bytes - off;
    if (len < 1 || len > 15) len = 15;
    iv.push(off, Math.min(off + len, 4096));
  }
  // Sort by start and merge.
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => iv[2 * a]! - iv[2 * b]!);
  const out: number[] = [];
  for (const i of idx) {
    const s = iv[2 * i]!, e = iv[2 * i + 1]!;
    if (out.length > 0 && s <= out[out.length - 1]!) { if (e > out[out.length - 1]!) out[out.length - 1] = e; }
    else out.push(s, e);
  }
  return Int32Array.from(out);
}

/** Whether the intervals of `cov` overlap [off, off + len). */
export function covers(cov: Int32Array, off: number, len: number): boolean {
  const end = off + len;
  for (let i = 0; i < cov.length; i += 2) if (cov[i]! < end && off < cov[i + 1]!) return true;
  return false;
}
