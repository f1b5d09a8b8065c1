// The I/O-port bus: a 64K-entry table from port to device, so a guest in/out costs two typed-array
// loads and one call. Unassigned ports read as all ones and ignore writes (an ISA bus with nothing
// driving it), which is how Linux's probes (COM2-4, Super-I/O, PCI conf1) see "absent".
import type { PioDevice } from "../hv/ports.ts";

const UNASSIGNED: PioDevice = {
  name: "unassigned",
  read: (_offset, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
  write: () => {},
};

export class PortBus {
  /** Device index per port; 0 = unassigned. */
  private readonly owner = new Uint16Array(0x10000);
  /** Offset passed to the device for each port. */
  private readonly offsets = new Uint16Array(0x10000);
  private readonly devices: PioDevice[] = [UNASSIGNED];

  /**
   * Attaches device at ports [port, port + count). The device sees offsets firstOffset.. (so one device
   * can own non-contiguous ports, e.g. the i8042 at 0x60 and 0x64 as offsets 0 and 4).
   */
  attach(port: number, count: number, device: PioDevice, firstOffset = 0): void {
    if (port < 0 || count < 1 || port + count > 0x10000) throw new RangeError(`Cannot attach "${device.name}" at port ${port} (+${count})`);
    for (let p = port; p < port + count; p++) {
      const other = this.owner[p]!;
      if (other !== 0) throw new Error(`Cannot attach "${device.name}" at port 0x${p.toString(16)}: "${this.devices[other]!.name}" is there`);
    }
    let index = this.devices.indexOf(device);
    if (index < 0) {
      index = this.devices.length;
      if (index > 0xffff) throw new RangeError("Too many port devices");
      this.devices.push(device);
    }
    for (let p = port; p < port + count; p++) {
      this.owner[p] = index;
      this.offsets[p] = firstOffset + (p - port);
    }
  }

  /** Name of the device at port ("unassigned" if none); for logs and tests. */
  deviceAt(port: number): string {
    return this.devices[this.owner[port & 0xffff]!]!.name;
  }

  read(port: number, size: 1 | 2 | 4): number {
    const index = this.owner[port]!;
    if (index === 0) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    return this.devices[index]!.read(this.offsets[port]!, size);
  }

  write(port: number, size: 1 | 2 | 4, value: number): void {
    const index = this.owner[port]!;
    if (index === 0) return;
    this.devices[index]!.write(this.offsets[port]!, size, value);
  }
}
