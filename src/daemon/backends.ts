// The one place where CPU backends are wired in. Each entry is loaded if its module exists; a missing
// or broken backend becomes an "unavailable" slot with the reason, so the daemon still starts.
//
//   kvm: src/accel/kvm/backend.ts exporting `kvmBackend: ExecutionBackend` (and optionally prewarmKvmThreads(count))
//   emu: src/accel/emu/backend.ts exporting `emuBackend: ExecutionBackend` (and optionally prewarmEmuThreads(count))

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AccelKind, ExecutionBackend } from "../hv/ports.ts";
import type { BackendSlot } from "../dom0/toolstack/accel_select.ts";

interface BackendModule {
  readonly kind: AccelKind;
  readonly url: URL;
  readonly exportName: string;
  readonly prewarmExport: string;
}

const BACKEND_MODULES: readonly BackendModule[] = [
  { kind: "kvm", url: new URL("../accel/kvm/backend.ts", import.meta.url), exportName: "kvmBackend", prewarmExport: "prewarmKvmThreads" },
  { kind: "emu", url: new URL("../accel/emu/backend.ts", import.meta.url), exportName: "emuBackend", prewarmExport: "prewarmEmuThreads" },
];

function isBackend(x: unknown, kind: AccelKind): x is ExecutionBackend {
  const b = x as ExecutionBackend | undefined;
  return typeof b === "object" && b !== null && b.kind === kind && typeof b.probe === "function" && typeof b.launch === "function";
}

async function loadSlot(m: BackendModule): Promise<BackendSlot> {
  const rel = `src/accel/${m.kind}/backend.ts`;
  if (!existsSync(fileURLToPath(m.url))) return { kind: m.kind, unavailable: `the ${m.kind} backend is not built yet (${rel} is missing)` };
  try {
    const mod = (await import(m.url.href)) as Record<string, unknown>;
    const b = mod[m.exportName];
    if (!isBackend(b, m.kind)) return { kind: m.kind, unavailable: `${rel} does not export ${m.exportName} as an ExecutionBackend of kind "${m.kind}"` };
    const prewarm = mod[m.prewarmExport];
    return typeof prewarm === "function" ? { kind: m.kind, backend: b, prewarm: (n: number) => void prewarm(n) } : { kind: m.kind, backend: b };
  } catch (e) {
    return { kind: m.kind, unavailable: `${rel} failed to load: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  }
}

/** Loads every backend module; never throws. */
export async function loadBackends(): Promise<BackendSlot[]> {
  return Promise.all(BACKEND_MODULES.map(loadSlot));
}

/**
 * Starts one vCPU thread ahead of need for each usable backend that can, so the first domain starts
 * without paying for thread start-up. Never throws.
 */
export function prewarmBackends(slots: readonly BackendSlot[], log: (line: string) => void): void {
  for (const s of slots) {
    if (!s.backend || !s.prewarm) continue;
    try {
      if (!s.backend.probe().usable) continue;
      s.prewarm(1);
      log(`backend ${s.kind}: one vCPU thread started ahead of need`);
    } catch (e) {
      log(`backend ${s.kind}: prewarm failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
