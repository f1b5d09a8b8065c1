// The MMIO bus for non-RAM guest-physical addresses: a short sorted list of ranges (IOAPIC, ...),
// scanned linearly (there are only a few). The per-vCPU LAPIC page is routed by the machine before
// this bus is consulted. Unassigned addresses read as all ones; writes are dropped. 8-byte accesses
// are split into two 4-byte ones (the emu MMU already does so; exact up to 2^53).
import type { MmioDevice } from "../hv/ports.ts";

interface Range {
  readonly base: number;
  readonly end: number;
  readonly device: MmioDevice;
}

export class MmioBus {
  private ranges: Range[] = [];

  attach(base: number, sizeBytes: number, device: MmioDevice): void {
    const end = base + sizeBytes;
    for (const r of this.ranges) {
      if (base < r.end && r.base < end) throw new Error(`Cannot attach "${device.name}" at 0x${base.toString(16)}: overlaps "${r.device.name}"`);
    }
    this.ranges.push({ base, end, device });
    this.ranges.sort((a, b) => a.base - b.base);
  }

  private find(gpa: number): Range | undefined {
    const ranges = this.ranges;
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (gpa < r.base) return undefined;
      if (gpa < r.end) return r;
    }
    return undefined;
  }

  read(gpa: number, size: 1 | 2 | 4 | 8): number {
    if (size === 8) return this.read(gpa, 4) + this.read(gpa + 4, 4) * 0x1_0000_0000;
    const r = this.find(gpa);
    if (r === undefined) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    return r.device.read(gpa - r.base, size);
  }

  write(gpa: number, size: 1 | 2 | 4 | 8, value: number): void {
    if (size === 8) {
      this.write(gpa, 4, value % 0x1_0000_0000);
      this.write(gpa + 4, 4, Math.floor(value / 0x1_0000_0000));
      return;
    }
    const r = this.find(gpa);
    if (r !== undefined) r.device.write(gpa - r.base, size, value);
  }
}
