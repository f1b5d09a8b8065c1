// Test helper: assembles x86 code with GNU as (binutils) into raw bytes, cached per source text.
// Tests that use it skip themselves when `as` is not installed (hasAssembler()).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cache = new Map<string, Uint8Array>();
let available: boolean | undefined;

export function hasAssembler(): boolean {
  if (available === undefined) {
    try { execFileSync("as", ["--version"], { stdio: "ignore" }); available = true; } catch { available = false; }
  }
  return available;
}

/** Assembles Intel-syntax source for `bits` (16, 32, 64) at origin 0; returns the .text bytes. */
export function asm(src: string, bits: 16 | 32 | 64 = 64): Uint8Array {
  const key = bits + "\n" + src;
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = mkdtempSync(join(tmpdir(), "emu-asm-"));
  try {
    const code = `.intel_syntax noprefix\n.code${bits}\n${src}\n`;
    writeFileSync(join(dir, "a.s"), code);
    execFileSync("as", ["--64", "-o", join(dir, "a.o"), join(dir, "a.s")], { stdio: ["ignore", "ignore", "pipe"] });
    execFileSync("objcopy", ["-O", "binary", "-j", ".text", join(dir, "a.o"), join(dir, "a.bin")]);
    const out = new Uint8Array(readFileSync(join(dir, "a.bin")));
    cache.set(key, out);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
