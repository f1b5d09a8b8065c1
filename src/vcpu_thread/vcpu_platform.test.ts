import { test } from "node:test";
import assert from "node:assert/strict";
import type { FromVcpu, VcpuInit } from "./protocol.ts";
import { VcpuPlatform } from "./vcpu_platform.ts";
import type { GuestVirtualMemory } from "../hv/ports.ts";

function setup() {
  const ram = new Uint8Array(0x10000);
  const messages: FromVcpu[] = [];
  const init = { domid: 7, vcpuId: 0, privileged: false, handle: new Uint8Array(16) } as unknown as VcpuInit;
  const p = new VcpuPlatform(init, ram, (m) => messages.push(m));
  const text = (): string =>
    messages.filter((m) => m.kind === "console").map((m) => new TextDecoder().decode((m as { bytes: Uint8Array }).bytes)).join("");
  return { p, ram, messages, text };
}

const flat = (ram: Uint8Array): GuestVirtualMemory => ({
  read: (va, n) => ram.slice(Number(va), Number(va) + n),
  write: (va, d) => ram.set(d, Number(va)),
});

test("bytes written to port 0xe9 reach the console line by line, and a flush sends the rest", () => {
  const { p, text } = setup();
  for (const ch of "hi\nthere") p.pioWrite(0xe9, 1, ch.charCodeAt(0));
  assert.equal(text(), "hi\n");
  p.flushConsole();
  assert.equal(text(), "hi\nthere");
  assert.equal(p.pioRead(0xe9, 1), 0xe9);
});

test("COM1 transmit goes to the console and its line status always reads transmitter-empty", () => {
  const { p, text } = setup();
  assert.equal(p.pioRead(0x3fd, 1) & 0x20, 0x20);
  p.pioWrite(0x3f8, 1, 0x41);
  p.flushConsole();
  assert.equal(text(), "A");
});

test("unclaimed ports read as all ones and are logged once", () => {
  const { p, messages } = setup();
  assert.equal(p.pioRead(0x80, 1), 0xff);
  assert.equal(p.pioRead(0x80, 1), 0xff);
  assert.equal(p.pioRead(0x1234, 4), 0xffffffff);
  assert.equal(messages.filter((m) => m.kind === "log").length, 2);
});

test("WRMSR 0x40000000 fills the hypercall page; other MSRs are refused", () => {
  const { p, ram } = setup();
  assert.equal(p.wrmsr(0x40000000, 0x3000n), true);
  assert.equal(ram[0x3000 + 18 * 32 + 1], 18);
  assert.equal(p.wrmsr(0x12345, 0n), false);
});

test("a shutdown hypercall sets stopRequested with the reason; console_io output is flushed in order", () => {
  const { p, ram, text } = setup();
  p.pioWrite(0xe9, 1, 0x78); // "x" without newline, still buffered
  ram.set(new TextEncoder().encode("yz"), 0x100);
  p.hypercall({ vcpuId: 0, nr: 18, args: [0n, 2n, 0x100n, 0n, 0n], longMode: true }, flat(ram));
  assert.equal(text(), "xyz");
  new DataView(ram.buffer).setUint32(0x200, 1, true);
  assert.equal(p.hypercall({ vcpuId: 0, nr: 29, args: [2n, 0x200n, 0n, 0n, 0n], longMode: true }, flat(ram)), 0n);
  assert.equal(p.stopRequested, true);
  assert.equal(p.shutdownReason, "reboot");
});
