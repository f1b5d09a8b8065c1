// on_poweroff / on_reboot / on_crash / on_watchdog / on_soft_reset policy (xl.cfg(5) "Event Actions").

import type { ShutdownReason } from "../ports.ts";

/** What to do when a domain shuts down. coredump-* are not offered: no core dump writer exists yet. */
export type ShutdownAction = "destroy" | "restart" | "rename-restart" | "preserve";

export const SHUTDOWN_ACTIONS: readonly ShutdownAction[] = ["destroy", "restart", "rename-restart", "preserve"];

export interface ShutdownPolicies {
  readonly onPoweroff: ShutdownAction;
  readonly onReboot: ShutdownAction;
  readonly onCrash: ShutdownAction;
  readonly onWatchdog: ShutdownAction;
  readonly onSoftReset: ShutdownAction;
}

/** xl's defaults: destroy on poweroff, restart on reboot, destroy on crash and watchdog, (soft_reset) restart. */
export const DEFAULT_POLICIES: ShutdownPolicies = {
  onPoweroff: "destroy",
  onReboot: "restart",
  onCrash: "destroy",
  onWatchdog: "destroy",
  onSoftReset: "restart",
};

export function actionFor(reason: ShutdownReason, p: ShutdownPolicies): ShutdownAction {
  switch (reason) {
    case "poweroff": return p.onPoweroff;
    case "reboot": return p.onReboot;
    case "crash": return p.onCrash;
    case "watchdog": return p.onWatchdog;
    case "soft_reset": return p.onSoftReset;
    // A suspended domain waits for the toolstack (save/migrate); nothing happens on its own.
    case "suspend": return "preserve";
  }
}
