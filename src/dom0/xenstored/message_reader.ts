// Reassembles xsd_sockmsg messages from a byte stream (socket chunks or ring contents): a 16-byte header, then
// `len` payload bytes. A header announcing more than XENSTORE_PAYLOAD_MAX is a protocol violation.
import { XENSTORE_PAYLOAD_MAX, XSD_SOCKMSG_SIZE, decodeHeader, type XsMessage } from "../../abi/xen/xs_wire.ts";

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export class MessageReader {
  private readonly header = new Uint8Array(XSD_SOCKMSG_SIZE);
  private headerFill = 0;
  private payload: Uint8Array | undefined;
  private payloadFill = 0;
  private type = 0;
  private reqId = 0;
  private txId = 0;

  /** Consumes `bytes`, returning every message completed by them. Throws ProtocolError on an oversized header. */
  push(bytes: Uint8Array): XsMessage[] {
    const out: XsMessage[] = [];
    let at = 0;
    while (at < bytes.length) {
      if (this.payload === undefined) {
        const take = Math.min(XSD_SOCKMSG_SIZE - this.headerFill, bytes.length - at);
        this.header.set(bytes.subarray(at, at + take), this.headerFill);
        this.headerFill += take;
        at += take;
        if (this.headerFill < XSD_SOCKMSG_SIZE) break;
        const h = decodeHeader(this.header);
        if (h.len > XENSTORE_PAYLOAD_MAX) throw new ProtocolError(`Payload of ${h.len} bytes exceeds ${XENSTORE_PAYLOAD_MAX}`);
        this.type = h.type;
        this.reqId = h.reqId;
        this.txId = h.txId;
        this.payload = new Uint8Array(h.len);
        this.payloadFill = 0;
      }
      const take = Math.min(this.payload.length - this.payloadFill, bytes.length - at);
      this.payload.set(bytes.subarray(at, at + take), this.payloadFill);
      this.payloadFill += take;
      at += take;
      if (this.payloadFill === this.payload.length) {
        out.push({ type: this.type, reqId: this.reqId, txId: this.txId, payload: this.payload });
        this.payload = undefined;
        this.headerFill = 0;
      }
    }
    return out;
  }

  /** Bytes still needed to finish the current header or payload (so a caller can stop at a message boundary). */
  get bytesNeeded(): number {
    return this.payload === undefined ? XSD_SOCKMSG_SIZE - this.headerFill : this.payload.length - this.payloadFill;
  }

  /** True when no partial message is buffered. */
  get idle(): boolean {
    return this.payload === undefined && this.headerFill === 0;
  }
}
