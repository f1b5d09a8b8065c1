import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildBootSample } from "../../test/guests/boot_sample.ts";
import { BootError } from "../base/errors.ts";
import { elfExtent, isElf, parseElf, xenNotes } from "./elf.ts";

const sample = buildBootSample();
const read = (p: string) => new Uint8Array(readFileSync(p));

for (const [name, path, cls] of [["ELF64", sample.elf64, 64], ["ELF32 with machine EM_X86_64", sample.elf32, 32]] as const) {
  test(`parseElf() reads the PT_LOAD segments and Xen notes of a gcc-built ${name} image`, () => {
    const file = read(path);
    assert.ok(isElf(file));
    const elf = parseElf(file);
    assert.equal(elf.elfClass, cls);
    assert.equal(elf.machine, 62);
    assert.equal(elf.entry, 0x1000005n);
    assert.equal(elf.segments.length, 2);
    const [text, data] = elf.segments;
    assert.equal(text!.paddr, 0x1000000);
    assert.deepEqual([...text!.data.subarray(0, 4)], [0xb0, 0x41, 0xe6, 0xe9]); // mov $0x41,%al; out %al,$0xe9
    assert.equal(data!.paddr, 0x1001000);
    assert.equal(data!.data.length, 8);
    assert.equal(data!.memsz, 8 + 8192);
    const notes = xenNotes(elf);
    assert.equal(notes.phys32Entry, 0x1000000);
    assert.equal(notes.guestOs, "tsxen");
    assert.deepEqual(elfExtent(elf), { start: 0x1000000, end: 0x1001000 + 8 + 8192 });
  });
}

test("parseElf() rejects non-ELF bytes, other machines and truncated headers with BootError", () => {
  assert.throws(() => parseElf(new TextEncoder().encode("#!/bin/sh\n")), (e) => e instanceof BootError && /not an ELF file/.test(e.message));
  const file = read(sample.elf64).slice();
  file[18] = 40; // EM_ARM
  assert.throws(() => parseElf(file), /ELF machine 40 is not x86/);
  assert.throws(() => parseElf(read(sample.elf64).slice(0, 40)), /truncated/);
  const noPhdrs = read(sample.elf64).slice();
  noPhdrs[56] = 0;
  noPhdrs[57] = 0;
  assert.throws(() => parseElf(noPhdrs), /no program headers/);
});
