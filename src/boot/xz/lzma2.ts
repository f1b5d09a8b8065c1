// LZMA2 chunk stream decoder (xz-file-format-1.1.0 §5.3.1; the chunk layout of liblzma's lzma2_decoder.c):
// control byte 0x00 = end, 0x01/0x02 = uncompressed chunk with/without dictionary reset,
// 0x80-0xff = LZMA chunk (bits 5-6: 0 none, 1 state reset, 2 + new props, 3 + dictionary reset).
import { BootError } from "../../base/errors.ts";
import { LzmaDecoder } from "./lzma.ts";

const corrupt = (why: string) => new BootError(`xz data is corrupt (LZMA2 ${why})`);

/** A growable output buffer: decoders write at `length`, ensure() grows by doubling. */
export class OutputBuffer {
  bytes: Uint8Array;
  length = 0;
  constructor(
    initialBytes: number,
    private readonly maxBytes: number,
  ) {
    this.bytes = new Uint8Array(Math.max(4096, Math.min(initialBytes, maxBytes)));
  }
  ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.bytes.length) return;
    if (need > this.maxBytes) throw new BootError(`xz data decompresses to more than ${this.maxBytes} bytes`);
    let size = this.bytes.length;
    while (size < need) size *= 2;
    const grown = new Uint8Array(Math.min(size, this.maxBytes));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

/** Decodes an LZMA2 stream at input[pos..) into out; returns the input position after the end byte. */
export function decodeLzma2(input: Uint8Array, pos: number, inEnd: number, out: OutputBuffer, dictSize: number): number {
  const lzma = new LzmaDecoder();
  let dictStart = out.length;
  let needDictReset = true;
  let needProps = true;
  void dictSize; // the whole output is the dictionary, so its declared size only bounds the encoder
  for (;;) {
    if (pos >= inEnd) throw corrupt("stream is truncated");
    const control = input[pos++]!;
    if (control === 0x00) return pos;
    if (control === 0x01 || control === 0x02) {
      if (pos + 2 > inEnd) throw corrupt("chunk header is truncated");
      const size = ((input[pos]! << 8) | input[pos + 1]!) + 1;
      pos += 2;
      if (control === 0x01) {
        dictStart = out.length;
        needDictReset = false;
      } else if (needDictReset) {
        throw corrupt("stream does not start with a dictionary reset");
      }
      if (pos + size > inEnd) throw corrupt("uncompressed chunk is truncated");
      out.ensure(size);
      out.bytes.set(input.subarray(pos, pos + size), out.length);
      out.length += size;
      pos += size;
      continue;
    }
    if (control < 0x80) throw corrupt(`control byte 0x${control.toString(16)}`);
    if (pos + 4 > inEnd) throw corrupt("chunk header is truncated");
    const unpacked = ((control & 0x1f) << 16) + ((input[pos]! << 8) | input[pos + 1]!) + 1;
    const packed = ((input[pos + 2]! << 8) | input[pos + 3]!) + 1;
    pos += 4;
    const reset = (control >>> 5) & 3;
    if (reset === 3) {
      dictStart = out.length;
      needDictReset = false;
    } else if (needDictReset) {
      throw corrupt("stream does not start with a dictionary reset");
    }
    if (reset >= 2) {
      if (pos >= inEnd) throw corrupt("chunk header is truncated");
      lzma.setProps(input[pos++]!);
      needProps = false;
    } else if (needProps) {
      throw corrupt("first LZMA chunk has no properties");
    }
    if (reset >= 1) lzma.resetState();
    if (pos + packed > inEnd) throw corrupt("chunk is truncated");
    out.ensure(unpacked);
    lzma.decodeChunk(input, pos, pos + packed, out.bytes, out.length, out.length + unpacked, dictStart);
    out.length += unpacked;
    pos += packed;
  }
}
