// copy_from_guest/copy_to_guest helpers for hypercall handlers (little-endian fields at guest-virtual addresses).
import type { GuestVirtualMemory } from "../ports.ts";

export function readGuestU32(mem: GuestVirtualMemory, va: bigint): number {
  const b = mem.read(va, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
}

export function writeGuestU32(mem: GuestVirtualMemory, va: bigint, value: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  mem.write(va, b);
}

/** Writes `text` NUL-padded into a fixed-size char array of `sizeBytes` (always NUL-terminated). */
export function writeGuestFixedString(mem: GuestVirtualMemory, va: bigint, text: string, sizeBytes: number): void {
  const out = new Uint8Array(sizeBytes);
  out.set(new TextEncoder().encode(text).subarray(0, sizeBytes - 1));
  mem.write(va, out);
}
