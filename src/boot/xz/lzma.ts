// LZMA decoder core for LZMA2 chunks (the LZMA algorithm as specified by the LZMA SDK / xz-file-format:
// range coder with 11-bit probabilities, 12-state machine, literal/match/rep decoding).
// Design: the whole output is one array that doubles as the dictionary, so a match is a copy inside
// it; probabilities live in one Uint16Array with fixed offsets (as LzmaDec's layout) so the hot
// bit-decoding method touches one typed array and stays monomorphic. Normalisation happens before
// each bit and once at the end of a chunk, so a chunk consumes exactly its packed bytes.
import { BootError } from "../../base/errors.ts";

const NUM_STATES = 12;
const POS_STATES_MAX = 16;
const LEN_CHOICE = 0;
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = LEN_LOW + POS_STATES_MAX * 8;
const LEN_HIGH = LEN_MID + POS_STATES_MAX * 8;
const LEN_SIZE = LEN_HIGH + 256;

const IS_MATCH = 0;
const IS_REP = IS_MATCH + NUM_STATES * POS_STATES_MAX;
const IS_REP_G0 = IS_REP + NUM_STATES;
const IS_REP_G1 = IS_REP_G0 + NUM_STATES;
const IS_REP_G2 = IS_REP_G1 + NUM_STATES;
const IS_REP0_LONG = IS_REP_G2 + NUM_STATES;
const POS_SLOT = IS_REP0_LONG + NUM_STATES * POS_STATES_MAX;
const SPEC_POS = POS_SLOT + 4 * 64;
const ALIGN = SPEC_POS + 128 - 14;
const LEN_CODER = ALIGN + 16;
const REP_LEN_CODER = LEN_CODER + LEN_SIZE;
const LITERAL = REP_LEN_CODER + LEN_SIZE;
/** lc + lp <= 4 in LZMA2. */
const PROBS_SIZE = LITERAL + (0x300 << 4);

const corrupt = () => new BootError("xz data is corrupt (LZMA2)");

export class LzmaDecoder {
  private readonly probs = new Uint16Array(PROBS_SIZE);
  private range = 0;
  private code = 0;
  private inPos = 0;
  private input: Uint8Array = new Uint8Array(0);
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  private lc = 0;
  private lp = 0;
  private pb = 0;
  private hasProps = false;

  /** Sets lc/lp/pb from an LZMA properties byte ((pb * 5 + lp) * 9 + lc). */
  setProps(props: number): void {
    if (props > (4 * 5 + 4) * 9 + 8) throw corrupt();
    this.lc = props % 9;
    const rest = Math.floor(props / 9);
    this.lp = rest % 5;
    this.pb = Math.floor(rest / 5);
    if (this.lc + this.lp > 4) throw new BootError("xz LZMA2 chunk has lc + lp above 4");
    this.hasProps = true;
  }

  /** State reset: probabilities to 1/2, state 0, rep distances 0. */
  resetState(): void {
    this.probs.fill(1024);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  /**
   * Decodes one LZMA chunk: input[inStart, inEnd) (range-coded, starting with its 5 init bytes) into
   * out[outPos, outEnd). dictStart = where the dictionary was last reset (matches may not reach before it).
   */
  decodeChunk(input: Uint8Array, inStart: number, inEnd: number, out: Uint8Array, outPos: number, outEnd: number, dictStart: number): void {
    if (!this.hasProps) throw corrupt();
    if (inEnd - inStart < 5 || input[inStart] !== 0) throw corrupt();
    this.input = input;
    this.code = (input[inStart + 1]! << 24) | (input[inStart + 2]! << 16) | (input[inStart + 3]! << 8) | input[inStart + 4]!;
    this.range = -1; // 0xffffffff in int32 form
    this.inPos = inStart + 5;
    const probs = this.probs;
    const lc = this.lc;
    const lpMask = (1 << this.lp) - 1;
    const pbMask = (1 << this.pb) - 1;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let pos = outPos;

    while (pos < outEnd) {
      const posState = (pos - dictStart) & pbMask;
      if (this.bit(IS_MATCH + (state << 4) + posState) === 0) {
        // Literal.
        const prev = pos > dictStart ? out[pos - 1]! : 0;
        const base = LITERAL + 0x300 * ((((pos - dictStart) & lpMask) << lc) + (prev >>> (8 - lc)));
        let symbol = 1;
        if (state < 7) {
          do symbol = (symbol << 1) | this.bit(base + symbol);
          while (symbol < 0x100);
        } else {
          if (rep0 >= pos - dictStart) throw corrupt();
          let matchByte = out[pos - rep0 - 1]!;
          do {
            const matchBit = (matchByte >>> 7) & 1;
            matchByte <<= 1;
            const b = this.bit(base + ((1 + matchBit) << 8) + symbol);
            symbol = (symbol << 1) | b;
            if (matchBit !== b) {
              while (symbol < 0x100) symbol = (symbol << 1) | this.bit(base + symbol);
              break;
            }
          } while (symbol < 0x100);
        }
        out[pos++] = symbol;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (this.bit(IS_REP + state) === 0) {
        // Simple match.
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        len = this.length(LEN_CODER, posState);
        state = state < 7 ? 7 : 10;
        rep0 = this.distance(len);
        if (rep0 === 0xffffffff) throw corrupt(); // end marker: not allowed inside LZMA2
      } else {
        if (this.bit(IS_REP_G0 + state) === 0) {
          if (this.bit(IS_REP0_LONG + (state << 4) + posState) === 0) {
            // Short rep: one byte at distance rep0.
            state = state < 7 ? 9 : 11;
            if (rep0 >= pos - dictStart) throw corrupt();
            out[pos] = out[pos - rep0 - 1]!;
            pos++;
            continue;
          }
        } else {
          let dist: number;
          if (this.bit(IS_REP_G1 + state) === 0) {
            dist = rep1;
          } else {
            if (this.bit(IS_REP_G2 + state) === 0) {
              dist = rep2;
            } else {
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
        len = this.length(REP_LEN_CODER, posState);
        state = state < 7 ? 8 : 11;
      }
      if (rep0 >= pos - dictStart || pos + len > outEnd) throw corrupt();
      let src = pos - rep0 - 1;
      if (rep0 >= len) {
        out.copyWithin(pos, src, src + len);
        pos += len;
      } else {
        const end = pos + len;
        while (pos < end) out[pos++] = out[src++]!;
      }
    }
    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
    // Like LzmaDec, normalise once after the last symbol; then the chunk must be fully consumed.
    if (this.range >>> 24 === 0) {
      this.range <<= 8;
      this.code = (this.code << 8) | this.input[this.inPos++]!;
    }
    if (this.inPos !== inEnd || this.code !== 0) throw corrupt();
  }

  private bit(i: number): number {
    // range and code hold uint32 values in int32 form (V8 keeps them as small integers); unsigned
    // comparison flips the sign bit of both sides.
    let range = this.range;
    let code = this.code;
    if (range >>> 24 === 0) {
      range <<= 8;
      code = (code << 8) | this.input[this.inPos++]!;
    }
    const prob = this.probs[i]!;
    const bound = Math.imul(range >>> 11, prob);
    if ((code ^ 0x80000000) < (bound ^ 0x80000000)) {
      this.range = bound;
      this.code = code;
      this.probs[i] = prob + ((2048 - prob) >>> 5);
      return 0;
    }
    this.range = (range - bound) | 0;
    this.code = (code - bound) | 0;
    this.probs[i] = prob - (prob >>> 5);
    return 1;
  }

  private bitTree(base: number, numBits: number): number {
    let m = 1;
    for (let i = 0; i < numBits; i++) m = (m << 1) | this.bit(base + m);
    return m - (1 << numBits);
  }

  private reverseBitTree(base: number, numBits: number): number {
    let m = 1;
    let symbol = 0;
    for (let i = 0; i < numBits; i++) {
      const b = this.bit(base + m);
      m = (m << 1) | b;
      symbol |= b << i;
    }
    return symbol;
  }

  private directBits(numBits: number): number {
    let result = 0;
    let range = this.range;
    let code = this.code;
    for (let i = 0; i < numBits; i++) {
      if (range >>> 24 === 0) {
        range <<= 8;
        code = (code << 8) | this.input[this.inPos++]!;
      }
      range >>>= 1;
      if ((code ^ 0x80000000) >= (range ^ 0x80000000)) {
        code = (code - range) | 0;
        result = (result << 1) | 1;
      } else {
        result <<= 1;
      }
    }
    this.range = range | 0;
    this.code = code;
    return result >>> 0;
  }

  private length(base: number, posState: number): number {
    if (this.bit(base + LEN_CHOICE) === 0) return 2 + this.bitTree(base + LEN_LOW + posState * 8, 3);
    if (this.bit(base + LEN_CHOICE2) === 0) return 10 + this.bitTree(base + LEN_MID + posState * 8, 3);
    return 18 + this.bitTree(base + LEN_HIGH, 8);
  }

  private distance(len: number): number {
    const lenState = len - 2 < 3 ? len - 2 : 3;
    const slot = this.bitTree(POS_SLOT + lenState * 64, 6);
    if (slot < 4) return slot;
    const numDirectBits = (slot >>> 1) - 1;
    let dist = (2 | (slot & 1)) * 2 ** numDirectBits;
    if (slot < 14) return dist + this.reverseBitTree(SPEC_POS + dist - slot - 1, numDirectBits);
    dist += this.directBits(numDirectBits - 4) * 16;
    return dist + this.reverseBitTree(ALIGN, 4);
  }
}
