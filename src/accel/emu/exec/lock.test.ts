import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { asm, hasAssembler } from "../../../testing/emu_asm.ts";
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

// ---------------------------------------------------------------------------------------------- atomicity

/** Data words of the stress program (offsets from RDI = 0x200000). */
const D = {
  xadd32: 0x00, tokens: 0x08, cas64: 0x10, inc64: 0x18, add16: 0x20, spin: 0x30, guarded: 0x34, shared: 0x38,
  bitmap: 0x40, results: 0x100,
};
const ITER = Number(process.env.LOCK_ITER ?? 60_000);
const CAS64_START = 0xffff_ff00n, INC64_START = 0xffff_fff0n;

/** Each vCPU (R15 = id): lock xadd; xchg-consumes tokens the main thread adds; a 64-bit cmpxchg loop and a lock
 * inc qword across the 2^32 carry; lock add word; a bts/btr spinlock around a plain inc (a lost release: an error after 100000 tries, and the lock is reset, not a hang); its own bit in a word the
 * main thread also or/ands (lock or, then lock btr must find it set); its own bit in a qword bitmap through lock
 * bts/btc/btr with register offsets (as Linux's sync_set_bit/sync_clear_bit). Writes tokens and errors at
 * results + id * 16. */
const STRESS = `
  mov r12d, ${ITER}
  xor r8, r8
  xor r9, r9
  lea r14, [r15 + 1]
  mov r13d, 1
  mov ecx, r14d
  shl r13d, cl
  lea r10, [r15 + 40]
1:
  mov eax, 1
  lock xadd dword ptr [rdi + ${D.xadd32}], eax
  xor eax, eax
  xchg dword ptr [rdi + ${D.tokens}], eax
  add r8, rax
  mov rax, [rdi + ${D.cas64}]
2:
  lea rdx, [rax + 1]
  lock cmpxchg qword ptr [rdi + ${D.cas64}], rdx
  jnz 2b
  lock inc qword ptr [rdi + ${D.inc64}]
  lock add word ptr [rdi + ${D.add16}], 1
  mov r11d, 100000
3:
  lock bts dword ptr [rdi + ${D.spin}], 0
  jnc 8f
  dec r11d
  jnz 3b
  inc r9
  mov dword ptr [rdi + ${D.spin}], 0
  jmp 9f
8:
  inc dword ptr [rdi + ${D.guarded}]
  lock btr dword ptr [rdi + ${D.spin}], 0
9:
  lock or dword ptr [rdi + ${D.shared}], r13d
  lock btr dword ptr [rdi + ${D.shared}], r14d
  jc 4f
  inc r9
4:
  lock bts qword ptr [rdi + ${D.bitmap}], r10
  jnc 5f
  inc r9
5:
  lock btc qword ptr [rdi + ${D.bitmap}], r10
  jc 6f
  inc r9
6:
  lock bts qword ptr [rdi + ${D.bitmap}], r10
  lock btr qword ptr [rdi + ${D.bitmap}], r10
  jc 7f
  inc r9
7:
  dec r12d
  jnz 1b
  mov rax, r15
  shl rax, 4
  mov [rdi + rax + ${D.results}], r8
  mov [rdi + rax + ${D.results + 8}], r9
  hlt`;

interface StressResult { main: { tokens: number; adds: number; errors: number }; dv: DataView }

/** Runs STRESS on two worker vCPUs while the main thread adds tokens and xadd counts and toggles bit 20 of the
 * shared word with Atomics (checking each old value), as the event-channel code does. */
async function stress(jit: boolean): Promise<StressResult> {
  const ramBuf = new SharedArrayBuffer(32 << 20);
  const ctlBuf = new SharedArrayBuffer(32);
  const bytes = new Uint8Array(ramBuf), dv = new DataView(ramBuf), ctl = new Int32Array(ctlBuf);
  const i32 = new Int32Array(ramBuf);
  const base = 0x200000;
  bytes.set(asm(STRESS), 0x100000);
  dv.setBigUint64(base + D.cas64, CAS64_START, true);
  dv.setBigUint64(base + D.inc64, INC64_START, true);
  const tsxApi = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const entry = JSON.stringify(new URL("./lock_stress_worker.ts", import.meta.url).href);
  const workers = [0, 1].map((id) => new Worker(`import(${tsxApi}).then((m) => { m.register(); return import(${entry}); })`, {
    eval: true, workerData: { ram: ramBuf, ctl: ctlBuf, id, entry: 0x100000, jit },
  }));
  const exits = workers.map((w) => new Promise<unknown>((resolve) => {
    let err: unknown = null;
    w.once("error", (e: unknown) => { err = e; });
    w.once("exit", () => resolve(err));
  }));
  const main = { tokens: 0, adds: 0, errors: 0 };
  try {
    const deadline = Date.now() + 60_000;
    while ((Atomics.load(ctl, 1) === 0 || Atomics.load(ctl, 2) === 0) && Date.now() < deadline) {
      if (Atomics.load(ctl, 3) === 2 || Atomics.load(ctl, 4) === 2) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    Atomics.store(ctl, 0, 1); Atomics.notify(ctl, 0);
    const bit = 1 << 20;
    while (Atomics.load(ctl, 3) === 0 || Atomics.load(ctl, 4) === 0) {
      if (Date.now() > deadline) throw new Error(`the vCPUs did not finish within 60 s (ctl ${ctl.join(",")})`);
      Atomics.add(i32, (base + D.tokens) / 4, 1); main.tokens++;
      Atomics.add(i32, (base + D.xadd32) / 4, 1); main.adds++;
      if ((Atomics.or(i32, (base + D.shared) / 4, bit) & bit) !== 0) main.errors++;
      if ((Atomics.and(i32, (base + D.shared) / 4, ~bit) & bit) === 0) main.errors++;
    }
  } finally {
    Atomics.store(ctl, 0, 1); Atomics.notify(ctl, 0);
    if (Atomics.load(ctl, 3) === 0 || Atomics.load(ctl, 4) === 0) for (const w of workers) void w.terminate();
    const errs = await Promise.all(exits);
    for (const e of errs) if (e !== null) throw e;
  }
  assert.deepEqual([Atomics.load(ctl, 3), Atomics.load(ctl, 4)], [1, 1], "both vCPUs halted");
  return { main, dv };
}

function checkStress(r: StressResult): void {
  const { main, dv } = r;
  const base = 0x200000;
  const tok = (id: number) => Number(dv.getBigUint64(base + D.results + id * 16, true));
  const errs = (id: number) => Number(dv.getBigUint64(base + D.results + id * 16 + 8, true));
  // One comparison of everything, so that a failure shows every lost update at once.
  assert.deepEqual({
    "vCPU bit errors (lock or/btr, lock bts/btc/btr qword, spinlock give-ups)": errs(0) + errs(1),
    "main-thread bit errors (Atomics.or/and vs lock or/btr)": main.errors,
    "lock xadd dword vs xadd and Atomics.add": dv.getInt32(base + D.xadd32, true),
    "xchg tokens consumed + left": tok(0) + tok(1) + dv.getInt32(base + D.tokens, true),
    "lock cmpxchg qword loop": dv.getBigUint64(base + D.cas64, true),
    "lock inc qword": dv.getBigUint64(base + D.inc64, true),
    "lock add word": dv.getUint16(base + D.add16, true),
    "plain inc under a bts/btr spinlock": dv.getInt32(base + D.guarded, true),
    "words left": [dv.getInt32(base + D.spin, true), dv.getInt32(base + D.shared, true), dv.getBigUint64(base + D.bitmap, true)],
  }, {
    "vCPU bit errors (lock or/btr, lock bts/btc/btr qword, spinlock give-ups)": 0,
    "main-thread bit errors (Atomics.or/and vs lock or/btr)": 0,
    "lock xadd dword vs xadd and Atomics.add": 2 * ITER + main.adds,
    "xchg tokens consumed + left": main.tokens,
    "lock cmpxchg qword loop": CAS64_START + BigInt(2 * ITER),
    "lock inc qword": INC64_START + BigInt(2 * ITER),
    "lock add word": (2 * ITER) & 0xffff,
    "plain inc under a bts/btr spinlock": 2 * ITER,
    "words left": [0, 0, 0n],
  });
  assert.ok(main.tokens > 0 && tok(0) > 0 && tok(1) > 0, "the main thread and both vCPUs ran at once");
}

test("locked RMWs and xchg on two vCPU threads lose no update against each other or the main thread's Atomics (interpreter)", { skip, timeout: 180_000 }, async () => {
  checkStress(await stress(false));
});
