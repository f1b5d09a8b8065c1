// loadKernel: reads a kernel (ELF or bzImage) and an optional ramdisk and builds the BootImage for a
// domain of type "pvh" (PVH entry, as Xen's domain builder) or "hvm" (Linux 64-bit boot protocol).
// Every failure is a BootError whose one-line message names the file. Region bytes may be views of the
// kernel file or of a cached decompressed payload: backends copy them into guest RAM and never modify them.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { hex } from "../base/bytes.ts";
import { BootError } from "../base/errors.ts";
import type { BootImage } from "../hv/ports.ts";
import { extractVmlinux, isBzImage, parseBzImage, type BzImage } from "./bzimage.ts";
import { checkMemorySize, usableRamEnd } from "./e820.ts";
import { type ElfImage, elfExtent, isElf, parseElf } from "./elf.ts";
import { buildLinux64Image } from "./linux64.ts";
import { buildPvhImage } from "./pvh.ts";

export interface LoadKernelOptions {
  kernelPath: string;
  ramdiskPath?: string;
  cmdline: string;
  memoryBytes: number;
  vcpus: number;
  type: "pvh" | "hvm";
  /** Guest-physical address of the ACPI RSDP the platform built, if any. */
  rsdpPaddr?: number;
  /** A directory that keeps decompressed bzImage payloads across processes (the daemon's $TSXEN_HOME/cache):
   * a kernel decoded once (about 1.7 s for Debian's XZ bzImage) is read back from there by the next daemon. */
  cacheDir?: string;
}

function readInput(path: string, what: "kernel" | "ramdisk", maxBytes: number): Uint8Array {
  const context = `Cannot load ${what} "${path}"`;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new BootError(st.isDirectory() ? "it is a directory" : "it is not a regular file", context);
    if (st.size > maxBytes) throw new BootError(`the file is ${mib(st.size)}, more than the ${mib(maxBytes)} that can be loaded`, context);
    const buf = readFileSync(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    if (e instanceof BootError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "file does not exist"
      : code === "EACCES" ? "permission denied"
      : code === "EISDIR" ? "it is a directory"
      : `cannot read the file (${code ?? (e as Error).message})`;
    throw new BootError(why, context);
  }
}

/** Decompressed payloads of recently loaded bzImages, keyed by the file's SHA-1 (a reboot reloads the same file). */
const vmlinuxCache = new Map<string, Uint8Array>();
const VMLINUX_CACHE_ENTRIES = 2;

function cachedVmlinux(file: Uint8Array, bz: BzImage, cacheDir: string | undefined): Uint8Array {
  const key = createHash("sha1").update(file).digest("hex");
  const hit = vmlinuxCache.get(key) ?? (cacheDir !== undefined ? readCachedPayload(cacheDir, key) : undefined);
  if (hit !== undefined) {
    rememberVmlinux(key, hit);
    return hit;
  }
  const vmlinux = extractVmlinux(bz);
  rememberVmlinux(key, vmlinux);
  if (cacheDir !== undefined) writeCachedPayload(cacheDir, key, vmlinux);
  return vmlinux;
}

/** Payload files kept in a cache directory (the oldest go first). */
const DISK_CACHE_ENTRIES = 4;
const PAYLOAD_FILE = /^vmlinux-([0-9a-f]{40})-(\d+)\.elf$/;

/** The payload of the bzImage with SHA-1 `key` from cacheDir, or undefined. The file name holds the payload's
 * length and the file is written under another name and renamed, so a partial write is never read; a file that
 * is not an ELF of that length is ignored (and replaced by the next write). */
function readCachedPayload(cacheDir: string, key: string): Uint8Array | undefined {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const m = PAYLOAD_FILE.exec(name);
    if (m === null || m[1] !== key) continue;
    try {
      const buf = readFileSync(join(cacheDir, name));
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      if (bytes.length !== Number(m[2]) || !isElf(bytes)) continue;
      const now = new Date();
      utimesSync(join(cacheDir, name), now, now); // recently used: kept longest
      return bytes;
    } catch {
      // unreadable: decode again
    }
  }
  return undefined;
}

/** Best effort: a cache that cannot be written costs the next daemon a decode, nothing else. */
function writeCachedPayload(cacheDir: string, key: string, vmlinux: Uint8Array): void {
  const name = `vmlinux-${key}-${vmlinux.length}.elf`;
  const tmp = join(cacheDir, `.${name}.${process.pid}.tmp`);
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(tmp, vmlinux);
    renameSync(tmp, join(cacheDir, name));
    const kept = readdirSync(cacheDir)
      .filter((n) => PAYLOAD_FILE.test(n))
      .map((n) => ({ n, t: statSync(join(cacheDir, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { n } of kept.slice(DISK_CACHE_ENTRIES)) unlinkSync(join(cacheDir, n));
  } catch {
    try { unlinkSync(tmp); } catch { /* not written */ }
  }
}

/** Forgets the in-memory payload cache (tests of the disk cache). */
export function forgetCachedPayloads(): void {
  vmlinuxCache.clear();
}

/**
 * Decompresses a bzImage's payload on a worker thread (about 2 s for Debian's XZ kernel) and caches it, so
 * the daemon's main thread keeps serving other domains. Resolves when the cache is warm; never rejects
 * (loadKernel() reports any problem).
 */
export function prefetchKernel(kernelPath: string): Promise<void> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      // The worker registers tsx itself, so this works however the daemon loaded TypeScript.
      const tsxApi = JSON.stringify(import.meta.resolve("tsx/esm/api"));
      const entry = JSON.stringify(new URL("./decompress_worker.ts", import.meta.url).href);
      worker = new Worker(`import(${tsxApi}).then((m) => { m.register(); return import(${entry}); })`, {
        eval: true,
        workerData: { path: kernelPath },
      });
    } catch {
      resolve();
      return;
    }
    worker.once("message", (m: { key?: string; vmlinux?: Uint8Array }) => {
      if (m.key !== undefined && m.vmlinux !== undefined) rememberVmlinux(m.key, m.vmlinux);
      void worker.terminate();
      resolve();
    });
    worker.once("error", () => resolve());
    worker.once("exit", () => resolve());
  });
}

/** loadKernel() with the bzImage decompression done on a worker thread. */
export async function loadKernelAsync(opts: LoadKernelOptions): Promise<BootImage> {
  await prefetchKernel(opts.kernelPath);
  return loadKernel(opts);
}

function rememberVmlinux(key: string, vmlinux: Uint8Array): void {
  vmlinuxCache.set(key, vmlinux);
  while (vmlinuxCache.size > VMLINUX_CACHE_ENTRIES) vmlinuxCache.delete(vmlinuxCache.keys().next().value!);
}

/** A bzImage is ~10 MiB and a vmlinux ~70 MiB; anything far larger is not a kernel. */
const MAX_KERNEL_FILE_BYTES = 512 * 1024 * 1024;

const mib = (bytes: number) => `${Math.ceil(bytes / 1048576)} MiB`;

export function loadKernel(opts: LoadKernelOptions): BootImage {
  const context = `Cannot load kernel "${opts.kernelPath}"`;
  const file = readInput(opts.kernelPath, "kernel", MAX_KERNEL_FILE_BYTES);
  const ramdisk = opts.ramdiskPath === undefined ? undefined : readInput(opts.ramdiskPath, "ramdisk", Math.max(opts.memoryBytes, 0));
  try {
    if (!Number.isInteger(opts.vcpus) || opts.vcpus < 1) throw new BootError(`vcpus must be at least 1, got ${opts.vcpus}`);
    checkMemorySize(opts.memoryBytes);
    let kernel: ElfImage;
    let bz: BzImage | undefined;
    if (isElf(file)) {
      kernel = parseElf(file);
    } else if (isBzImage(file)) {
      bz = parseBzImage(file);
      const vmlinux = cachedVmlinux(file, bz, opts.cacheDir);
      try {
        kernel = parseElf(vmlinux);
      } catch (e) {
        if (e instanceof BootError) throw new BootError(`bzImage payload: ${e.reason}`);
        throw e;
      }
    } else {
      throw new BootError("not an ELF file or a bzImage");
    }
    const ramEnd = usableRamEnd(opts.memoryBytes);
    const extent = elfExtent(kernel);
    if (extent.end > ramEnd) {
      throw new BootError(`the kernel needs ${mib(extent.end)} of guest memory (it ends at ${hex(extent.end)}) but the domain has ${mib(opts.memoryBytes)}`);
    }
    if (ramdisk !== undefined && extent.end + ramdisk.length > ramEnd) {
      throw new BootError(
        `ramdisk "${opts.ramdiskPath}" of ${mib(ramdisk.length)} does not fit in ${mib(opts.memoryBytes)} of guest memory next to the kernel`,
      );
    }
    const common = { kernel, ramdisk, cmdline: opts.cmdline, memoryBytes: opts.memoryBytes, rsdpPaddr: opts.rsdpPaddr };
    if (opts.type === "pvh") {
      return buildPvhImage({ ...common, kernelKind: bz ? `bzImage → ELF${kernel.elfClass}` : `ELF${kernel.elfClass}` });
    }
    return buildLinux64Image({ ...common, bzImage: bz });
  } catch (e) {
    if (e instanceof BootError) throw e.withContext(context);
    throw new BootError(`internal error while loading: ${(e as Error).message}`, context);
  }
}
