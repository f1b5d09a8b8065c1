// TEST DOUBLE: "fake guest" kernels for the plumbing tests. A text file starting with "#!fake-guest"
// holds one step per line; FakeBackend plays it. fakeLoadKernel stands in for boot/load.ts.
//
//   print <text>      console output (\n escapes allowed)      log <text>     hypervisor log line
//   sleep <ms>        wait                                      spin           loop forever
//   echo              echo console input back
//   shutdown <reason> poweroff|reboot|crash|watchdog|...        crash <why>    triple fault

import { readFileSync } from "node:fs";
import type { BootImage, ShutdownReason } from "../hv/ports.ts";

export const FAKE_GUEST_MAGIC = "#!fake-guest";

export type FakeGuestStep =
  | { op: "print"; text: string }
  | { op: "log"; text: string }
  | { op: "sleep"; ms: number }
  | { op: "spin" }
  | { op: "echo" }
  | { op: "shutdown"; reason: ShutdownReason }
  | { op: "crash"; why: string };

const REASONS: readonly ShutdownReason[] = ["poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset"];

export function parseFakeGuestScript(text: string): FakeGuestStep[] {
  const steps: FakeGuestStep[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.indexOf(" ");
    const op = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? "" : line.slice(sp + 1);
    switch (op) {
      case "print": steps.push({ op, text: rest.replace(/\\n/g, "\n") }); break;
      case "log": steps.push({ op, text: rest }); break;
      case "sleep": steps.push({ op, ms: Number(rest) }); break;
      case "spin": steps.push({ op }); break;
      case "echo": steps.push({ op }); break;
      case "crash": steps.push({ op, why: rest || "triple fault" }); break;
      case "shutdown": {
        const reason = (rest || "poweroff") as ShutdownReason;
        if (!REASONS.includes(reason)) throw new Error(`fake guest: unknown shutdown reason "${rest}"`);
        steps.push({ op, reason });
        break;
      }
      default:
        throw new Error(`fake guest: unknown step "${op}"`);
    }
  }
  return steps;
}

/** Same signature as boot/load.ts loadKernel; accepts only fake-guest scripts. */
export function fakeLoadKernel(opts: {
  kernelPath: string; ramdiskPath?: string; cmdline: string; memoryBytes: number; vcpus: number; type: "pvh" | "hvm";
}): BootImage {
  const bytes = readFileSync(opts.kernelPath);
  if (!bytes.subarray(0, FAKE_GUEST_MAGIC.length).equals(Buffer.from(FAKE_GUEST_MAGIC))) {
    throw new Error(`Cannot load kernel "${opts.kernelPath}": it is neither an ELF file nor a bzImage`);
  }
  return {
    regions: [{ gpa: 0x100000, bytes: new Uint8Array(bytes) }],
    entry: { kind: "pvh32", entry: 0x100000, ebx: 0 },
    description: `fake guest script (${bytes.length} bytes), cmdline "${opts.cmdline}"`,
  };
}
