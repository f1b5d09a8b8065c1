// The 2-level event-channel ABI over guest memory: shared_info evtchn_pending / evtchn_mask bitmaps, the
// per-vCPU evtchn_pending_sel word and evtchn_upcall_pending. Follows Xen xen/common/event_2l.c and
// xen-abi-on-kvm.md §7.
//
// Design: every step is one atomic read-modify-write on the guest's own words (Atomics on an Int32Array over
// guest RAM; bit p of a 64-bit bitmap is bit p & 31 of 32-bit word p >> 5, since x86 is little-endian),
// in Xen's strict order, because guest vCPUs clear and scan these bits concurrently:
//   1. test-and-set pending[p]; already set → stop (the edge was delivered before).
//   2. mask[p] set → stop (the guest will find it on unmask).
//   3. test-and-set pending_sel[p / 64] in the target vCPU's vcpu_info; already set → stop.
//   4. exchange upcall_pending ← 1; it was 0 → upcall(vcpu) (the backend injects the upcall vector).
// unmask: test-and-clear mask[p]; if it was set and pending[p] is set, steps 3-4.
// Runs on the main thread (the owner of event channels).
import { SharedInfoLayout, VcpuInfoLayout } from "../../abi/xen/xen.ts";
import type { VcpuInfoRef } from "../xen/shared_info.ts";
import type { EvtchnPortOps } from "./port_ops.ts";

const PENDING_WORD = SharedInfoLayout.evtchnPending / 4;
const MASK_WORD = SharedInfoLayout.evtchnMask / 4;

/** What 2-level delivery needs from the domain: its shared_info words, vcpu_info places and the injector. */
export interface Evtchn2lTarget {
  /** Int32 view of the current shared_info page. */
  readonly words: Int32Array;
  vcpuInfo(vcpuId: number): VcpuInfoRef | undefined;
  /** Called when vcpuId's upcall_pending went 0 → 1: inject the registered upcall vector. */
  upcall(vcpuId: number): void;
  /**
   * Called when port's pending bit went 0 → 1, masked or not (Xen evtchn_check_pollers): wakes a vCPU
   * blocked in SCHEDOP_poll on it. Linux's PV spinlocks poll a masked IPI port, so this is the only wakeup.
   */
  portPending?(port: number): void;
}

export class Evtchn2l implements EvtchnPortOps {
  constructor(private readonly target: Evtchn2lTarget) {}

  setPending(vcpuId: number, port: number): void {
    const w = this.target.words;
    const bit = 1 << (port & 31);
    if ((Atomics.or(w, PENDING_WORD + (port >>> 5), bit) & bit) !== 0) return;
    if ((Atomics.load(w, MASK_WORD + (port >>> 5)) & bit) === 0) this.markSelector(vcpuId, port >>> 6);
    this.target.portPending?.(port);
  }

  clearPending(port: number): void {
    Atomics.and(this.target.words, PENDING_WORD + (port >>> 5), ~(1 << (port & 31)));
  }

  unmask(vcpuId: number, port: number): void {
    const w = this.target.words;
    const bit = 1 << (port & 31);
    if ((Atomics.and(w, MASK_WORD + (port >>> 5), ~bit) & bit) === 0) return;
    if ((Atomics.load(w, PENDING_WORD + (port >>> 5)) & bit) === 0) return;
    this.markSelector(vcpuId, port >>> 6);
  }

  isPending(port: number): boolean {
    return (Atomics.load(this.target.words, PENDING_WORD + (port >>> 5)) & (1 << (port & 31))) !== 0;
  }

  isMasked(port: number): boolean {
    return (Atomics.load(this.target.words, MASK_WORD + (port >>> 5)) & (1 << (port & 31))) !== 0;
  }

  /** Sets every selector bit and marks events pending (after VCPUOP_register_vcpu_info, as Xen does). */
  markAllPending(vcpuId: number): void {
    const info = this.target.vcpuInfo(vcpuId);
    if (info === undefined) return;
    const sel = (info.offset + VcpuInfoLayout.evtchnPendingSel) / 4;
    Atomics.store(info.words, sel, -1);
    Atomics.store(info.words, sel + 1, -1);
    this.markUpcallPending(vcpuId, info);
  }

  private markSelector(vcpuId: number, selectorBit: number): void {
    const info = this.target.vcpuInfo(vcpuId);
    if (info === undefined) return; // vCPU ≥ 32 without a registered vcpu_info: nowhere to signal (as Xen's dummy)
    const index = (info.offset + VcpuInfoLayout.evtchnPendingSel) / 4 + (selectorBit >>> 5);
    const bit = 1 << (selectorBit & 31);
    if ((Atomics.or(info.words, index, bit) & bit) !== 0) return;
    this.markUpcallPending(vcpuId, info);
  }

  private markUpcallPending(vcpuId: number, info: VcpuInfoRef): void {
    if (Atomics.exchange(info.bytes, info.offset + VcpuInfoLayout.evtchnUpcallPending, 1) === 0) this.target.upcall(vcpuId);
  }
}
