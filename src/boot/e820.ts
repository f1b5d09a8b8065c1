// Guest memory maps: the e820 ranges tsxen gives a guest (PVH memmap and Linux boot_params.e820_table),
// and where the loader may place an initrd.
// Layout (xen-abi-on-kvm.md §4): RAM [0, 0x9f000), reserved legacy area [0x9f000, 1 MiB) (HVM only:
// listed, so ACPI/MP tables at 0xe0000-0xfffff are kept), RAM [1 MiB, top - 64 KiB), and the top
// 64 KiB reserved for Xen "special pages" (console ring, xenstore ring, ...), which the toolstack fills.
import { alignDown } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";
import { E820Type } from "../abi/boot/e820.ts";

export interface E820Range {
  readonly addr: number;
  readonly size: number;
  readonly type: E820Type;
}

export const LOW_RAM_END = 0x9f000;
export const HIGH_RAM_START = 0x100000;
/** Bytes reserved at the top of RAM for special pages (16 pages). */
export const SPECIAL_PAGES_BYTES = 0x10000;
/** RAM is one block from 0; above this it would overlap the IOAPIC/LAPIC MMIO window. */
export const MAX_MEMORY_BYTES = 0xf000_0000;
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;

/** Guest-physical address of the first special page (top of RAM - 64 KiB). */
export function specialPagesGpa(memoryBytes: number): number {
  return alignDown(memoryBytes, 4096) - SPECIAL_PAGES_BYTES;
}

export function checkMemorySize(memoryBytes: number): void {
  if (!Number.isInteger(memoryBytes) || memoryBytes < MIN_MEMORY_BYTES) {
    throw new BootError(`memory of ${memoryBytes} bytes is below the minimum of ${MIN_MEMORY_BYTES / 1048576} MiB`);
  }
  if (memoryBytes > MAX_MEMORY_BYTES) {
    throw new BootError(`memory of ${Math.round(memoryBytes / 1048576)} MiB is above the maximum of ${MAX_MEMORY_BYTES / 1048576} MiB`);
  }
}

/** The guest's memory map. kind "pvh" leaves the legacy hole out (Linux's PVH code adds it); "linux" lists it. */
export function guestE820(memoryBytes: number, kind: "pvh" | "linux"): E820Range[] {
  checkMemorySize(memoryBytes);
  const special = specialPagesGpa(memoryBytes);
  const map: E820Range[] = [{ addr: 0, size: LOW_RAM_END, type: E820Type.ram }];
  if (kind === "linux") map.push({ addr: LOW_RAM_END, size: HIGH_RAM_START - LOW_RAM_END, type: E820Type.reserved });
  map.push({ addr: HIGH_RAM_START, size: special - HIGH_RAM_START, type: E820Type.ram });
  map.push({ addr: special, size: SPECIAL_PAGES_BYTES, type: E820Type.reserved });
  return map;
}

/** Highest usable RAM address + 1 (start of the special pages). */
export function usableRamEnd(memoryBytes: number): number {
  return specialPagesGpa(memoryBytes);
}

export interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * Places `size` bytes as high as possible below `limit` (page-aligned), clear of every occupied span
 * and above 1 MiB. Throws BootError when it does not fit.
 */
export function placeHigh(size: number, limit: number, occupied: readonly Span[], what: string): number {
  let addr = alignDown(limit - size, 4096);
  const sorted = [...occupied].sort((a, b) => b.end - a.end);
  for (;;) {
    if (addr < HIGH_RAM_START) throw new BootError(`${what} of ${size} bytes does not fit in guest memory next to the kernel`);
    const clash = sorted.find((s) => addr < s.end && addr + size > s.start);
    if (clash === undefined) return addr;
    addr = alignDown(clash.start - size, 4096);
  }
}
