// One function per Xen hypercall this core implements, taking the raw argument registers: what the hypercall
// table (hv/hypercall/) wires in, one line each. Argument order as the guest passes them (rdi, rsi, rdx, r10, r8).
import { evtchnOp } from "../evtchn/evtchn_op.ts";
import { gnttabOp } from "../gnttab/gnttab_op.ts";
import { Hypercall } from "../../abi/xen/xen.ts";
import type { HypercallContext, HypercallDomain, HypercallEffects, HypercallTable } from "../hypercall/context.ts";
import { HypercallDispatcher } from "../hypercall/dispatch.ts";
import type { GuestVirtualMemory, HypercallRequest } from "../ports.ts";
import type { GuestCall } from "./guest_call.ts";
import { hvmOp } from "./hvm_params.ts";
import { memoryOp } from "./memory_op.ts";
import { vcpuOp } from "./vcpu_op.ts";
import type { XenEnv } from "./xen_guest.ts";

export type XenArgs = readonly bigint[];
export type XenHypercall = (env: XenEnv, call: GuestCall, args: XenArgs) => number;

/** C `int`/`unsigned int` argument: the low 32 bits (Xen's prototypes take int cmd). */
function u32(v: bigint | undefined): number {
  return Number(BigInt.asUintN(32, v ?? 0n));
}

/** memory_op(unsigned long cmd, void *arg): cmd keeps the continuation bits above MEMOP_EXTENT_SHIFT. */
export const memoryOpHypercall: XenHypercall = (env, call, args) =>
  memoryOp(env, call, Number(BigInt.asUintN(53, args[0] ?? 0n)), args[1] ?? 0n);

/** grant_table_op(unsigned int cmd, void *uop, unsigned int count). */
export const grantTableOpHypercall: XenHypercall = (env, call, args) =>
  gnttabOp(env.grants, call, u32(args[0]), args[1] ?? 0n, u32(args[2]));

/** vcpu_op(int cmd, unsigned int vcpuid, void *arg). */
export const vcpuOpHypercall: XenHypercall = (env, call, args) => vcpuOp(env, call, u32(args[0]), u32(args[1]), args[2] ?? 0n);

/** event_channel_op(int cmd, void *arg). */
export const eventChannelOpHypercall: XenHypercall = (env, call, args) => evtchnOp(env.events, call, u32(args[0]), args[1] ?? 0n);

/** hvm_op(unsigned long op, void *arg). */
export const hvmOpHypercall: XenHypercall = (env, call, args) => hvmOp(env, call, u32(args[0]), args[1] ?? 0n);

/** The hypercalls above by number, for a table that wants them all at once. */
export const XEN_CORE_HYPERCALLS: Readonly<Record<number, XenHypercall>> = {
  [Hypercall.memory_op]: memoryOpHypercall,
  [Hypercall.grant_table_op]: grantTableOpHypercall,
  [Hypercall.vcpu_op]: vcpuOpHypercall,
  [Hypercall.event_channel_op]: eventChannelOpHypercall,
  [Hypercall.hvm_op]: hvmOpHypercall,
};

/** The caller as these handlers see it, from the dispatcher's context. */
export function guestCallOf(ctx: HypercallContext): GuestCall {
  return { domid: ctx.domain.domid, vcpuId: ctx.vcpuId, privileged: ctx.domain.privileged, mem: ctx.mem };
}

/**
 * Entries for hv/hypercall's table, bound to env. Must run on the thread that owns env (the main thread):
 * `new HypercallDispatcher(domain, effects, { ...HYPERCALLS, ...xenCoreHypercallTable(env) })`.
 */
export function xenCoreHypercallTable(env: XenEnv): HypercallTable {
  const entry = (name: string, fn: XenHypercall) => ({
    name,
    handler: (ctx: HypercallContext, args: readonly [bigint, bigint, bigint, bigint, bigint]) => fn(env, guestCallOf(ctx), args),
  });
  return {
    [Hypercall.memory_op]: entry("memory_op", memoryOpHypercall),
    [Hypercall.grant_table_op]: entry("grant_table_op", grantTableOpHypercall),
    [Hypercall.vcpu_op]: entry("vcpu_op", vcpuOpHypercall),
    [Hypercall.event_channel_op]: entry("event_channel_op", eventChannelOpHypercall),
    [Hypercall.hvm_op]: entry("hvm_op", hvmOpHypercall),
  };
}

/** Numbers of the hypercalls this core serves on the owner (main) thread. */
export const XEN_CORE_HYPERCALL_NUMBERS: readonly number[] = [
  Hypercall.memory_op,
  Hypercall.grant_table_op,
  Hypercall.vcpu_op,
  Hypercall.event_channel_op,
  Hypercall.hvm_op,
];

/**
 * The owner-side service for one domain, shaped as vcpu_thread's OwnerHypercalls: the vCPU thread forwards
 * these numbers and the main thread answers through hv/hypercall's dispatcher (-errno, counts, log-once).
 */
export function xenOwnerHypercalls(
  env: XenEnv,
  domain: HypercallDomain,
  effects: HypercallEffects,
): { readonly numbers: readonly number[]; handle(req: HypercallRequest, mem: GuestVirtualMemory): bigint; readonly dispatcher: HypercallDispatcher } {
  const dispatcher = new HypercallDispatcher(domain, effects, xenCoreHypercallTable(env));
  return { numbers: XEN_CORE_HYPERCALL_NUMBERS, handle: (req, mem) => dispatcher.dispatch(req, mem), dispatcher };
}
