// The one place where CPU backends are wired in. Each entry is loaded if its module exists; a missing
// or broken backend becomes an "unavailable" slot with the reason, so the daemon still starts.
//
//   kvm: src/accel/kvm/backend.ts exporting `kvmBackend: ExecutionBackend`
//   emu: src/accel/emu/backend.ts exporting `emuBackend: ExecutionBackend`

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AccelKind, ExecutionBackend } from "../hv/ports.ts";
import type { BackendSlot } from "../dom0/toolstack/accel_select.ts";

interface BackendModule {
  readonly kind: AccelKind;
  readonly url: URL;
  readonly exportName: string;
}

const BACKEND_MODULES: readonly BackendModule[] = [
  { kind: "kvm", url: new URL("../accel/kvm/backend.ts", import.meta.url), exportName: "kvmBackend" },
  { kind: "emu", url: new URL("../accel/emu/backend.ts", import.meta.url), exportName: "emuBackend" },
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
    return { kind: m.kind, backend: b };
  } catch (e) {
    return { kind: m.kind, unavailable: `${rel} failed to load: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  }
}

/** Loads every backend module; never throws. */
export async function loadBackends(): Promise<BackendSlot[]> {
  return Promise.all(BACKEND_MODULES.map(loadSlot));
}
