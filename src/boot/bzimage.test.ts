import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildBootSample } from "../../test/guests/boot_sample.ts";
import { BootError } from "../base/errors.ts";
import { extractVmlinux, isBzImage, parseBzImage } from "./bzimage.ts";
import { makeBzImage } from "./bzimage_sample.ts";
import { forgetCachedPayloads, loadKernel, loadKernelAsync } from "./load.ts";
import { testTempDir } from "../testing/temp_dir.ts";

const elf64 = new Uint8Array(readFileSync(buildBootSample().elf64));
const dir = testTempDir("tsxen-bz-");

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

test("with cacheDir, a decoded payload is kept on disk and read back by the next process; a damaged file is decoded again", () => {
  const p = join(dir, "vmlinuz-disk");
  const bz = makeBzImage(elf64, "xz");
  writeFileSync(p, bz);
  const cacheDir = join(dir, "cache");
  const opts = { kernelPath: p, cmdline: "", memoryBytes: 64 << 20, vcpus: 1, type: "pvh" as const, cacheDir };
  const regions = (img: ReturnType<typeof loadKernel>) => img.regions.map((r) => [r.gpa, Buffer.from(r.bytes).toString("hex")]);
  forgetCachedPayloads();
  const first = loadKernel(opts);
  const files = readdirSync(cacheDir);
  const key = createHash("sha1").update(bz).digest("hex");
  assert.deepEqual(files, [`vmlinux-${key}-${elf64.length}.elf`]);
  assert.deepEqual(readFileSync(join(cacheDir, files[0]!)), Buffer.from(elf64));
  // a new process: nothing in memory; the payload comes from the file (marked so that a decode would differ)
  forgetCachedPayloads();
  const marked = Uint8Array.from(elf64);
  const loaded = first.regions.find((r) => r.bytes.length >= 16 && r.bytes.some((b) => b !== 0))!;
  const at = Buffer.from(elf64).indexOf(Buffer.from(loaded.bytes.subarray(0, 16)));
  assert.ok(at >= 0);
  marked[at] ^= 0xff;
  writeFileSync(join(cacheDir, files[0]!), marked);
  const fromDisk = loadKernel(opts);
  assert.notDeepEqual(regions(fromDisk), regions(first), "the payload was not read from the cache directory");
  // a truncated file (a different length than its name says) is not used: the bzImage is decoded and the file rewritten
  forgetCachedPayloads();
  writeFileSync(join(cacheDir, files[0]!), elf64.subarray(0, 100));
  assert.deepEqual(regions(loadKernel(opts)), regions(first));
  assert.deepEqual(readFileSync(join(cacheDir, files[0]!)), Buffer.from(elf64));
  // an unwritable cache directory costs nothing but the decode
  forgetCachedPayloads();
  writeFileSync(join(dir, "not-a-dir"), "x");
  assert.deepEqual(regions(loadKernel({ ...opts, cacheDir: join(dir, "not-a-dir") })), regions(first));
});
