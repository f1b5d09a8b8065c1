import { test } from "node:test";
import assert from "node:assert/strict";
import type { GuestVirtualMemory, HypercallRequest, ShutdownReason } from "../ports.ts";
import { HypercallDispatcher } from "./dispatch.ts";
import { GuestFault, XenError } from "./xen_error.ts";
import { buildHypercallPage, installHypercallPage } from "./hypercall_page.ts";
import { PVH_DOMU_FEATURES } from "./xen_version.ts";
import { xenCpuidLeaves } from "./xen_cpuid.ts";

/** Guest memory where va = pa over a small buffer. */
class FlatMemory implements GuestVirtualMemory {
  readonly bytes = new Uint8Array(0x10000);
  read(va: bigint, len: number): Uint8Array {
    if (va + BigInt(len) > BigInt(this.bytes.length)) throw new GuestFault(va, "outside");
    return this.bytes.slice(Number(va), Number(va) + len);
  }
  write(va: bigint, data: Uint8Array): void {
    if (va + BigInt(data.length) > BigInt(this.bytes.length)) throw new GuestFault(va, "outside");
    this.bytes.set(data, Number(va));
  }
}

function setup(privileged = false) {
  const out = { console: [] as string[], log: [] as string[], shutdown: [] as ShutdownReason[] };
  const d = new HypercallDispatcher(
    { domid: 3, privileged, handle: new Uint8Array(16).fill(7) },
    {
      console: (b) => out.console.push(new TextDecoder().decode(b)),
      log: (l) => out.log.push(l),
      shutdown: (r) => out.shutdown.push(r),
    },
  );
  const mem = new FlatMemory();
  const call = (nr: number, ...a: number[]): bigint => {
    const args = [0n, 0n, 0n, 0n, 0n] as [bigint, bigint, bigint, bigint, bigint];
    a.forEach((v, i) => (args[i] = BigInt(v)));
    const req: HypercallRequest = { vcpuId: 0, nr, args, longMode: true };
    return BigInt.asIntN(64, d.dispatch(req, mem));
  };
  return { d, out, mem, call };
}

test("an unknown hypercall returns -ENOSYS, is counted, and is logged once", () => {
  const { d, out, call } = setup();
  assert.equal(call(99), -38n);
  assert.equal(call(99), -38n);
  assert.equal(d.counts.get(99), 2);
  assert.equal(out.log.length, 1);
  assert.match(out.log[0]!, /hypercall 99/);
});

test("console_io CONSOLEIO_write copies the guest buffer to the console and returns 0", () => {
  const { out, mem, call } = setup();
  mem.bytes.set(new TextEncoder().encode("hello"), 0x100);
  assert.equal(call(18, 0, 5, 0x100), 0n);
  assert.deepEqual(out.console, ["hello"]);
});

test("a buffer outside guest memory gives -EFAULT instead of throwing", () => {
  const { out, call } = setup();
  assert.equal(call(18, 0, 16, 0xfffff0), -14n);
  assert.match(out.log[0]!, /console_io/);
});

test("xen_version reports 4.17, an extraversion string and the PVH feature submap", () => {
  const { mem, call } = setup();
  assert.equal(call(17, 0), BigInt((4 << 16) | 17));
  assert.equal(call(17, 1, 0x200), 0n);
  assert.equal(new TextDecoder().decode(mem.bytes.subarray(0x200, 0x208)), ".0-tsxen");
  assert.equal(mem.bytes[0x200 + 15], 0);
  assert.equal(call(17, 6, 0x300), 0n);
  assert.equal(new DataView(mem.bytes.buffer).getUint32(0x304, true), PVH_DOMU_FEATURES);
  assert.equal(call(17, 7), 4096n);
  assert.equal(call(17, 9, 0x400), -1n, "commandline is privileged");
  assert.equal(call(17, 55), -38n);
});

test("sched_op shutdown passes the reason on, and rejects an unknown reason with -EINVAL", () => {
  const { out, mem, call } = setup();
  new DataView(mem.bytes.buffer).setUint32(0x500, 4, true);
  assert.equal(call(29, 2, 0x500), 0n);
  assert.deepEqual(out.shutdown, ["watchdog"]);
  new DataView(mem.bytes.buffer).setUint32(0x500, 9, true);
  assert.equal(call(29, 2, 0x500), -22n);
  assert.equal(call(29, 0), 0n, "yield");
});

test("an exception that is not a guest error propagates as a hypervisor bug", () => {
  const d = new HypercallDispatcher(
    { domid: 1, privileged: false, handle: new Uint8Array(16) },
    { console() {}, log() {}, shutdown() {} },
    { 5: { name: "broken", handler: () => { throw new TypeError("bug"); } }, 6: { name: "einval", handler: () => { throw new XenError(22); } } },
  );
  const req = (nr: number): HypercallRequest => ({ vcpuId: 0, nr, args: [0n, 0n, 0n, 0n, 0n], longMode: true });
  assert.throws(() => d.dispatch(req(5), new FlatMemory()), TypeError);
  assert.equal(d.dispatch(req(6), new FlatMemory()), BigInt.asUintN(64, -22n));
});

test("privileged-only hypercalls return -EPERM to a domU", () => {
  const d = new HypercallDispatcher(
    { domid: 1, privileged: false, handle: new Uint8Array(16) },
    { console() {}, log() {}, shutdown() {} },
    { 36: { name: "domctl", privilegedOnly: true, handler: () => 0 } },
  );
  assert.equal(d.dispatch({ vcpuId: 0, nr: 36, args: [0n, 0n, 0n, 0n, 0n], longMode: true }, new FlatMemory()), BigInt.asUintN(64, -1n));
});

test("the hypercall page holds mov/out/ret stubs every 32 bytes and ud2 for iret", () => {
  const page = buildHypercallPage();
  assert.deepEqual([...page.subarray(18 * 32, 18 * 32 + 8)], [0xb8, 18, 0, 0, 0, 0xe7, 0x5a, 0xc3]);
  assert.deepEqual([...page.subarray(23 * 32, 23 * 32 + 2)], [0x0f, 0x0b]);
  const ram = new Uint8Array(0x4000);
  assert.equal(installHypercallPage(ram, 0x2000n), true);
  assert.equal(ram[0x2000 + 17 * 32 + 1], 17);
  assert.equal(installHypercallPage(ram, 0x2001n), false);
  assert.equal(installHypercallPage(ram, 0x4000n), false);
});

test("CPUID leaf 0x40000000 spells XenVMMXenVMM and leaf 4 carries the vCPU and domain ids", () => {
  const leaves = xenCpuidLeaves({ vcpuId: 2, domid: 5 });
  const sig = Buffer.alloc(12);
  sig.writeUInt32LE(leaves[0]!.ebx, 0);
  sig.writeUInt32LE(leaves[0]!.ecx, 4);
  sig.writeUInt32LE(leaves[0]!.edx, 8);
  assert.equal(sig.toString(), "XenVMMXenVMM");
  assert.equal(leaves[2]!.ebx, 0x40000000);
  assert.deepEqual([leaves[4]!.ebx, leaves[4]!.ecx], [2, 5]);
});

test("hypercallRequest() takes rdi rsi rdx r10 r8 in 64-bit mode and ebx ecx edx esi edi in 32-bit mode", async () => {
  const { hypercallRequest, hypercallResultRax } = await import("./hypercall_abi.ts");
  const regs = { rax: 0x1_0000_0012n, rbx: 0x1_0000_0001n, rcx: 2n, rdx: 3n, rsi: 4n, rdi: 5n, r8: 6n, r10: 7n };
  assert.deepEqual(hypercallRequest(1, true, regs), { vcpuId: 1, nr: 18, args: [5n, 4n, 3n, 7n, 6n], longMode: true });
  assert.deepEqual(hypercallRequest(1, false, regs).args, [1n, 2n, 3n, 4n, 5n]);
  assert.equal(hypercallResultRax(false, BigInt.asUintN(64, -38n)), 0xffffffdan);
  assert.equal(hypercallResultRax(true, -38n), 0xffffffffffffffdan);
});
