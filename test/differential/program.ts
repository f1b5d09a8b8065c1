// Builds the batch program (one .s file for many sequences, assembled with binutils `as`) and the guest memory
// image both runners start from. See layout.ts for the memory map and the prologue/epilogue contract.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as L from "./layout.ts";

/** One generated instruction: optional setup lines (e.g. `mov $5, %cl`) and the instruction under test. */
export interface Item {
  lines: string[];
  /** Arithmetic/DF flags whose value is undefined after this item (cumulative through the sequence). */
  undefAfter: number;
  /** x87 condition codes (FSW C0 0x100, C1 0x200, C2 0x400, C3 0x4000) undefined after this item. */
  fswUndefAfter?: number;
  /** Generator family (diagnostics; "x87" and "mmx" items change what is compared). */
  family?: string;
}

export interface StartState {
  /** 16 GPRs in KVM order (rsp is ignored: the prologue leaves it at IN+0x90; its final value is compared). */
  regs: bigint[];
  rflags: number;
  /** xmm0..15, 16 bytes each. */
  xmm: Uint8Array;
  /** Initial contents of the scratch area. */
  data: Uint8Array;
  mxcsr: number;
  /** mm0..7, 8 bytes each. */
  mm: Uint8Array;
}

export interface Sequence {
  items: Item[];
  start: StartState;
}

export interface AssembledBatch {
  code: Uint8Array;
  /** Per sequence: prologue start, body begin, item starts, body end (epilogue start): guest addresses. */
  seqs: { prologue: number; begin: number; items: number[]; end: number }[];
  /** Guest address of the final `out` (batch done). */
  exitAddr: number;
  /** Ring-0 fault stubs for vectors 0..31 (assembled after the exit). */
  stubs: number[];
}

export function hasBinutils(): boolean {
  try {
    execFileSync("as", ["--version"], { stdio: "ignore" });
    execFileSync("objcopy", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const hex = (n: number): string => (n < 0 ? "-0x" + (-n).toString(16) : "0x" + n.toString(16));

function prologue(i: number): string[] {
  const b = L.seqBase(i);
  const out = [
    `mov $${hex(b + L.TEMPLATE_OFF)}, %esi`, `mov $${hex(L.SCRATCH)}, %edi`, `mov $${L.SCRATCH_BYTES / 8}, %ecx`, "cld", "rep movsq",
    `mov $${hex(b + L.IN_OFF)}, %esp`,
  ];
  for (let x = 0; x < 16; x++) out.push(`movdqu ${hex(L.XMM_OFF + 16 * x)}(%rsp), %xmm${x}`);
  for (let x = 0; x < 8; x++) out.push(`movq ${hex(L.MM_OFF + 8 * x)}(%rsp), %mm${x}`);
  out.push(`ldmxcsr ${hex(L.MXCSR_OFF)}(%rsp)`, "fninit");
  L.GPR_NAMES.forEach((r, k) => { if (r !== "rsp") out.push(`mov ${hex(8 * k)}(%rsp), %${r}`); });
  out.push(`lea ${hex(L.FLAGS_OFF)}(%rsp), %rsp`, "popfq");
  return out;
}

function epilogue(i: number): string[] {
  const b = L.seqBase(i);
  const top = b + L.OUT_OFF + L.XMM_OFF; // pushfq stores RFLAGS at OUT+0x88
  // fxsave first: the MMX stores below reset TOP and mark every x87 register valid.
  const out = [`mov %rsp, ${hex(b + L.OUT_OFF + 8 * 6)}`, `mov $${hex(top)}, %esp`, "pushfq", `fxsave ${hex(b + L.FX_OFF)}`];
  L.GPR_NAMES.forEach((r, k) => { if (r !== "rsp") out.push(`mov %${r}, ${hex(8 * k - L.FLAGS_OFF)}(%rsp)`); });
  for (let x = 0; x < 16; x++) out.push(`movdqu %xmm${x}, ${hex(8 + 16 * x)}(%rsp)`);
  for (let x = 0; x < 8; x++) out.push(`movq %mm${x}, ${hex(L.MM_OFF - L.FLAGS_OFF + 8 * x)}(%rsp)`);
  out.push(`stmxcsr ${hex(L.MXCSR_OFF - L.FLAGS_OFF)}(%rsp)`);
  out.push(`mov $${hex(L.SCRATCH)}, %esi`, `mov $${hex(b + L.OUTDATA_OFF)}, %edi`, `mov $${L.SCRATCH_BYTES / 8}, %ecx`, "cld", "rep movsq");
  return out;
}

/** The assembler source of a batch. */
export function batchSource(seqs: readonly Sequence[]): string {
  const src: string[] = [".text", ".code64"];
  seqs.forEach((s, i) => {
    src.push(`S${i}_P:`, ...prologue(i), `S${i}_B:`);
    s.items.forEach((it, j) => src.push(`S${i}_I${j}:`, ...it.lines));
    src.push(`S${i}_E:`, ...epilogue(i));
  });
  src.push("EXIT_OUT:", `out %al, $${hex(L.EXIT_PORT)}`, "ud2");
  // Ring 0: per-vector stubs and a common handler that saves the GPRs and CR2, then reports the vector.
  for (let v = 0; v < 32; v++) src.push(".balign 32", `STUB_${v}:`, `mov %rax, ${hex(L.FAULT_REGS)}`, `mov $${v}, %eax`, "jmp FAULT_COMMON");
  src.push("FAULT_COMMON:");
  L.GPR_NAMES.forEach((r, k) => { if (r !== "rax" && r !== "rsp") src.push(`mov %${r}, ${hex(L.FAULT_REGS + 8 * k)}`); });
  src.push("mov %cr2, %rbx", `mov %rbx, ${hex(L.FAULT_CR2)}`, `out %eax, $${hex(L.FAULT_PORT)}`, "hlt", "1: jmp 1b", "");
  return src.join("\n");
}

export function assemble(seqs: readonly Sequence[]): AssembledBatch {
  if (seqs.length > L.MAX_BATCH) throw new RangeError(`At most ${L.MAX_BATCH} sequences per batch`);
  const dir = mkdtempSync(join(tmpdir(), "tsxen-diff-"));
  try {
    const s = join(dir, "b.s"), o = join(dir, "b.o"), bin = join(dir, "b.bin");
    writeFileSync(s, batchSource(seqs));
    try {
      execFileSync("as", ["--64", "-o", o, s], { stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
      const err = (e as { stderr?: Buffer }).stderr?.toString() ?? String(e);
      throw new Error(`as failed:\n${err.split("\n").slice(0, 20).join("\n")}`);
    }
    execFileSync("objcopy", ["-O", "binary", "-j", ".text", o, bin]);
    const sym = new Map<string, number>();
    for (const line of execFileSync("nm", [o], { encoding: "utf8", maxBuffer: 64 << 20 }).split("\n")) {
      const m = /^([0-9a-f]+) \w (\S+)$/.exec(line);
      if (m) sym.set(m[2]!, parseInt(m[1]!, 16) + L.CODE);
    }
    const code = new Uint8Array(readFileSync(bin));
    if (L.CODE + code.length > L.CODE_LIMIT) throw new RangeError(`Batch code of ${code.length} bytes does not fit`);
    const get = (n: string): number => {
      const v = sym.get(n);
      if (v === undefined) throw new Error(`symbol ${n} missing`);
      return v;
    };
    return {
      code,
      seqs: seqs.map((q, i) => ({
        prologue: get(`S${i}_P`), begin: get(`S${i}_B`), items: q.items.map((_, j) => get(`S${i}_I${j}`)), end: get(`S${i}_E`),
      })),
      exitAddr: get("EXIT_OUT"),
      stubs: Array.from({ length: 32 }, (_, v) => get(`STUB_${v}`)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function put64(dv: DataView, a: number, v: bigint): void {
  dv.setBigUint64(a, BigInt.asUintN(64, v), true);
}

/** Writes page tables, GDT/TSS/IDT, fault stubs, the code and every sequence's IN and TEMPLATE blocks. */
export function writeImage(ram: Uint8Array, batch: AssembledBatch, seqs: readonly Sequence[]): void {
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  ram.fill(0, 0, L.CODE);
  // 4-level identity map of RAM with 2 MiB user-accessible, writable pages.
  put64(dv, L.PML4, BigInt(L.PDPT | 7));
  put64(dv, L.PDPT, BigInt(L.PD | 7));
  for (let i = 0; i < L.RAM_BYTES >> 21; i++) put64(dv, L.PD + 8 * i, (BigInt(i) << 21n) | 0x87n);
  // GDT: kernel code/data, user data/code (64-bit), 64-bit TSS.
  const desc = (sel: number, access: number, flags: number): void =>
    put64(dv, L.GDT + (sel & ~7), 0xffffn | (BigInt(access) << 40n) | (0xfn << 48n) | (BigInt(flags) << 52n));
  desc(L.SEL.KCODE, 0x9b, 0xa);
  desc(L.SEL.KDATA, 0x93, 0xc);
  desc(L.SEL.UDATA, 0xf3, 0xc);
  desc(L.SEL.UCODE, 0xfb, 0xa);
  desc(L.SEL.UCODE32, 0xfb, 0xc);
  put64(dv, L.GDT + L.SEL.TSS, 0x67n | (BigInt(L.TSS & 0xffffff) << 16n) | (0x89n << 40n));
  put64(dv, L.TSS + 4, BigInt(L.RSP0));
  // IDT: 32 interrupt gates (DPL 3) to the batch's ring-0 stubs.
  for (let v = 0; v < 32; v++) {
    const stub = batch.stubs[v]!;
    const lo = BigInt(stub & 0xffff) | (BigInt(L.SEL.KCODE) << 16n) | (0xeen << 40n) | (BigInt(stub >>> 16) << 48n);
    put64(dv, L.IDT + 16 * v, lo);
    put64(dv, L.IDT + 16 * v + 8, 0n);
  }
  ram.set(batch.code, L.CODE);
  seqs.forEach((s, i) => {
    const b = L.seqBase(i);
    ram.fill(0, b, b + L.STATE_STRIDE);
    s.start.regs.forEach((r, k) => put64(dv, b + L.IN_OFF + 8 * k, r));
    put64(dv, b + L.IN_OFF + L.FLAGS_OFF, BigInt(s.start.rflags));
    ram.set(s.start.xmm, b + L.IN_OFF + L.XMM_OFF);
    dv.setUint32(b + L.IN_OFF + L.MXCSR_OFF, s.start.mxcsr, true);
    ram.set(s.start.mm, b + L.IN_OFF + L.MM_OFF);
    ram.set(s.start.data, b + L.TEMPLATE_OFF);
  });
}

/** Final state of one sequence as stored by its epilogue. */
export interface EndState {
  regs: bigint[];
  rflags: number;
  xmm: Uint8Array;
  data: Uint8Array;
  mxcsr: number;
  mm: Uint8Array;
  /** The fxsave image taken at the end of the sequence (before the MMX stores). */
  fx: Uint8Array;
}

export function readEndState(ram: Uint8Array, i: number): EndState {
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const b = L.seqBase(i) + L.OUT_OFF;
  return {
    regs: L.GPR_NAMES.map((_, k) => dv.getBigUint64(b + 8 * k, true)),
    rflags: Number(dv.getBigUint64(b + L.FLAGS_OFF, true)),
    xmm: ram.slice(b + L.XMM_OFF, b + L.XMM_OFF + 256),
    data: ram.slice(L.seqBase(i) + L.OUTDATA_OFF, L.seqBase(i) + L.OUTDATA_OFF + L.SCRATCH_BYTES),
    mxcsr: dv.getUint32(b + L.MXCSR_OFF, true),
    mm: ram.slice(b + L.MM_OFF, b + L.MM_OFF + 64),
    fx: ram.slice(L.seqBase(i) + L.FX_OFF, L.seqBase(i) + L.FX_OFF + 512),
  };
}

/** What the ring-0 handler left behind for `vector`: the interrupted RIP and GPRs, the error code and CR2. */
export function readFaultInfo(ram: Uint8Array, vector: number): { rip: bigint; regs: bigint[]; errorCode?: number; cr2?: bigint } {
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const regs = L.GPR_NAMES.map((_, k) => dv.getBigUint64(L.FAULT_REGS + 8 * k, true));
  regs[6] = dv.getBigUint64(L.FAULT_FRAME_RSP, true);
  return {
    regs,
    rip: dv.getBigUint64(L.FAULT_FRAME_RIP, true),
    errorCode: L.VECTORS_WITH_ERROR.has(vector) ? Number(dv.getBigUint64(L.FAULT_FRAME_ERROR, true)) : undefined,
    cr2: vector === 14 ? dv.getBigUint64(L.FAULT_CR2, true) : undefined,
  };
}
