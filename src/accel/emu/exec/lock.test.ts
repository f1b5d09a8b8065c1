import { test } from "node:test";
import assert from "node:assert/strict";
import { hasAssembler } from "../../../testing/emu_asm.ts";
import { runAsm } from "../emu_test_util.ts";

const skip = !hasAssembler();

/** Runs `mov rbx, 0x10000` + the instruction; returns the first event's vector (-1 if none) and RIP. */
function run(insn: string): { vector: number; rip: number; rbx: bigint } {
  const r = runAsm(`mov rbx, 0x10000\nmov rax, 5\n${insn}\nhlt`);
  const e = r.sys.events[0];
  return { vector: e?.vector ?? -1, rip: e?.ripLo ?? r.st.ripLo, rbx: r.r(3) };
}

test("a LOCK prefix on a lockable instruction with a memory destination executes it", { skip }, () => {
  for (const insn of ["lock add dword ptr [rbx], eax", "lock inc byte ptr [rbx]", "lock xadd qword ptr [rbx], rax",
    "lock cmpxchg dword ptr [rbx], eax", "lock bts dword ptr [rbx], 3", "lock not word ptr [rbx]",
    "lock cmpxchg8b qword ptr [rbx]", "lock xchg dword ptr [rbx], eax", "lock sub qword ptr [rbx], 1"]) {
    assert.equal(run(insn).vector, -1, insn);
  }
});

test("a LOCK prefix on a register destination or a non-lockable instruction raises #UD at the instruction", { skip }, () => {
  for (const insn of [".byte 0xf0\n add ebx, eax", ".byte 0xf0\n mov dword ptr [rbx], eax", ".byte 0xf0\n nop",
    ".byte 0xf0\n cmp dword ptr [rbx], eax", ".byte 0xf0\n test dword ptr [rbx], eax", ".byte 0xf0\n lea rax, [rbx]",
    ".byte 0xf0\n inc ebx", ".byte 0xf0\n bt dword ptr [rbx], 3", ".byte 0xf0\n movdqa xmm1, xmm0",
    ".byte 0xf0\n cmp byte ptr [rbx], 1"]) {
    const r = run(insn);
    assert.equal(r.vector, 6, insn);
    assert.equal(r.rip, 0x1000 + 14, `${insn}: RIP of the locked instruction`);
    assert.equal(r.rbx, 0x10000n, insn);
  }
});
