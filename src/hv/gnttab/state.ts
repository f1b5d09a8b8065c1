// Saved grant-table state of one domain: a named, versioned record (STYLE §7). The frames are hypervisor
// pages outside guest RAM, so their contents are saved (hex, one string per frame). Mappings held by other
// domains are not: backends map again after a restore, and GTF_reading/GTF_writing are cleared.

export interface GrantTableState {
  readonly version: 1;
  readonly gntVersion: 1;
  readonly maxFrames: number;
  /** Contents of each frame, 8192 hex digits. */
  readonly frames: readonly string[];
  /** [frame index, gfn] for each frame the guest placed with add_to_physmap. */
  readonly frameGfns: readonly (readonly [number, number])[];
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i]! < 16 ? "0" : "") + bytes[i]!.toString(16);
  return s;
}

export function hexToBytes(hex: string, into: Uint8Array): void {
  if (hex.length !== into.length * 2 || !/^[0-9a-f]*$/.test(hex)) throw new RangeError(`Saved frame is not ${into.length} bytes of hex`);
  for (let i = 0; i < into.length; i++) into[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
}
