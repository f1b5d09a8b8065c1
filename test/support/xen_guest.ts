// Test support for the Xen guest-interface tests (test/integration/xen_*.test.ts) and bench/hypercall.ts:
// PVH domains launched on a backend with a shared XenHost + xenstored (the daemon's wiring without the daemon),
// the tiny guest's xenstore/fuzz/bench modes, Debian's xenstore-utils packed into a test initramfs, and a
// minimal xenstore wire client for the unix socket.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { buildInitramfs, INITRAMFS_BASE_DIRS, type CpioEntry } from "../../src/boot/initramfs.ts";
import { loadKernel } from "../../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../../src/devices/acpi/tables.ts";
import { XenHost } from "../../src/dom0/xen/xen_host.ts";
import { startXenstoredService, type XenstoredService } from "../../src/dom0/xenstored/service.ts";
import type { DomainExecution, ExecutionBackend, ShutdownReason } from "../../src/hv/ports.ts";
import { decodeHeader, encodeMessage, XSD_SOCKMSG_SIZE } from "../../src/abi/xen/xs_wire.ts";
import { buildTinyGuest } from "../guests/build.ts";
import { GUEST_DIR, KERNEL, ROOT, ensureGuest } from "./guest.ts";

export type Outcome = ShutdownReason | "crashed" | "timeout";

/** One running PVH domain: its console text, hypervisor log and how it ended. */
export interface PvhDomain {
  readonly domid: number;
  exec: DomainExecution | undefined;
  console(): string;
  readonly log: string[];
  /** Settles when the guest shuts down or crashes (never rejects). */
  readonly outcome: Promise<Outcome>;
  /** Resolves with the console text once `needle` appears; rejects after timeoutMs (or if the domain ends first). */
  waitFor(needle: string | RegExp, timeoutMs: number): Promise<string>;
  destroy(): Promise<void>;
}

/** xenstored (optionally on a unix socket) + XenHost: dom0 for PVH test domains. */
export interface Dom0 {
  readonly xs: XenstoredService;
  readonly host: XenHost;
  readonly log: string[];
  stop(): Promise<void>;
}

export async function startDom0(socketPath?: string): Promise<Dom0> {
  const log: string[] = [];
  const xs = await startXenstoredService({ ...(socketPath ? { socketPath } : {}), log: (l) => log.push(l) });
  const host = new XenHost(xs, (l) => log.push(l));
  return { xs, host, log, stop: () => xs.stop() };
}

export interface LaunchOptions {
  readonly backend: ExecutionBackend;
  readonly dom0: Dom0;
  readonly domid: number;
  readonly name: string;
  readonly kernelPath: string;
  readonly ramdiskPath?: string;
  readonly cmdline: string;
  readonly memoryBytes: number;
  readonly vcpus?: number;
  /** ACPI RSDP for the loader (the stock kernel needs the MADT for its Xen timer). */
  readonly acpi?: boolean;
  readonly onConsole?: (text: string) => void;
}

export async function launchPvh(o: LaunchOptions): Promise<PvhDomain> {
  const vcpus = o.vcpus ?? 1;
  const image = loadKernel({
    kernelPath: o.kernelPath, ...(o.ramdiskPath ? { ramdiskPath: o.ramdiskPath } : {}), cmdline: o.cmdline,
    memoryBytes: o.memoryBytes, vcpus, type: "pvh", ...(o.acpi ? { rsdpPaddr: ACPI_REGION_GPA } : {}),
  });
  let text = "";
  const log: string[] = [];
  const waiters = new Set<() => void>();
  let settle!: (o: Outcome) => void;
  let ended: Outcome | undefined;
  const outcome = new Promise<Outcome>((res) => (settle = (r) => {
    if (ended !== undefined) return;
    ended = r;
    res(r);
    for (const w of [...waiters]) w();
  }));
  const dom: PvhDomain = {
    domid: o.domid,
    exec: undefined,
    console: () => text,
    log,
    outcome,
    waitFor(needle, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const hit = (): boolean => (typeof needle === "string" ? text.includes(needle) : needle.test(text));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const check = (): void => {
          if (hit()) {
            done();
            resolve(text);
          } else if (ended !== undefined) {
            done();
            reject(new Error(`d${o.domid} ended (${ended}) before its console showed ${String(needle)}\n${tail(text)}\nlog:\n${log.slice(-15).join("\n")}`));
          }
        };
        const done = (): void => {
          waiters.delete(check);
          if (timer) clearTimeout(timer);
        };
        timer = setTimeout(() => {
          done();
          reject(new Error(`d${o.domid}: console never showed ${String(needle)} within ${timeoutMs / 1000} s\n${tail(text)}\nlog:\n${log.slice(-15).join("\n")}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async destroy() {
      await dom.exec?.destroy();
    },
  };
  dom.exec = await o.backend.launch(
    {
      domid: o.domid, name: o.name, type: "pvh", memoryBytes: o.memoryBytes, vcpus, image,
      xen: o.dom0.host.domainPort({ domid: o.domid, name: o.name, memoryBytes: o.memoryBytes, vcpus }),
    },
    {
      console: (b) => {
        text += Buffer.from(b).toString("latin1");
        o.onConsole?.(text);
        for (const w of [...waiters]) w();
      },
      log: (l) => log.push(l),
      shutdown: (r) => settle(r),
      crashed: (why, dump) => {
        log.push(`crashed: ${why}\n${dump}`);
        settle("crashed");
      },
    },
  );
  return dom;
}

export function tail(text: string, n = 3000): string {
  return `console tail:\n${text.slice(-n)}`;
}

/** The tiny guest (test/guests/tiny) as a PVH domain with the given cmdline. */
export function launchTiny(o: Omit<LaunchOptions, "kernelPath" | "memoryBytes" | "acpi"> & { memoryBytes?: number }): Promise<PvhDomain> {
  return launchPvh({ ...o, kernelPath: buildTinyGuest().elf64, memoryBytes: o.memoryBytes ?? 16 << 20 });
}

/** `KEY k=v` lines (e.g. XSPROBE, GNTPROBE) → map. */
export function keyedLines(text: string, key: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(new RegExp(`^${key} ([a-z_0-9]+)=(.*?)\\r?$`, "gm"))) out.set(m[1]!, m[2]!);
  return out;
}

// ---- Debian's xenstore-utils inside the guest ----

const XS_PKGS = ["xenstore-utils", "libxenstore4", "libxentoolcore1", "libc6"];
const XS_TOOLS = ["xenstore", "xenstore-read", "xenstore-write", "xenstore-ls", "xenstore-list", "xenstore-rm", "xenstore-exists", "xenstore-watch", "xenstore-chmod"];
const LIBS = ["libxenstore.so.4", "libxentoolcore.so.1", "libc.so.6", "ld-linux-x86-64.so.2"];

/** Fetches xenstore-utils + libraries (scripts/fetch-guest.sh --xenstore) when they are not cached. */
export function ensureXenstorePkgs(): void {
  ensureGuest();
  if (XS_PKGS.every((p) => existsSync(join(GUEST_DIR, "pkgs", p, ".extracted")))) return;
  process.stderr.write("fetching xenstore-utils and its libraries (scripts/fetch-guest.sh --xenstore)...\n");
  execFileSync("sh", [join(ROOT, "scripts/fetch-guest.sh"), "--xenstore"], { stdio: ["ignore", "inherit", "inherit"] });
}

function findFile(name: string): string {
  for (const pkg of XS_PKGS) {
    for (const dir of ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/bin", "lib64"]) {
      const p = join(GUEST_DIR, "pkgs", pkg, dir, name);
      if (existsSync(p)) return p;
    }
  }
  throw new Error(`${name} not found under ${join(GUEST_DIR, "pkgs")} (scripts/fetch-guest.sh --xenstore)`);
}

/** Resolves symlinks inside the package tree (absolute targets are taken relative to the package root). */
function fileBytes(path: string): Uint8Array {
  let p = path;
  for (let i = 0; i < 10 && lstatSync(p).isSymbolicLink(); i++) {
    const t = readlinkSync(p);
    p = t.startsWith("/") ? findFile(t.split("/").pop()!) : join(p, "..", t);
  }
  const b = readFileSync(p);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function xenfsModule(): string | undefined {
  const mods = join(GUEST_DIR, "kernel", "lib", "modules");
  if (!existsSync(mods)) return undefined;
  for (const v of readdirSync(mods)) {
    const p = join(mods, v, "kernel/drivers/xen/xenfs/xenfs.ko");
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * initramfs entries: the xenstore tools in /usr/bin, their libraries and the dynamic loader in
 * /lib/x86_64-linux-gnu (+ /lib64/ld-linux-x86-64.so.2), and xenfs.ko in /lib/modules (fallback when
 * /dev/xen/xenbus is missing).
 */
export function xenstoreToolEntries(): CpioEntry[] {
  ensureXenstorePkgs();
  const have = new Set(INITRAMFS_BASE_DIRS);
  const entries: CpioEntry[] = [];
  const dir = (path: string): void => {
    if (have.has(path)) return;
    have.add(path);
    entries.push({ type: "dir", path });
  };
  dir("lib/x86_64-linux-gnu");
  dir("lib64");
  dir("proc/xen");
  dir("var");
  dir("var/run");
  for (const lib of LIBS) entries.push({ type: "file", path: `lib/x86_64-linux-gnu/${lib}`, data: fileBytes(findFile(lib)), mode: 0o755 });
  entries.push({ type: "symlink", path: "lib64/ld-linux-x86-64.so.2", target: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" });
  const tool = fileBytes(findFile("xenstore"));
  entries.push({ type: "file", path: "usr/bin/xenstore", data: tool, mode: 0o755 });
  // The tools are one binary that acts on its argv[0] (Debian ships hard links).
  for (const t of XS_TOOLS.slice(1)) entries.push({ type: "symlink", path: `usr/bin/${t}`, target: "xenstore" });
  const xenfs = xenfsModule();
  if (xenfs) entries.push({ type: "file", path: "lib/modules/xenfs.ko", data: fileBytes(xenfs) });
  return entries;
}

/** An initramfs (cached by content) with the xenstore tools and an /init running initBody. */
export function xenstoreInitramfs(initBody: string): string {
  ensureGuest();
  const busybox = readFileSync(join(GUEST_DIR, "busybox"));
  const extra = xenstoreToolEntries();
  const h = createHash("sha1").update(initBody).update(busybox);
  for (const e of extra) h.update(e.path).update(e.type === "file" ? e.data : e.type === "symlink" ? e.target : "");
  const path = join(GUEST_DIR, `test-xs-initramfs-${h.digest("hex").slice(0, 12)}.cpio.gz`);
  if (!existsSync(path)) {
    writeFileSync(path, buildInitramfs({ busybox: new Uint8Array(busybox.buffer, busybox.byteOffset, busybox.byteLength), initBody, extraEntries: extra }));
  }
  return path;
}

export { KERNEL, ROOT };

// ---- a minimal xenstore wire client over the unix socket (what libxenstore does) ----

export interface XsReply {
  readonly type: number;
  readonly txId: number;
  readonly payload: string;
}

/** Requests in order, one at a time; watch events are collected separately. */
export class XsWireClient {
  private buf = Buffer.alloc(0);
  private readonly pending: ((r: XsReply) => void)[] = [];
  private reqId = 0;
  readonly events: string[][] = [];

  private constructor(private readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= XSD_SOCKMSG_SIZE) {
        const h = decodeHeader(new Uint8Array(this.buf.buffer, this.buf.byteOffset, XSD_SOCKMSG_SIZE));
        if (this.buf.length < XSD_SOCKMSG_SIZE + h.len) break;
        const payload = this.buf.subarray(XSD_SOCKMSG_SIZE, XSD_SOCKMSG_SIZE + h.len).toString("utf8");
        this.buf = this.buf.subarray(XSD_SOCKMSG_SIZE + h.len);
        if (h.type === 15) this.events.push(payload.split("\0").filter((s) => s !== ""));
        else this.pending.shift()?.({ type: h.type, txId: h.txId, payload });
      }
    });
  }

  static open(path: string): Promise<XsWireClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new XsWireClient(s)));
      s.once("error", reject);
    });
  }

  request(type: number, strings: string[], txId = 0, raw?: string): Promise<XsReply> {
    const body = strings.map((s) => `${s}\0`).join("") + (raw ?? "");
    const payload = new Uint8Array(Buffer.from(body, "utf8"));
    const msg = encodeMessage({ type, reqId: ++this.reqId, txId, payload });
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.sock.write(msg);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
