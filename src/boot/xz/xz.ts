// .xz container decoder (The .xz File Format 1.1.0, tukaani.org): stream header/footer, block headers,
// index, CRC32/CRC64 checks; filters LZMA2 (0x21) with optional BCJ x86 (0x04) and delta (0x03).
// Used to extract a bzImage's XZ payload (Linux builds it with `xz --check=crc32 --x86 --lzma2`).
// Design: the whole input is in memory; the output size is read from the index first so the output
// (which is also the LZMA dictionary) is allocated once. Any malformed input throws BootError.
import { readU32 } from "../../base/bytes.ts";
import { BootError } from "../../base/errors.ts";
import { bcjX86Decode } from "./bcj_x86.ts";
import { crc32, crc64 } from "./crc.ts";
import { decodeLzma2, OutputBuffer } from "./lzma2.ts";

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FILTER_DELTA = 0x03;
const FILTER_X86 = 0x04;
const FILTER_LZMA2 = 0x21;
const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];
/** Refuse to produce more than this (a kernel is ~70 MB). */
const DEFAULT_MAX_OUTPUT = 1 << 30;

const corrupt = (why: string) => new BootError(`xz data is corrupt (${why})`);

export interface XzOptions {
  /** Expected output size, used when the index cannot be read first. */
  readonly sizeHint?: number;
  readonly maxOutputBytes?: number;
}

export function isXz(input: Uint8Array): boolean {
  return input.length >= 6 && MAGIC.every((b, i) => input[i] === b);
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}
  byte(): number {
    if (this.pos >= this.end) throw corrupt("unexpected end of data");
    return this.buf[this.pos++]!;
  }
  /** xz variable-length integer (7 bits per byte, at most 9 bytes). */
  varint(): number {
    let value = 0;
    for (let i = 0; i < 9; i++) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw corrupt("non-minimal integer");
        if (value > Number.MAX_SAFE_INTEGER) throw corrupt("integer too large");
        return value;
      }
    }
    throw corrupt("integer too long");
  }
}

interface Filter {
  readonly id: number;
  readonly props: Uint8Array;
}

/** Total uncompressed size from the index of a single-stream file, or undefined if it cannot be read. */
function indexedSize(input: Uint8Array): number | undefined {
  try {
    const end = input.length;
    if (end < 24 || input[end - 2] !== 0x59 || input[end - 1] !== 0x5a) return undefined;
    const backwardSize = (readU32(input, end - 8) + 1) * 4;
    const indexStart = end - 12 - backwardSize;
    if (indexStart < 12) return undefined;
    const r = new Reader(input, indexStart, end - 12);
    if (r.byte() !== 0) return undefined;
    const records = r.varint();
    let total = 0;
    for (let i = 0; i < records; i++) {
      r.varint();
      total += r.varint();
    }
    return total;
  } catch {
    return undefined;
  }
}

/** Decodes a complete .xz file (one or more streams, with stream padding). */
export function decodeXz(input: Uint8Array, opts: XzOptions = {}): Uint8Array {
  if (!isXz(input)) throw corrupt("no xz stream header");
  const maxOut = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const expected = indexedSize(input) ?? opts.sizeHint ?? input.length * 4;
  // Trust the claimed size only up to a plausible ratio (XZ of a kernel is ~8:1); grow beyond that.
  const out = new OutputBuffer(Math.min(expected, maxOut, input.length * 32 + (1 << 20)), maxOut);
  let pos = 0;
  while (pos < input.length) {
    pos = decodeStream(input, pos, out);
    while (pos < input.length && input[pos] === 0) pos++; // stream padding (multiple of 4 zero bytes)
    if (pos % 4 !== 0) throw corrupt("stream padding is not a multiple of 4 bytes");
    if (pos < input.length && !isXz(input.subarray(pos))) throw corrupt("trailing data after the stream");
  }
  return out.length === out.bytes.length ? out.bytes : out.bytes.slice(0, out.length);
}

function decodeStream(input: Uint8Array, start: number, out: OutputBuffer): number {
  const end = input.length;
  if (start + 12 > end) throw corrupt("stream header is truncated");
  for (let i = 0; i < 6; i++) if (input[start + i] !== MAGIC[i]) throw corrupt("bad stream header magic");
  const flags0 = input[start + 6]!;
  const checkType = input[start + 7]!;
  if (flags0 !== 0 || checkType > 0x0f) throw corrupt("unsupported stream flags");
  if (crc32(input, start + 6, start + 8) !== readU32(input, start + 8)) throw corrupt("stream header CRC32 mismatch");
  const checkSize = CHECK_SIZES[checkType]!;
  let pos = start + 12;
  const blocks: { unpadded: number; uncompressed: number }[] = [];

  for (;;) {
    if (pos >= end) throw corrupt("stream is truncated");
    const sizeByte = input[pos]!;
    if (sizeByte === 0) break; // index indicator
    const headerSize = (sizeByte + 1) * 4;
    const blockStart = pos;
    if (pos + headerSize > end) throw corrupt("block header is truncated");
    if (crc32(input, pos, pos + headerSize - 4) !== readU32(input, pos + headerSize - 4)) throw corrupt("block header CRC32 mismatch");
    const r = new Reader(input, pos + 1, pos + headerSize - 4);
    const blockFlags = r.byte();
    if (blockFlags & 0x3c) throw corrupt("reserved block flags are set");
    const numFilters = (blockFlags & 3) + 1;
    const compressedSize = blockFlags & 0x40 ? r.varint() : undefined;
    const uncompressedSize = blockFlags & 0x80 ? r.varint() : undefined;
    const filters: Filter[] = [];
    for (let i = 0; i < numFilters; i++) {
      const id = r.varint();
      const propsSize = r.varint();
      if (r.pos + propsSize > r.end) throw corrupt("filter properties are truncated");
      filters.push({ id, props: input.subarray(r.pos, r.pos + propsSize) });
      r.pos += propsSize;
    }
    while (r.pos < r.end) if (r.byte() !== 0) throw corrupt("block header padding is not zero");
    const last = filters[filters.length - 1]!;
    if (last.id !== FILTER_LZMA2 || last.props.length !== 1) throw new BootError(`xz block uses filter 0x${last.id.toString(16)}; only LZMA2 is supported as the last filter`);
    for (const f of filters.slice(0, -1)) {
      if (f.id === FILTER_X86 ? f.props.length !== 0 && f.props.length !== 4 : f.id === FILTER_DELTA ? f.props.length !== 1 : true) {
        throw new BootError(`xz block uses filter 0x${f.id.toString(16)}, which is not supported (x86 BCJ, delta and LZMA2 are)`);
      }
    }
    const dictProp = last.props[0]!;
    if (dictProp > 40) throw corrupt("LZMA2 dictionary size");

    pos += headerSize;
    const dataStart = pos;
    const outStart = out.length;
    if (uncompressedSize !== undefined) out.ensure(uncompressedSize);
    pos = decodeLzma2(input, pos, end, out, dictProp);
    const compressed = pos - dataStart;
    if (compressedSize !== undefined && compressed !== compressedSize) throw corrupt("block compressed size mismatch");
    const produced = out.length - outStart;
    if (uncompressedSize !== undefined && produced !== uncompressedSize) throw corrupt("block uncompressed size mismatch");
    for (let i = filters.length - 2; i >= 0; i--) {
      const f = filters[i]!;
      if (f.id === FILTER_X86) bcjX86Decode(out.bytes, outStart, out.length, f.props.length === 4 ? readU32(f.props, 0) : 0);
      else deltaDecode(out.bytes, outStart, out.length, f.props[0]! + 1);
    }
    while ((pos - dataStart) % 4 !== 0) {
      if (pos >= end || input[pos] !== 0) throw corrupt("block padding is not zero");
      pos++;
    }
    if (pos + checkSize > end) throw corrupt("block check is truncated");
    verifyCheck(checkType, out.bytes, outStart, out.length, input, pos);
    pos += checkSize;
    blocks.push({ unpadded: dataStart - blockStart + compressed + checkSize, uncompressed: produced });
  }

  // Index: must list exactly the blocks decoded.
  const indexStart = pos;
  const r = new Reader(input, pos + 1, end);
  const records = r.varint();
  if (records !== blocks.length) throw corrupt("index record count mismatch");
  for (const b of blocks) {
    if (r.varint() !== b.unpadded || r.varint() !== b.uncompressed) throw corrupt("index record mismatch");
  }
  while ((r.pos - indexStart) % 4 !== 0) if (r.byte() !== 0) throw corrupt("index padding is not zero");
  if (r.pos + 4 > end || crc32(input, indexStart, r.pos) !== readU32(input, r.pos)) throw corrupt("index CRC32 mismatch");
  pos = r.pos + 4;
  const indexSize = pos - indexStart;

  // Stream footer.
  if (pos + 12 > end) throw corrupt("stream footer is truncated");
  if (crc32(input, pos + 4, pos + 10) !== readU32(input, pos)) throw corrupt("stream footer CRC32 mismatch");
  if ((readU32(input, pos + 4) + 1) * 4 !== indexSize) throw corrupt("stream footer backward size mismatch");
  if (input[pos + 8] !== 0 || input[pos + 9] !== checkType) throw corrupt("stream footer flags differ from the header");
  if (input[pos + 10] !== 0x59 || input[pos + 11] !== 0x5a) throw corrupt("bad stream footer magic");
  return pos + 12;
}

function deltaDecode(buf: Uint8Array, start: number, end: number, distance: number): void {
  // The delta history starts zeroed at the block start.
  for (let i = start; i < end; i++) buf[i] = (buf[i]! + (i - distance >= start ? buf[i - distance]! : 0)) & 0xff;
}

function verifyCheck(checkType: number, data: Uint8Array, start: number, end: number, input: Uint8Array, at: number): void {
  if (checkType === 1) {
    if (crc32(data, start, end) !== readU32(input, at)) throw corrupt("block CRC32 mismatch");
  } else if (checkType === 4) {
    const want = (BigInt(readU32(input, at + 4)) << 32n) | BigInt(readU32(input, at));
    if (crc64(data, start, end) !== want) throw corrupt("block CRC64 mismatch");
  }
  // SHA-256 and reserved check types are not verified.
}
