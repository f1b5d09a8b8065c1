import { test } from "node:test";
import assert from "node:assert/strict";
import { hasAssembler } from "../../testing/emu_asm.ts";
import { AF, ARITH, CF, DATA, OF, PF, runAsm, SF, ZF } from "./emu_test_util.ts";

const skip = !hasAssembler();
const t = (name: string, fn: () => void): void => { test(name, { skip }, fn); };

t("a counted loop adds 1..1000 and stops at hlt", () => {
  const r = runAsm("mov ecx, 1000\nxor eax, eax\n1: add rax, rcx\ndec rcx\njnz 1b\nhlt");
  assert.equal(r.r(0), 500500n);
  assert.equal(r.st.halted, true);
  assert.equal(r.st.icount, 3 + 3 * 1000);
});

t("add/adc carry chains propagate across 64-bit limbs", () => {
  const r = runAsm(`
    mov rax, -1
    mov rbx, -1
    mov rcx, 1
    xor edx, edx
    add rax, rcx      # 0, CF=1
    adc rbx, 0        # 0, CF=1
    adc rdx, 0        # 1
    hlt`);
  assert.equal(r.r(0), 0n);
  assert.equal(r.r(3), 0n);
  assert.equal(r.r(2), 1n);
  assert.equal(r.flags() & ARITH, 0); // 0 + 0 + CF -> 1: CF=0 ZF=0 SF=0 OF=0 PF=0 (1 has odd parity) AF=0
});

t("sub/sbb borrow chains at 8, 16 and 32 bits set CF, SF, OF, AF and PF", () => {
  const r8 = runAsm("mov al, 0x10\nmov bl, 0x20\nsub al, bl\nmov cl, 0\nsbb cl, 0\nhlt");
  assert.equal(r8.st.rlo[0]! & 0xff, 0xf0);
  assert.equal(r8.st.rlo[1]! & 0xff, 0xff);
  assert.equal(r8.flags() & ARITH, CF | SF | PF | AF);
  const r16 = runAsm("mov ax, 0x8000\nsub ax, 1\nhlt");
  assert.equal(r16.st.rlo[0]! & 0xffff, 0x7fff);
  assert.equal(r16.flags() & ARITH, OF | AF | PF);
  const r32 = runAsm("mov eax, 0x7fffffff\nadd eax, 1\nhlt");
  assert.equal(r32.st.rlo[0]! >>> 0, 0x80000000);
  assert.equal(r32.flags() & ARITH, OF | SF | AF | PF);
  const sbb = runAsm("stc\nmov eax, 5\nsbb eax, 5\nhlt");
  assert.equal(sbb.st.rlo[0]! >>> 0, 0xffffffff);
  assert.equal(sbb.flags() & ARITH, CF | SF | AF | PF);
});

t("32-bit results zero the upper half of 64-bit registers", () => {
  const r = runAsm("mov rax, -1\nmov rbx, -1\nadd eax, 0\nmov ebx, ebx\nmov rcx, -1\nmov cx, 5\nhlt");
  assert.equal(r.r(0), 0xffffffffn);
  assert.equal(r.r(3), 0xffffffffn);
  assert.equal(r.r(1), 0xffffffffffff0005n);
});

t("shifts by zero leave flags and operand alone; counts are masked", () => {
  const r = runAsm(`
    mov eax, 1
    add eax, -1       # ZF=1 CF=1
    mov ebx, 0x80
    mov cl, 0
    shl ebx, cl       # count 0: flags unchanged
    hlt`);
  assert.equal(r.st.rlo[3], 0x80);
  assert.equal(r.flags() & (ZF | CF), ZF | CF);
  const m = runAsm("mov eax, 1\nmov cl, 33\nshl eax, cl\nmov rbx, 1\nmov cl, 65\nshl rbx, cl\nhlt");
  assert.equal(m.st.rlo[0], 2); // 33 & 31 = 1
  assert.equal(m.r(3), 2n); // 65 & 63 = 1
  const w = runAsm("mov al, 0x81\nmov cl, 9\nshl al, cl\nhlt");
  assert.equal(w.st.rlo[0]! & 0xff, 0);
  assert.equal(w.flags() & (CF | ZF), ZF); // shifted past the width: CF = 0
});

t("shr/sar/rol/ror/rcl/rcr set CF and OF as documented for count 1", () => {
  const r = runAsm("mov eax, 0x80000001\nshr eax, 1\nhlt");
  assert.equal(r.st.rlo[0], 0x40000000);
  assert.equal(r.flags() & (CF | OF), CF | OF);
  const s = runAsm("mov rax, 0x8000000000000001\nsar rax, 1\nhlt");
  assert.equal(s.r(0), 0xc000000000000000n);
  assert.equal(s.flags() & (CF | OF), CF);
  const rl = runAsm("mov al, 0x81\nrol al, 1\nhlt");
  assert.equal(rl.st.rlo[0]! & 0xff, 0x03);
  assert.equal(rl.flags() & (CF | OF), CF | OF);
  const rr = runAsm("mov rax, 1\nror rax, 1\nhlt");
  assert.equal(rr.r(0), 0x8000000000000000n);
  assert.equal(rr.flags() & (CF | OF), CF | OF);
  const rc = runAsm("stc\nmov al, 0x80\nrcl al, 1\nhlt");
  assert.equal(rc.st.rlo[0]! & 0xff, 0x01);
  assert.equal(rc.flags() & (CF | OF), CF | OF);
  const rcr = runAsm("clc\nmov rax, 3\nrcr rax, 1\nhlt");
  assert.equal(rcr.r(0), 1n);
  assert.equal(rcr.flags() & CF, CF);
});

t("shld/shrd shift in bits from the second register", () => {
  const r = runAsm("mov rax, 0x0123456789abcdef\nmov rdx, 0xfedcba9876543210\nshld rax, rdx, 8\nhlt");
  assert.equal(r.r(0), 0x23456789abcdeffen);
  const s = runAsm("mov eax, 0x12345678\nmov edx, 0x9abcdef0\nmov cl, 4\nshrd eax, edx, cl\nhlt");
  assert.equal(s.st.rlo[0]! >>> 0, 0x01234567);
  assert.equal(s.flags() & CF, CF);
});

t("mul/imul set CF=OF on overflow and produce full products", () => {
  const r = runAsm("mov rax, -1\nmov rbx, -1\nmul rbx\nhlt");
  assert.equal(r.r(0), 1n);
  assert.equal(r.r(2), 0xfffffffffffffffen);
  assert.equal(r.flags() & (CF | OF), CF | OF);
  const i = runAsm("mov rax, -3\nmov rbx, 5\nimul rbx\nhlt");
  assert.equal(i.r(0), BigInt.asUintN(64, -15n));
  assert.equal(i.r(2), 0xffffffffffffffffn);
  assert.equal(i.flags() & (CF | OF), 0);
  const i2 = runAsm("mov rax, 0x100000000\nimul rax, rax, 0x10000\nhlt");
  assert.equal(i2.r(0), 0x1000000000000n);
  assert.equal(i2.flags() & (CF | OF), 0);
  const i3 = runAsm("mov rax, 0x4000000000000000\nmov rbx, 2\nimul rax, rbx\nhlt");
  assert.equal(i3.r(0), 0x8000000000000000n);
  assert.equal(i3.flags() & (CF | OF), CF | OF);
  const m32 = runAsm("mov eax, 0xffffffff\nmov ecx, 0xffffffff\nmul ecx\nhlt");
  assert.equal(m32.r(0), 1n);
  assert.equal(m32.r(2), 0xfffffffen);
  const m8 = runAsm("mov al, -2\nmov cl, 3\nimul cl\nhlt");
  assert.equal(m8.st.rlo[0]! & 0xffff, 0xfffa);
  assert.equal(m8.flags() & (CF | OF), 0);
});

t("div/idiv compute quotient and remainder and raise #DE on zero or overflow", () => {
  const r = runAsm("mov rdx, 1\nxor eax, eax\nmov rcx, 3\ndiv rcx\nhlt");
  assert.equal(r.r(0), (1n << 64n) / 3n);
  assert.equal(r.r(2), (1n << 64n) % 3n);
  const s = runAsm("mov rax, -7\ncqo\nmov rcx, 2\nidiv rcx\nhlt");
  assert.equal(s.r(0), BigInt.asUintN(64, -3n));
  assert.equal(s.r(2), BigInt.asUintN(64, -1n));
  const s32 = runAsm("mov eax, -7\ncdq\nmov ecx, 2\nidiv ecx\nhlt");
  assert.equal(s32.st.rlo[0], -3);
  assert.equal(s32.st.rlo[2], -1);
  const z = runAsm("xor ecx, ecx\nmov eax, 1\ndiv ecx\nhlt");
  assert.equal(z.sys.events[0]?.vector, 0);
  assert.equal(z.st.ripLo, 0x1000 + 7); // RIP at the faulting div
  const o = runAsm("mov edx, 1\nmov ecx, 1\ndiv ecx\nhlt");
  assert.equal(o.sys.events[0]?.vector, 0);
  const o8 = runAsm("mov ax, 0x8000\nmov cl, -1\nidiv cl\nhlt");
  assert.equal(o8.sys.events[0]?.vector, 0);
});

t("bsf/bsr set ZF and leave the destination unchanged on a zero source", () => {
  const r = runAsm("mov rbx, 1234\nxor eax, eax\nbsf rbx, rax\nhlt");
  assert.equal(r.r(3), 1234n);
  assert.equal(r.flags() & ZF, ZF);
  const b = runAsm("mov rax, 0x0000010000000100\nbsf rbx, rax\nbsr rcx, rax\nhlt");
  assert.equal(b.r(3), 8n);
  assert.equal(b.r(1), 40n);
  assert.equal(b.flags() & ZF, 0);
  const tz = runAsm("mov eax, 0x80\ntzcnt ecx, eax\nhlt"); // runs as bsf (BMI1 not advertised)
  assert.equal(tz.st.rlo[1], 7);
});

t("bt/bts/btr/btc with register offsets address bit strings in memory", () => {
  const r = runAsm(`
    mov rdi, ${DATA}
    mov qword ptr [rdi], 0
    mov qword ptr [rdi+8], 0
    mov eax, 70
    bts [rdi], rax
    bt qword ptr [rdi+8], 6
    setc bl
    mov rax, -1
    bts [rdi+8], rax     # bit 63 of [rdi]
    mov ecx, 5
    btc ecx, 0
    btr ecx, 2
    hlt`);
  const dv = new DataView(r.sys.ram.buffer);
  assert.equal(dv.getBigUint64(DATA + 8, true), 1n << 6n);
  assert.equal(dv.getBigUint64(DATA, true), 1n << 63n);
  assert.equal(r.st.rlo[3]! & 0xff, 1);
  assert.equal(r.st.rlo[1], 0);
});

t("rep movsb/stosb honour DF=1 and count down from the end", () => {
  const r = runAsm(`
    mov rdi, ${DATA}
    mov rax, 0x0807060504030201
    mov [rdi], rax
    std
    lea rsi, [rdi+7]
    lea rdi, [rdi+0x107]
    mov ecx, 8
    rep movsb
    cld
    mov rdi, ${DATA + 0x200}
    mov al, 0xaa
    mov ecx, 5000
    rep stosb
    mov rdi, ${DATA + 0x2000}
    mov rax, 0x1122334455667788
    mov ecx, 3
    rep stosq
    hlt`);
  const ram = r.sys.ram;
  assert.deepEqual([...ram.subarray(DATA + 0x100, DATA + 0x108)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(r.r(6), BigInt(DATA - 1));
  assert.equal(r.r(1), 0n);
  assert.equal(ram[DATA + 0x200 + 4999], 0xaa);
  assert.equal(ram[DATA + 0x200 + 5000], 0);
  const dv = new DataView(ram.buffer);
  assert.equal(dv.getBigUint64(DATA + 0x2010, true), 0x1122334455667788n);
  assert.equal(r.r(7), BigInt(DATA + 0x2018));
});

t("rep movsq copies across pages and repe cmpsb stops at the first difference", () => {
  const r = runAsm(`
    mov rdi, ${DATA}
    mov ecx, 1024
  1: mov [rdi+rcx*8-8], rcx
    loop 1b
    mov rsi, ${DATA}
    mov rdi, ${DATA + 0x3004}
    mov ecx, 1024
    rep movsq
    mov byte ptr [${DATA + 0x3004 + 100}], 0x55
    mov rsi, ${DATA}
    mov rdi, ${DATA + 0x3004}
    mov ecx, 8192
    repe cmpsb
    hlt`);
  const dv = new DataView(r.sys.ram.buffer);
  assert.equal(dv.getBigUint64(DATA + 0x3004 + 8 * 1000, true), 1001n);
  assert.equal(r.r(1), BigInt(8192 - 101));
  assert.equal(r.r(6), BigInt(DATA + 101));
  assert.equal(r.flags() & ZF, 0);
});

t("a rep stos that page-faults midway restarts with consistent RCX/RDI", () => {
  const r = runAsm("mov rdi, 0xff000\nmov ecx, 0x2000\nxor eax, eax\nrep stosb\nhlt");
  assert.equal(r.sys.events[0]?.vector, 14);
  assert.equal(r.r(7), 0x100000n);
  assert.equal(r.r(1), 0x1000n);
  assert.equal(r.st.ripLo, 0x1000 + 14); // rip at the rep stosb
});

t("cmpxchg exchanges on equality and loads the accumulator otherwise", () => {
  const r = runAsm(`
    mov rdi, ${DATA}
    mov qword ptr [rdi], 5
    mov eax, 5
    mov ecx, 9
    lock cmpxchg [rdi], rcx
    setz bl
    mov eax, 1
    cmpxchg [rdi], rcx
    setz bh
    mov edx, 3
    mov ecx, 4
    mov rax, 0x300000000
    mov qword ptr [rdi+8], 7
    xor ebx, ebx
    hlt`);
  const dv = new DataView(r.sys.ram.buffer);
  assert.equal(dv.getBigUint64(DATA, true), 9n);
  assert.equal(r.r(0), 0x300000000n);
  const c8 = runAsm(`
    mov rdi, ${DATA}
    mov dword ptr [rdi], 1
    mov dword ptr [rdi+4], 2
    mov eax, 1
    mov edx, 2
    mov ebx, 10
    mov ecx, 20
    cmpxchg8b [rdi]
    setz sil
    cmpxchg8b [rdi]
    setz dil
    hlt`);
  assert.equal(c8.st.rlo[6]! & 0xff, 1);
  assert.equal(c8.st.rlo[7]! & 0xff, 0);
  assert.equal(c8.st.rlo[0], 10);
  assert.equal(c8.st.rlo[2], 20);
});

t("xadd, xchg and bswap", () => {
  const r = runAsm(`
    mov rdi, ${DATA}
    mov qword ptr [rdi], 10
    mov eax, 3
    lock xadd [rdi], rax
    mov rbx, 0x0102030405060708
    bswap rbx
    mov ecx, 0x11223344
    bswap ecx
    mov edx, 7
    xchg edx, [rdi]
    hlt`);
  assert.equal(r.r(0), 10n);
  assert.equal(r.r(3), 0x0807060504030201n);
  assert.equal(r.st.rlo[1], 0x44332211);
  assert.equal(r.r(2), 13n);
});

t("RIP-relative operands are relative to the end of the instruction, immediates included", () => {
  const r = runAsm(`
    mov dword ptr [rip+data], 0x12345678
    mov eax, [rip+data]
    lea rbx, [rip+data]
    cmp byte ptr [rip+data], 0x78
    sete cl
    hlt
  data: .long 0`);
  assert.equal(r.st.rlo[0], 0x12345678);
  assert.equal(r.st.rlo[1]! & 0xff, 1);
  const addr = Number(r.r(3));
  assert.equal(new DataView(r.sys.ram.buffer).getUint32(addr, true), 0x12345678);
});

t("REX selects SPL/BPL/SIL/DIL, without REX the same encodings are AH/CH/DH/BH", () => {
  const r = runAsm(`
    mov rsp, 0x7000
    mov eax, 0
    mov ah, 0x12
    mov spl, 0x34
    mov rsi, 0
    mov sil, 0x56
    mov r8b, 0x78
    movzx edx, ah
    hlt`);
  assert.equal(r.st.rlo[0], 0x1200);
  assert.equal(r.st.rlo[4], 0x7034);
  assert.equal(r.st.rlo[6], 0x56);
  assert.equal(r.st.rlo[8]! & 0xff, 0x78);
  assert.equal(r.st.rlo[2], 0x12);
});

t("16-bit addressing forms work in real mode with segment bases", () => {
  const r = runAsm(`
    mov ax, 0x2000
    mov ds, ax
    mov bx, 0x10
    mov si, 0x4
    mov word ptr [bx+si+2], 0xbeef
    mov bp, 0x20
    mov word ptr [bp+di], 0x1234
    mov cx, [bx+si+2]
    hlt`, { bits: 16 });
  const dv = new DataView(r.sys.ram.buffer);
  assert.equal(dv.getUint16(0x20000 + 0x16, true), 0xbeef);
  assert.equal(dv.getUint16(0x20, true), 0x1234); // bp-based: SS (base 0)
  assert.equal(r.st.rlo[1]! & 0xffff, 0xbeef);
});

t("push/pop, call/ret, enter/leave and pushf/popf keep the stack consistent", () => {
  const r = runAsm(`
    mov rbp, 0x1234
    push 0x55
    call f
    pop rbx
    stc
    pushfq
    pop rcx
    hlt
  f: enter 16, 0
    mov rax, [rbp+8]
    leave
    ret`);
  assert.equal(r.r(3), 0x55n);
  assert.equal(r.r(5), 0x1234n);
  assert.equal(r.st.rlo[4], 0x8000);
  assert.equal(r.st.rlo[1]! & CF, CF);
  assert.equal(Number(r.r(0)) > 0x1000, true);
});

t("an unimplemented opcode raises #UD and is logged once", () => {
  const r = runAsm("1: ud2\nhlt");
  assert.equal(r.sys.events[0]?.vector, 6);
  const u = runAsm("vzeroupper\nhlt");
  assert.equal(u.sys.events[0]?.vector, 6);
  assert.equal(u.unknown.length, 1);
  assert.match(u.unknown[0]!, /^c5 f8 77 f4@0000000000001000$/);
});

t("int3 and int n are delivered as software interrupts with RIP after the instruction", () => {
  const r = runAsm("nop\nint 0x80\nhlt");
  assert.deepEqual(r.sys.events[0], { vector: 0x80, kind: "software", hasError: false, errorCode: 0, ripLo: 0x1003 });
});

t("sti holds off interrupts for one instruction, then the pending IRQ is serviced", () => {
  const r = runAsm("sti\nnop\nnop\nhlt", { setup: (x) => { x.sys.pendingIrq = 0x30; } });
  assert.equal(r.sys.events[0]?.vector, 0x30);
  assert.equal(r.sys.events[0]?.ripLo, 0x1002); // after sti and the shadowed nop
});

t("lahf/sahf, cmc, setcc and cmovcc read the lazy flags", () => {
  const r = runAsm(`
    mov eax, 0xff
    add al, 1       # ZF CF AF PF
    lahf
    mov bl, ah
    cmc
    setc cl
    mov edx, 1
    mov esi, 2
    cmovz edx, esi
    cmp edx, 3
    setl ch
    hlt`);
  assert.equal(r.st.rlo[3]! & 0xff, (ZF | CF | AF | PF | 2));
  assert.equal(r.st.rlo[1]! & 0xff, 0);
  assert.equal(r.st.rlo[2], 2);
  assert.equal((r.st.rlo[1]! >> 8) & 0xff, 1);
});

t("in/out reach the system side's ports", () => {
  const r = runAsm("mov dx, 0x3f8\nmov al, 0x41\nout dx, al\nin al, 0x60\nhlt", { setup: (x) => { x.sys.portInValue = 0x5a; } });
  assert.deepEqual(r.sys.portWrites, [[0x3f8, 1, 0x41]]);
  assert.equal(r.st.rlo[0]! & 0xff, 0x5a);
});

t("non-canonical memory operands raise #GP but lea and nopl do not", () => {
  const r = runAsm("mov rax, 0xdead000000000122\nlea rbx, [rax+8]\nnop dword ptr [rax+rax*1]\nmov rcx, [rax]\nhlt");
  assert.equal(r.r(3), 0xdead00000000012an);
  assert.equal(r.sys.events[0]?.vector, 13);
});

t("32-bit protected mode code runs with 32-bit defaults and 16-bit operand prefixes", () => {
  const r = runAsm("mov eax, 0x12345678\nmov ax, 0x1111\npush eax\npop ebx\nmovsx ecx, bx\nhlt", { bits: 32 });
  assert.equal(r.st.rlo[3], 0x12341111);
  assert.equal(r.st.rlo[1], 0x1111);
});

t("daa/das/aaa/aas adjust BCD arithmetic in 32-bit mode", () => {
  const r = runAsm("mov al, 0x38\nadd al, 0x45\ndaa\nmov bl, al\nmov al, 0x21\nsub al, 0x35\ndas\nhlt", { bits: 32 });
  assert.equal(r.st.rlo[3]! & 0xff, 0x83);
  assert.equal(r.st.rlo[0]! & 0xff, 0x86);
  assert.equal(r.flags() & CF, CF);
});

t("repne scasb finds a terminator like strlen and lodsb/xlat read through DS", () => {
  const r = runAsm(`
    mov rdi, ${DATA}
    mov dword ptr [rdi], 0x00636261   # "abc\\0"
    xor eax, eax
    mov rcx, -1
    repne scasb
    not rcx
    dec rcx          # strlen = 3
    mov rsi, ${DATA}
    lodsb
    mov bl, al
    lea rbx, [${DATA}]
    mov al, 2
    xlat
    hlt`);
  assert.equal(r.r(1), 3n);
  assert.equal(r.st.rlo[0]! & 0xff, 0x63);
});

t("16-bit string ops wrap SI/DI and count with CX", () => {
  const r = runAsm(`
    mov ax, 0x3000
    mov es, ax
    mov ds, ax
    mov si, 0xfffe
    mov di, 0x10
    mov cx, 4
    rep movsb
    hlt`, { bits: 16 });
  assert.equal(r.st.rlo[6]! & 0xffff, 0x0002);
  assert.equal(r.st.rlo[7]! & 0xffff, 0x14);
  assert.equal(r.st.rlo[1]! & 0xffff, 0);
});

t("segment limits are checked in 32-bit protected mode", () => {
  const r = runAsm("mov eax, [0x2000]\nmov ebx, [0x1fff0]\nhlt", {
    bits: 32,
    setup: (x) => { x.st.segLimit[3] = 0xffff; },
  });
  assert.equal(r.sys.events[0]?.vector, 13);
  assert.equal(r.st.ripLo, 0x1005);
});

t("privileged instructions raise #GP at CPL 3 and popf leaves IF and IOPL alone", () => {
  const setup = (x: { st: { cpl: number; eflagsRest: number } }): void => { x.st.cpl = 3; x.st.eflagsRest = 0x202; };
  for (const insn of ["cli", "hlt", "mov rax, cr0", "wrmsr", "lgdt [0x2000]", "invlpg [0]"]) {
    const r = runAsm(`${insn}\nhlt`, { setup });
    assert.equal(r.sys.events[0]?.vector, 13, insn);
  }
  const p = runAsm("push 0x3000\npopfq\npushfq\npop rax\nhlt", { setup });
  assert.equal(Number(p.r(0)) & 0x3200, 0x200);
});

t("loop uses RCX, or ECX with an address-size prefix, and jrcxz tests the full register", () => {
  const r = runAsm(`
    mov rcx, 3
    xor eax, eax
  1: inc eax
    loop 1b
    mov rcx, 0x100000002
  3: inc eax
    addr32 loop 3b
    mov rcx, 0x100000000
    jrcxz 2f
    mov ebx, 1
  2: hlt`);
  assert.equal(r.r(0), 5n);
  assert.equal(r.st.rlo[3], 1);
});

t("system instructions delegate to the EmuSystem (cpuid, msr, cr, descriptor tables, hypercall, swapgs)", () => {
  const r = runAsm(`
    xor eax, eax
    cpuid
    mov r8d, ebx
    mov ecx, 0xc0000100
    mov eax, 0x1234
    mov edx, 0x5678
    wrmsr
    xor eax, eax
    xor edx, edx
    rdmsr
    mov r9d, edx
    mov r10d, eax
    mov rax, cr4
    or eax, 0x80
    mov cr4, rax
    lgdt [${DATA}]
    sgdt [${DATA + 16}]
    vmcall
    swapgs
    rdtsc
    hlt`, {
    setup: (x) => {
      const dv = new DataView(x.sys.ram.buffer);
      dv.setUint16(DATA, 0x7f, true);
      dv.setBigUint64(DATA + 2, 0xffffffff81000000n, true);
      x.st.kernelGsBaseLo = 0x1000;
    },
  });
  assert.equal(r.st.rlo[8], 0x68747541); // "Auth"
  assert.equal(r.st.rlo[9], 0x5678);
  assert.equal(r.st.rlo[10], 0x1234);
  assert.equal(r.st.rlo[0], 1000); // rdtsc from the test double
  assert.equal(r.st.cr4 & 0x80, 0x80);
  assert.equal(r.st.gdtrLimit, 0x7f);
  assert.equal(r.st.gdtrBaseHi >>> 0, 0xffffffff);
  assert.equal(new DataView(r.sys.ram.buffer).getBigUint64(DATA + 18, true), 0xffffffff81000000n);
  assert.equal(r.sys.hypercalls, 1);
  assert.equal(r.st.segBaseLo[5], 0x1000);
  assert.equal(r.st.halted, true);
});

t("mov to and from segment registers goes through loadSegment and mov ss blocks interrupts for one instruction", () => {
  const r = runAsm("sti\nnop\nmov ax, 0x10\nmov ss, ax\nnop\nnop\nhlt", {
    bits: 16,
    setup: (x) => { x.sys.pendingIrq = -1; },
  });
  assert.equal(r.st.segSel[2], 0x10);
  assert.equal(r.st.segBaseLo[2], 0x100);
  const s = runAsm("mov ax, 0x10\nmov ss, ax\nnop\nhlt", {
    bits: 16,
    setup: (x) => { x.sys.pendingIrq = 0x20; x.st.eflagsRest |= 0x200; },
  });
  // The interrupt is taken before the first instruction, not between mov ss and nop.
  assert.equal(s.sys.events[0]?.ripLo, 0x1000);
});

t("xsave-family, AVX (VEX) and other unadvertised encodings raise #UD", () => {
  for (const insn of ["xsave [0x2000]", "rdrand eax", "popcnt eax, ebx", "rdtscp", "cmpxchg16b [0x2000]", "vmovdqu ymm0, [0x2000]"]) {
    const r = runAsm(`${insn}\nhlt`);
    assert.equal(r.sys.events[0]?.vector, 6, insn);
  }
});

t("real-mode trampoline idioms: far jump, 32-bit operand lgdt, EFLAGS.ID toggle with pushfd/popfd, cr0", () => {
  const r = runAsm(`
    cli
    jmp 0x0100:0x0020
    .org 0x20
    mov ax, cs
    mov ds, ax
    pushfd
    pop eax
    mov ecx, eax
    xor eax, 0x200000
    push eax
    popfd
    pushfd
    pop eax
    xor eax, ecx          # ID bit toggled
    mov ebx, eax
    lgdt [0x80]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    hlt
    .org 0x80
    .word 0x17
    .long 0x12345`, { bits: 16, setup: (x) => { x.st.segSel[1] = 0; x.st.segBaseLo[1] = 0; } });
  assert.equal(r.st.segSel[1], 0x100);
  assert.equal(r.st.segSel[3], 0x100);
  assert.equal(r.st.rlo[3], 0x200000);
  assert.equal(r.st.gdtrLimit, 0x17);
  assert.equal(r.st.gdtrBaseLo, 0x12345);
  assert.equal(r.st.cr0 & 1, 1);
  assert.equal(r.st.halted, true);
});

t("32-bit SIB, disp8/disp32 and moffs addressing in 32-bit protected mode", () => {
  const r = runAsm(`
    mov ebx, ${DATA}
    mov esi, 4
    mov dword ptr [ebx+esi*4+8], 0x11111111
    mov dword ptr [ebx+esi*8+0x1000], 0x22222222
    mov dword ptr [${DATA + 0x40}], 0x33333333
    mov eax, [${DATA + 0x40}]
    mov ecx, [ebx+esi*4+8]
    mov edx, [esp]
    lea edi, [ebx+esi*2]
    hlt`, { bits: 32, setup: (x) => { new DataView(x.sys.ram.buffer).setUint32(0x8000, 0x5a5a5a5a, true); } });
  const dv = new DataView(r.sys.ram.buffer);
  assert.equal(dv.getUint32(DATA + 24, true), 0x11111111);
  assert.equal(dv.getUint32(DATA + 0x1020, true), 0x22222222);
  assert.equal(r.st.rlo[0], 0x33333333);
  assert.equal(r.st.rlo[1], 0x11111111);
  assert.equal(r.st.rlo[2], 0x5a5a5a5a);
  assert.equal(r.st.rlo[7], DATA + 8);
});

t("EFLAGS.TF raises a #DB trap after each instruction with DR6.BS set", () => {
  const r = runAsm("pushfq\nor qword ptr [rsp], 0x100\npopfq\nnop\nnop\nhlt");
  // popfq sets TF: the trap comes after the following instruction (the first nop), not after popfq.
  assert.equal(r.sys.events[0]?.vector, 1);
  assert.equal(r.sys.events[0]?.ripLo, 0x1000 + 1 + 8 + 1 + 1);
  assert.equal(r.st.dr[6]! & 0x4000, 0x4000);
});

t("div/idiv with wide dividends take the exact slow paths", () => {
  const r = runAsm(`
    mov edx, 0xfffffffe
    mov eax, 0xffffffff
    mov ecx, 0xffffffff
    div ecx                 # (2^64 - 2^32 - 1) / (2^32 - 1)
    mov r8d, eax
    mov r9d, edx
    mov rdx, 0x0123456789abcdef
    mov rax, 0xfedcba9876543210
    mov rcx, 0x7fffffffffffffff
    div rcx
    mov r10, rax
    mov r11, rdx
    mov rax, -0x123456789abcdef
    cqo
    mov rcx, 0x1000
    idiv rcx
    hlt`);
  const n32 = (0xfffffffen << 32n) | 0xffffffffn;
  assert.equal(r.r(8), n32 / 0xffffffffn);
  assert.equal(r.r(9), n32 % 0xffffffffn);
  const n64 = (0x0123456789abcdefn << 64n) | 0xfedcba9876543210n;
  assert.equal(r.r(10), n64 / 0x7fffffffffffffffn);
  assert.equal(r.r(11), n64 % 0x7fffffffffffffffn);
  assert.equal(r.r(0), BigInt.asUintN(64, -0x123456789abcdefn / 0x1000n));
  assert.equal(r.r(2), BigInt.asUintN(64, -0x123456789abcdefn % 0x1000n));
});
