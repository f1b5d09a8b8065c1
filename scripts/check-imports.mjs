#!/usr/bin/env node
// Import-rule check over src/ (docs/adr/0001-layers-and-threads.md, docs/HELPERS.md). Exit 1 with file:line messages.
//
// Layers import only downward:  cli → dom0 → {boot, devices, platform, migrate} → hv → abi → base.
//   - Top wiring (src/daemon/, src/main.ts) may import anything but src/testing/.
//   - cli may import from daemon/ only the wire protocol and the state-dir helpers (protocol.ts, home.ts).
//   - accel/<kind>/ and vcpu_thread/ implement hv/ports.ts: they may import base, abi, hv, boot, devices,
//     platform and vcpu_thread; accel/<kind> never imports another accel/<kind>.
//   - Folders of the same layer may import each other (boot ↔ devices ↔ platform).
//   - hv/, abi/, base/ never import node:* (or other Node builtins) or koffi; only accel/kvm imports koffi.
//   - src/testing/ (test doubles) and test/ are for *.test.ts files only. Test files may also use node:*.
//   - No import cycles between source files (type-only imports do not count).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

// Usage: node scripts/check-imports.mjs [ROOT]   (ROOT defaults to this checkout; its src/ is checked)
const ROOT = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
const SRC = join(ROOT, "src");

const RANK = { base: 0, abi: 1, hv: 2, boot: 3, devices: 3, platform: 3, migrate: 3, dom0: 4, cli: 5, api: 5, daemon: 6, "main.ts": 6 };
const IMPL_MAY_IMPORT = new Set(["base", "abi", "hv", "boot", "devices", "platform", "vcpu_thread"]);
const PURE = new Set(["base", "abi", "hv"]);
const CLI_MAY_IMPORT_FROM_DAEMON = new Set(["daemon/protocol.ts", "daemon/home.ts"]);
const BUILTINS = new Set(builtinModules);

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Import specifiers with their 1-based line: static import/export ... from, side-effect imports, import("..."). */
function importsOf(text) {
  const found = [];
  const add = (index, spec, typeOnly) => found.push({ spec, typeOnly, line: text.slice(0, index).split("\n").length });
  const patterns = [
    /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*["']([^"']+)["']/gm,
    /^[ \t]*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) add(m.index + m[0].lastIndexOf(m[1]), m[1], /^\s*(import|export)\s+type\b/.test(m[0]));
  }
  return found;
}

const rel = (p) => relative(SRC, p).split(sep).join("/");
const topOf = (r) => r.split("/")[0];
/** "accel/kvm" for accel files, else the top folder. */
const unitOf = (r) => (topOf(r) === "accel" ? r.split("/").slice(0, 2).join("/") : topOf(r));

const errors = [];
const graph = new Map();
const files = walk(SRC);

for (const file of files) {
  const r = rel(file);
  // Tests and their helpers (foo.test.ts, emu_test_util.ts, test_support.ts).
  const isTest = /(^|[/_.])test([_.]|$)/.test(r.split("/").pop()) || /\.test\.(ts|mts|js|mjs)$/.test(r);
  const top = topOf(r);
  const unit = unitOf(r);
  const text = readFileSync(file, "utf8");
  const edges = [];
  for (const { spec, line, typeOnly } of importsOf(text)) {
    const where = `${relative(ROOT, file)}:${line}`;
    const bad = (why) => errors.push(`${where}: ${why} (import "${spec}")`);
    if (!spec.startsWith(".")) {
      const name = spec.startsWith("node:") ? spec.slice(5) : spec.split("/")[0];
      const builtin = spec.startsWith("node:") || BUILTINS.has(name);
      if (spec === "koffi" || spec.startsWith("koffi/")) {
        if (unit !== "accel/kvm") bad("only src/accel/kvm/ may import koffi");
      } else if (builtin && PURE.has(top) && !isTest) {
        bad(`src/${top}/ must not import Node builtins; take what you need through hv/ports.ts`);
      }
      continue;
    }
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(SRC + sep)) {
      if (!isTest) bad("only tests may import from outside src/");
      continue;
    }
    const t = rel(target);
    const ttop = topOf(t);
    const tunit = unitOf(t);
    // Type-only imports vanish at runtime, so they cannot form a load-order cycle.
    if (!isTest && !typeOnly) edges.push({ to: target, line });
    if (ttop === "testing") {
      if (!isTest && top !== "testing") bad("src/testing/ holds test doubles: only tests may import it");
      continue;
    }
    if (isTest || top === "testing" || unit === tunit) continue;
    if (top === "accel" || top === "vcpu_thread") {
      if (ttop === "accel") bad(`${unit} must not import ${tunit}: backends are independent`);
      else if (!IMPL_MAY_IMPORT.has(ttop)) bad(`${unit} implements hv/ports.ts and may import only ${[...IMPL_MAY_IMPORT].join(", ")}`);
      continue;
    }
    if (ttop === "accel" || ttop === "vcpu_thread") {
      if ((RANK[top] ?? -1) < 6) bad(`only the top-level wiring (src/daemon/, src/main.ts) may import ${tunit}`);
      continue;
    }
    if (ttop === "daemon" && top === "cli") {
      if (!CLI_MAY_IMPORT_FROM_DAEMON.has(t)) bad(`cli may import from daemon/ only ${[...CLI_MAY_IMPORT_FROM_DAEMON].join(", ")}`);
      continue;
    }
    const from = RANK[top];
    const to = RANK[ttop];
    if (from === undefined) bad(`src/${top}/ is not a known layer; add it to scripts/check-imports.mjs`);
    else if (to === undefined) bad(`src/${ttop}/ is not a known layer; add it to scripts/check-imports.mjs`);
    else if (to > from) bad(`src/${top}/ (layer ${from}) must not import upward into src/${ttop}/ (layer ${to})`);
  }
  graph.set(file, edges);
}

// Import cycles (Tarjan's strongly connected components over non-test source files).
{
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!graph.has(to)) continue;
      if (!idx.has(to)) {
        strong(to);
        low.set(v, Math.min(low.get(v), low.get(to)));
      } else if (on.has(to)) low.set(v, Math.min(low.get(v), idx.get(to)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) {
        const inComp = new Set(comp);
        const first = comp.sort()[0];
        const e = graph.get(first).find((x) => inComp.has(x.to));
        errors.push(`${relative(ROOT, first)}:${e.line}: import cycle between ${comp.map((f) => relative(ROOT, f)).join(", ")}`);
      }
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
}

if (errors.length > 0) {
  for (const e of errors.sort()) console.error(e);
  console.error(`import rules: ${errors.length} violation${errors.length > 1 ? "s" : ""} in ${files.length} files`);
  process.exit(1);
}
console.log(`import rules: ok (${files.length} files)`);
