// Builds the tiny test guests with the machine's gcc and caches them in test/guests/build/<hash>/.
// Used by integration tests (any backend) and benchmarks. Safe to call from parallel test processes.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const TINY_SOURCES = ["entry.S", "main.c", "link.ld"];
const CFLAGS = [
  "-m64", "-ffreestanding", "-nostdlib", "-static", "-fno-pic", "-no-pie", "-mno-red-zone",
  "-mgeneral-regs-only", "-Os", "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-Wall", "-Werror",
  "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
];

export interface TinyGuest {
  /** ELF64 (EM_X86_64), PT_LOAD at 1 MiB, XEN_ELFNOTE_PHYS32_ENTRY = 0x100000. */
  readonly elf64: string;
  /** The same image as ELF32 with an x86-64 machine field, like Xen's test kernels (objcopy -O elf32-x86-64). */
  readonly elf32: string;
}

/** Returns the paths of the tiny guest images, building them first if the sources changed. */
export function buildTinyGuest(): TinyGuest {
  const src = join(here, "tiny");
  const hash = createHash("sha256");
  for (const f of TINY_SOURCES) hash.update(f).update(readFileSync(join(src, f)));
  hash.update(CFLAGS.join(" "));
  const out = join(here, "build", `tiny-${hash.digest("hex").slice(0, 16)}`);
  const result = { elf64: join(out, "tiny64.elf"), elf32: join(out, "tiny32.elf") };
  if (existsSync(result.elf64) && existsSync(result.elf32)) return result;

  const tmp = `${out}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    execFileSync("gcc", [...CFLAGS, `-Wl,-T,${join(src, "link.ld")}`, "-o", join(tmp, "tiny64.elf"), join(src, "entry.S"), join(src, "main.c")], { stdio: "pipe" });
    execFileSync("objcopy", ["-O", "elf32-x86-64", join(tmp, "tiny64.elf"), join(tmp, "tiny32.elf")], { stdio: "pipe" });
    try {
      renameSync(tmp, out);
    } catch {
      // Another process finished the same build first.
    }
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`Cannot build the tiny test guest: ${err.stderr?.toString().trim() ?? String(e)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(buildTinyGuest());
