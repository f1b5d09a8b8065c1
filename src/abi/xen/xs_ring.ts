// Xenstore shared ring page: struct xenstore_domain_interface from xen/include/public/io/xs_wire.h
// (see also docs/misc/xenstore-ring.txt). One 4 KiB page at HVM_PARAM_STORE_PFN, shared by guest and xenstored.

/** XENSTORE_RING_SIZE: both rings are 1024 bytes; indices are free-running u32, masked with size - 1. */
export const XENSTORE_RING_SIZE = 1024;
export const XENSTORE_RING_MASK = XENSTORE_RING_SIZE - 1;

/** Byte offsets in the page. Index fields are little-endian u32. */
export const XenstoreDomainInterface = {
  req: 0, // char[1024]   guest → xenstored requests
  rsp: 1024, // char[1024] xenstored → guest replies and watch events
  reqCons: 2048, // u32  written by xenstored
  reqProd: 2052, // u32  written by the guest
  rspCons: 2056, // u32  written by the guest
  rspProd: 2060, // u32  written by xenstored
  serverFeatures: 2064, // u32 written by xenstored (XENSTORE_SERVER_FEATURE_*)
  connection: 2068, // u32 XENSTORE_CONNECTED / XENSTORE_RECONNECT (guest requests, xenstored acknowledges)
  error: 2072, // u32 written by xenstored (XENSTORE_ERROR_*)
  evtchnPort: 2076, // u32 filled by Xen for dom0less domains; 0 otherwise
  /** sizeof(struct xenstore_domain_interface) */
  size: 2080,
} as const;

/** MASK_XENSTORE_IDX(idx) */
export function maskXenstoreIdx(idx: number): number {
  return idx & XENSTORE_RING_MASK;
}

/** Values of the connection field. */
export const XENSTORE_CONNECTED = 0;
export const XENSTORE_RECONNECT = 1;

/** Values of the error field. */
export const XENSTORE_ERROR_NONE = 0;
export const XENSTORE_ERROR_COMM = 1;
export const XENSTORE_ERROR_RINGIDX = 2;
export const XENSTORE_ERROR_PROTO = 3;
