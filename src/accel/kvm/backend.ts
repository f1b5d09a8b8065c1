// kvmBackend: the ExecutionBackend (hv/ports.ts) on Linux KVM. The owner side of a domain: the VM and its
// RAM (kvm_vm.ts) on the main thread, one vCPU thread per vCPU (vcpu_thread/) running kvm_engine.ts.
// Design: a guest shutdown or crash on any vCPU pauses the others and is reported once; destroy stops
// every thread before the VM's fds and memory are released, so no thread touches freed memory.
import { readFileSync, existsSync } from "node:fs";
import { KVM_RUN_OFF } from "../../abi/kvm/kvm_run.ts";
import { KVM_CAP } from "../../abi/kvm/ioctl_numbers.ts";
import type { AccelProbe, DomainExecution, ExecutionBackend, ExecutionEvents, GuestRam, LaunchSpec, XenDomainAttachment } from "../../hv/ports.ts";
import type { FromVcpu, OwnerHypercalls } from "../../vcpu_thread/protocol.ts";
import { prewarmVcpuThreads, VcpuThread } from "../../vcpu_thread/host.ts";
import type { PhysmapHooks } from "../../hv/xen/guest_physmap.ts";
import { guestCpuid } from "./cpuid_policy.ts";
import { patchVmcallHypercalls } from "./hypercall_patch.ts";
import { KvmSystem, KvmVm } from "./kvm_vm.ts";
import type { KvmEngineData } from "./kvm_engine.ts";
import * as ffi from "./ffi.ts";

const ENGINE_MODULE = new URL("./kvm_engine.ts", import.meta.url).href;

/** LaunchSpec plus a main-thread hypercall service given directly (tests; LaunchSpec.xen brings its own). */
export type KvmLaunchSpec = LaunchSpec & { readonly ownerHypercalls?: OwnerHypercalls };

let kickHandlerInstalled = false;
/** A real handler (not SIG_DFL/SIG_IGN) makes the signal interrupt KVM_RUN with EINTR instead of killing us. */
function installKickHandler(): void {
  if (kickHandlerInstalled) return;
  kickHandlerInstalled = true;
  process.on("SIGUSR2", () => {});
}

/** Why this host's KVM cannot run a full guest kernel, or null if it can. */
export function fullGuestBlocker(): string | null {
  if (existsSync("/sys/module/kvm_pvm")) return "this host's KVM is kvm_pvm (software PVM virtualization), which fails to emulate instructions a full kernel uses";
  try {
    const flags = readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
    if (!/\b(vmx|svm)\b/.test(flags)) return "the CPU has no vmx/svm flag, so KVM here is not hardware virtualization";
  } catch {
    return "cannot read /proc/cpuinfo to check for vmx/svm";
  }
  return null;
}

export function probeKvm(): AccelProbe {
  let sys: KvmSystem;
  try {
    sys = KvmSystem.open();
  } catch (e) {
    return { kind: "kvm", usable: false, fullGuests: false, reason: e instanceof Error ? e.message : String(e) };
  }
  try {
    const missing = (
      [["SPLIT_IRQCHIP", KVM_CAP.SPLIT_IRQCHIP], ["X86_USER_SPACE_MSR", KVM_CAP.X86_USER_SPACE_MSR], ["X86_MSR_FILTER", KVM_CAP.X86_MSR_FILTER], ["IMMEDIATE_EXIT", KVM_CAP.IMMEDIATE_EXIT]] as const
    ).filter(([, cap]) => sys.checkExtension(cap) === 0);
    if (missing.length > 0) {
      return { kind: "kvm", usable: false, fullGuests: false, reason: `KVM lacks ${missing.map(([n]) => `KVM_CAP_${n}`).join(", ")}` };
    }
    KvmVm.create(KvmSystem.open(), { name: "probe", memoryBytes: 4096 }).close();
    const blocker = fullGuestBlocker();
    return blocker === null
      ? { kind: "kvm", usable: true, fullGuests: true, reason: "hardware-assisted KVM" }
      : { kind: "kvm", usable: true, fullGuests: false, reason: `tiny guests only: ${blocker}` };
  } catch (e) {
    return { kind: "kvm", usable: false, fullGuests: false, reason: e instanceof Error ? e.message : String(e) };
  } finally {
    sys.close();
  }
}

/** A domain on kvm: DomainExecution plus what only this backend offers the core. */
export interface KvmDomain extends DomainExecution {
  /** Guest RAM as the owner thread sees it (a memfd mapping shared with the vCPU threads and KVM). */
  readonly ram: GuestRam;
  /**
   * For the core's `new RamPhysmap(domain.ram, domain.physmapHooks)`: overlay pages (shared_info, grant
   * frames) become KVM memslots, released RAM is hole-punched back to the host. Main thread.
   */
  readonly physmapHooks: PhysmapHooks;
  /** Raises an interrupt vector on a vCPU's LAPIC (the Xen event-channel upcall). Main thread. */
  injectVector(vcpuId: number, vector: number): boolean;
}

class KvmDomainExecution implements KvmDomain {
  private readonly threads: VcpuThread[] = [];
  private ended = false;
  private destroyed: Promise<void> | null = null;
  private cpuNsOfStopped = 0;
  private readonly lastCpuNs: number[] = [];
  private xen: XenDomainAttachment | null = null;
  readonly ram: GuestRam;
  readonly physmapHooks: PhysmapHooks;

  constructor(
    private readonly spec: KvmLaunchSpec,
    private readonly vm: KvmVm,
    private readonly events: ExecutionEvents,
  ) {
    this.ram = { bytes: vm.ram, sizeBytes: vm.ramSizeBytes };
    this.physmapHooks = {
      allocOverlayPage: () => vm.allocOverlayPage(),
      overlayMapped: (gfn, page) => vm.mapOverlay(gfn, page),
      overlayUnmapped: (gfn) => vm.unmapOverlay(gfn),
      ramReleased: (gfn) => vm.releaseRamPage(gfn),
    };
  }

  /**
   * The Xen guest interface (LaunchSpec.xen), attached once RAM holds the image and before any vCPU runs.
   * The hooks object also carries `physmap` (overlay pages as memslots) for a Xen layer that takes it.
   */
  attachXen(): void {
    if (this.spec.xen === undefined) return;
    const hooks = {
      inject: (vcpuId: number, vector: number): void => {
        this.injectVector(vcpuId, vector);
      },
      physmap: this.physmapHooks,
    };
    this.xen = this.spec.xen.attach(this.ram, hooks, this.events);
  }

  start(): Promise<void[]> {
    const cpuid = this.vm.system.supportedCpuid();
    const owner = this.spec.ownerHypercalls ?? this.xen?.ownerHypercalls;
    const xenFeatures = (this.xen as { xenFeatures?: number } | null)?.xenFeatures;
    for (const v of this.vm.vcpus) {
      const engineData: KvmEngineData = {
        vcpuFd: v.fd,
        runAddr: v.runAddr,
        runSizeBytes: v.runSizeBytes,
        // hideCx16 (a kvm_pvm quirk, xen-abi-on-kvm.md §1) stays off: with it Debian's 6.1 kernel printed nothing here.
        cpuid: guestCpuid(cpuid, { vcpuId: v.id, domid: this.spec.domid, upcallVector: this.xen !== null }),
      };
      const run8 = ffi.nativeView(v.runAddr, v.runSizeBytes);
      const t = new VcpuThread({
        init: {
          domid: this.spec.domid,
          name: this.spec.name,
          vcpuId: v.id,
          vcpuCount: this.spec.vcpus,
          privileged: this.spec.domid === 0,
          handle: new Uint8Array(16),
          engineModule: ENGINE_MODULE,
          engineData,
          ram: { kind: "native", addr: this.vm.ramAddr, sizeBytes: this.vm.ramSizeBytes },
          entry: v.id === 0 ? this.spec.image.entry : null,
          ...(xenFeatures !== undefined ? { xenFeatures } : {}),
        },
        kick: () => {
          Atomics.store(run8, KVM_RUN_OFF.immediateExit, 1);
          const tid = t.threadId(); // 0n before the engine published it (immediate_exit covers that) or after exit
          if (tid !== 0n) ffi.signalThread(tid, ffi.KICK_SIGNAL);
        },
        onMessage: (m) => this.onMessage(v.id, m),
        ownerHypercalls: owner === undefined ? undefined : { service: owner, ram: this.vm.ram },
        onThreadError: (e) => this.end(() => this.events.crashed(`vCPU ${v.id} thread failed: ${e.message}`, e.stack ?? "")),
      });
      this.threads.push(t);
    }
    return Promise.all(this.threads.map((t) => t.started()));
  }

  private onMessage(vcpuId: number, m: FromVcpu): void {
    switch (m.kind) {
      case "console":
        this.events.console(m.bytes);
        return;
      case "log":
        this.events.log(m.line);
        return;
      case "shutdown":
        this.events.log(`d${this.spec.domid}: vCPU ${vcpuId} requested shutdown (${m.reason})`);
        this.end(() => this.events.shutdown(m.reason));
        return;
      case "crashed":
        this.end(() => this.events.crashed(`vCPU ${vcpuId}: ${m.why}`, m.registerDump));
        return;
      case "ready":
      case "initFailed":
        return;
    }
  }

  /** The domain stopped running on its own: report once, after the other vCPUs left the guest. */
  private end(report: () => void): void {
    if (this.ended || this.destroyed !== null) return;
    this.ended = true;
    void Promise.all(this.threads.map((t) => t.pause())).then(report, report);
  }

  injectVector(vcpuId: number, vector: number): boolean {
    if (this.destroyed !== null) return false;
    return this.vm.signalMsi(vcpuId, vector); // APIC id = vCPU id (CPUID leaf 1 and 0x40000004)
  }

  async pause(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.pause()));
  }

  async unpause(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.unpause()));
  }

  destroy(): Promise<void> {
    this.destroyed ??= (async () => {
      this.cpuNsOfStopped = this.cpuTimeNs();
      const ended = await Promise.all(this.threads.map((t) => t.stop()));
      this.xen?.detach();
      if (ended.every((e) => e)) {
        this.vm.close();
      } else {
        // A thread still inside KVM_RUN may touch RAM and kvm_run: keep them mapped (leaked) rather than crash.
        this.events.log(`d${this.spec.domid}: a vCPU thread did not stop; its VM memory and fds are left allocated`);
      }
    })();
    return this.destroyed;
  }

  /** To the PV console when the Xen layer is attached; tiny guests read no input. */
  consoleInput(bytes: Uint8Array): void {
    this.xen?.consoleInput(bytes);
  }

  /** Sum of the vCPU threads' CPU clocks (guest time in KVM_RUN included); a thread that ended keeps its last sample. */
  cpuTimeNs(): number {
    if (this.destroyed !== null) return this.cpuNsOfStopped;
    let total = 0;
    this.threads.forEach((t, i) => {
      const id = t.threadId();
      if (id !== 0n) {
        const ns = ffi.threadCpuTimeNs(id);
        if (ns > 0) this.lastCpuNs[i] = ns;
      }
      total += this.lastCpuNs[i] ?? 0;
    });
    return total;
  }
}

/**
 * Keeps `count` idle kvm vCPU threads ready (replenished as domains take them), so a domain starts in
 * milliseconds instead of paying ≈250 ms of thread start-up. For the daemon to call once kvm is chosen.
 */
export function prewarmKvmThreads(count: number): void {
  prewarmVcpuThreads(count, ENGINE_MODULE);
}

export interface KvmExecutionBackend extends ExecutionBackend {
  launch(spec: KvmLaunchSpec, events: ExecutionEvents): Promise<KvmDomain>;
}

export const kvmBackend: KvmExecutionBackend = {
  kind: "kvm",
  probe: probeKvm,
  async launch(spec: KvmLaunchSpec, events: ExecutionEvents): Promise<KvmDomain> {
    if (spec.vcpus < 1) throw new RangeError(`A domain needs at least 1 vCPU, got ${spec.vcpus}`);
    installKickHandler();
    const sys = KvmSystem.open();
    let vm: KvmVm;
    try {
      vm = KvmVm.create(sys, { name: spec.name, memoryBytes: spec.memoryBytes });
    } catch (e) {
      sys.close();
      throw e;
    }
    const exec = new KvmDomainExecution(spec, vm, events);
    try {
      for (const r of spec.image.regions) {
        if (r.gpa < 0 || r.gpa + r.bytes.length > vm.ramSizeBytes) {
          throw new RangeError(`Boot image region at 0x${r.gpa.toString(16)} (${r.bytes.length} bytes) does not fit in ${vm.ramSizeBytes} bytes of RAM`);
        }
        vm.ram.set(r.bytes, r.gpa);
      }
      // Patched in guest RAM, never in the loader's (possibly cached) image.
      const patch = patchVmcallHypercalls(spec.image.regions.map((r) => ({ bytes: vm.ram.subarray(r.gpa, r.gpa + r.bytes.length) })));
      if (patch.kind === "patched") {
        events.log(`d${spec.domid}: kernel hypercalls use vmcall/vmmcall: patched to port-I/O stubs at 0x${(spec.image.regions[patch.region]!.gpa + patch.offset).toString(16)}`);
      } else if (patch.kind === "ambiguous") {
        events.log(`d${spec.domid}: found ${patch.matches} vmcall/vmmcall hypercall sites, patched none; hypercalls will not reach tsxen unless the kernel uses a hypercall page`);
      }
      for (let i = 0; i < spec.vcpus; i++) vm.createVcpu(i);
      exec.attachXen();
      await exec.start();
    } catch (e) {
      await exec.destroy();
      throw e;
    }
    return exec;
  },
};
