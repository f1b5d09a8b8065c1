// Domain lifecycle state machine, as in Xen: building → running ⇄ paused → shutdown(reason) → dying → gone.
//
// Design: states are a tagged union and every change goes through transition(), a pure function
// that either returns the next state or throws DomainError("bad_state"). The table holds the
// state; nothing else assigns it. "shutdown" keeps the reason the guest (or toolstack) gave, which
// the on_* policy reads; a crashed domain is shutdown(crash), as Xen reports it.

import type { ShutdownReason } from "../ports.ts";
import { DomainError } from "./domain_errors.ts";

export type DomainState =
  | { readonly kind: "building" }
  | { readonly kind: "running" }
  | { readonly kind: "paused" }
  | { readonly kind: "shutdown"; readonly reason: ShutdownReason }
  | { readonly kind: "dying" }
  | { readonly kind: "gone" };

export type DomainStateKind = DomainState["kind"];

export type LifecycleEvent =
  | { readonly kind: "built" }
  | { readonly kind: "pause" }
  | { readonly kind: "unpause" }
  | { readonly kind: "shutdown"; readonly reason: ShutdownReason }
  | { readonly kind: "destroy" }
  | { readonly kind: "released" };

export const BUILDING: DomainState = { kind: "building" };

/** Returns the state after ev, or throws DomainError("bad_state") naming both; `what` names the domain. */
export function transition(from: DomainState, ev: LifecycleEvent, what = "the domain"): DomainState {
  switch (ev.kind) {
    case "built":
      if (from.kind === "building") return { kind: "running" };
      break;
    case "pause":
      if (from.kind === "running") return { kind: "paused" };
      break;
    case "unpause":
      if (from.kind === "paused") return { kind: "running" };
      break;
    case "shutdown":
      if (from.kind === "running" || from.kind === "paused") return { kind: "shutdown", reason: ev.reason };
      break;
    case "destroy":
      if (from.kind !== "dying" && from.kind !== "gone") return { kind: "dying" };
      break;
    case "released":
      if (from.kind === "dying") return { kind: "gone" };
      break;
  }
  throw new DomainError("bad_state", `Cannot ${describeEvent(ev)} ${what}: it is ${describeState(from)}`);
}

export function canTransition(from: DomainState, ev: LifecycleEvent): boolean {
  try {
    transition(from, ev);
    return true;
  } catch {
    return false;
  }
}

export function describeState(s: DomainState): string {
  return s.kind === "shutdown" ? `shut down (${s.reason})` : s.kind;
}

function describeEvent(ev: LifecycleEvent): string {
  switch (ev.kind) {
    case "built": return "finish building";
    case "pause": return "pause";
    case "unpause": return "unpause";
    case "shutdown": return `shut down (${ev.reason})`;
    case "destroy": return "destroy";
    case "released": return "release";
  }
}

/** xl list's six-column state string: r(unning) b(locked) p(aused) s(hutdown) c(rashed) d(ying). */
export function xlStateString(s: DomainState): string {
  const cols = ["-", "-", "-", "-", "-", "-"];
  switch (s.kind) {
    case "running": cols[0] = "r"; break;
    case "building": cols[1] = "b"; break;
    case "paused": cols[2] = "p"; break;
    case "shutdown":
      if (s.reason === "crash") cols[4] = "c";
      else cols[3] = "s";
      break;
    case "dying":
    case "gone":
      cols[5] = "d"; break;
  }
  return cols.join("");
}
