// Little-endian reads and writes over Uint8Array (guest RAM, files, ABI structs); 64-bit values are bigint.
// Design: plain byte arithmetic instead of a DataView per call, so no allocation on any path.
// Callers check bounds they care about; an access past the end of the array throws RangeError.

function check(bytes: Uint8Array, offset: number, size: number): void {
  if (!(offset >= 0 && offset + size <= bytes.length && Number.isInteger(offset))) {
    throw new RangeError(`Access of ${size} bytes at offset ${offset} is outside a ${bytes.length}-byte buffer`);
  }
}

export function readU8(bytes: Uint8Array, offset: number): number {
  check(bytes, offset, 1);
  return bytes[offset]!;
}

export function readU16(bytes: Uint8Array, offset: number): number {
  check(bytes, offset, 2);
  return bytes[offset]! | (bytes[offset + 1]! << 8);
}

export function readU32(bytes: Uint8Array, offset: number): number {
  check(bytes, offset, 4);
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

export function readU64(bytes: Uint8Array, offset: number): bigint {
  check(bytes, offset, 8);
  return (BigInt(readU32(bytes, offset + 4)) << 32n) | BigInt(readU32(bytes, offset));
}

/** Reads a u64 as a number; throws RangeError when it does not fit exactly (above 2^53 - 1). */
export function readU64Number(bytes: Uint8Array, offset: number): number {
  check(bytes, offset, 8);
  const high = readU32(bytes, offset + 4);
  if (high > 0x1fffff) throw new RangeError(`64-bit value at offset ${offset} does not fit in a number`);
  return high * 0x1_0000_0000 + readU32(bytes, offset);
}

export function readI8(bytes: Uint8Array, offset: number): number {
  return (readU8(bytes, offset) << 24) >> 24;
}

export function readI32(bytes: Uint8Array, offset: number): number {
  return readU32(bytes, offset) | 0;
}

export function writeU8(bytes: Uint8Array, offset: number, value: number): void {
  check(bytes, offset, 1);
  bytes[offset] = value;
}

export function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  check(bytes, offset, 2);
  bytes[offset] = value;
  bytes[offset + 1] = value >>> 8;
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  check(bytes, offset, 4);
  bytes[offset] = value;
  bytes[offset + 1] = value >>> 8;
  bytes[offset + 2] = value >>> 16;
  bytes[offset + 3] = value >>> 24;
}

/** Writes a u64 given as bigint (taken modulo 2^64) or as a non-negative safe integer. */
export function writeU64(bytes: Uint8Array, offset: number, value: bigint | number): void {
  check(bytes, offset, 8);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value} is not a u64 that a number can hold`);
    writeU32(bytes, offset, value >>> 0);
    writeU32(bytes, offset + 4, Math.floor(value / 0x1_0000_0000));
    return;
  }
  const v = BigInt.asUintN(64, value);
  writeU32(bytes, offset, Number(v & 0xffff_ffffn));
  writeU32(bytes, offset + 4, Number(v >> 32n));
}

/** Bytes up to (not including) the first NUL, or the whole range, decoded as Latin-1/ASCII. */
export function readCString(bytes: Uint8Array, offset: number, maxLength: number): string {
  const end = Math.min(bytes.length, offset + maxLength);
  let s = "";
  for (let i = offset; i < end && bytes[i] !== 0; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** ASCII bytes of s followed by a NUL. */
export function cString(s: string): Uint8Array {
  const out = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`Character ${JSON.stringify(s[i])} is not a single byte`);
    out[i] = c;
  }
  return out;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

export function alignDown(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment;
}

/** "0x1000850" */
export function hex(value: number | bigint): string {
  return "0x" + value.toString(16);
}

/** "512 B", "3.1 KiB", "7.9 MiB" */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
