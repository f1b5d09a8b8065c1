// Worker thread for loadKernelAsync(): decompresses a bzImage payload off the daemon's main thread and
// transfers the vmlinux bytes back. Messages: in { path }, out { key, vmlinux } | { error }.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { extractVmlinux, isBzImage, parseBzImage } from "./bzimage.ts";

const { path } = workerData as { path: string };
try {
  const buf = readFileSync(path);
  const file = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (!isBzImage(file)) {
    parentPort!.postMessage({ error: "not a bzImage" });
  } else {
    const key = createHash("sha1").update(file).digest("hex");
    const vmlinux = extractVmlinux(parseBzImage(file));
    const copy = vmlinux.byteOffset === 0 && vmlinux.byteLength === vmlinux.buffer.byteLength ? vmlinux : vmlinux.slice();
    parentPort!.postMessage({ key, vmlinux: copy }, [copy.buffer as ArrayBuffer]);
  }
} catch (e) {
  parentPort!.postMessage({ error: (e as Error).message });
}
