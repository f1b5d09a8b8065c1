// A minimal WebAssembly binary writer for the emu JIT's wasm tier (wasm_translate.ts): one function per module,
// importing one shared memory and a table of host functions. Only what the translator emits: i32/i64 arithmetic,
// loads/stores, locals, structured control flow, calls. Encoding facts from the WebAssembly core specification
// (binary format, section 5): LEB128 integers, section ids, opcodes.
//
// Host functions are reached through an imported funcref table (call_indirect), not as function imports: V8 11
// (Node 20) compiles a wasm-to-JavaScript wrapper per imported function for every module, which made each
// `new WebAssembly.Module` of a block cost ~0.35 ms with the translator's 13 imports against ~0.03 ms with the
// table (measured: 200 small modules each way). The table is filled once per tier by hostModuleBytes().

export const enum T { I32 = 0x7f, I64 = 0x7e }

/** Opcodes used by the translator (core spec 5.4). */
export const enum Op {
  Unreachable = 0x00, Block = 0x02, Loop = 0x03, If = 0x04, Else = 0x05, End = 0x0b, Br = 0x0c, BrIf = 0x0d,
  BrTable = 0x0e, Return = 0x0f, Call = 0x10, CallIndirect = 0x11, Drop = 0x1a, Select = 0x1b,
  LocalGet = 0x20, LocalSet = 0x21, LocalTee = 0x22,
  I32Load = 0x28, I64Load = 0x29, I32Load8U = 0x2d, I32Load16U = 0x2f, I64Load32U = 0x35,
  I32Store = 0x36, I64Store = 0x37, I32Store8 = 0x3a, I32Store16 = 0x3b, I64Store32 = 0x3e,
  I32Const = 0x41, I64Const = 0x42,
  I32Eqz = 0x45, I32Eq = 0x46, I32Ne = 0x47, I32LtS = 0x48, I32LtU = 0x49, I32GtS = 0x4a, I32GeU = 0x4f,
  I64Eqz = 0x50, I64Eq = 0x51, I64Ne = 0x52, I64LtS = 0x53, I64LtU = 0x54, I64GtS = 0x55, I64GtU = 0x56,
  I64LeS = 0x57, I64LeU = 0x58, I64GeS = 0x59, I64GeU = 0x5a,
  I32Add = 0x6a, I32Sub = 0x6b, I32Mul = 0x6c, I32And = 0x71, I32Or = 0x72, I32Xor = 0x73, I32Shl = 0x74,
  I32ShrS = 0x75, I32ShrU = 0x76, I32Popcnt = 0x69,
  I64Add = 0x7c, I64Sub = 0x7d, I64Mul = 0x7e, I64And = 0x83, I64Or = 0x84, I64Xor = 0x85, I64Shl = 0x86,
  I64ShrS = 0x87, I64ShrU = 0x88, I64Rotl = 0x89, I64Rotr = 0x8a,
  I32WrapI64 = 0xa7, I64ExtendI32S = 0xac, I64ExtendI32U = 0xad,
}

/** Block type "no result". */
export const VOID = 0x40;

export function uleb(out: number[], v: number): void {
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb32(out: number[], v: number): void {
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { out.push(b); return; }
    out.push(b | 0x80);
  }
}

/** Signed LEB128 of a 64-bit integer given as (lo, hi) int32 halves. */
export function sleb64(out: number[], lo: number, hi: number): void {
  let l = lo >>> 0, h = hi | 0;
  for (;;) {
    const b = l & 0x7f;
    // arithmetic shift right by 7 of the 64-bit value (l unsigned low, h signed high)
    l = ((l >>> 7) | ((h & 0x7f) << 25)) >>> 0;
    h >>= 7;
    const done = (h === 0 && l === 0 && (b & 0x40) === 0) || (h === -1 && l === 0xffffffff && (b & 0x40) !== 0);
    if (done) { out.push(b); return; }
    out.push(b | 0x80);
  }
}

/** A function body being written. */
export class Code {
  readonly b: number[] = [];
  /** Structured blocks open at the current position (br depths are computed from it). */
  level = 0;
  op(o: Op): this { this.b.push(o); if (o === Op.End) this.level--; return this; }
  i32(v: number): this { this.b.push(Op.I32Const); sleb32(this.b, v); return this; }
  i64(lo: number, hi: number): this { this.b.push(Op.I64Const); sleb64(this.b, lo, hi); return this; }
  get(l: number): this { this.b.push(Op.LocalGet); uleb(this.b, l); return this; }
  set(l: number): this { this.b.push(Op.LocalSet); uleb(this.b, l); return this; }
  tee(l: number): this { this.b.push(Op.LocalTee); uleb(this.b, l); return this; }
  /** Load/store with alignment hint log2 `align` and a constant byte offset. */
  mem(o: Op, align: number, offset = 0): this { this.b.push(o); uleb(this.b, align); uleb(this.b, offset); return this; }
  /** Calls host function `f` (index in the imports, which is also its type index) through table 0. */
  call(f: number): this { this.i32(f); this.b.push(Op.CallIndirect); uleb(this.b, f); this.b.push(0); return this; }
  /** call_indirect through table `table` with type index `type`, the element index on the stack. */
  callIndirect(type: number, table: number): this { this.b.push(Op.CallIndirect); uleb(this.b, type); uleb(this.b, table); return this; }
  /** memory.copy (dst, src, n on the stack) within memory 0. */
  memCopy(): this { this.b.push(0xfc, 0x0a, 0, 0); return this; }
  /** memory.fill (dst, byte, n on the stack) in memory 0. */
  memFill(): this { this.b.push(0xfc, 0x0b, 0); return this; }
  br(o: Op.Br | Op.BrIf, depth: number): this { this.b.push(o); uleb(this.b, depth); return this; }
  /** br_table: depths[i] for index i, `def` for any other. */
  brTable(depths: number[], def: number): this {
    this.b.push(Op.BrTable); uleb(this.b, depths.length);
    for (const d of depths) uleb(this.b, d);
    uleb(this.b, def);
    return this;
  }
  open(o: Op.Block | Op.Loop | Op.If, type = VOID): this { this.b.push(o, type); this.level++; return this; }
}

export interface ImportFn { name: string; params: T[]; results: T[] }

function vec(out: number[], items: number[][]): void {
  uleb(out, items.length);
  for (const it of items) out.push(...it);
}

function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  for (let i = 0; i < body.length; i++) out.push(body[i]!);
}

function name(s: string): number[] {
  const o: number[] = [];
  uleb(o, s.length);
  for (let i = 0; i < s.length; i++) o.push(s.charCodeAt(i));
  return o;
}

const sig = (p: T[], r: T[]): number[] => { const t = [0x60]; uleb(t, p.length); t.push(...p); uleb(t, r.length); t.push(...r); return t; };
const MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** The code section of a module whose only defined function has `locals` and body `code`. */
function codeSection(locals: T[], code: Code): Uint8Array {
  // locals: run-length groups; then the body, copied once into the result
  const head: number[] = [];
  const groups: [number, T][] = [];
  for (const t of locals) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[1] === t) last[0]++; else groups.push([1, t]);
  }
  uleb(head, groups.length);
  for (const [n, t] of groups) { uleb(head, n); head.push(t); }
  const bodyLen = head.length + code.b.length + 1;
  const fnSize: number[] = [];
  uleb(fnSize, bodyLen);
  const secLen = 1 + fnSize.length + bodyLen; // one function
  const secHead: number[] = [10];
  uleb(secHead, secLen);
  secHead.push(1, ...fnSize, ...head);
  const bytes = new Uint8Array(secHead.length + code.b.length + 1);
  bytes.set(secHead, 0);
  bytes.set(code.b, secHead.length);
  bytes[bytes.length - 1] = Op.End;
  return bytes;
}

function concat(head: number[], tail: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(head.length + tail.length);
  bytes.set(head, 0);
  bytes.set(tail, head.length);
  return bytes;
}

/** The chaining dispatcher a host module may define (wasm_tier.ts): a function with `params`/`results`/`locals`
 * and body `code` over shared memory "env.mem" of `pages` pages, exported as "run"; it calls the block functions
 * of table 1 (exported as "b"; block modules do not import it, since V8 keeps a copy of an imported table per
 * instance and updates every copy on a set) with type index `imports.length` (`blockParams` -> `blockResults`). */
export interface HostRun {
  pages: number;
  blockParams: T[]; blockResults: T[];
  params: T[]; results: T[]; locals: T[]; code: Code;
}

/** A module importing the functions `imports` as "env".name and exporting table "t" holding them in that order
 * (the table the block modules import); with `run`, it also defines and exports that function and its table. */
export function hostModuleBytes(imports: readonly ImportFn[], run?: HostRun): Uint8Array {
  const out = [...MAGIC];
  const typeSec: number[] = [];
  const types = imports.map((f) => sig(f.params, f.results));
  if (run !== undefined) types.push(sig(run.blockParams, run.blockResults), sig(run.params, run.results));
  vec(typeSec, types);
  section(out, 1, typeSec);
  const impSec: number[] = [];
  const imp = imports.map((f, i) => { const e = [...name("env"), ...name(f.name), 0x00]; uleb(e, i); return e; });
  if (run !== undefined) {
    const memImp = [...name("env"), ...name("mem"), 0x02, 0x03];
    uleb(memImp, run.pages); uleb(memImp, run.pages);
    imp.push(memImp);
  }
  vec(impSec, imp);
  section(out, 2, impSec);
  if (run !== undefined) {
    const funcSec: number[] = [];
    uleb(funcSec, 1); uleb(funcSec, imports.length + 1);
    section(out, 3, funcSec);
  }
  // table 0: the host functions (min = max = imports.length); with `run`, table 1: block functions, growable
  const tabSec: number[] = [run !== undefined ? 2 : 1, 0x70, 0x01];
  uleb(tabSec, imports.length); uleb(tabSec, imports.length);
  if (run !== undefined) tabSec.push(0x70, 0x00, 0x01);
  section(out, 4, tabSec);
  const expSec: number[] = [];
  uleb(expSec, run !== undefined ? 3 : 1);
  expSec.push(...name("t"), 0x01, 0x00);
  if (run !== undefined) { expSec.push(...name("b"), 0x01, 0x01, ...name("run"), 0x00); uleb(expSec, imports.length); }
  section(out, 7, expSec);
  const elemSec: number[] = [1, 0x00, Op.I32Const, 0x00, Op.End]; // active segment at offset 0 of table 0
  uleb(elemSec, imports.length);
  for (let i = 0; i < imports.length; i++) uleb(elemSec, i);
  section(out, 9, elemSec);
  if (run === undefined) return new Uint8Array(out);
  return concat(out, codeSection(run.locals, run.code));
}

/**
 * A module importing shared memory "env.mem" (`pages` 64 KiB pages, shared, fixed size) and the table "env.t" of
 * host functions `imports` (hostModuleBytes; type i is the signature of imports[i], called with Code.call(i)),
 * defining one function (index 0) with `params`/`results`/`locals` and body `code`, exported as "f".
 */
export function moduleBytes(pages: number, imports: readonly ImportFn[], params: T[], results: T[], locals: T[], code: Code): Uint8Array {
  const out: number[] = [...MAGIC];
  const types: number[][] = [];
  for (const f of imports) types.push(sig(f.params, f.results));
  types.push(sig(params, results));
  const typeSec: number[] = [];
  vec(typeSec, types);
  section(out, 1, typeSec);
  const imp: number[][] = [];
  const memImp = [...name("env"), ...name("mem"), 0x02, 0x03];
  uleb(memImp, pages); uleb(memImp, pages);
  imp.push(memImp);
  const tabImp = [...name("env"), ...name("t"), 0x01, 0x70, 0x01];
  uleb(tabImp, imports.length); uleb(tabImp, imports.length);
  imp.push(tabImp);
  const impSec: number[] = [];
  vec(impSec, imp);
  section(out, 2, impSec);
  const funcSec: number[] = [];
  uleb(funcSec, 1); uleb(funcSec, imports.length);
  section(out, 3, funcSec);
  const expSec: number[] = [];
  uleb(expSec, 1); expSec.push(...name("f"), 0x00); uleb(expSec, 0);
  section(out, 7, expSec);
  return concat(out, codeSection(locals, code));
}
