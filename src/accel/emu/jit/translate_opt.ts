// Peephole passes over a translated block (translate.ts): one source string per guest instruction, in order.
//
// 1. Fault index: `c.bi = k;` is only needed before an instruction that can throw (a memory access, an explicit
//    fault, a helper that touches memory, an interpreter step); it is dropped elsewhere.
// 2. Dead lazy flags: an inline flag record (c.lfOp = ..; c.lfSize = ..; c.lfResLo/Hi = ..[; c.lfS1/S2 = ..]) is
//    dropped when a later instruction of the block overwrites the record and nothing in between can observe the
//    flags: no exit (return), no possible fault (the exception frame holds RFLAGS), no flag read (c.cond, helpers,
//    interpreter steps). The overwriting instruction must not be able to fault or exit before its own record.
// 3. Inline conditions: jcc/setcc/cmovcc right after an inline cmp/sub/and/or/xor/test evaluate the condition on the
//    producer's operands (block locals or register expressions) instead of calling c.cond() on the lazy record
//    (not at `joins`: instructions a forward branch inside the block also reaches).
// Control flow inside a block is straight-line except for `break` to a later instruction (forward jcc) and
// `continue` (loop back edge); both count as observing the flags.
// Every pass is conservative: anything it does not recognise stays as it was.

/** An inline lazy-flag record; groups: op, size, resLo, resHi, then s1Lo, s1Hi, s2Lo, s2Hi (arithmetic only). */
const RECORD = /c\.lfOp = ([1356789]); c\.lfSize = (\d+); c\.lfResLo = ([^;]+); c\.lfResHi = ([^;]+);(?: c\.lfS1Lo = ([^;]+); c\.lfS1Hi = ([^;]+); c\.lfS2Lo = ([^;]+); c\.lfS2Hi = ([^;]+);)?(?: c\.lfAux = ([^;]+);)?/;

/** Source that can throw a guest fault (or run the interpreter). */
const CAN_FAULT = /sys\.|c\.fault|probeWrite|execGroup2|c\.step|jt\[|m8\[|m16\[|m32\[/;
/** Source that may observe the flags or leave the block (besides faulting). */
const OBSERVES = /return|break|continue|c\.cond|c\.lf|alu\(|incDec\(|execGroup2\(|imulTrunc\(|c\.step|c\.getEflags|c\.cf\(|c\.zf\(/;

/** A rotate's flag update (translate_inl.ts): reads the flags before, writes all of them. */
const CF_OF = /c\.lfFlags = \(c\.getArith\(\) & -2050\) \| [^;]+; c\.lfOp = 0;/;

const BI = /^c\.bi = \d+; ?/;

/** The inline flag record in e, if complete (add/sub carry their operands too). */
function record(e: string): RegExpExecArray | null {
  const m = RECORD.exec(e);
  if (m === null) return null;
  const op = m[1]!;
  // add/sub/inc/dec/imul64 (9) carry their operands; inc/dec (CF before) and result+aux records (8: shifts, imul32) lfAux.
  if ((op !== "5" && op !== "8") !== (m[5] !== undefined)) return null;
  if ((op === "6" || op === "7" || op === "8") !== (m[9] !== undefined)) return null;
  return m;
}

/** Pass 1: drops `c.bi = k;` from instructions that cannot fault. */
function dropFaultIndex(out: string[]): void {
  for (let i = 0; i < out.length; i++) {
    const e = out[i]!;
    if (BI.test(e) && !CAN_FAULT.test(e)) out[i] = e.replace(BI, "");
  }
}

/** Pass 2: drops flag records that are overwritten before anything can see them. */
function dropDeadFlags(out: string[]): void {
  // dead: the flag state after instruction i is never observed (computed backwards; the block end observes it).
  let dead = false;
  for (let i = out.length - 1; i >= 0; i--) {
    const e = out[i]!;
    if (e === "") continue; // followed jmp, nop: flag-neutral
    const m = record(e);
    if (m === null) {
      const f = CF_OF.exec(e);
      if (f !== null) { // rotates: CF/OF merged into the materialised flags (reads the flags before)
        const rest = e.slice(0, f.index) + e.slice(f.index + f[0].length);
        if (!CAN_FAULT.test(rest) && !OBSERVES.test(rest)) {
          if (dead) out[i] = rest; // flag-neutral now: `dead` carries over
          else dead = false;
          continue;
        }
      }
      if (CAN_FAULT.test(e) || OBSERVES.test(e)) dead = false;
      continue; // else: a flag-neutral register-only instruction, `dead` carries over
    }
    const head = e.slice(0, m.index), tail = e.slice(m.index + m[0].length);
    // This record is dead if nothing after it in this instruction can see it either (an SMC exit, a fault).
    if (dead && !CAN_FAULT.test(tail) && !OBSERVES.test(tail)) out[i] = head + tail;
    // The record overwrites all lazy-flag state that matters (ops 1/3/5: lfAux/lfFlags unused, S1/S2 unused by 5):
    // the flags before this instruction are unobservable if nothing before the record can fault or look.
    dead = !CAN_FAULT.test(head) && !OBSERVES.test(head);
  }
}

const SIMPLE = /^(?:[a-z]{1,2}|-?\d+|\(?rlo\[\d+\] & \d+\)?|rlo\[\d+\]|rhi\[\d+\]|\(rlo\[\d+\] & \d+\)|a & \(rlo\[\d+\] & \d+\)|a & -?\d+|ah & -?\d+|a & rlo\[\d+\]|ah & rhi\[\d+\]|rlo\[\d+\] & -?\d+|rhi\[\d+\] & -?\d+|\(rlo\[\d+\] & \d+\) & -?\d+)$/;
const ASSIGNS_LOCAL = /(?:^|[^.\w])(?:a|ah|b|bh|r|rh)\s*=[^=]/;
const ASSIGNS_REG = /r(?:lo|hi)\[\d+\]\s*=[^=]/;

/** The condition cc as a JavaScript expression on a lazy record (op, size, res, s1, s2 expressions), or null. */
function condExpr(op: number, size: number, cc: number, r: string, rh: string, s1: string, s1h: string, s2: string, s2h: string): string | null {
  const neg = (x: string): string => `!(${x})`;
  let base: string | null = null; // expression for the even condition cc & ~1
  const even = cc & ~1;
  if (op === 3 && (size === 4 || size === 8)) {
    const ult = size === 4 ? `((${s1}) >>> 0) < ((${s2}) >>> 0)`
      : `((${s1h}) !== (${s2h}) ? ((${s1h}) >>> 0) < ((${s2h}) >>> 0) : ((${s1}) >>> 0) < ((${s2}) >>> 0))`;
    const ule = size === 4 ? `((${s1}) >>> 0) <= ((${s2}) >>> 0)`
      : `((${s1h}) !== (${s2h}) ? ((${s1h}) >>> 0) < ((${s2h}) >>> 0) : ((${s1}) >>> 0) <= ((${s2}) >>> 0))`;
    const slt = size === 4 ? `((${s1}) | 0) < ((${s2}) | 0)`
      : `((${s1h}) !== (${s2h}) ? ((${s1h}) | 0) < ((${s2h}) | 0) : ((${s1}) >>> 0) < ((${s2}) >>> 0))`;
    const sle = size === 4 ? `((${s1}) | 0) <= ((${s2}) | 0)`
      : `((${s1h}) !== (${s2h}) ? ((${s1h}) | 0) < ((${s2h}) | 0) : ((${s1}) >>> 0) <= ((${s2}) >>> 0))`;
    const zero = size === 4 ? `(${r}) === 0` : `((${r}) | (${rh})) === 0`;
    const sign = size === 4 ? `((${r}) | 0) < 0` : `((${rh}) | 0) < 0`;
    switch (even) {
      case 2: base = ult; break;
      case 4: base = zero; break;
      case 6: base = ule; break;
      case 8: base = sign; break;
      case 12: base = slt; break;
      case 14: base = sle; break;
    }
  } else if (op === 6 || op === 7 || op === 8) { // inc/dec, result+aux: only ZF and SF come from the result alone
    const zero = size === 8 ? `((${r}) | (${rh})) === 0` : `(${r}) === 0`;
    const sign = size === 8 ? `((${rh}) | 0) < 0` : size === 4 ? `((${r}) | 0) < 0` : size === 2 ? `((${r}) & 32768) !== 0` : `((${r}) & 128) !== 0`;
    if (even === 4) base = zero; else if (even === 8) base = sign;
  } else if (op === 5) {
    const zero = size === 8 ? `((${r}) | (${rh})) === 0` : `(${r}) === 0`;
    const sign = size === 8 ? `((${rh}) | 0) < 0` : size === 4 ? `((${r}) | 0) < 0` : size === 2 ? `((${r}) & 32768) !== 0` : `((${r}) & 128) !== 0`;
    switch (even) {
      case 0: case 2: base = "false"; break; // o, b: OF = CF = 0
      case 4: case 6: base = zero; break; // e, be
      case 8: case 12: base = sign; break; // s, l
      case 14: base = `(${zero}) || (${sign})`; break; // le
    }
  }
  if (base === null) return null;
  return (cc & 1) === 0 ? `(${base})` : neg(base);
}

/** The instruction before out[i] (skipping empty sources: nops, followed jumps) when its source holds a lazy-flag
 * record: its source and the record's match. */
function producer(out: string[], i: number): { p: string; m: RegExpExecArray } | null {
  let j = i - 1;
  while (j >= 0 && out[j] === "") j--;
  if (j < 0) return null;
  const p = out[j]!;
  const m = record(p);
  return m === null ? null : { p, m };
}

/** Pass 3: c.cond(cc) right after an inline flag producer becomes an expression on the producer's operands. */
function inlineConds(out: string[], joins: ReadonlySet<number>): void {
  for (let i = 1; i < out.length; i++) {
    if (joins.has(i)) continue; // reached by a forward branch too: the previous instruction is not the only producer
    const e = out[i]!;
    const at = e.indexOf("c.cond(");
    if (at < 0) continue;
    const prev = producer(out, i);
    if (prev === null) continue;
    const { p, m } = prev;
    const tail = p.slice(m.index + m[0].length);
    const before = e.slice(0, at);
    // setcc's `r = c.cond(cc) ? 1 : 0`: the right-hand side is evaluated before r is assigned.
    const beforeChk = before.replace(/(?:^|; )r = $/, "");
    const vals = [m[3]!, m[4]!, m[5] ?? "0", m[6] ?? "0", m[7] ?? "0", m[8] ?? "0"].map((v) => v.trim());
    if (!vals.every((v) => SIMPLE.test(v))) continue;
    const usesLocal = vals.some((v) => /(?:^|[^\w[])(?:a|ah|b|bh|r|rh)(?:$|[^\w])/.test(v));
    const usesReg = vals.some((v) => /r(?:lo|hi)\[/.test(v));
    // The operands must still hold their values where the condition is evaluated.
    if (usesLocal && (ASSIGNS_LOCAL.test(tail) || ASSIGNS_LOCAL.test(beforeChk))) continue;
    if (usesReg && (ASSIGNS_REG.test(tail) || ASSIGNS_REG.test(beforeChk) || /sys\.|c\.step|execGroup2|jt\[|m\d+\[/.test(tail + before))) continue;
    if (/c\.cond\(/.test(e.slice(at + 7))) continue; // one condition per instruction
    const cm = /^c\.cond\((\d+)\)/.exec(e.slice(at));
    if (cm === null) continue;
    const x = condExpr(Number(m[1]), Number(m[2]), Number(cm[1]), vals[0]!, vals[1]!, vals[2]!, vals[3]!, vals[4]!, vals[5]!);
    if (x === null) continue;
    out[i] = before + x + e.slice(at + cm[0].length);
  }
}

const CF_CALL = "cf = c.cf();";

/** Pass 4 (before 2): inc/dec's `cf = c.cf();` (CF before, for its record) right after an inline logic op becomes 0,
 * after an inline 32/64-bit cmp/sub an unsigned compare of its operands (under the same conditions as pass 3). */
function inlineCarry(out: string[], joins: ReadonlySet<number>): void {
  for (let i = 1; i < out.length; i++) {
    if (joins.has(i)) continue;
    const e = out[i]!;
    const at = e.indexOf(CF_CALL);
    if (at < 0) continue;
    const before = e.slice(0, at);
    if (!/^(?:c\.bi = \d+; )?$/.test(before)) continue;
    const prev = producer(out, i);
    if (prev === null) continue;
    const { p, m } = prev;
    let x: string | null = null;
    if (m[1] === "5") x = "0";
    else if (m[1] === "3") {
      const tail = p.slice(m.index + m[0].length);
      const vals = [m[3]!, m[4]!, m[5]!, m[6]!, m[7]!, m[8]!].map((v) => v.trim());
      if (!vals.every((v) => SIMPLE.test(v))) continue;
      if (ASSIGNS_LOCAL.test(tail) || ASSIGNS_REG.test(tail) || /sys\.|c\.step|execGroup2|jt\[|m\d+\[/.test(tail)) continue;
      const c = condExpr(3, Number(m[2]), 2, vals[0]!, vals[1]!, vals[2]!, vals[3]!, vals[4]!, vals[5]!);
      if (c !== null) x = `${c} ? 1 : 0`;
    }
    if (x === null) continue;
    out[i] = before + `cf = ${x};` + e.slice(at + CF_CALL.length);
  }
}

/** Runs the passes on a block's per-instruction sources (in place). */
export function optimizeBlock(out: string[], joins: ReadonlySet<number> = new Set()): void {
  dropFaultIndex(out);
  inlineConds(out, joins); // before dead-flag elimination: it reads the records
  inlineCarry(out, joins);
  dropDeadFlags(out);
}
