// Kernel command line: checked and encoded as the NUL-terminated byte string a loader places in RAM.
import { cString } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";

/** Encodes cmdline with its NUL; maxBytes counts the NUL (Linux x86 COMMAND_LINE_SIZE is 2048). */
export function encodeCmdline(cmdline: string, maxBytes: number): Uint8Array {
  for (let i = 0; i < cmdline.length; i++) {
    const c = cmdline.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new BootError(`command line has a non-printable or non-ASCII character at position ${i}`);
  }
  if (cmdline.length + 1 > maxBytes) {
    throw new BootError(`command line is ${cmdline.length} bytes; at most ${maxBytes - 1} fit`);
  }
  return cString(cmdline);
}
