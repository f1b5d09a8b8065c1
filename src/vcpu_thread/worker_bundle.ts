// How a vCPU thread starts: from a JavaScript bundle of worker.ts and its engine when one can be built,
// else through tsx. A thread that loads tsx costs about 370 ms of CPU and 34 MiB (tsx's loader, its
// own hooks thread, every module transpiled in the thread); from the bundle it costs about 40 ms and
// 9 MiB (measured on the dev host; npm run bench:start shows the effect per domain).
//
// The bundle (esbuild, ESM with code splitting, packages such as koffi left external) is built once per
// process and engine into .cache/vcpu/<engine>/ and rebuilt when any of its source files is newer than
// it, as bin/xl does for xl. Engines outside src/, a read-only checkout, a failed build or
// TSXEN_VCPU_FROM_SOURCE=1 fall back to tsx. Runs on the owner's (main) thread.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** What to start a thread with: the Worker's eval code and the engine URL the thread must import. */
export interface ThreadBoot {
  readonly code: string;
  readonly engineModule: string | undefined;
  readonly bundled: boolean;
}

const WORKER_URL = new URL("./worker.ts", import.meta.url);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/**
 * Node 20 applies neither `--import tsx` nor a module.register() made inside the worker to a worker's
 * modules, so the tsx thread starts from a one-line script that loads worker.ts with tsx's tsImport.
 */
const TSX_BOOTSTRAP =
  `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))})` +
  `.then((tsx) => tsx.tsImport(${JSON.stringify(WORKER_URL.href)}, ${JSON.stringify(import.meta.url)}))`;
/** Builds that are no longer current are removed after this long (threads started from them are long loaded). */
const STALE_BUILD_MS = 10 * 60_000;
/** Change this when the build options below change: older builds are then not fresh. */
const BUILD_KIND = "esm-split-keepnames-1";

interface Manifest {
  readonly kind: string;
  readonly out: string;
  readonly builtAt: number;
  readonly inputs: readonly string[];
}

const cache = new Map<string, ThreadBoot>();

/** The boot for threads of `engineModule` (a file: URL); the same answer for the life of the process. */
export function threadBoot(engineModule: string | undefined): ThreadBoot {
  const key = engineModule ?? "";
  let boot = cache.get(key);
  if (boot === undefined) {
    boot = bundledBoot(engineModule) ?? { code: TSX_BOOTSTRAP, engineModule, bundled: false };
    cache.set(key, boot);
  }
  return boot;
}

function bundledBoot(engineModule: string | undefined): ThreadBoot | undefined {
  if (process.env.TSXEN_VCPU_FROM_SOURCE === "1" || engineModule === undefined || !engineModule.startsWith("file:")) return undefined;
  const enginePath = fileURLToPath(engineModule);
  const rel = relative(ROOT, enginePath);
  if (!rel.startsWith(`src${sep}`) || !rel.endsWith(".ts")) return undefined;
  try {
    const dir = join(ROOT, ".cache", "vcpu", rel.slice(4, -3).split(sep).join("_"));
    const out = join(dir, fresh(dir) ?? build(dir, enginePath));
    const worker = join(out, "worker.js");
    const engine = join(out, `${basename(enginePath, ".ts")}.js`);
    if (!existsSync(worker) || !existsSync(engine)) return undefined;
    return { code: `import(${JSON.stringify(pathToFileURL(worker).href)})`, engineModule: pathToFileURL(engine).href, bundled: true };
  } catch {
    return undefined;
  }
}

/** The current build's folder name if no source file changed since it was built. */
function fresh(dir: string): string | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
    if (m.kind !== BUILD_KIND || !existsSync(join(dir, m.out))) return undefined;
    return m.inputs.every((f) => statSync(join(ROOT, f)).mtimeMs <= m.builtAt) ? m.out : undefined;
  } catch {
    return undefined;
  }
}

function build(dir: string, enginePath: string): string {
  const builtAt = Date.now(); // before reading any source: a file changed during the build is newer
  const esbuild = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
  const r = esbuild.buildSync({
    entryPoints: { worker: fileURLToPath(WORKER_URL), [basename(enginePath, ".ts")]: enginePath },
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true, // worker and engine share their modules (one instance of each in the thread)
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    keepNames: true, // class and function names stay as in the source (error names, messages)
    write: false,
    metafile: true,
    logLevel: "silent",
    outdir: dir,
  });
  const hash = createHash("sha256");
  for (const f of r.outputFiles) hash.update(f.path).update(f.contents);
  const name = `b-${hash.digest("hex").slice(0, 16)}`;
  const final = join(dir, name);
  if (!existsSync(final)) {
    const tmp = join(dir, `tmp-${process.pid}-${builtAt}`);
    for (const f of r.outputFiles) {
      const p = join(tmp, relative(dir, f.path));
      mkdirSync(join(p, ".."), { recursive: true });
      writeFileSync(p, f.contents);
    }
    try {
      renameSync(tmp, final);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process made the same build first
    }
  }
  const manifest: Manifest = { kind: BUILD_KIND, out: name, builtAt, inputs: Object.keys(r.metafile.inputs) };
  const tmpManifest = join(dir, `manifest.json.${process.pid}`);
  writeFileSync(tmpManifest, JSON.stringify(manifest));
  renameSync(tmpManifest, join(dir, "manifest.json"));
  removeStaleBuilds(dir, name);
  return name;
}

function removeStaleBuilds(dir: string, current: string): void {
  for (const e of readdirSync(dir)) {
    if (e === current || e.startsWith("manifest.json")) continue;
    try {
      if (Date.now() - statSync(join(dir, e)).mtimeMs > STALE_BUILD_MS) rmSync(join(dir, e), { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
}
