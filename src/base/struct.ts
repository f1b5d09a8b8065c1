// defineStruct: a C struct layout with explicit offsets, encoded and decoded little-endian through bytes.ts.
// Design: each field names its kind and offset; the definition checks bounds and overlaps once, so an
// ABI file reads like the C header it mirrors. u64 fields are bigint, byte arrays are Uint8Array copies.
import { readU16, readU32, readU64, readU8, writeU16, writeU32, writeU64, writeU8 } from "./bytes.ts";

export type Field =
  | { readonly kind: "u8"; readonly offset: number }
  | { readonly kind: "u16"; readonly offset: number }
  | { readonly kind: "u32"; readonly offset: number }
  | { readonly kind: "u64"; readonly offset: number }
  | { readonly kind: "bytes"; readonly offset: number; readonly length: number };

export const u8 = (offset: number) => ({ kind: "u8", offset }) as const;
export const u16 = (offset: number) => ({ kind: "u16", offset }) as const;
export const u32 = (offset: number) => ({ kind: "u32", offset }) as const;
export const u64 = (offset: number) => ({ kind: "u64", offset }) as const;
export const bytes = (offset: number, length: number) => ({ kind: "bytes", offset, length }) as const;

export type FieldValue<F extends Field> = F["kind"] extends "u64" ? bigint : F["kind"] extends "bytes" ? Uint8Array : number;
export type StructValue<Fs extends Record<string, Field>> = { [K in keyof Fs]: FieldValue<Fs[K]> };

export interface Struct<Fs extends Record<string, Field>> {
  readonly name: string;
  readonly size: number;
  readonly fields: Fs;
  /** Reads every field at base offset `at`. */
  decode(buf: Uint8Array, at?: number): StructValue<Fs>;
  /** Writes the given fields at `at` (others untouched); returns buf. */
  encode(value: Partial<StructValue<Fs>>, buf?: Uint8Array, at?: number): Uint8Array;
  /** A fresh zeroed buffer of `size` bytes with the given fields written. */
  build(value: Partial<StructValue<Fs>>): Uint8Array;
}

export function fieldSize(f: Field): number {
  switch (f.kind) {
    case "u8":
      return 1;
    case "u16":
      return 2;
    case "u32":
      return 4;
    case "u64":
      return 8;
    case "bytes":
      return f.length;
  }
}

export function defineStruct<Fs extends Record<string, Field>>(name: string, size: number, fields: Fs): Struct<Fs> {
  const used = new Uint8Array(size);
  for (const [key, f] of Object.entries(fields)) {
    const end = f.offset + fieldSize(f);
    if (f.offset < 0 || end > size) throw new Error(`${name}.${key} (offset ${f.offset}) does not fit in ${size} bytes`);
    for (let i = f.offset; i < end; i++) {
      if (used[i]) throw new Error(`${name}.${key} overlaps another field at offset ${i}`);
      used[i] = 1;
    }
  }
  const entries = Object.entries(fields);
  return {
    name,
    size,
    fields,
    decode(buf, at = 0) {
      if (at < 0 || at + size > buf.length) throw new RangeError(`${name} (${size} bytes) at ${at} is outside a ${buf.length}-byte buffer`);
      const out: Record<string, number | bigint | Uint8Array> = {};
      for (const [key, f] of entries) {
        const o = at + f.offset;
        switch (f.kind) {
          case "u8":
            out[key] = readU8(buf, o);
            break;
          case "u16":
            out[key] = readU16(buf, o);
            break;
          case "u32":
            out[key] = readU32(buf, o);
            break;
          case "u64":
            out[key] = readU64(buf, o);
            break;
          case "bytes":
            out[key] = buf.slice(o, o + f.length);
            break;
        }
      }
      return out as StructValue<Fs>;
    },
    encode(value, buf = new Uint8Array(size), at = 0) {
      if (at < 0 || at + size > buf.length) throw new RangeError(`${name} (${size} bytes) at ${at} is outside a ${buf.length}-byte buffer`);
      for (const [key, v] of Object.entries(value)) {
        const f = fields[key];
        if (f === undefined) throw new Error(`${name} has no field "${key}"`);
        if (v === undefined) continue;
        const o = at + f.offset;
        switch (f.kind) {
          case "u8":
            writeU8(buf, o, v as number);
            break;
          case "u16":
            writeU16(buf, o, v as number);
            break;
          case "u32":
            writeU32(buf, o, v as number);
            break;
          case "u64":
            writeU64(buf, o, v as bigint | number);
            break;
          case "bytes": {
            const b = v as Uint8Array;
            if (b.length > f.length) throw new RangeError(`${name}.${key} holds ${f.length} bytes, got ${b.length}`);
            buf.set(b, o);
            break;
          }
        }
      }
      return buf;
    },
    build(value) {
      return this.encode(value, new Uint8Array(size), 0);
    },
  };
}
