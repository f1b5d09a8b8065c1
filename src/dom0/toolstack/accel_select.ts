// Chooses the CPU backend for a domain from its accel setting: kvm only where it can run full guests, else emu.

import type { AccelKind, AccelProbe, ExecutionBackend } from "../../hv/ports.ts";
import type { AccelChoice } from "./domain_config.ts";
import { ToolstackError } from "./toolstack_error.ts";

/** A backend the daemon knows of: present (with a backend object) or missing (with why). */
export interface BackendSlot {
  readonly kind: AccelKind;
  readonly backend?: ExecutionBackend;
  readonly unavailable?: string;
  /** Keeps `count` vCPU threads started ahead of need, when the backend offers it. */
  readonly prewarm?: (count: number) => void;
}

export interface BackendStatus {
  readonly kind: AccelKind;
  readonly present: boolean;
  readonly usable: boolean;
  readonly fullGuests: boolean;
  readonly reason: string;
}

export interface AccelDecision {
  readonly backend: ExecutionBackend;
  /** One sentence: which backend and why ("kvm: /dev/kvm cannot run full guests (...); using emu"). */
  readonly why: string;
  readonly warnings: readonly string[];
}

/** Probes each backend once and remembers the answer (probing kvm opens /dev/kvm). */
export class BackendChooser {
  private readonly cache = new Map<AccelKind, BackendStatus>();
  constructor(private readonly slots: readonly BackendSlot[]) {}

  status(kind: AccelKind): BackendStatus {
    const hit = this.cache.get(kind);
    if (hit) return hit;
    const slot = this.slots.find((s) => s.kind === kind);
    let st: BackendStatus;
    if (!slot?.backend) {
      st = { kind, present: false, usable: false, fullGuests: false, reason: slot?.unavailable ?? `no ${kind} backend is built in` };
    } else {
      let p: AccelProbe;
      try {
        p = slot.backend.probe();
      } catch (e) {
        p = { kind, usable: false, fullGuests: false, reason: `probe failed: ${e instanceof Error ? e.message : String(e)}` };
      }
      st = { kind, present: true, usable: p.usable, fullGuests: p.usable && p.fullGuests, reason: p.reason };
    }
    this.cache.set(kind, st);
    return st;
  }

  statuses(): BackendStatus[] {
    return (["kvm", "emu"] as const).map((k) => this.status(k));
  }

  private backend(kind: AccelKind): ExecutionBackend {
    return this.slots.find((s) => s.kind === kind)!.backend!;
  }

  /** What accel="auto" would pick now, without throwing. */
  autoChoice(): { kind: AccelKind | undefined; why: string } {
    const kvm = this.status("kvm");
    const emu = this.status("emu");
    if (kvm.fullGuests) return { kind: "kvm", why: `kvm can run full guests (${kvm.reason})` };
    const kvmWhy = !kvm.present ? `kvm is not available (${kvm.reason})`
      : !kvm.usable ? `kvm is not usable (${kvm.reason})`
      : `kvm cannot run full guests (${kvm.reason})`;
    if (emu.usable) return { kind: "emu", why: `${kvmWhy}; using emu` };
    const emuWhy = emu.present ? `emu is not usable (${emu.reason})` : `emu is not available (${emu.reason})`;
    const hint = kvm.usable ? '; set accel = "kvm" to run a tiny guest on this kvm anyway' : "";
    return { kind: undefined, why: `${kvmWhy}, and ${emuWhy}${hint}` };
  }

  choose(accel: AccelChoice): AccelDecision {
    if (accel === "auto") {
      const c = this.autoChoice();
      if (!c.kind) throw new ToolstackError("backend", `Cannot choose a CPU backend for accel "auto": ${c.why}`);
      return { backend: this.backend(c.kind), why: `accel auto: ${c.kind}, because ${c.why}`, warnings: [] };
    }
    const st = this.status(accel);
    if (!st.present) throw new ToolstackError("backend", `Cannot use accel "${accel}": ${st.reason}`);
    if (!st.usable) throw new ToolstackError("backend", `Cannot use accel "${accel}": ${st.reason}`);
    const warnings = st.fullGuests ? [] : [`${accel} on this host cannot run full guest kernels (${st.reason.replace(/^tiny guests only: /, "")}); only tiny guests will work`];
    return { backend: this.backend(accel), why: `accel ${accel}: requested in the config`, warnings };
  }
}
