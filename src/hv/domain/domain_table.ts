// The hypervisor's domain table: domids, lifecycle, memory accounting, on_* policies (Xen: common/domain.c + xl's event handling).
//
// Design: every request from the toolstack and every event from a running domain lands here on the
// main thread. State changes go through transition() first (synchronously, so a refused request
// changes nothing), then the execution is told (async). Events from an execution are bound to its
// domain at launch; once the domain is dying or gone they are dropped, and an exception in a handler
// is logged, never thrown back into the backend, so a misbehaving domain cannot take the core down.

import type { BootImage, DomainExecution, EmuLaunchOptions, ExecutionBackend, ExecutionEvents, ExecutionProfile, ShutdownReason, XenDomainPort } from "../ports.ts";
import { Domain, type DomainInfo, type DomainSpec } from "./domain.ts";
import { DomainError } from "./domain_errors.ts";
import { describeState, transition, type DomainState, type LifecycleEvent } from "./domain_state.ts";
import type { HvLog } from "./hv_log.ts";
import type { HostMemoryPool } from "./memory_pool.ts";
import { actionFor, type ShutdownAction } from "./shutdown_policy.ts";

/** Xen reserves domids from 0x7FF0 (DOMID_FIRST_RESERVED); 0 is dom0. */
export const DOMID_FIRST_RESERVED = 0x7ff0;

export const DOMAIN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** What the table tells the toolstack (dom0). Called on the main thread. */
export interface DomainObserver {
  console(domid: number, bytes: Uint8Array): void;
  stateChanged(info: DomainInfo): void;
  /** on_* policy said restart: the old domain is gone (or renamed and preserved); rebuild it from its config. */
  restartRequested(old: DomainInfo, reason: ShutdownReason): void;
}

export interface DomainTableDeps {
  readonly pool: HostMemoryPool;
  readonly log: HvLog;
  readonly now: () => number;
  readonly observer: DomainObserver;
  /** How long destroy waits for a backend before giving up on it (default 10 s). */
  readonly destroyTimeoutMs?: number;
}

export class DomainTable {
  private readonly domains = new Map<number, Domain>();
  private readonly earlyEvents = new Map<Domain, (() => void)[]>();
  private nextDomid = 1;

  private readonly destroyTimeoutMs: number;

  constructor(private readonly deps: DomainTableDeps) {
    this.destroyTimeoutMs = deps.destroyTimeoutMs ?? 10_000;
  }

  // ---- lookup ----

  get(domid: number): Domain {
    const d = this.domains.get(domid);
    if (!d) throw new DomainError("not_found", `Domain ${domid} does not exist`);
    return d;
  }

  findByName(name: string): Domain | undefined {
    for (const d of this.domains.values()) if (d.name === name) return d;
    return undefined;
  }

  /** DOM as xl takes it: a domid if all digits, else a name. */
  lookup(dom: string): Domain {
    if (/^\d+$/.test(dom)) {
      const d = this.domains.get(Number(dom));
      if (d) return d;
      throw new DomainError("not_found", `Domain "${dom}" does not exist`);
    }
    const d = this.findByName(dom);
    if (!d) throw new DomainError("not_found", `Domain "${dom}" does not exist`);
    return d;
  }

  list(): DomainInfo[] {
    return [...this.domains.values()].sort((a, b) => a.domid - b.domid).map((d) => d.info());
  }

  get size(): number {
    return this.domains.size;
  }

  // ---- creation ----

  /** Allocates a domid and reserves memory; the domain starts in "building". Throws and changes nothing on refusal. */
  create(spec: DomainSpec): Domain {
    if (!DOMAIN_NAME_RE.test(spec.name)) {
      throw new DomainError("invalid", `Cannot create domain "${spec.name}": names are 1-64 letters, digits, "_", "." or "-", starting with a letter or digit`);
    }
    if (spec.name === "Domain-0") throw new DomainError("exists", `Cannot create domain "Domain-0": the name belongs to dom0`);
    if (this.findByName(spec.name)) throw new DomainError("exists", `Cannot create domain "${spec.name}": a domain with that name already exists`);
    if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1) throw new DomainError("invalid", `Cannot create domain "${spec.name}": vcpus must be at least 1`);
    if (spec.maxmemBytes < spec.memoryBytes) throw new DomainError("invalid", `Cannot create domain "${spec.name}": maxmem is below memory`);
    const domid = this.allocDomid();
    this.deps.pool.reserve(domid, spec.memoryBytes, spec.name);
    const d = new Domain(domid, spec, this.deps.now());
    this.domains.set(domid, d);
    this.deps.log.write(`d${domid}: created "${spec.name}" (${spec.type}, ${spec.memoryBytes >> 20} MiB, ${spec.vcpus} vCPU${spec.vcpus > 1 ? "s" : ""}, ${spec.accel})`);
    this.notify(d);
    return d;
  }

  private allocDomid(): number {
    for (let i = 0; i < DOMID_FIRST_RESERVED; i++) {
      const id = this.nextDomid;
      this.nextDomid = id + 1 >= DOMID_FIRST_RESERVED ? 1 : id + 1;
      if (!this.domains.has(id)) return id;
    }
    throw new DomainError("no_memory", "Cannot create a domain: every domid is in use");
  }

  /** Starts the domain's vCPUs on backend (xen: its Xen guest interface, PVH). On failure the domain is destroyed and the error rethrown. */
  async launch(domid: number, backend: ExecutionBackend, image: BootImage, xen?: XenDomainPort, emu?: EmuLaunchOptions): Promise<void> {
    const d = this.get(domid);
    if (d.state.kind !== "building") throw new DomainError("bad_state", `Cannot launch domain ${domid}: it is ${describeState(d.state)}`);
    this.deps.log.write(`d${domid}: boot image: ${image.description}`);
    let exec: DomainExecution;
    try {
      exec = await backend.launch(
        { domid, name: d.name, type: d.spec.type, memoryBytes: d.spec.memoryBytes, vcpus: d.spec.vcpus, image, ...(xen !== undefined ? { xen } : {}), ...(emu !== undefined ? { emu } : {}) },
        this.eventsFor(d),
      );
    } catch (e) {
      this.deps.log.write(`d${domid}: ${backend.kind} backend failed to launch: ${errorText(e)}`);
      await this.destroy(domid).catch(() => undefined);
      throw e;
    }
    // The toolstack may have destroyed the domain while the backend was starting.
    const now = d.state as DomainState;
    if (now.kind !== "building" || !this.live(d)) {
      await safe(() => exec.destroy());
      return;
    }
    d.execution = exec;
    {
      this.apply(d, { kind: "built" });
      this.deps.log.write(`d${domid}: running on ${backend.kind}`);
    }
    // Shutdown or crash reported before launch() returned: handle it now that the domain runs.
    const early = this.earlyEvents.get(d);
    this.earlyEvents.delete(d);
    for (const fn of early ?? []) fn();
  }

  // ---- control ----

  async pause(domid: number): Promise<void> {
    const d = this.get(domid);
    this.apply(d, { kind: "pause" });
    try {
      await d.execution?.pause();
    } catch (e) {
      this.fail(d, `pause failed: ${errorText(e)}`);
      throw e;
    }
  }

  async unpause(domid: number): Promise<void> {
    const d = this.get(domid);
    this.apply(d, { kind: "unpause" });
    try {
      await d.execution?.unpause();
    } catch (e) {
      this.fail(d, `unpause failed: ${errorText(e)}`);
      throw e;
    }
  }

  /**
   * The domain shut down with reason (the guest asked, or the toolstack did it for a guest without
   * a PV control interface). Applies the domain's on_* policy and returns the action taken.
   */
  async shutdown(domid: number, reason: ShutdownReason, origin: string): Promise<ShutdownAction> {
    const d = this.get(domid);
    this.apply(d, { kind: "shutdown", reason });
    const action = actionFor(reason, d.spec.policies);
    this.deps.log.write(`d${domid}: shutdown (${reason}) requested by ${origin}; action ${action}`);
    await safe(() => d.execution?.pause(), (e) => this.deps.log.write(`d${domid}: stopping vCPUs failed: ${errorText(e)}`));
    switch (action) {
      case "preserve":
        break;
      case "destroy":
        await this.destroy(domid);
        break;
      case "restart": {
        const old = d.info();
        await this.destroy(domid);
        this.requestRestart(old, reason);
        break;
      }
      case "rename-restart": {
        const old = d.info();
        this.rename(domid, `${d.name}--${domid}`);
        this.requestRestart(old, reason);
        break;
      }
    }
    return action;
  }

  /** Stops the domain and returns its memory. Idempotent for a domain already dying. */
  async destroy(domid: number): Promise<void> {
    const d = this.get(domid);
    if (d.state.kind === "dying" || d.state.kind === "gone") return;
    this.apply(d, { kind: "destroy" });
    this.earlyEvents.delete(d);
    const exec = d.takeExecution();
    await safe(
      () => (exec ? withTimeout(exec.destroy(), this.destroyTimeoutMs, `the backend did not finish destroying the domain within ${this.destroyTimeoutMs / 1000} s; releasing it anyway`) : undefined),
      (e) => this.deps.log.write(`d${domid}: backend destroy failed: ${errorText(e)}`),
    );
    this.deps.pool.release(domid);
    this.domains.delete(domid);
    this.apply(d, { kind: "released" });
    this.deps.log.write(`d${domid}: destroyed`);
  }

  rename(domid: number, newName: string): void {
    const d = this.get(domid);
    if (!DOMAIN_NAME_RE.test(newName)) throw new DomainError("invalid", `Cannot rename domain ${domid} to "${newName}": not a valid name`);
    const other = this.findByName(newName);
    if (other && other !== d) throw new DomainError("exists", `Cannot rename domain ${domid} to "${newName}": the name is taken`);
    this.deps.log.write(`d${domid}: renamed "${d.name}" -> "${newName}"`);
    d.name = newName;
    this.notify(d);
  }

  consoleInput(domid: number, bytes: Uint8Array): void {
    const d = this.get(domid);
    d.execution?.consoleInput(bytes);
  }

  /** The execution profile of a domain's backend (xl emu-stats); null if the backend keeps none or cannot answer. */
  async profile(domid: number): Promise<ExecutionProfile | null> {
    const d = this.get(domid);
    const exec = d.execution;
    if (exec === undefined || exec.profile === undefined) return null;
    return exec.profile();
  }

  /** Destroys every domain (daemon shutdown). */
  async destroyAll(): Promise<void> {
    for (const id of [...this.domains.keys()]) await this.destroy(id).catch(() => undefined);
  }

  // ---- internals ----

  private requestRestart(old: DomainInfo, reason: ShutdownReason): void {
    try {
      this.deps.observer.restartRequested(old, reason);
    } catch (e) {
      this.deps.log.write(`d${old.domid}: restart of "${old.name}" failed: ${errorText(e)}`);
    }
  }

  private apply(d: Domain, ev: LifecycleEvent): void {
    d.state = transition(d.state, ev, `domain "${d.name}" (id ${d.domid})`);
    this.notify(d);
  }

  private notify(d: Domain): void {
    try {
      this.deps.observer.stateChanged(d.info());
    } catch (e) {
      this.deps.log.write(`d${d.domid}: state observer failed: ${errorText(e)}`);
    }
  }

  private fail(d: Domain, why: string): void {
    this.deps.log.write(`d${d.domid}: ${why}`);
  }

  private live(d: Domain): boolean {
    return this.domains.get(d.domid) === d && d.state.kind !== "dying" && d.state.kind !== "gone";
  }

  private eventsFor(d: Domain): ExecutionEvents {
    const guard = (what: string, fn: () => void, deferWhileBuilding = false): void => {
      if (!this.live(d)) return;
      if (deferWhileBuilding && d.state.kind === "building") {
        const q = this.earlyEvents.get(d) ?? [];
        q.push(() => guard(what, fn));
        this.earlyEvents.set(d, q);
        return;
      }
      try {
        fn();
      } catch (e) {
        this.deps.log.write(`d${d.domid}: handling ${what} failed: ${errorText(e)}`);
      }
    };
    return {
      console: (bytes) => guard("console output", () => this.deps.observer.console(d.domid, bytes)),
      log: (line) => guard("log", () => this.deps.log.write(`d${d.domid}: ${line.replace(new RegExp(`^d${d.domid}: `), "")}`)),
      shutdown: (reason) =>
        guard("shutdown", () => {
          if (d.state.kind !== "running" && d.state.kind !== "paused") {
            this.deps.log.write(`d${d.domid}: ignoring shutdown (${reason}) while ${describeState(d.state)}`);
            return;
          }
          this.shutdown(d.domid, reason, "the guest").catch((e) => this.deps.log.write(`d${d.domid}: shutdown handling failed: ${errorText(e)}`));
        }, true),
      crashed: (why, dump) =>
        guard("crash", () => {
          this.deps.log.write(`d${d.domid}: domain crashed: ${why}`);
          if (dump) this.deps.log.write(dump.split("\n").map((l) => `d${d.domid}:   ${l}`).join("\n"));
          if (d.state.kind !== "running" && d.state.kind !== "paused") return;
          this.shutdown(d.domid, "crash", "the hypervisor").catch((e) => this.deps.log.write(`d${d.domid}: crash handling failed: ${errorText(e)}`));
        }, true),
    };
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function safe(fn: () => Promise<void> | void | undefined, onError?: (e: unknown) => void): Promise<void> {
  try {
    await fn();
  } catch (e) {
    onError?.(e);
  }
}

function withTimeout(p: Promise<void>, ms: number, why: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
