import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArgs } from "./args.ts";
import { UsageError, exitCodeFor, EXIT, RemoteError, DaemonError } from "./exit_codes.ts";
import { ConfigError } from "../../dom0/toolstack/config_error.ts";
import { formatUptime } from "./format.ts";

test("flags come before positionals and may be combined", () => {
  const a = parseArgs(["-c", "g.cfg", "memory=256"], "c", 1, Infinity);
  assert.deepEqual([...a.flags], ["c"]);
  assert.deepEqual(a.positional, ["g.cfg", "memory=256"]);
  assert.deepEqual([...parseArgs(["-lw"], "lw", 0, 0).flags].sort(), ["l", "w"]);
});

test("a dash after the first positional is a positional (key=value overrides may start with -)", () => {
  assert.deepEqual(parseArgs(["g.cfg", "-x"], "c", 1, Infinity).positional, ["g.cfg", "-x"]);
  assert.deepEqual(parseArgs(["--", "-odd-name"], "", 1, 1).positional, ["-odd-name"]);
});

test("unknown options and wrong argument counts are usage errors", () => {
  assert.throws(() => parseArgs(["-z", "d"], "w", 1, 1), new UsageError('unknown option "-z"'));
  assert.throws(() => parseArgs([], "", 1, 1), new UsageError("missing argument"));
  assert.throws(() => parseArgs(["a", "b"], "", 1, 1), new UsageError('unexpected argument "b"'));
});

test("-h and --help ask for help and skip the count check", () => {
  assert.ok(parseArgs(["--help"], "", 1, 1).flags.has("h"));
  assert.ok(parseArgs(["-h"], "", 1, 1).flags.has("h"));
});

test("errors map to exit codes in one place", () => {
  assert.equal(exitCodeFor(new UsageError("x")), EXIT.usage);
  assert.equal(exitCodeFor(new ConfigError("f", 1, "x")), EXIT.config);
  assert.equal(exitCodeFor(new DaemonError("x")), EXIT.daemon);
  assert.equal(exitCodeFor(new RemoteError("not_found", "x")), EXIT.noSuchDomain);
  assert.equal(exitCodeFor(new RemoteError("exists", "x")), EXIT.exists);
  assert.equal(exitCodeFor(new RemoteError("no_memory", "x")), EXIT.noMemory);
  assert.equal(exitCodeFor(new RemoteError("config", "x")), EXIT.config);
  assert.equal(exitCodeFor(new RemoteError("boot", "x")), EXIT.failed);
  assert.equal(exitCodeFor(new Error("x")), EXIT.failed);
});

test("uptimes format as xl prints them", () => {
  assert.equal(formatUptime(12), "0:00:12");
  assert.equal(formatUptime(3723), "1:02:03");
  assert.equal(formatUptime(86400 + 3 * 3600 + 4 * 60 + 5), "1 day,  3:04:05");
  assert.equal(formatUptime(2 * 86400), "2 days,  0:00:00");
});
