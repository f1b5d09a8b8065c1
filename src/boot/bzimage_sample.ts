// Test helper: wraps an ELF kernel in a minimal bzImage (boot protocol 2.15 setup header, no real setup
// code) with a gzip or xz payload followed by the uncompressed size, as the kernel build lays it out.
import { gzipSync } from "node:zlib";
import { writeU32 } from "../base/bytes.ts";
import { BootParams } from "../abi/boot/boot_params.ts";
import { xzCompress } from "./xz/xz_cli.ts";

export const SAMPLE_SETUP_SECTS = 4;
export const SAMPLE_PAYLOAD_OFFSET = 0x100;

export function makeBzImage(vmlinux: Uint8Array, format: "gzip" | "xz", overrides: Partial<Parameters<typeof BootParams.build>[0]> = {}): Uint8Array {
  const compressed = format === "gzip" ? new Uint8Array(gzipSync(vmlinux)) : xzCompress(vmlinux, { x86: true, check: "crc32" });
  const payload = new Uint8Array(compressed.length + 4);
  payload.set(compressed);
  writeU32(payload, compressed.length, vmlinux.length);
  const pmStart = (SAMPLE_SETUP_SECTS + 1) * 512;
  const file = new Uint8Array(pmStart + SAMPLE_PAYLOAD_OFFSET + payload.length);
  const header = BootParams.build(
    {
      setupSects: SAMPLE_SETUP_SECTS,
      bootFlag: 0xaa55,
      jump: 0x6aeb, // jmp +0x6a: the header ends at 0x26c
      header: 0x53726448,
      version: 0x020f,
      loadflags: 0x01,
      kernelAlignment: 0x200000,
      relocatableKernel: 1,
      xloadflags: 0x03,
      cmdlineSize: 2047,
      initrdAddrMax: 0x7fffffff,
      payloadOffset: SAMPLE_PAYLOAD_OFFSET,
      payloadLength: payload.length,
      prefAddress: 0x1000000n,
      initSize: 0x200000,
      vidMode: 0xffff,
      ...overrides,
    },
  );
  file.set(header.subarray(0, pmStart));
  file.set(payload, pmStart + SAMPLE_PAYLOAD_OFFSET);
  return file;
}
