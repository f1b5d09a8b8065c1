// Guest registers in JS locals inside a looping block (TSXEN_EMU_JIT_REGS=0: off). A rewrite of the finished block
// body: every `rlo[n]` / `rhi[n]` becomes a local (gln / ghn) loaded at entry; stores coerce to int32 as the typed
// array would. The locals of registers the block writes go back to c.rlo/c.rhi in a `finally` (every return, and a
// FAULT thrown by a memory access or c.fault, so the dispatcher sees the interpreter's state at the faulting
// instruction), and around the helpers that read or write the register file themselves (c.step(), execGroup2):
// written back before, reloaded after. While an interpreter step runs, the finally does not write back (`live`
// = 0): a step that faults may have changed registers (rep string progress) that the locals do not hold.

const ENV = ((): Record<string, string | undefined> => {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return g.process?.env ?? {};
})();
export const REGS = ENV.TSXEN_EMU_JIT_REGS !== "0";
/** TSXEN_EMU_JIT_REGS=all: in every block, not only looping ones (experiment). */
export const REGS_ALL = ENV.TSXEN_EMU_JIT_REGS === "all";

const REF = /(?<![\w.$])r(lo|hi)\[(\d+)\]/g;
const STORE = /(?<![\w.$])r(lo|hi)\[(\d+)\] = (?!=)([^;]+);/g;

/** Rewrites a block body (all statements after the prologue); returns [declarations, body]. */
export function regsInLocals(body: string): [string, string] | null {
  const used = new Set<string>(), written = new Set<string>();
  for (const m of body.matchAll(REF)) used.add(`${m[1]}${m[2]}`);
  for (const m of body.matchAll(STORE)) written.add(`${m[1]}${m[2]}`);
  if (used.size === 0) return null;
  const loc = (k: string): string => (k.startsWith("lo") ? `gl${k.slice(2)}` : `gh${k.slice(2)}`);
  const arr = (k: string): string => (k.startsWith("lo") ? `rlo[${k.slice(2)}]` : `rhi[${k.slice(2)}]`);
  const load = [...used].map((k) => `${loc(k)} = ${arr(k)};`).join(" ");
  const wb = [...written].map((k) => `${arr(k)} = ${loc(k)};`).join(" ");
  let b = body.replace(STORE, (_m, w: string, n: string, e: string) => `g${w === "lo" ? "l" : "h"}${n} = (${e}) | 0;`);
  b = b.replace(REF, (_m, w: string, n: string) => `g${w === "lo" ? "l" : "h"}${n}`);
  b = b.replace(/c\.step\(\);/g, `${wb} live = 0; c.step(); ${load} live = 1;`);
  b = b.replace(/execGroup2\(c, ([^;]+)\);/g, (_m, args: string) => `${wb} live = 0; execGroup2(c, ${args}); ${load} live = 1;`);
  const decl = `let ${[...used].map((k) => `${loc(k)} = ${arr(k)}`).join(", ")}, live = 1;\n`;
  return [decl, `try {\n${b}\n} finally { if (live === 1) { ${wb} } }`];
}
