// Source fragments for guest memory accesses in JIT blocks. Inside a block: `c` is the core, `sys` its EmuSystem,
// (ea, eh) the linear address; reads leave the value in dst (and the high half in dsth for 64-bit), writes take
// value expressions. Faults are thrown by the system's read/write entry points (the software TLB's slow path).

export function memRd(os: number, dst: string, dsth: string): string {
  switch (os) {
    case 1: return `${dst} = sys.readLin8(ea, eh) & 255; ${dsth} = 0;`;
    case 2: return `${dst} = sys.readLin16(ea, eh) & 65535; ${dsth} = 0;`;
    case 4: return `${dst} = sys.readLin32(ea, eh) | 0; ${dsth} = 0;`;
    default: return `${dst} = sys.readLin64(ea, eh) | 0; ${dsth} = sys.hiResult | 0;`;
  }
}
/** Marker in the source of every guest memory write: the translator adds the self-modifying-code check after
 * instructions that contain it. */
export const WRITE_MARK = "/*w*/";

export function memWr(os: number, v: string, vh: string): string {
  switch (os) {
    case 1: return `sys.writeLin8(ea, eh, ${v} & 255);${WRITE_MARK}`;
    case 2: return `sys.writeLin16(ea, eh, ${v} & 65535);${WRITE_MARK}`;
    case 4: return `sys.writeLin32(ea, eh, ${v});${WRITE_MARK}`;
    default: return `sys.writeLin64(ea, eh, ${v}, ${vh});${WRITE_MARK}`;
  }
}

