// Runs one hand-written sequence natively (KVM ring 3) and on emu and prints both end states.
// Usage: node --import tsx test/differential/repro.ts [--seed N] [--mxcsr 0x1f80] [--rflags 0x202]
//          [--reg rax=0x123] [--xmm 5=<32 hex digits, little-endian byte order>] [--mem <off>=<hex bytes>] -- 'insn; insn'
// Registers not given come from the seeded random start state (r14/r15 keep their fixed roles; r15 = scratch
// middle). --mem writes bytes at r15+off. Prints the differences (native = expected, emu = got).
import { parseArgs } from "node:util";
import { DiffHarness, flagText } from "./diff.ts";
import { Rng, genStart } from "./gen.ts";
import * as L from "./layout.ts";
import { readEndState } from "./program.ts";

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: "string", default: "1" },
    mxcsr: { type: "string" },
    rflags: { type: "string" },
    reg: { type: "string", multiple: true, default: [] },
    xmm: { type: "string", multiple: true, default: [] },
    mem: { type: "string", multiple: true, default: [] },
  },
});
const start = genStart(new Rng(Number(a.seed)));
if (a.mxcsr) start.mxcsr = Number(a.mxcsr);
if (a.rflags) start.rflags = Number(a.rflags);
for (const r of a.reg) {
  const [n, v] = r.split("=");
  const k = L.GPR_NAMES.indexOf(n as (typeof L.GPR_NAMES)[number]);
  if (k < 0) throw new Error(`unknown register ${n}`);
  start.regs[k] = BigInt(v!);
}
const hexToBytes = (h: string): number[] => h.replace(/[^0-9a-f]/gi, "").match(/../g)!.map((x) => parseInt(x, 16));
for (const x of a.xmm) {
  const [n, v] = x.split("=");
  start.xmm.set(hexToBytes(v!), 16 * Number(n));
}
for (const m of a.mem) {
  const [o, v] = m.split("=");
  start.data.set(hexToBytes(v!), 256 + Number(o));
}
const lines = positionals.join(" ").split(";").map((s) => s.trim()).filter(Boolean);
const h = new DiffHarness();
try {
  const { diffs, faults } = h.runBatch([{ items: [{ lines, undefAfter: 0 }], start }]);
  for (const f of [...faults.native, ...faults.emu]) {
    console.log(`${f.where} fault: vector ${f.vector} at rip 0x${f.rip.toString(16)}` +
      `${f.errorCode !== undefined ? ` error 0x${f.errorCode.toString(16)}` : ""}${f.cr2 !== undefined ? ` cr2 0x${f.cr2.toString(16)}` : ""}`);
  }
  const n = readEndState(h.native.ram, 0), e = readEndState(h.emu.ram, 0);
  console.log(`${lines.join("; ")}\nstart mxcsr 0x${start.mxcsr.toString(16)} flags ${flagText(start.rflags)}`);
  const natRegs = faults.native[0]?.regs ?? n.regs;
  console.log(`native regs${faults.native.length ? " at the fault" : ""} (changed): ` +
    L.GPR_NAMES.map((r, k) => (natRegs[k] !== start.regs[k] && r !== "rsp" ? `${r}=0x${natRegs[k]!.toString(16)}` : "")).filter(Boolean).join(" "));
  console.log(`native: mxcsr 0x${n.mxcsr.toString(16)} flags ${flagText(n.rflags)}`);
  console.log(`emu:    mxcsr 0x${e.mxcsr.toString(16)} flags ${flagText(e.rflags)}`);
  console.log(diffs[0]!.length === 0 ? "no differences (all flags compared)" : diffs[0]!.map((d) => `DIFF ${d}`).join("\n"));
} finally {
  h.close();
}
