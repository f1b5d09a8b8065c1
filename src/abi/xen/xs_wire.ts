// Xenstore wire protocol: message types, error names, the xsd_sockmsg header. Follows xen/include/public/io/xs_wire.h
// and docs/misc/xenstore.txt. Used unchanged on the unix socket and on the shared-memory ring.
import { concatBytes } from "../../base/bytes.ts";
import { defineStruct, u32 } from "../../base/struct.ts";

export { concatBytes };

/** enum xsd_sockmsg_type. 20 (XS_RESTRICT) was removed and is invalid. */
export const XsType = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
  GET_FEATURE: 23,
  SET_FEATURE: 24,
  GET_QUOTA: 25,
  SET_QUOTA: 26,
  /** XS_TYPE_COUNT: one past the last valid type. */
  TYPE_COUNT: 27,
  INVALID: 0xffff,
} as const;
export type XsTypeNumber = (typeof XsType)[keyof typeof XsType];

/** Name of a message type for logs ("READ"), or "**UNKNOWN**" as C xenstored prints. */
export function xsTypeName(type: number): string {
  for (const [name, value] of Object.entries(XsType)) {
    if (value === type && name !== "TYPE_COUNT" && name !== "INVALID") return name;
  }
  return "**UNKNOWN**";
}

/** The xsd_errors[] table: errors travel as their names ("ENOENT"), never as numbers. Order as in the header. */
export const XS_ERRORS = [
  "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
  "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
] as const;
export type XsErrno = (typeof XS_ERRORS)[number];

/** Linux errno values of the names above (what libxenstore maps them back to). */
export const XS_ERRNO_VALUES: Readonly<Record<XsErrno, number>> = {
  EINVAL: 22, EACCES: 13, EEXIST: 17, EISDIR: 21, ENOENT: 2, ENOMEM: 12, ENOSPC: 28, EIO: 5,
  ENOTEMPTY: 39, ENOSYS: 38, EROFS: 30, EBUSY: 16, EAGAIN: 11, EISCONN: 106, E2BIG: 7, EPERM: 1,
};

export function isXsErrno(name: string): name is XsErrno {
  return (XS_ERRORS as readonly string[]).includes(name);
}

/** struct xsd_sockmsg: 16 bytes, little-endian u32 fields, followed by `len` payload bytes. */
export const XsdSockmsg = defineStruct("xsd_sockmsg", 16, {
  type: u32(0), // XS_???
  reqId: u32(4), // request identifier, echoed in the daemon's response
  txId: u32(8), // transaction id (0 if not related to a transaction)
  len: u32(12), // length of the payload that follows
});
export const XSD_SOCKMSG_SIZE = XsdSockmsg.size;

/** XENSTORE_PAYLOAD_MAX: longer payloads kill the connection (socket) or flag a protocol error (ring). */
export const XENSTORE_PAYLOAD_MAX = 4096;
/** Longest absolute path and longest path relative to /local/domain/<domid>. */
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

/** Server feature bits (ring page server_features, GET_FEATURE). */
export const XENSTORE_SERVER_FEATURE_RECONNECTION = 1;
export const XENSTORE_SERVER_FEATURE_ERROR = 2;
export const XENSTORE_SERVER_FEATURE_WATCHDEPTH = 4;
export const XENSTORE_SERVER_FEATURE_DOMID_ANY = 8;

/** enum xs_watch_type: index of path and token in a WATCH_EVENT payload. */
export const XS_WATCH_PATH = 0;
export const XS_WATCH_TOKEN = 1;

export interface XsdSockmsgHeader {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly len: number;
}

/** One complete message: header fields plus payload (len is payload.length). */
export interface XsMessage {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Uint8Array;
}

export function decodeHeader(bytes: Uint8Array, offset = 0): XsdSockmsgHeader {
  return XsdSockmsg.decode(bytes, offset);
}

export function encodeHeader(header: XsdSockmsgHeader, out = new Uint8Array(XSD_SOCKMSG_SIZE), offset = 0): Uint8Array {
  return XsdSockmsg.encode(header, out, offset);
}

/** Header followed by payload, as one buffer. */
export function encodeMessage(msg: XsMessage): Uint8Array {
  const out = new Uint8Array(XSD_SOCKMSG_SIZE + msg.payload.length);
  encodeHeader({ type: msg.type, reqId: msg.reqId, txId: msg.txId, len: msg.payload.length }, out, 0);
  out.set(msg.payload, XSD_SOCKMSG_SIZE);
  return out;
}

/** Payload bytes for strings each followed by a NUL ("a\0b\0"); one byte per char (see textBytes). */
export function nulTerminated(...strings: readonly string[]): Uint8Array {
  return concatBytes(strings.map((s) => textBytes(s + "\0")));
}

/**
 * A wire string as bytes, one byte per char (latin1). Paths are ASCII; tokens may hold any byte and must come back
 * to the client exactly as sent, so the daemon never re-encodes them as UTF-8.
 */
export function textBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Bytes as a string, one char per byte: the inverse of textBytes. */
export function bytesText(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 4096)));
  }
  return s;
}

/**
 * Splits a payload into its NUL-terminated strings, as xenstored's get_strings(): an unterminated tail is not a
 * string and is returned separately in `rest`.
 */
export function splitStrings(payload: Uint8Array): { strings: string[]; rest: Uint8Array } {
  const strings: string[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === 0) {
      strings.push(bytesText(payload.subarray(start, i)));
      start = i + 1;
    }
  }
  return { strings, rest: payload.subarray(start) };
}

/** Payload of an ERROR reply: the errno name and a NUL. */
export function errorPayload(errno: XsErrno): Uint8Array {
  return nulTerminated(errno);
}
