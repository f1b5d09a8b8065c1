// diff.test.ts (random ring-3 sequences, emu vs the real CPU under KVM) again with the block JIT compiling every
// block (test/support/jit_pass.ts). Fewer sequences and another seed than the interpreter pass.
import { jitPass } from "../support/jit_pass.ts";

await jitPass(new URL("./diff.test.ts", import.meta.url).href, { DIFF_COUNT: "1000", DIFF_SEED: "20261128" });
