// The kernel loader's thread: runs boot/load.ts loadKernel() for the daemon so that decompressing a
// bzImage (seconds on a big kernel) never stalls the daemon's main thread. Protocol: kernel_loader.ts.

import { parentPort } from "node:worker_threads";
import { loadKernel, type LoadKernelOptions } from "../boot/load.ts";

parentPort!.on("message", (msg: { id: number; opts: LoadKernelOptions }) => {
  try {
    // Structured clone copies the regions, so the loader's cache of decompressed payloads stays intact.
    parentPort!.postMessage({ id: msg.id, image: loadKernel(msg.opts) });
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
