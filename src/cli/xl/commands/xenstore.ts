// xl xenstore-ls / -read / -write / -rm / -list / -chmod / -watch: Debian's xenstore-utils as xl subcommands,
// talking to the daemon's xenstored over its unix socket ($TSXEN_HOME/xenstored/socket). Output as xenstore-utils.

import { xenstoredSocketPath } from "../../../dom0/xenstored/service.ts";
import type { ParsedArgs } from "../args.ts";
import { UsageError } from "../exit_codes.ts";
import { XsError, XsSocketClient } from "../xenstore_client.ts";
import type { XlCommand, XlContext } from "../xl_command.ts";

/** Debian's sanitise_value(): printable ASCII as is; \t \n \r \\ escaped; bytes 0-7 as \ooo, other bytes as \xhh. */
export function sanitiseValue(v: string): string {
  let s = "";
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i) & 0xff;
    if (c >= 0x20 && c <= 0x7e && c !== 0x5c) s += v[i];
    else if (c === 0x09) s += "\\t";
    else if (c === 0x0a) s += "\\n";
    else if (c === 0x0d) s += "\\r";
    else if (c === 0x5c) s += "\\\\";
    else if (c < 0o10) s += "\\00" + String(c);
    else s += "\\x" + c.toString(16).padStart(2, "0");
  }
  return s;
}

/** The width xenstore-ls clips lines to (Debian: 80 unless stdout is a terminal, then its width). */
export const LS_DEFAULT_WIDTH = 80;
/** strlen(" = \"...\"") in xenstore_client.c: room kept for the value's frame when clipping. */
const TAG_LEN = 8;
/** With -p, xenstore-ls pads a line whose value fits with ". . ." up to this column before the permissions. */
const LINE_FILL = 60;

/**
 * One xenstore-ls line: name indented by depth, ` = "value"` (clipped to width as xenstore-ls does: `\...`), `:`
 * when the value cannot be read, and `  (perms)` with -p.
 */
export function formatLsLine(name: string, depth: number, value: string | undefined, perms: readonly string[] | undefined, width = LS_DEFAULT_WIDTH): string {
  let line = " ".repeat(depth) + name.slice(0, Math.max(0, width - TAG_LEN - depth));
  if (value === undefined) {
    line += ":";
  } else {
    const sv = sanitiseValue(value);
    if (width < line.length + value.length + TAG_LEN) line += ` = "${sv.slice(0, Math.max(0, width - TAG_LEN - line.length))}\\..."`;
    else {
      line += ` = "${sv}"`;
      if (perms !== undefined) {
        line += " ";
        const fill = Math.min(LINE_FILL, width);
        for (let col = line.length; col < fill; col++) line += col & 1 ? "." : " ";
      }
    }
  }
  if (perms !== undefined) line += `  (${perms.join(",")})`;
  return line;
}

/** Debian clips to the terminal's width when stdout is one, else to 80 columns. */
function lsWidth(ctx: XlContext): number {
  const cols = (ctx.io.stdout as { isTTY?: boolean; columns?: number }).columns;
  return (ctx.io.stdout as { isTTY?: boolean }).isTTY && typeof cols === "number" && cols > 0 ? cols : LS_DEFAULT_WIDTH;
}

/** Child path as xenstore-ls composes it. */
export function childPath(path: string, name: string): string {
  return `${path}${path.endsWith("/") ? "" : "/"}${name}`;
}

/** xl xenstore-watch [-n COUNT] PATH: the count (undefined = forever) and path. */
export function parseWatchArgs(args: ParsedArgs): { count: number | undefined; path: string } {
  const pos = [...args.positional];
  let count: number | undefined;
  if (args.flags.has("n")) {
    const n = pos.shift();
    if (n === undefined || !/^\d+$/.test(n) || Number(n) < 1) throw new UsageError(`-n needs a positive count, not ${n === undefined ? "nothing" : `"${n}"`}`);
    count = Number(n);
  }
  if (pos.length !== 1) throw new UsageError(pos.length === 0 ? "missing argument" : `unexpected argument "${pos[1]}"`);
  return { count, path: pos[0]! };
}

/** xl xenstore-write PATH VALUE [PATH VALUE...]: the pairs. */
export function parseWritePairs(positional: readonly string[]): [string, string][] {
  if (positional.length === 0 || positional.length % 2 !== 0) throw new UsageError("expected PATH VALUE pairs");
  const pairs: [string, string][] = [];
  for (let i = 0; i < positional.length; i += 2) pairs.push([positional[i]!, positional[i + 1]!]);
  return pairs;
}

/** A permission argument as xenstore-chmod takes it: n|r|w|b followed by a domid. */
export function checkPerm(p: string): string {
  if (!/^[nrwb]\d+$/.test(p)) throw new UsageError(`bad permission "${p}" (n, r, w or b followed by a domain id, e.g. r0)`);
  return p;
}

/** The one-line error for a failed xenstore operation. */
export function xsErrorLine(cmd: string, path: string, e: XsError): string {
  return `xl: ${cmd} ${JSON.stringify(path)}: ${e.message}`;
}

/** Starts the daemon if needed (as `xl list`), then connects to its xenstored; runs body; maps XsError to exit 1. */
async function withXenstore(ctx: XlContext, cmd: string, body: (xs: XsSocketClient, at: (path: string) => void) => Promise<void>): Promise<number> {
  (await ctx.daemon()).close();
  const xs = await XsSocketClient.connect(xenstoredSocketPath(ctx.paths.home));
  let current = "";
  try {
    await body(xs, (p) => (current = p));
    return 0;
  } catch (e) {
    if (e instanceof XsError) {
      ctx.err(xsErrorLine(cmd, current, e).replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1)));
      return 1;
    }
    throw e;
  } finally {
    xs.close();
  }
}

async function ls(xs: XsSocketClient, path: string, depth: number, showPerms: boolean, width: number, out: (l: string) => void, at: (p: string) => void): Promise<void> {
  let names: string[];
  at(path);
  try {
    names = await xs.directory(path);
  } catch (e) {
    // A node that vanished while recursing is skipped silently, as xenstore-ls does.
    if (depth > 0 && e instanceof XsError && (e.errno === "ENOENT" || e.errno === "EACCES")) return;
    throw e;
  }
  for (const name of names) {
    const p = childPath(path, name);
    let value: string | undefined;
    try {
      value = await xs.read(p);
    } catch (e) {
      if (!(e instanceof XsError)) throw e;
    }
    let perms: string[] | undefined;
    if (showPerms) {
      try {
        perms = await xs.getPerms(p);
      } catch (e) {
        if (!(e instanceof XsError)) throw e;
      }
    }
    out(formatLsLine(name, depth, value, perms, width));
    await ls(xs, p, depth + 1, showPerms, width, out, at);
  }
}

export const xenstoreLs: XlCommand = {
  name: "xenstore-ls",
  usage: "[-p] [PATH]",
  summary: "List a xenstore subtree as `name = \"value\"`, indented by depth",
  flags: "p",
  minArgs: 0,
  maxArgs: 1,
  details: ["-p  show each node's permissions, e.g. (n0,r1)", "PATH defaults to /"],
  run: (args, ctx) => withXenstore(ctx, "xenstore-ls", (xs, at) => ls(xs, args.positional[0] ?? "/", 0, args.flags.has("p"), lsWidth(ctx), ctx.out, at)),
};

export const xenstoreRead: XlCommand = {
  name: "xenstore-read",
  usage: "PATH...",
  summary: "Print the value of each xenstore node, one a line",
  flags: "",
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) =>
    withXenstore(ctx, "xenstore-read", async (xs, at) => {
      for (const p of args.positional) {
        at(p);
        ctx.out(sanitiseValue(await xs.read(p)));
      }
    }),
};

export const xenstoreWrite: XlCommand = {
  name: "xenstore-write",
  usage: "PATH VALUE [PATH VALUE...]",
  summary: "Write xenstore nodes (missing parents are created)",
  flags: "",
  minArgs: 2,
  maxArgs: Infinity,
  run: (args, ctx) => {
    const pairs = parseWritePairs(args.positional);
    return withXenstore(ctx, "xenstore-write", async (xs, at) => {
      for (const [p, v] of pairs) {
        at(p);
        await xs.write(p, v);
      }
    });
  },
};

export const xenstoreRm: XlCommand = {
  name: "xenstore-rm",
  usage: "PATH...",
  summary: "Remove xenstore nodes and everything under them",
  flags: "",
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) =>
    withXenstore(ctx, "xenstore-rm", async (xs, at) => {
      for (const p of args.positional) {
        at(p);
        await xs.rm(p);
      }
    }),
};

export const xenstoreList: XlCommand = {
  name: "xenstore-list",
  usage: "PATH",
  summary: "Print the names of a xenstore node's children, one a line",
  flags: "",
  minArgs: 1,
  maxArgs: 1,
  run: (args, ctx) =>
    withXenstore(ctx, "xenstore-list", async (xs, at) => {
      at(args.positional[0]!);
      for (const n of await xs.directory(args.positional[0]!)) ctx.out(n);
    }),
};

export const xenstoreChmod: XlCommand = {
  name: "xenstore-chmod",
  usage: "PATH PERM...",
  summary: "Set a xenstore node's permissions (first: owner and default, e.g. n0 r1)",
  flags: "",
  minArgs: 2,
  maxArgs: Infinity,
  details: ["PERM is n (none), r (read), w (write) or b (both) followed by a domain id", "The first PERM names the owner and the access of every domain not listed"],
  run: (args, ctx) => {
    const [path, ...perms] = args.positional;
    perms.forEach(checkPerm);
    return withXenstore(ctx, "xenstore-chmod", async (xs, at) => {
      at(path!);
      await xs.setPerms(path!, perms);
    });
  },
};

export const xenstoreWatch: XlCommand = {
  name: "xenstore-watch",
  usage: "[-n COUNT] PATH",
  summary: "Print the path of each change at or under a xenstore node",
  flags: "n",
  minArgs: 1,
  maxArgs: 2,
  details: ["The watch fires once when it is set (that event counts)", "-n COUNT  exit after COUNT events; without it, run until interrupted"],
  run: (args, ctx) => {
    const { count, path } = parseWatchArgs(args);
    return withXenstore(ctx, "xenstore-watch", async (xs, at) => {
      at(path);
      await xs.watch(path, "xl-watch");
      for (let seen = 0; count === undefined || seen < count; seen++) ctx.out((await xs.nextEvent()).path);
    });
  },
};

export const XENSTORE_COMMANDS: readonly XlCommand[] = [xenstoreLs, xenstoreRead, xenstoreWrite, xenstoreRm, xenstoreList, xenstoreChmod, xenstoreWatch];
