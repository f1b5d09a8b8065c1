import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBootSample } from "../../test/guests/boot_sample.ts";
import { BootError } from "../base/errors.ts";
import { extractVmlinux, isBzImage, parseBzImage } from "./bzimage.ts";
import { makeBzImage } from "./bzimage_sample.ts";
import { loadKernel, loadKernelAsync } from "./load.ts";

const elf64 = new Uint8Array(readFileSync(buildBootSample().elf64));
const dir = mkdtempSync(join(tmpdir(), "tsxen-bz-"));

for (const format of ["gzip", "xz"] as const) {
  test(`parseBzImage() reads the setup header and extractVmlinux() unpacks a ${format} payload to the ELF`, () => {
    const file = makeBzImage(elf64, format);
    assert.ok(isBzImage(file));
    const bz = parseBzImage(file);
    assert.equal(bz.version, 0x020f);
    assert.equal(bz.setupSects, 4);
    assert.equal(bz.payloadFormat, format);
    assert.equal(bz.prefAddress, 0x1000000n);
    assert.equal(bz.setupHeader.length, 0x26c - 0x1f1);
    assert.ok(Buffer.from(extractVmlinux(bz)).equals(Buffer.from(elf64)));
  });

  test(`loadKernel() boots a ${format} bzImage as PVH through its ELF notes`, () => {
    const p = join(dir, `vmlinuz-${format}`);
    writeFileSync(p, makeBzImage(elf64, format));
    const img = loadKernel({ kernelPath: p, cmdline: "console=hvc0", memoryBytes: 64 << 20, vcpus: 1, type: "pvh" });
    assert.deepEqual(img.entry, { kind: "pvh32", entry: 0x1000000, ebx: 0x6000 });
    assert.match(img.description, /^PVH bzImage → ELF64 entry 0x1000000/);
  });
}

test("parseBzImage() rejects old protocols, bad boot flags and payloads outside the file", () => {
  assert.throws(() => parseBzImage(makeBzImage(elf64, "gzip", { version: 0x0206 })), /boot protocol 2.06 is older than 2.08/);
  assert.throws(() => parseBzImage(makeBzImage(elf64, "gzip", { bootFlag: 0 })), /boot_flag/);
  assert.throws(() => parseBzImage(makeBzImage(elf64, "gzip", { payloadLength: 0x7fffffff })), /payload lies outside the file/);
  assert.throws(() => parseBzImage(new Uint8Array(100)), (e) => e instanceof BootError);
});

test("extractVmlinux() names unsupported payload formats", () => {
  const file = makeBzImage(elf64, "gzip");
  file.set([0x28, 0xb5, 0x2f, 0xfd], 5 * 512 + 0x100);
  assert.throws(() => extractVmlinux(parseBzImage(file)), /payload format "zstd" is not supported/);
});

test("loadKernelAsync() decompresses on a worker thread and gives the same image as loadKernel()", async () => {
  const p = join(dir, "vmlinuz-async");
  writeFileSync(p, makeBzImage(elf64, "xz"));
  const opts = { kernelPath: p, cmdline: "console=hvc0", memoryBytes: 64 << 20, vcpus: 1, type: "pvh" as const };
  const a = await loadKernelAsync(opts);
  const b = loadKernel(opts);
  assert.deepEqual(a.entry, b.entry);
  assert.deepEqual(a.regions.map((r) => [r.gpa, Buffer.from(r.bytes).toString("hex")]), b.regions.map((r) => [r.gpa, Buffer.from(r.bytes).toString("hex")]));
  await assert.rejects(loadKernelAsync({ ...opts, kernelPath: join(dir, "missing") }), /Cannot load kernel ".*missing": file does not exist/);
});
