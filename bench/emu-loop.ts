// Interpreter speed: runs tight integer loops in flat 64-bit mode on the test-double system and prints MIPS.
// Usage: node --import tsx bench/emu-loop.ts [millions of instructions per loop, default 50]

import { CpuState } from "../src/accel/emu/cpu_state.ts";
import { EmuCpu } from "../src/accel/emu/cpu.ts";
import { FlatEmuSystem, setFlat64 } from "../src/testing/emu_flat_system.ts";
import { asm } from "../src/testing/emu_asm.ts";

const LOOPS: Record<string, string> = {
  "alu+branch": `
    mov ecx, 100000000
    xor eax, eax
  1: add rax, rcx
    xor rdx, rax
    shr rdx, 3
    lea rbx, [rax+rdx*2]
    cmp rbx, rdx
    dec ecx
    jnz 1b
    hlt`,
  "memory+stack": `
    mov ecx, 100000000
    lea rdi, [rip+buf]
  1: mov rax, [rdi+8]
    add rax, rcx
    mov [rdi+8], rax
    push rax
    pop rdx
    mov esi, ecx
    and esi, 63
    movzx esi, byte ptr [rdi+rsi]
    imul rdx, rsi
    dec ecx
    jnz 1b
    hlt
  .balign 64
  buf: .zero 256`,
  "call/ret+cmov": `
    mov ecx, 100000000
  1: call 2f
    test eax, 1
    cmovnz edx, eax
    setb bl
    sub ecx, 1
    jnz 1b
    hlt
  2: inc eax
    ret`,
};

const millions = Number(process.argv[2] ?? 50);
for (const [name, src] of Object.entries(LOOPS)) {
  const st = new CpuState(0);
  setFlat64(st);
  const sys = new FlatEmuSystem(st, 4 << 20);
  sys.ram.set(asm(src), 0x10000);
  st.ripLo = 0x10000; st.rlo[4] = 0x300000;
  const cpu = new EmuCpu(st, sys);
  cpu.run(2_000_000); // warm-up
  const budget = millions * 1e6;
  const t0 = process.hrtime.bigint();
  const u0 = process.cpuUsage();
  let done = 0;
  while (done < budget && !st.halted) {
    const n = cpu.run(Math.min(1_000_000, budget - done));
    done += n;
    if (sys.events.length > 0) throw new Error(`${name}: unexpected event ${JSON.stringify(sys.events[0])}`);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpuUs = process.cpuUsage(u0).user;
  // CPU-time MIPS is the stabler number on a shared machine; wall-clock MIPS is what a user sees.
  console.log(`${name.padEnd(16)} ${(done / 1e6).toFixed(1)} M insns in ${(ns / 1e9).toFixed(2)} s: ` +
    `${(done / (ns / 1e3)).toFixed(1)} MIPS wall, ${(done / cpuUs).toFixed(1)} MIPS cpu-time`);
}
