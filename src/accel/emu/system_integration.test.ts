// The system side driven by the core interpreter (EmuCpu) on assembled programs: the EmuSystem contract end to
// end. Skipped when GNU as is not installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { asm, hasAssembler } from "../../testing/emu_asm.ts";
import { Mode, Reg, Seg } from "./cpu_state.ts";
import { EmuCpu } from "./cpu.ts";
import { enterLongMode, GDT, makeMachine, type Machine, SEL, writeGate64, writeGdt, writePageTables } from "./test_fixture.ts";

const skip = !hasAssembler();

function withCore(m: Machine): EmuCpu {
  const cpu = new EmuCpu(m.cpu, m.sys);
  m.sys.flags = cpu.core;
  return cpu;
}

test("int3, a #PF with CR2, wrmsr, sysretq to ring 3 and syscall back run through the core", { skip }, () => {
  const m = makeMachine();
  enterLongMode(m);
  const core = withCore(m);
  const put = (a: number, src: string) => m.ram.bytes.set(asm(src), a);
  put(0x100000, `
    mov eax, 0x1234
    int3
    mov rbx, [0x5000000]
    mov ecx, 0xc0000081
    xor eax, eax
    mov edx, 0x00230010
    wrmsr
    mov ecx, 0xc0000082
    mov eax, 0x104000
    xor edx, edx
    wrmsr
    mov ecx, 0x103000
    mov r11d, 0x202
    sysretq`);
  put(0x101000, "mov r8d, 0x88\n iretq");
  put(0x102000, "mov r9, cr2\n add rsp, 8\n add qword ptr [rsp], 8\n iretq");
  put(0x103000, "mov eax, 60\n syscall");
  put(0x104000, "mov r13, rax\n mov r14, rcx\n hlt");
  writeGate64(m.dv, 3, 0x101000, 0, { dpl: 3 });
  writeGate64(m.dv, 14, 0x102000, 0);
  m.cpu.ripLo = 0x100000;
  core.run(1000);
  const r = m.cpu.rlo;
  assert.equal(m.cpu.halted, true);
  assert.equal(r[Reg.R8], 0x88, "int3 handler ran");
  assert.equal(r[Reg.R9], 0x5000000, "CR2 of the #PF");
  assert.equal(r[Reg.R13], 60, "syscall number from ring 3");
  assert.equal(r[Reg.R14], 0x103007, "RCX = return address");
  assert.equal(m.cpu.cpl, 0);
  assert.equal(m.tripleFaults.length, 0);
});

test("int n beyond the IDT limit is a #GP(n*8+2) reported at the int instruction", { skip }, () => {
  const m = makeMachine();
  enterLongMode(m);
  const core = withCore(m);
  m.ram.bytes.set(asm("nop\n int 0x90\n hlt"), 0x100000);
  m.ram.bytes.set(asm("mov r8, [rsp]\n mov r9, [rsp + 8]\n hlt"), 0x101000);
  writeGate64(m.dv, 13, 0x101000, 0);
  m.cpu.idtrLimit = 0x90 * 16 - 1;
  m.cpu.ripLo = 0x100000;
  core.run(100);
  assert.equal(m.cpu.halted, true);
  assert.equal(m.cpu.rlo[Reg.R8], 0x90 * 8 + 2, "error code names the vector, IDT, not EXT");
  assert.equal(m.cpu.rlo[Reg.R9], 0x100001, "RIP of the int instruction");
});

test("a PVH-style 32-bit entry switches to long mode with lgdt, CR4, CR3, EFER, CR0 and a far jump", { skip }, () => {
  const m = makeMachine();
  const { cpu, sys, dv } = m;
  writeGdt(dv);
  writePageTables(dv);
  dv.setUint16(0x500, 0x5f, true);
  dv.setUint32(0x502, GDT, true);
  cpu.gdtrBaseLo = GDT; // the loader's boot GDT; the program reloads it with lgdt
  cpu.gdtrLimit = 0x5f;
  sys.writeCr(0, 0x11, 0);
  sys.farJump(SEL.KCODE32, 0x100000, 0);
  for (const s of [Seg.DS, Seg.ES, Seg.SS]) sys.loadSegment(s, SEL.KDATA);
  m.ram.bytes.set(asm(`
    lgdt [0x500]
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ljmp 0x10, 0x100100`, 32), 0x100000);
  m.ram.bytes.set(asm("mov rax, 0x123456789\n hlt"), 0x100100);
  const core = withCore(m);
  core.run(100);
  assert.equal(cpu.halted, true);
  assert.equal(cpu.mode, Mode.Long64);
  assert.equal(cpu.rlo[Reg.RAX], 0x23456789);
  assert.equal(cpu.rhi[Reg.RAX], 1);
});

test("an external interrupt wakes hlt and the handler's iretq resumes after it", { skip }, () => {
  const m = makeMachine();
  enterLongMode(m);
  const core = withCore(m);
  m.ram.bytes.set(asm("sti\n hlt\n mov r10d, 1\n hlt"), 0x100000);
  m.ram.bytes.set(asm("mov r11d, 0xec\n iretq"), 0x101000);
  writeGate64(m.dv, 0xec, 0x101000, 0);
  m.cpu.ripLo = 0x100000;
  core.run(100);
  assert.equal(m.cpu.halted, true);
  assert.equal(m.cpu.rlo[Reg.R10], 0);
  m.irq.pending.push(0xec);
  core.run(100);
  assert.equal(m.cpu.rlo[Reg.R11], 0xec);
  assert.equal(m.cpu.rlo[Reg.R10], 1);
  assert.equal(m.cpu.halted, true);
});
