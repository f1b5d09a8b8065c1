// Linux bzImage (x86 boot protocol 2.08+, Documentation/x86/boot.rst): setup header and the compressed
// payload, which decompresses to the vmlinux ELF. Loading that ELF directly (PVH, or the 64-bit boot
// protocol) skips the kernel's own decompressor, as Xen's domain builder and Firecracker do.
import { gunzipSync } from "node:zlib";
import { readU16, readU32, readU8 } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";
import { BOOT_FLAG_MAGIC, BootParams, HDRS_MAGIC, SETUP_HEADER_JUMP_OFFSET, SETUP_HEADER_OFFSET } from "../abi/boot/boot_params.ts";
import { decodeXz } from "./xz/xz.ts";

export type PayloadFormat = "gzip" | "xz" | "bzip2" | "lzma" | "lzo" | "lz4" | "zstd" | "elf" | "unknown";

export interface BzImage {
  /** Boot protocol version, e.g. 0x020f. */
  readonly version: number;
  readonly setupSects: number;
  /** The setup header bytes [0x1f1, 0x202 + jump) to copy into boot_params.hdr. */
  readonly setupHeader: Uint8Array;
  readonly loadflags: number;
  readonly xloadflags: number;
  readonly prefAddress: bigint;
  readonly initSize: number;
  readonly initrdAddrMax: number;
  readonly cmdlineSize: number;
  readonly kernelAlignment: number;
  readonly payload: Uint8Array;
  readonly payloadFormat: PayloadFormat;
}

export function isBzImage(file: Uint8Array): boolean {
  return file.length >= 0x210 && readU32(file, 0x202) === HDRS_MAGIC;
}

function payloadFormat(p: Uint8Array): PayloadFormat {
  const b = (i: number) => (i < p.length ? p[i]! : -1);
  if (b(0) === 0x1f && (b(1) === 0x8b || b(1) === 0x9e)) return "gzip";
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0) return "xz";
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) return "bzip2";
  if (b(0) === 0x5d && b(1) === 0) return "lzma";
  if (b(0) === 0x89 && b(1) === 0x4c && b(2) === 0x5a && b(3) === 0x4f) return "lzo";
  if (b(0) === 0x02 && b(1) === 0x21 && b(2) === 0x4c && b(3) === 0x18) return "lz4";
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return "zstd";
  if (b(0) === 0x7f && b(1) === 0x45 && b(2) === 0x4c && b(3) === 0x46) return "elf";
  return "unknown";
}

/** Parses the setup header; requires protocol 2.08+ (payload_offset/length). Throws BootError. */
export function parseBzImage(file: Uint8Array): BzImage {
  if (!isBzImage(file)) throw new BootError('not a bzImage (no "HdrS" setup header)');
  if (file.length < 0x270) throw new BootError("bzImage setup header is truncated");
  const hdr = BootParams.decode(file.length >= 4096 ? file : padTo(file, 4096));
  if (readU16(file, 0x1fe) !== BOOT_FLAG_MAGIC) throw new BootError("bzImage boot_flag is not 0xAA55");
  if (hdr.version < 0x208) throw new BootError(`bzImage boot protocol ${protocolString(hdr.version)} is older than 2.08`);
  const setupSects = hdr.setupSects === 0 ? 4 : hdr.setupSects;
  const pmStart = (setupSects + 1) * 512;
  const headerEnd = 0x202 + readU8(file, SETUP_HEADER_JUMP_OFFSET);
  if (headerEnd > file.length || headerEnd > 0x290) throw new BootError("bzImage setup header length is invalid");
  const payloadStart = pmStart + hdr.payloadOffset;
  if (hdr.payloadLength === 0 || payloadStart + hdr.payloadLength > file.length) {
    throw new BootError("bzImage payload lies outside the file");
  }
  const payload = file.subarray(payloadStart, payloadStart + hdr.payloadLength);
  return {
    version: hdr.version,
    setupSects,
    setupHeader: file.subarray(SETUP_HEADER_OFFSET, headerEnd),
    loadflags: hdr.loadflags,
    xloadflags: hdr.xloadflags,
    prefAddress: hdr.prefAddress,
    initSize: hdr.initSize,
    initrdAddrMax: hdr.initrdAddrMax,
    cmdlineSize: hdr.cmdlineSize,
    kernelAlignment: hdr.kernelAlignment,
    payload,
    payloadFormat: payloadFormat(payload),
  };
}

function padTo(file: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(file.subarray(0, size));
  return out;
}

function protocolString(v: number): string {
  return `${v >> 8}.${(v & 0xff).toString().padStart(2, "0")}`;
}

/**
 * Decompresses the payload to the vmlinux ELF. The kernel build appends the uncompressed size as a
 * little-endian u32 after the compressed stream (scripts/Makefile.lib size_append); it sizes the output.
 */
export function extractVmlinux(bz: BzImage): Uint8Array {
  const p = bz.payload;
  const sizeHint = p.length >= 4 ? readU32(p, p.length - 4) : 0;
  switch (bz.payloadFormat) {
    case "elf":
      return p;
    case "gzip":
      try {
        return new Uint8Array(gunzipSync(p.subarray(0, p.length - 4)));
      } catch (e) {
        throw new BootError(`bzImage gzip payload is corrupt (${(e as Error).message})`);
      }
    case "xz":
      return decodeXz(p.subarray(0, p.length - 4), { sizeHint });
    default:
      throw new BootError(`bzImage payload format "${bz.payloadFormat}" is not supported (gzip and xz are)`);
  }
}
