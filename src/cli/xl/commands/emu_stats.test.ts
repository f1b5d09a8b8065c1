import { test } from "node:test";
import assert from "node:assert/strict";
import { parseEmuStatsArgs } from "./emu_stats.ts";
import { UsageError } from "../exit_codes.ts";

test("xl emu-stats takes DOM then --interval, --syms, --top and -j in any order", () => {
  assert.deepEqual(parseEmuStatsArgs(["web"], false), { dom: "web", intervalS: 0, top: 15, json: false });
  assert.deepEqual(parseEmuStatsArgs(["3", "--syms", "/k", "-i", "2.5", "--top", "5", "-j"], false),
    { dom: "3", intervalS: 2.5, top: 5, json: true, syms: "/k" });
  assert.equal(parseEmuStatsArgs(["web"], true).json, true);
});

test("xl emu-stats rejects a missing value, a bad interval or top, and stray arguments as usage errors", () => {
  for (const bad of [["web", "--syms"], ["web", "--interval", "0"], ["web", "--interval", "x"], ["web", "--top", "99"], ["web", "extra"]]) {
    assert.throws(() => parseEmuStatsArgs(bad, false), UsageError, bad.join(" "));
  }
});
