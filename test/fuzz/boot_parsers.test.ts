// Fuzz: mutated ELF, bzImage and xz inputs never make the boot parsers throw anything but BootError.
// Deterministic (seeded); TSXEN_FUZZ_ITERATIONS scales the run (default 1500 per target).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildBootSample } from "../guests/boot_sample.ts";
import { BootError } from "../../src/base/errors.ts";
import { extractVmlinux, parseBzImage } from "../../src/boot/bzimage.ts";
import { makeBzImage } from "../../src/boot/bzimage_sample.ts";
import { parseElf, xenNotes } from "../../src/boot/elf.ts";
import { buildLinux64Image } from "../../src/boot/linux64.ts";
import { buildPvhImage } from "../../src/boot/pvh.ts";
import { decodeXz } from "../../src/boot/xz/xz.ts";
import { xzCompress } from "../../src/boot/xz/xz_cli.ts";

const ITERATIONS = Number(process.env.TSXEN_FUZZ_ITERATIONS ?? 1500);

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/** Flips, overwrites, inserts or truncates a few bytes, biased towards the headers at the front. */
function mutate(input: Uint8Array, r: () => number): Uint8Array {
  let out = input.slice();
  const n = 1 + Math.floor(r() * 6);
  for (let k = 0; k < n; k++) {
    const op = Math.floor(r() * 6);
    const pos = Math.floor((r() < 0.6 ? Math.min(out.length, 1024) : out.length) * r());
    if (op === 0) out[pos] = out[pos]! ^ (1 << Math.floor(r() * 8));
    else if (op === 1) out[pos] = Math.floor(r() * 256);
    else if (op === 2) out[pos] = [0, 0xff, 0x7f, 0x80][Math.floor(r() * 4)]!;
    else if (op === 3) out = out.subarray(0, Math.floor(out.length * r()));
    else if (op === 4 && pos + 4 <= out.length) new DataView(out.buffer, out.byteOffset).setUint32(pos, Math.floor(r() * 0x1_0000_0000), true);
    else if (op === 5) out = Uint8Array.from([...out.subarray(0, pos), Math.floor(r() * 256), ...out.subarray(pos)]);
  }
  return out;
}

function expectOnlyBootError(what: string, input: Uint8Array, fn: (b: Uint8Array) => unknown): void {
  try {
    fn(input);
  } catch (e) {
    if (e instanceof BootError) {
      assert.ok(!e.message.includes("\n"), `multi-line message: ${e.message}`);
      return;
    }
    const hexHead = Buffer.from(input.subarray(0, 64)).toString("hex");
    assert.fail(`${what}: ${String(e)} (input ${input.length} bytes, head ${hexHead})`);
  }
}

const sample = buildBootSample();
const elf64 = new Uint8Array(readFileSync(sample.elf64));
const elf32 = new Uint8Array(readFileSync(sample.elf32));
const MEM = 32 * 1024 * 1024;

function loadElfAllWays(b: Uint8Array): void {
  const elf = parseElf(b);
  xenNotes(elf);
  try {
    buildPvhImage({ kernel: elf, cmdline: "console=hvc0", memoryBytes: MEM, ramdisk: new Uint8Array(100) });
  } finally {
    if (elf.elfClass === 64) buildLinux64Image({ kernel: elf, cmdline: "x", memoryBytes: MEM });
  }
}

test("mutated ELF32 and ELF64 kernels only ever raise BootError", () => {
  const r = rng(0x5eed);
  for (let i = 0; i < ITERATIONS; i++) {
    const base = i % 2 ? elf64 : elf32;
    expectOnlyBootError("ELF", mutate(base, r), loadElfAllWays);
  }
});

test("random bytes with an ELF or bzImage magic only ever raise BootError", () => {
  const r = rng(42);
  for (let i = 0; i < ITERATIONS; i++) {
    const b = new Uint8Array(Math.floor(r() * 4096));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(r() * 256);
    if (i % 2 && b.length >= 4) b.set([0x7f, 0x45, 0x4c, 0x46]);
    else if (b.length >= 0x206) b.set([0x48, 0x64, 0x72, 0x53], 0x202);
    expectOnlyBootError("random", b, (x) => (i % 2 ? loadElfAllWays(x) : extractVmlinux(parseBzImage(x))));
  }
});

test("mutated gzip and xz bzImages only ever raise BootError", () => {
  const r = rng(7);
  const images = [makeBzImage(elf64, "gzip"), makeBzImage(elf64, "xz")];
  for (let i = 0; i < ITERATIONS; i++) {
    expectOnlyBootError("bzImage", mutate(images[i % 2]!, r), (b) => {
      const vmlinux = extractVmlinux(parseBzImage(b));
      loadElfAllWays(vmlinux);
    });
  }
});

test("mutated xz streams only ever raise BootError", () => {
  const r = rng(99);
  const text = new TextEncoder().encode("tsxen fuzz ".repeat(3000) + "abcdefghijklmnopqrstuvwxyz".repeat(100));
  const streams = [xzCompress(text), xzCompress(elf64, { x86: true, check: "crc32" }), xzCompress(text, { delta: 2, check: "none" })];
  for (let i = 0; i < ITERATIONS; i++) {
    const s = streams[i % streams.length]!;
    // Mutate anywhere (not only the front) so the LZMA2 chunk data is hit too.
    const m = s.slice();
    const flips = 1 + Math.floor(r() * 3);
    for (let k = 0; k < flips; k++) m[Math.floor(r() * m.length)]! ^= 1 << Math.floor(r() * 8);
    expectOnlyBootError("xz", i % 3 === 0 ? mutate(s, r) : m, (b) => decodeXz(b, { maxOutputBytes: 16 << 20 }));
  }
});
