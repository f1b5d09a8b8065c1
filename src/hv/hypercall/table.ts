// The hypercall table: number → handler (Xen's hypercall_table in xen/arch/x86/hvm/hypercall.c).
// Extend by adding an entry whose handler lives beside its subsystem (hv/evtchn, hv/gnttab, ...).
import { Hypercall } from "../../abi/xen/xen.ts";
import type { HypercallTable } from "./context.ts";
import { consoleIo } from "./console_io.ts";
import { schedOp } from "./sched_op.ts";
import { xenVersion } from "./xen_version.ts";

export const HYPERCALLS: HypercallTable = {
  [Hypercall.console_io]: { name: "console_io", handler: consoleIo },
  [Hypercall.xen_version]: { name: "xen_version", handler: xenVersion },
  [Hypercall.sched_op]: { name: "sched_op", handler: schedOp },
};

const NAMES = new Map<number, string>(Object.entries(Hypercall).map(([name, nr]) => [nr, name]));
export function hypercallName(nr: number): string {
  return NAMES.get(nr) ?? `hypercall ${nr}`;
}
