// Builds the loader-test kernel (test/guests/boot_sample/) with gcc as ELF64 and as ELF32 with an
// x86-64 machine field (objcopy -O elf32-x86-64, like Xen's test kernels); cached in test/guests/build/.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export interface BootSample {
  readonly elf64: string;
  readonly elf32: string;
}

export function buildBootSample(): BootSample {
  const src = join(here, "boot_sample");
  const hash = createHash("sha256");
  for (const f of ["sample.S", "sample.ld"]) hash.update(f).update(readFileSync(join(src, f)));
  const out = join(here, "build", `boot-sample-${hash.digest("hex").slice(0, 16)}`);
  const result = { elf64: join(out, "sample64.elf"), elf32: join(out, "sample32.elf") };
  if (existsSync(result.elf64) && existsSync(result.elf32)) return result;
  const tmp = `${out}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    execFileSync("gcc", ["-c", "-o", join(tmp, "sample.o"), join(src, "sample.S")], { stdio: "pipe" });
    execFileSync("ld", ["-m", "elf_x86_64", "--build-id=none", "-T", join(src, "sample.ld"), "-o", result.elf64.replace(out, tmp), join(tmp, "sample.o")], { stdio: "pipe" });
    execFileSync("objcopy", ["-O", "elf32-x86-64", join(tmp, "sample64.elf"), join(tmp, "sample32.elf")], { stdio: "pipe" });
    try {
      renameSync(tmp, out);
    } catch {
      // Another test process finished the same build first.
    }
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`Cannot build the boot sample kernel: ${err.stderr?.toString().trim() ?? String(e)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}
