// BCJ x86 filter, decoder direction (xz file format §5.3.3 "Branch/Call/Jump filters"; the algorithm
// of liblzma's simple/x86.c): turns the absolute CALL/JMP (E8/E9) targets the encoder wrote back
// into relative displacements, in place over a whole block's output.
// Design: the block is fully in memory, so one pass over it equals the streaming filter; the last
// 4 bytes are never converted, as in the streaming version at end of input.

const MASK_TO_ALLOWED = [true, true, true, false, true, false, false, false];
const MASK_TO_BIT_NUM = [0, 1, 2, 2, 3, 3, 3, 3];

function isMsByte(b: number): boolean {
  return b === 0x00 || b === 0xff;
}

/** Decodes buf[start, end) in place; `startOffset` is the filter's start offset property (usually 0). */
export function bcjX86Decode(buf: Uint8Array, start: number, end: number, startOffset = 0): void {
  if (end - start <= 4) return;
  const limit = end - 4;
  let prevPos = start - 1;
  let prevMask = 0;
  for (let i = start; i < limit; i++) {
    if ((buf[i]! & 0xfe) !== 0xe8) continue;
    const distance = i - prevPos;
    if (distance > 3) {
      prevMask = 0;
    } else {
      prevMask = (prevMask << (distance - 1)) & 7;
      if (prevMask !== 0) {
        const b = buf[i + 4 - MASK_TO_BIT_NUM[prevMask]!]!;
        if (!MASK_TO_ALLOWED[prevMask] || isMsByte(b)) {
          prevPos = i;
          prevMask = (prevMask << 1) | 1;
          continue;
        }
      }
    }
    prevPos = i;
    if (isMsByte(buf[i + 4]!)) {
      let src = (buf[i + 1]! | (buf[i + 2]! << 8) | (buf[i + 3]! << 16) | (buf[i + 4]! << 24)) >>> 0;
      const pos = (startOffset + (i - start) + 5) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - pos) >>> 0;
        if (prevMask === 0) break;
        const j = MASK_TO_BIT_NUM[prevMask]! * 8;
        const b = (dest >>> (24 - j)) & 0xff;
        if (!isMsByte(b)) break;
        src = (dest ^ (2 ** (32 - j) - 1)) >>> 0;
      }
      dest &= 0x01ffffff;
      if (dest & 0x01000000) dest |= 0xfe000000;
      buf[i + 1] = dest;
      buf[i + 2] = dest >>> 8;
      buf[i + 3] = dest >>> 16;
      buf[i + 4] = dest >>> 24;
      i += 4;
    } else {
      prevMask = (prevMask << 1) | 1;
    }
  }
}
