// Test helper: compresses bytes to .xz with the machine's `xz` CLI (xz-utils) or, when that is missing,
// with python3's lzma module (liblzma too). Used only by tests to produce reference streams.
import { execFileSync, spawnSync } from "node:child_process";

export interface XzCompressOptions {
  readonly preset?: number;
  readonly x86?: boolean;
  readonly delta?: number;
  readonly check?: "none" | "crc32" | "crc64" | "sha256";
  /** LZMA2 options string for the CLI, e.g. "lc=1,lp=3,pb=0" (python fallback: parsed the same way). */
  readonly lzma2?: string;
  /** CLI only: split into blocks of this size. */
  readonly blockSize?: number;
}

const hasXzCli = !process.env.TSXEN_TEST_NO_XZ && spawnSync("xz", ["--version"], { stdio: "ignore" }).status === 0;

export function xzTool(): "xz" | "python3" {
  return hasXzCli ? "xz" : "python3";
}

export function xzCompress(data: Uint8Array, o: XzCompressOptions = {}): Uint8Array {
  const preset = o.preset ?? 6;
  if (hasXzCli) {
    const args = ["-z", "-c", "-q", `--check=${o.check ?? "crc64"}`];
    if (o.blockSize !== undefined) args.push(`--block-size=${o.blockSize}`);
    if (o.delta !== undefined) args.push(`--delta=dist=${o.delta}`);
    if (o.x86) args.push("--x86");
    args.push(`--lzma2=preset=${preset}${o.lzma2 ? "," + o.lzma2 : ""}`);
    return new Uint8Array(execFileSync("xz", args, { input: data, maxBuffer: 1 << 30 }));
  }
  const lz = o.lzma2 ? o.lzma2.split(",").map((kv) => `"${kv.split("=")[0]}": ${kv.split("=")[1]}`).join(", ") : "";
  const filters = [
    o.delta !== undefined ? `{"id": lzma.FILTER_DELTA, "dist": ${o.delta}}` : "",
    o.x86 ? `{"id": lzma.FILTER_X86}` : "",
    `{"id": lzma.FILTER_LZMA2, "preset": ${preset}${lz ? ", " + lz : ""}}`,
  ].filter(Boolean);
  const check = { none: "CHECK_NONE", crc32: "CHECK_CRC32", crc64: "CHECK_CRC64", sha256: "CHECK_SHA256" }[o.check ?? "crc64"];
  const script = `import lzma, sys; sys.stdout.buffer.write(lzma.compress(sys.stdin.buffer.read(), format=lzma.FORMAT_XZ, check=lzma.${check}, filters=[${filters.join(", ")}]))`;
  return new Uint8Array(execFileSync("python3", ["-c", script], { input: data, maxBuffer: 1 << 30 }));
}
