import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArgs } from "../args.ts";
import { UsageError } from "../exit_codes.ts";
import { XsError } from "../xenstore_client.ts";
import { checkPerm, childPath, formatLsLine, parseWatchArgs, parseWritePairs, sanitiseValue, xsErrorLine, xenstoreWatch } from "./xenstore.ts";

test("values are escaped as Debian's xenstore-utils do", () => {
  assert.equal(sanitiseValue("plain 1"), "plain 1");
  assert.equal(sanitiseValue("a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
  assert.equal(sanitiseValue("\u0001\u0007"), "\\001\\007");
  assert.equal(sanitiseValue("\u0008\u001b\u007f\u00ff"), "\\x08\\x1b\\x7f\\xff");
});

test("xenstore-ls lines are indented by depth and show the value in quotes", () => {
  assert.equal(formatLsLine("a", 0, "1", undefined), 'a = "1"');
  assert.equal(formatLsLine("c", 2, "x\\y", undefined), '  c = "x\\\\y"');
  assert.equal(formatLsLine("gone", 1, undefined, undefined), " gone:");
});

test("long values are clipped to 80 columns with a trailing \\...", () => {
  const line = formatLsLine("long", 0, "v".repeat(100), undefined);
  assert.equal(line, `long = "${"v".repeat(68)}\\..."`);
  assert.equal(formatLsLine("long", 0, "v".repeat(100), undefined, 40), `long = "${"v".repeat(28)}\\..."`);
});

test("with -p the line is dot-filled to column 60 and followed by the permissions", () => {
  const a = formatLsLine("a", 0, "1", ["n0"]);
  assert.equal(a, 'a = "1"  . . . . . . . . . . . . . . . . . . . . . . . . . .  (n0)');
  assert.equal(a.indexOf("  (n0)"), 60);
  assert.equal(formatLsLine("b", 0, "", ["n0", "r1"]), 'b = "" . . . . . . . . . . . . . . . . . . . . . . . . . . .  (n0,r1)');
  assert.match(formatLsLine("long", 0, "v".repeat(100), ["n0"]), /\\\.\.\."  \(n0\)$/);
});

test("child paths join with one slash, also under the root", () => {
  assert.equal(childPath("/", "local"), "/local");
  assert.equal(childPath("/local", "domain"), "/local/domain");
});

test("xenstore-watch takes -n COUNT before the path", () => {
  const p = (argv: string[]) => parseWatchArgs(parseArgs(argv, xenstoreWatch.flags, xenstoreWatch.minArgs, xenstoreWatch.maxArgs));
  assert.deepEqual(p(["/a"]), { count: undefined, path: "/a" });
  assert.deepEqual(p(["-n", "3", "/a"]), { count: 3, path: "/a" });
  assert.throws(() => p(["-n", "x", "/a"]), UsageError);
  assert.throws(() => p(["-n", "0", "/a"]), UsageError);
  assert.throws(() => p(["-n", "2"]), UsageError);
  assert.throws(() => p(["/a", "/b"]), UsageError);
});

test("xenstore-write takes PATH VALUE pairs", () => {
  assert.deepEqual(parseWritePairs(["/a", "1", "/b", ""]), [["/a", "1"], ["/b", ""]]);
  assert.throws(() => parseWritePairs(["/a", "1", "/b"]), UsageError);
});

test("xenstore-chmod accepts n, r, w, b followed by a domain id", () => {
  for (const p of ["n0", "r1", "w12", "b7"]) assert.equal(checkPerm(p), p);
  for (const p of ["x1", "r", "0", "rw1"]) assert.throws(() => checkPerm(p), UsageError);
});

test("errors are one line naming the path and the errno", () => {
  assert.equal(xsErrorLine("xenstore-read", "/nope", new XsError("ENOENT")), 'xl: xenstore-read "/nope": ENOENT (no such node)');
  assert.equal(xsErrorLine("xenstore-write", "/x", new XsError("EACCES")), 'xl: xenstore-write "/x": EACCES (permission denied)');
});
