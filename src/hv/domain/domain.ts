// One domain's record in the hypervisor's domain table (Xen: struct domain, reduced to what the core tracks today).

import type { AccelKind, DomainExecution, ShutdownReason } from "../ports.ts";
import type { DomainState } from "./domain_state.ts";
import { BUILDING } from "./domain_state.ts";
import type { ShutdownPolicies } from "./shutdown_policy.ts";

/** What the toolstack asks the core to create. Sizes in bytes. */
export interface DomainSpec {
  readonly name: string;
  readonly type: "pvh" | "hvm";
  readonly memoryBytes: number;
  readonly maxmemBytes: number;
  readonly vcpus: number;
  readonly accel: AccelKind;
  readonly policies: ShutdownPolicies;
}

/** A serialisable snapshot of a domain, as `xl list -l` shows it. */
export interface DomainInfo {
  readonly domid: number;
  readonly name: string;
  readonly type: "pvh" | "hvm";
  readonly state: DomainState;
  readonly memoryBytes: number;
  readonly maxmemBytes: number;
  readonly vcpus: number;
  readonly accel: AccelKind;
  readonly createdAtMs: number;
  readonly cpuTimeNs: number;
  readonly policies: ShutdownPolicies;
}

export class Domain {
  readonly domid: number;
  name: string;
  readonly spec: DomainSpec;
  state: DomainState = BUILDING;
  readonly createdAtMs: number;
  execution: DomainExecution | undefined;
  /** CPU time frozen when the execution went away. */
  private finalCpuTimeNs = 0;

  constructor(domid: number, spec: DomainSpec, createdAtMs: number) {
    this.domid = domid;
    this.name = spec.name;
    this.spec = spec;
    this.createdAtMs = createdAtMs;
  }

  cpuTimeNs(): number {
    if (!this.execution) return this.finalCpuTimeNs;
    try {
      return this.execution.cpuTimeNs();
    } catch {
      return this.finalCpuTimeNs;
    }
  }

  /** Detaches the execution, remembering its CPU time. */
  takeExecution(): DomainExecution | undefined {
    const e = this.execution;
    if (e) {
      this.finalCpuTimeNs = this.cpuTimeNs();
      this.execution = undefined;
    }
    return e;
  }

  get shutdownReason(): ShutdownReason | undefined {
    return this.state.kind === "shutdown" ? this.state.reason : undefined;
  }

  info(): DomainInfo {
    return {
      domid: this.domid,
      name: this.name,
      type: this.spec.type,
      state: this.state,
      memoryBytes: this.spec.memoryBytes,
      maxmemBytes: this.spec.maxmemBytes,
      vcpus: this.spec.vcpus,
      accel: this.spec.accel,
      createdAtMs: this.createdAtMs,
      cpuTimeNs: this.cpuTimeNs(),
      policies: this.spec.policies,
    };
  }
}
