// HVM parameters and upcall vectors of one domain, and the hvm_op hypercall (34): HVMOP_set_param /
// get_param with Xen's guest-permission lists (xen/arch/x86/hvm/hvm.c hvm_allow_set_param /
// hvm_allow_get_param), HVMOP_set_evtchn_upcall_vector, HVMOP_get_time, HVMOP_pagetable_dying (-ENOSYS).
import { Errno } from "../../abi/xen/errno.ts";
import {
  HVM_NR_PARAMS, HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT, HvmCallbackType, HvmOp, HvmParam, XenHvmEvtchnUpcallVector,
  XenHvmGetTime, XenHvmParam,
} from "../../abi/xen/hvm.ts";
import { inOut, readStruct, resolveDomid, writeStruct, type GuestCall } from "./guest_call.ts";
import type { XenEnv } from "./xen_guest.ts";
import { XenError } from "./xen_error.ts";

/** Parameters a guest may set on itself (others: EPERM for the guest, allowed for the toolstack). */
const GUEST_SETTABLE: ReadonlySet<number> = new Set([
  HvmParam.CALLBACK_IRQ, HvmParam.VM86_TSS, HvmParam.VM86_TSS_SIZED, HvmParam.ACPI_IOPORTS_LOCATION,
  HvmParam.VM_GENERATION_ID_ADDR, HvmParam.STORE_EVTCHN, HvmParam.CONSOLE_EVTCHN, HvmParam.X87_FIP_WIDTH,
]);
/** Parameters a guest may read on itself. */
const GUEST_READABLE: ReadonlySet<number> = new Set([
  HvmParam.CALLBACK_IRQ, HvmParam.VM86_TSS, HvmParam.VM86_TSS_SIZED, HvmParam.ACPI_IOPORTS_LOCATION,
  HvmParam.VM_GENERATION_ID_ADDR, HvmParam.STORE_PFN, HvmParam.STORE_EVTCHN, HvmParam.CONSOLE_PFN,
  HvmParam.CONSOLE_EVTCHN, HvmParam.ALTP2M, HvmParam.X87_FIP_WIDTH,
]);
/** Deprecated indices: EINVAL for everyone. */
const DEPRECATED: ReadonlySet<number> = new Set([HvmParam.PAE_ENABLED, HvmParam.DM_DOMAIN, 20, 21, 22, 23, 24, 25, 26, 30]);
/** Set-once parameters: changing a non-zero value is EEXIST. */
const SET_ONCE: ReadonlySet<number> = new Set([
  HvmParam.VIRIDIAN, HvmParam.IOREQ_PFN, HvmParam.BUFIOREQ_PFN, HvmParam.IOREQ_SERVER_PFN, HvmParam.NR_IOREQ_SERVER_PAGES,
  HvmParam.MCA_CAP,
]);

export class HvmParams {
  private readonly values = new BigUint64Array(HVM_NR_PARAMS);
  /** Per-vCPU upcall vector from HVMOP_set_evtchn_upcall_vector (0 = none). */
  private readonly upcallVectors: Uint8Array;

  constructor(readonly nrVcpus: number) {
    this.upcallVectors = new Uint8Array(nrVcpus);
  }

  /** HVMOP_set_param by a caller that is (self) the domain itself or (!self) the toolstack. Throws XenError. */
  set(index: number, value: bigint, self: boolean): void {
    this.check(index, self ? GUEST_SETTABLE : undefined, "set");
    if (index === HvmParam.ALTP2M) throw new XenError(Errno.EEXIST, "HVM_PARAM_ALTP2M is read-only");
    const old = this.values[index]!;
    if (SET_ONCE.has(index) && old !== 0n && old !== value) throw new XenError(Errno.EEXIST, `HVM param "${index}" is already set`);
    this.values[index] = BigInt.asUintN(64, value);
  }

  /** HVMOP_get_param. Throws XenError. */
  get(index: number, self: boolean): bigint {
    this.check(index, self ? GUEST_READABLE : undefined, "read");
    return this.values[index]!;
  }

  /** The toolstack's own write (domain build: STORE_PFN, CONSOLE_PFN, ...), no checks. */
  setByToolstack(index: number, value: bigint): void {
    if (index < 0 || index >= HVM_NR_PARAMS) throw new RangeError(`HVM param ${index} does not exist`);
    this.values[index] = BigInt.asUintN(64, value);
  }

  setUpcallVector(vcpuId: number, vector: number): void {
    if (vector < 0x10 || vector > 0xff) throw new XenError(Errno.EINVAL, `Upcall vector "${vector}" is reserved`);
    if (!Number.isInteger(vcpuId) || vcpuId < 0 || vcpuId >= this.nrVcpus) {
      throw new XenError(Errno.ENOENT, `Cannot set the upcall vector of vCPU "${vcpuId}": no such vCPU`);
    }
    this.upcallVectors[vcpuId] = vector;
  }

  /**
   * The vector to inject for vcpuId's event upcall: its own (HVMOP_set_evtchn_upcall_vector), else the
   * domain-wide CALLBACK_IRQ of type VECTOR, else undefined (no way to notify yet).
   */
  upcallVector(vcpuId: number): number | undefined {
    const own = this.upcallVectors[vcpuId];
    if (own !== undefined && own !== 0) return own;
    const cb = this.values[HvmParam.CALLBACK_IRQ]!;
    if (cb >> HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT === BigInt(HvmCallbackType.VECTOR)) return Number(cb & 0xffn);
    return undefined;
  }

  save(): HvmParamsState {
    return { version: 1, values: [...this.values].map(String), upcallVectors: [...this.upcallVectors] };
  }

  /** Loads a save() record (Xen's HVM_PARAMS record of the save stream). */
  restore(state: HvmParamsState): void {
    if (state.version !== 1) throw new RangeError(`HVM params record version ${String(state.version)} is not supported`);
    state.values.forEach((v, i) => {
      if (i < HVM_NR_PARAMS) this.values[i] = BigInt.asUintN(64, BigInt(v));
    });
    state.upcallVectors.forEach((v, i) => {
      if (i < this.nrVcpus) this.upcallVectors[i] = v;
    });
  }

  private check(index: number, guestAllowed: ReadonlySet<number> | undefined, what: string): void {
    if (!Number.isInteger(index) || index < 0 || index >= HVM_NR_PARAMS) throw new XenError(Errno.EINVAL, `HVM param "${index}" does not exist`);
    if (DEPRECATED.has(index)) throw new XenError(Errno.EINVAL, `HVM param "${index}" is deprecated`);
    if (guestAllowed !== undefined && !guestAllowed.has(index)) {
      throw new XenError(Errno.EPERM, `A guest may not ${what} its HVM param "${index}"`);
    }
  }
}

export interface HvmParamsState {
  readonly version: 1;
  readonly values: readonly string[];
  readonly upcallVectors: readonly number[];
}

/** HYPERVISOR_hvm_op(op, arg). Returns 0 or throws XenError. */
export function hvmOp(env: XenEnv, call: GuestCall, op: number, arg: bigint): number {
  switch (op) {
    case HvmOp.set_param: {
      const a = readStruct(call, XenHvmParam, arg);
      if (a.index >= HVM_NR_PARAMS) throw new XenError(Errno.EINVAL, `HVM param "${a.index}" does not exist`);
      const guest = env.targetGuest(call, a.domid, "set an HVM param");
      guest.params.set(a.index, a.value, guest.domid === call.domid);
      return 0;
    }
    case HvmOp.get_param:
      return inOut(call, XenHvmParam, arg, (a) => {
        if (a.index >= HVM_NR_PARAMS) throw new XenError(Errno.EINVAL, `HVM param "${a.index}" does not exist`);
        const guest = env.targetGuest(call, a.domid, "read an HVM param");
        a.value = guest.params.get(a.index, guest.domid === call.domid);
        return 0;
      });
    case HvmOp.set_evtchn_upcall_vector: {
      const a = readStruct(call, XenHvmEvtchnUpcallVector, arg);
      const guest = env.targetGuest(call, resolveDomid(call, call.domid), "set an upcall vector");
      guest.setUpcallVector(a.vcpu, a.vector);
      return 0;
    }
    case HvmOp.get_time: {
      const guest = env.targetGuest(call, call.domid, "read the time");
      writeStruct(call, XenHvmGetTime, arg, { now: guest.clock.systemTimeNs() });
      return 0;
    }
    case HvmOp.pagetable_dying:
      throw new XenError(Errno.ENOSYS, "HVMOP_pagetable_dying is not implemented (a hint only)");
    default:
      throw new XenError(Errno.ENOSYS, `Unsupported hvm_op "${op}"`);
  }
}
