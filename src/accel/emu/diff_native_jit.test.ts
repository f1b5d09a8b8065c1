// diff_native.test.ts again with the block JIT compiling every block (test/support/jit_pass.ts): the gcc-built
// native oracles check the JIT as they check the interpreter. Fewer cases and other seeds than the interpreter pass.
import { jitPass } from "../../../test/support/jit_pass.ts";

await jitPass(new URL("./diff_native.test.ts", import.meta.url).href, {
  EMU_DIFF_CASES: "1000", EMU_DIFF_SSE_CASES: "500", EMU_DIFF_SEQ_CASES: "300", EMU_DIFF_SEED: "54321",
});
