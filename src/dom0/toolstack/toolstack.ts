// The toolstack (libxl's role): typed createDomain/destroy/shutdown/reboot/pause/unpause/list over the core's domain table.
//
// Design: the toolstack owns what the core does not know: each domain's DomainConfig (to rebuild
// it on restart), the boot loader call, the backend choice, and consoles. Every request checks
// what it can before changing anything, so a refused request leaves no trace. It runs on the
// daemon's main thread; nothing here touches files except through the injected loader and sinks.

import type { AccelKind, BootImage, ExecutionProfile, ShutdownReason, XenDomainPort } from "../../hv/ports.ts";
import type { DomainInfo } from "../../hv/domain/domain.ts";
import { DomainError } from "../../hv/domain/domain_errors.ts";
import { describeState, xlStateString } from "../../hv/domain/domain_state.ts";
import { DomainTable } from "../../hv/domain/domain_table.ts";
import { formatHvLogLine, type HvLog } from "../../hv/domain/hv_log.ts";
import type { HostMemoryPool } from "../../hv/domain/memory_pool.ts";
import { actionFor, type ShutdownAction } from "../../hv/domain/shutdown_policy.ts";
import { BackendChooser, type BackendSlot, type BackendStatus } from "./accel_select.ts";
import { ConsoleHub, type ConsoleListener, type ConsoleSink } from "./console_hub.ts";
import type { DomainConfig } from "./domain_config.ts";
import { ToolstackError } from "./toolstack_error.ts";
import { ACPI_REGION_GPA } from "../../devices/acpi/tables.ts";
import type { LoadKernelOptions } from "../../boot/load.ts";

const MiB = 1024 * 1024;

/** The boot loader's signature (src/boot/load.ts loadKernel), possibly run on another thread. */
export type LoadKernel = (opts: LoadKernelOptions) => BootImage | Promise<BootImage>;

/** Facts about the host and dom0 that the daemon measures. */
export interface HostFacts {
  readonly hostname: string;
  readonly release: string;
  readonly machine: string;
  readonly cpus: number;
  readonly totalMemoryBytes: number;
  readonly dom0MemoryBytes: number;
  readonly version: string;
  readonly startedAtMs: number;
  dom0CpuTimeNs(): number;
  /** Resident memory of the daemon process (dom0 and every domain's threads), for `xl info`. */
  dom0RssBytes(): number;
}

/** The Xen guest interface of PVH domains (dom0/xen/xen_host.ts XenHost). */
export interface ToolstackXen {
  domainPort(spec: { domid: number; name: string; memoryBytes: number; maxmemBytes?: number; vcpus: number }): XenDomainPort;
  /** The backend attached the domain's Xen interface (so it has xenstore and a PV control channel). */
  isAttached(domid: number): boolean;
  /** Writes control/shutdown: the guest's xenbus shuts it down. */
  requestShutdown(domid: number, reason: "poweroff" | "reboot"): void;
  /** Lines on the domain's event channels and Xen timers as the hypervisor sees them (xl debug-keys e). */
  describeEvents(domid: number): string;
}

export interface ToolstackDeps {
  readonly pool: HostMemoryPool;
  readonly log: HvLog;
  readonly now: () => number;
  readonly backends: readonly BackendSlot[];
  readonly loadKernel: LoadKernel;
  readonly host: HostFacts;
  readonly consoleSink?: ConsoleSink;
  readonly xen?: ToolstackXen;
}

export interface CreateResult {
  readonly domid: number;
  readonly name: string;
  readonly accel: AccelKind;
  /** Which backend and why, for xl to print. */
  readonly accelWhy: string;
  readonly warnings: readonly string[];
  readonly bootDescription: string;
}

export interface DomainListEntry {
  readonly domid: number;
  readonly name: string;
  readonly memoryMiB: number;
  readonly maxmemMiB: number;
  readonly vcpus: number;
  /** xl's six-column state ("r-----"). */
  readonly state: string;
  /** running | paused | shutdown | ... */
  readonly stateKind: string;
  readonly shutdownReason?: ShutdownReason;
  readonly cpuTimeS: number;
  readonly uptimeS: number;
  readonly type?: "pvh" | "hvm";
  readonly accel?: AccelKind;
  readonly config?: DomainConfig;
}

export interface HostInfo {
  readonly host: string;
  readonly release: string;
  readonly machine: string;
  readonly nrCpus: number;
  readonly totalMemoryMiB: number;
  readonly freeMemoryMiB: number;
  readonly dom0MemoryMiB: number;
  readonly daemonRssMiB: number;
  readonly version: string;
  readonly domains: number;
  readonly backends: readonly BackendStatus[];
  readonly autoChoice: { readonly kind: AccelKind | undefined; readonly why: string };
}

/** Restarts of one name within this window count against the limit below. */
const RESTART_WINDOW_MS = 30_000;
const RESTART_LIMIT = 5;

export class Toolstack {
  private readonly table: DomainTable;
  private readonly consoles: ConsoleHub;
  private readonly chooser: BackendChooser;
  private readonly configs = new Map<number, DomainConfig>();
  private readonly pendingRestart = new Set<number>();
  private readonly restartTimes = new Map<string, number[]>();
  private readonly stateWaiters = new Set<(info: DomainInfo) => void>();

  constructor(private readonly deps: ToolstackDeps) {
    this.consoles = new ConsoleHub(deps.consoleSink);
    this.chooser = new BackendChooser(deps.backends);
    this.table = new DomainTable({
      pool: deps.pool,
      log: deps.log,
      now: deps.now,
      observer: {
        console: (domid, bytes) => this.consoles.write(domid, bytes),
        stateChanged: (info) => this.onStateChanged(info),
        restartRequested: (old, reason) => this.onRestart(old, reason),
      },
    });
  }

  // ---- create ----

  /** Creates and starts a domain. `beforeLaunch` runs once it has a domid and a console (xl create -c attaches there). */
  async createDomain(config: DomainConfig, beforeLaunch?: (domid: number) => void): Promise<CreateResult> {
    if (this.table.findByName(config.name)) {
      throw new DomainError("exists", `Cannot create domain "${config.name}": a domain with that name already exists`);
    }
    const memoryBytes = config.memoryMiB * MiB;
    if (memoryBytes > this.deps.pool.freeBytes) {
      throw new DomainError("no_memory",
        `Cannot create domain "${config.name}": it needs ${config.memoryMiB} MiB but the host pool has ${Math.floor(this.deps.pool.freeBytes / MiB)} MiB free of ${Math.floor(this.deps.pool.totalBytes / MiB)} MiB`);
    }
    const decision = this.chooser.choose(config.accel);
    let image: BootImage;
    try {
      image = await this.deps.loadKernel({
        kernelPath: config.kernel,
        ...(config.ramdisk !== undefined ? { ramdiskPath: config.ramdisk } : {}),
        cmdline: config.cmdline,
        memoryBytes,
        vcpus: config.vcpus,
        type: config.type,
        // The platform's ACPI tables (MADT for SMP, FADT for poweroff) sit at a fixed address: HVM always,
        // PVH when it has more than one vCPU (xen-abi-on-kvm.md §4).
        ...(config.type === "hvm" || config.vcpus > 1 ? { rsdpPaddr: ACPI_REGION_GPA } : {}),
      });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new ToolstackError("boot", msg.startsWith("Cannot") ? msg : `Cannot load kernel "${config.kernel}": ${msg}`);
    }
    const d = this.table.create({
      name: config.name,
      type: config.type,
      memoryBytes,
      maxmemBytes: config.maxmemMiB * MiB,
      vcpus: config.vcpus,
      accel: decision.backend.kind,
      policies: {
        onPoweroff: config.onPoweroff,
        onReboot: config.onReboot,
        onCrash: config.onCrash,
        onWatchdog: config.onWatchdog,
        onSoftReset: config.onSoftReset,
      },
    });
    this.configs.set(d.domid, config);
    this.consoles.open(d.domid, config.name);
    this.deps.log.write(`d${d.domid}: ${decision.why}`);
    for (const w of decision.warnings) this.deps.log.write(`d${d.domid}: warning: ${w}`);
    if (config.emuJit !== undefined && decision.backend.kind !== "emu") {
      this.deps.log.write(`d${d.domid}: emu_jit = ${config.emuJit ? 1 : 0} ignored: the domain runs on ${decision.backend.kind}`);
    }
    try {
      beforeLaunch?.(d.domid);
      const xen = config.type === "pvh" && this.deps.xen !== undefined
        ? this.deps.xen.domainPort({ domid: d.domid, name: config.name, memoryBytes, maxmemBytes: config.maxmemMiB * MiB, vcpus: config.vcpus })
        : undefined;
      await this.table.launch(d.domid, decision.backend, image, xen, config.emuJit !== undefined ? { jit: config.emuJit } : undefined);
    } catch (e) {
      this.configs.delete(d.domid);
      this.consoles.close(d.domid, "the domain failed to start");
      const msg = e instanceof Error ? e.message : String(e);
      throw new ToolstackError("backend", `Cannot start domain "${config.name}" on ${decision.backend.kind}: ${msg}`);
    }
    return {
      domid: d.domid,
      name: config.name,
      accel: decision.backend.kind,
      accelWhy: decision.why,
      warnings: decision.warnings,
      bootDescription: image.description,
    };
  }

  // ---- control; dom is a name or domid as xl takes it ----

  lookup(dom: string): DomainInfo {
    if (dom === "0" || dom === "Domain-0") throw new DomainError("invalid", "Domain-0 cannot be controlled this way");
    return this.table.lookup(dom).info();
  }

  async destroy(dom: string): Promise<void> {
    const d = this.lookup(dom);
    await this.table.destroy(d.domid);
  }

  async pause(dom: string): Promise<void> {
    await this.table.pause(this.lookup(dom).domid);
  }

  async unpause(dom: string): Promise<void> {
    await this.table.unpause(this.lookup(dom).domid);
  }

  /**
   * xl shutdown / xl reboot. A running guest with the Xen interface attached is asked through
   * xenstore's control/shutdown and shuts itself down; any other guest has no PV control channel,
   * so the toolstack stops the domain itself and applies on_poweroff / on_reboot.
   */
  async shutdown(dom: string, reason: "poweroff" | "reboot"): Promise<{ domid: number; action: ShutdownAction; asked?: boolean }> {
    const d = this.lookup(dom);
    if (d.state.kind !== "running" && d.state.kind !== "paused") {
      throw new DomainError("bad_state", `Cannot ${reason === "reboot" ? "reboot" : "shut down"} domain "${d.name}": it is ${describeState(d.state)}`);
    }
    if (d.state.kind === "running" && this.deps.xen?.isAttached(d.domid) === true) {
      // PV control channel: the guest shuts itself down and reports it through SCHEDOP_shutdown.
      this.deps.xen.requestShutdown(d.domid, reason);
      this.deps.log.write(`d${d.domid}: asked the guest to ${reason === "reboot" ? "reboot" : "power off"} (control/shutdown)`);
      return { domid: d.domid, action: actionFor(reason, d.policies), asked: true };
    }
    const action = await this.table.shutdown(d.domid, reason, `the toolstack (xl ${reason === "reboot" ? "reboot" : "shutdown"}; the guest has no PV control channel)`);
    return { domid: d.domid, action };
  }

  /**
   * Resolves once domid has finished shutting down: gone, or kept shut down by its on_* policy
   * (preserve, rename-restart). Rejects after timeoutMs.
   */
  waitForShutdown(domid: number, timeoutMs: number): Promise<void> {
    const done = (): boolean => {
      let d;
      try {
        d = this.table.get(domid);
      } catch {
        return true;
      }
      if (d.state.kind !== "shutdown") return false;
      const a = actionFor(d.state.reason, d.spec.policies);
      return a === "preserve" || a === "rename-restart";
    };
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.stateWaiters.delete(w);
        resolve();
      };
      const timer = setTimeout(() => {
        this.stateWaiters.delete(w);
        reject(new DomainError("bad_state", `Domain ${domid} did not shut down within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.stateWaiters.add(w);
    });
  }

  /** xl domid: Domain-0 is 0. */
  domidOf(name: string): number {
    if (name === "Domain-0") return 0;
    const d = this.table.findByName(name);
    if (!d) throw new DomainError("not_found", `Domain "${name}" does not exist`);
    return d.domid;
  }

  /** xl domname: 0 is Domain-0. */
  nameOf(domid: number): string {
    return domid === 0 ? "Domain-0" : this.table.get(domid).name;
  }

  /** Attaches a console listener to a domain that is being created (xl create -c), before it runs. */
  attachNewConsole(domid: number, l: ConsoleListener): () => void {
    return this.consoles.attach(domid, l);
  }

  attachConsole(dom: string, l: ConsoleListener): { domid: number; detach: () => void } {
    const d = this.lookup(dom);
    if (!this.consoles.has(d.domid)) throw new DomainError("bad_state", `Domain "${d.name}" has no console`);
    return { domid: d.domid, detach: this.consoles.attach(d.domid, l) };
  }

  consoleInput(domid: number, bytes: Uint8Array): void {
    try {
      this.table.consoleInput(domid, bytes);
    } catch {
      // The domain went away under the client; its console stream ends separately.
    }
  }

  // ---- queries ----

  list(long = false): DomainListEntry[] {
    const now = this.deps.now();
    const h = this.deps.host;
    const dom0: DomainListEntry = {
      domid: 0,
      name: "Domain-0",
      memoryMiB: Math.floor(h.dom0MemoryBytes / MiB),
      maxmemMiB: Math.floor(h.dom0MemoryBytes / MiB),
      vcpus: h.cpus,
      state: "r-----",
      stateKind: "running",
      cpuTimeS: h.dom0CpuTimeNs() / 1e9,
      uptimeS: (now - h.startedAtMs) / 1000,
    };
    return [dom0, ...this.table.list().map((d) => this.entry(d, now, long))];
  }

  private entry(d: DomainInfo, now: number, long: boolean): DomainListEntry {
    const config = this.configs.get(d.domid);
    return {
      domid: d.domid,
      name: d.name,
      memoryMiB: Math.floor(d.memoryBytes / MiB),
      maxmemMiB: Math.floor(d.maxmemBytes / MiB),
      vcpus: d.vcpus,
      state: xlStateString(d.state),
      stateKind: d.state.kind,
      ...(d.state.kind === "shutdown" ? { shutdownReason: d.state.reason } : {}),
      cpuTimeS: d.cpuTimeNs / 1e9,
      uptimeS: (now - d.createdAtMs) / 1000,
      type: d.type,
      accel: d.accel,
      ...(long && config ? { config } : {}),
    };
  }

  info(): HostInfo {
    const h = this.deps.host;
    return {
      host: h.hostname,
      release: h.release,
      machine: h.machine,
      nrCpus: h.cpus,
      totalMemoryMiB: Math.floor(h.totalMemoryBytes / MiB),
      freeMemoryMiB: Math.floor(this.deps.pool.freeBytes / MiB),
      dom0MemoryMiB: Math.floor(h.dom0MemoryBytes / MiB),
      daemonRssMiB: Math.round(h.dom0RssBytes() / MiB),
      version: h.version,
      domains: this.table.size,
      backends: this.chooser.statuses(),
      autoChoice: this.chooser.autoChoice(),
    };
  }

  /** xl emu-stats: the domain backend's execution profile. */
  async profile(dom: string): Promise<{ domid: number; name: string; profile: ExecutionProfile }> {
    const d = this.lookup(dom);
    if (d.state.kind !== "running" && d.state.kind !== "paused") {
      throw new DomainError("bad_state", `Cannot profile domain "${d.name}": it is ${describeState(d.state)}`);
    }
    const profile = await this.table.profile(d.domid);
    if (profile === null) throw new DomainError("bad_state", `Domain "${d.name}" runs on ${d.accel}, which keeps no execution profile (emu does)`);
    return { domid: d.domid, name: d.name, profile };
  }

  /**
   * xl debug-keys: as Xen's debug keys, the output goes to the hypervisor log (xl dmesg). `e`: the event-channel
   * and Xen timer state of every domain with the Xen guest interface (XenHost.describeEvents); `h`: the keys
   * offered. A key without a handler is logged as such, as Xen does.
   */
  debugKeys(keys: string): void {
    if (keys.length === 0) throw new DomainError("invalid", "debug-keys needs at least one key, e.g. `xl debug-keys e` (h lists them)");
    for (const key of keys) {
      const code = key.charCodeAt(0).toString(16).padStart(2, "0");
      switch (key) {
        case "h":
          this.deps.log.write(`'h' (ascii '${code}') => show this message`);
          this.deps.log.write(`'e' (ascii '65') => dump evtchn info`);
          break;
        case "e": {
          this.deps.log.write(`'e' (ascii '${code}') => dump evtchn info`);
          const doms = this.table.list().filter((d) => this.deps.xen?.isAttached(d.domid) === true);
          if (doms.length === 0) this.deps.log.write("no domain has the Xen guest interface (PVH guests do)");
          for (const d of doms) for (const line of this.deps.xen!.describeEvents(d.domid).split("\n")) this.deps.log.write(line);
          break;
        }
        default:
          this.deps.log.write(`'${key}' (ascii '${code}') => no handler (xl debug-keys h lists the keys)`);
      }
    }
  }

  dmesg(clear: boolean): string[] {
    const lines = this.deps.log.read().map(formatHvLogLine);
    if (clear) this.deps.log.clear();
    return lines;
  }

  async shutdownAll(): Promise<void> {
    await this.table.destroyAll();
  }

  // ---- events from the core ----

  private onStateChanged(info: DomainInfo): void {
    this.consoles.rename(info.domid, info.name);
    if (info.state.kind === "shutdown") {
      const a = actionFor(info.state.reason, info.policies);
      if (a === "restart") this.pendingRestart.add(info.domid);
      // A preserved domain keeps its console, but attached clients (xl create -c) are done.
      if (a === "preserve") this.consoles.endListeners(info.domid, `domain ${info.domid} shut down (${info.state.reason}) and is preserved`);
    }
    if (info.state.kind === "gone") {
      if (!this.pendingRestart.has(info.domid)) {
        this.configs.delete(info.domid);
        this.consoles.close(info.domid, `domain ${info.domid} was destroyed`);
      }
    }
    for (const w of [...this.stateWaiters]) w(info);
  }

  private onRestart(old: DomainInfo, reason: ShutdownReason): void {
    this.pendingRestart.delete(old.domid);
    const config = this.configs.get(old.domid);
    // rename-restart keeps the old domain (renamed); restart has already destroyed it.
    let preserved = true;
    try {
      this.table.get(old.domid);
    } catch {
      preserved = false;
    }
    const finish = (why: string): void => {
      this.deps.log.write(`d${old.domid}: ${why}`);
      if (!preserved) {
        this.configs.delete(old.domid);
        this.consoles.close(old.domid, why);
      }
    };
    if (!config) return finish(`cannot restart "${old.name}": its config is unknown`);
    const now = this.deps.now();
    const times = (this.restartTimes.get(config.name) ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
    if (times.length >= RESTART_LIMIT) {
      this.restartTimes.delete(config.name);
      return finish(`"${config.name}" restarted ${RESTART_LIMIT} times in ${RESTART_WINDOW_MS / 1000} s; not restarting it again`);
    }
    times.push(now);
    this.restartTimes.set(config.name, times);
    this.deps.log.write(`d${old.domid}: restarting "${config.name}" after ${reason}`);
    this.createDomain(config).then(
      (r) => {
        if (!preserved) this.configs.delete(old.domid);
        this.consoles.move(old.domid, r.domid, preserved);
      },
      (e) => finish(`restart of "${config.name}" failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }
}
