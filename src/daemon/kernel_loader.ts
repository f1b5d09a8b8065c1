// Loads kernels for the toolstack: small files (the tiny guests, most ELF kernels) on the main thread,
// where it costs well under a millisecond; large ones (bzImages to decompress) on a loader thread.
// Runs on the daemon's main thread.

import { statSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { BootImage } from "../hv/ports.ts";
import type { LoadKernel } from "../dom0/toolstack/toolstack.ts";
import { loadKernel } from "../boot/load.ts";

/** Kernels at least this big go to the loader thread. */
const THREAD_THRESHOLD_BYTES = 1 << 20;

const WORKER_URL = new URL("./kernel_loader_worker.ts", import.meta.url);
/** Node 20 does not apply tsx to a worker's modules by itself: start it through tsx's tsImport (as vcpu_thread/host.ts does). */
const BOOTSTRAP =
  `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))})` +
  `.then((tsx) => tsx.tsImport(${JSON.stringify(WORKER_URL.href)}, ${JSON.stringify(import.meta.url)}))`;

type Opts = Parameters<LoadKernel>[0];

export class KernelLoader {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (i: BootImage) => void; reject: (e: Error) => void }>();

  /** cacheDir: where decompressed bzImage payloads are kept for the next daemon (LoadKernelOptions.cacheDir). */
  constructor(private readonly cacheDir?: string) {}

  /** Starts the loader thread ahead of need (it takes a few hundred ms to load tsx and the loader). */
  prewarm(): void {
    this.thread();
  }

  load: LoadKernel = (given: Opts): BootImage | Promise<BootImage> => {
    const opts = this.cacheDir === undefined ? given : { ...given, cacheDir: this.cacheDir };
    let size = 0;
    try {
      size = statSync(opts.kernelPath).size;
    } catch {
      // loadKernel reports the missing file itself
    }
    if (size < THREAD_THRESHOLD_BYTES) return loadKernel(opts);
    const w = this.thread();
    const id = this.nextId++;
    w.ref();
    return new Promise<BootImage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, opts });
    });
  };

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(BOOTSTRAP, { eval: true, name: "kernel-loader" });
    w.unref();
    w.on("message", (m: { id: number; image?: BootImage; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if (m.image) p.resolve(m.image);
      else p.reject(new Error(m.error ?? "the kernel loader thread gave no answer"));
    });
    const fail = (why: string): void => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
    };
    w.on("error", (e: Error) => fail(`the kernel loader thread failed: ${e.message}`));
    w.on("exit", (code) => fail(`the kernel loader thread exited (status ${code})`));
    this.worker = w;
    return w;
  }
}
