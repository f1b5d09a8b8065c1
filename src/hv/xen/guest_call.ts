// The caller of a hypercall sub-op and Xen's copy_from_guest / copy_to_guest over its address space.
//
// Design: handlers get a GuestCall (who is calling, on which vCPU, their virtual memory) plus the raw
// argument registers. Any failure to read or write guest memory becomes XenError(EFAULT) here, so handlers
// never see a backend's own fault type. DOMID_SELF resolution and the "only yourself unless privileged"
// check live here too, so every handler states its permission rule in one line.
import { Errno } from "../../abi/xen/errno.ts";
import { DOMID_SELF } from "../../abi/xen/xen.ts";
import type { Field, Struct, StructValue } from "../../base/struct.ts";
import type { GuestVirtualMemory } from "../ports.ts";
import { XenError } from "./xen_error.ts";

export interface GuestCall {
  /** The calling domain's real id (never DOMID_SELF). */
  readonly domid: number;
  readonly vcpuId: number;
  /** The control domain: may name other domains in sub-ops. */
  readonly privileged: boolean;
  /** The calling vCPU's address space; hypercall pointers are guest-virtual. */
  readonly mem: GuestVirtualMemory;
}

export function copyFromGuest(call: GuestCall, va: bigint, len: number): Uint8Array {
  try {
    const bytes = call.mem.read(BigInt.asUintN(64, va), len);
    if (bytes.length !== len) throw new RangeError("short read");
    return bytes;
  } catch (e) {
    if (e instanceof XenError) throw e;
    throw new XenError(Errno.EFAULT, `Cannot read ${len} bytes at guest address "0x${BigInt.asUintN(64, va).toString(16)}"`);
  }
}

export function copyToGuest(call: GuestCall, va: bigint, data: Uint8Array): void {
  try {
    call.mem.write(BigInt.asUintN(64, va), data);
  } catch (e) {
    if (e instanceof XenError) throw e;
    throw new XenError(Errno.EFAULT, `Cannot write ${data.length} bytes at guest address "0x${BigInt.asUintN(64, va).toString(16)}"`);
  }
}

export function readStruct<Fs extends Record<string, Field>>(call: GuestCall, s: Struct<Fs>, va: bigint): StructValue<Fs> {
  return s.decode(copyFromGuest(call, va, s.size));
}

export function writeStruct<Fs extends Record<string, Field>>(call: GuestCall, s: Struct<Fs>, va: bigint, value: StructValue<Fs>): void {
  copyToGuest(call, va, s.build(value));
}

/** copy_from_guest → act (may change fields) → copy_to_guest; returns act's result. */
export function inOut<Fs extends Record<string, Field>>(
  call: GuestCall,
  s: Struct<Fs>,
  va: bigint,
  act: (op: StructValue<Fs>) => number,
): number {
  const op = readStruct(call, s, va);
  const rc = act(op);
  writeStruct(call, s, va, op);
  return rc;
}

/** DOMID_SELF → the caller's id. */
export function resolveDomid(call: GuestCall, domid: number): number {
  return domid === DOMID_SELF ? call.domid : domid;
}

/** Resolves domid and checks that the caller may act on it (itself, or the caller is privileged): EPERM. */
export function targetDomid(call: GuestCall, domid: number, what: string): number {
  const id = resolveDomid(call, domid);
  if (id !== call.domid && !call.privileged) throw new XenError(Errno.EPERM, `Domain ${call.domid} may not ${what} of domain ${id}`);
  return id;
}

/** A 64-bit hypercall argument as a non-negative safe integer, or EINVAL. */
export function argNumber(value: bigint, what: string): number {
  const v = BigInt.asUintN(64, value);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new XenError(Errno.EINVAL, `${what} "0x${v.toString(16)}" is out of range`);
  return Number(v);
}
