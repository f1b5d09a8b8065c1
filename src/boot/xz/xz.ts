// placeholder, replaced by the XZ decoder
import { BootError } from "../../base/errors.ts";
export function decodeXz(_input: Uint8Array, _opts: { sizeHint?: number } = {}): Uint8Array {
  throw new BootError("xz payloads are not supported yet");
}
