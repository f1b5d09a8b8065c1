// Test helper for lock.test.ts (not production code): one emulated vCPU on a worker thread over a shared guest RAM.
// workerData: { ram: SharedArrayBuffer, ctl: SharedArrayBuffer, id, entry, jit }. ctl (Int32Array): [0] go,
// [1 + id] ready, [3 + id] done (1 halted, 2 failed). Sets up 64-bit mode (test_fixture enterLongMode: identity
// map of the first 32 MiB; vCPU 1 after vCPU 0 is ready), waits for go, runs from `entry` with RDI = 0x200000 and R15 = id until hlt.
import { workerData } from "node:worker_threads";
import type { GuestRam } from "../../../hv/ports.ts";
import { CpuState, Reg } from "../cpu_state.ts";
import { EmuCpu } from "../cpu.ts";
import { X86System } from "../system.ts";
import { enterLongMode, FakeInterrupts, FakeIo, type Machine } from "../test_fixture.ts";

const { ram: ramBuf, ctl: ctlBuf, id, entry, jit } = workerData as {
  ram: SharedArrayBuffer; ctl: SharedArrayBuffer; id: number; entry: number; jit: boolean;
};
const ctl = new Int32Array(ctlBuf);
try {
  const ram: GuestRam = { bytes: new Uint8Array(ramBuf), sizeBytes: ramBuf.byteLength };
  const cpu = new CpuState(id);
  const io = new FakeIo(), irq = new FakeInterrupts();
  const clock = { t: 0, nowNs(): number { return this.t; } };
  const tripleFaults: string[] = [], logs: string[] = [];
  const sys = new X86System(cpu, {
    ram, io, interrupts: irq, clock, log: (l) => logs.push(l), tripleFault: (w) => tripleFaults.push(w),
  });
  const m: Machine = { cpu, sys, ram, dv: new DataView(ramBuf), io, irq, clock, tripleFaults, logs };
  // One after the other: enterLongMode rewrites the GDT (ltr marks the TSS busy) and the page tables.
  if (id !== 0) while (Atomics.load(ctl, 1) === 0) Atomics.wait(ctl, 1, 0, 10);
  enterLongMode(m);
  const core = new EmuCpu(cpu, sys, { jit });
  sys.flags = core.core;
  cpu.ripLo = entry; cpu.ripHi = 0;
  cpu.rlo[Reg.RDI] = 0x200000;
  cpu.rlo[Reg.R15] = id;
  Atomics.store(ctl, 1 + id, 1); Atomics.notify(ctl, 1 + id);
  while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 10);
  for (let n = 0; !cpu.halted && n < 100_000; n++) core.run(1_000_000);
  if (!cpu.halted || tripleFaults.length > 0) throw new Error(`vCPU ${id} did not halt (${tripleFaults.join("; ")})`);
  Atomics.store(ctl, 3 + id, 1);
} catch (e) {
  Atomics.store(ctl, 3 + id, 2);
  throw e;
}
