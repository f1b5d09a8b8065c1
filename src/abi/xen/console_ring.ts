// PV console shared page: struct xencons_interface. Follows xen/include/public/io/console.h. One 4 KiB page at
// HVM_PARAM_CONSOLE_PFN; the guest produces out[] and consumes in[]; indices are free-running u32.

export const XENCONS_IN_SIZE = 1024;
export const XENCONS_OUT_SIZE = 2048;

/** Byte offsets in the page. */
export const XenconsInterface = {
  in: 0, // char[1024]  backend → guest
  out: 1024, // char[2048] guest → backend
  inCons: 3072, // u32 written by the guest
  inProd: 3076, // u32 written by the backend
  outCons: 3080, // u32 written by the backend
  outProd: 3084, // u32 written by the guest
  connection: 3088, // u8 XENCONSOLE_*
  /** sizeof(struct xencons_interface) with trailing padding to u32 alignment. */
  size: 3092,
} as const;

export const XENCONSOLE_CONNECTED = 0;
export const XENCONSOLE_DISCONNECTED = 1;

/** MASK_XENCONS_IDX(idx, in) */
export function maskConsInIdx(idx: number): number {
  return idx & (XENCONS_IN_SIZE - 1);
}
/** MASK_XENCONS_IDX(idx, out) */
export function maskConsOutIdx(idx: number): number {
  return idx & (XENCONS_OUT_SIZE - 1);
}
