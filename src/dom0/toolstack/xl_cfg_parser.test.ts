import { test } from "node:test";
import assert from "node:assert/strict";
import { applyOverrides, parseXlCfg, type CfgValue } from "./xl_cfg_parser.ts";
import { ConfigError } from "./config_error.ts";

const val = (text: string, key: string): CfgValue | undefined => parseXlCfg(text, "t.cfg").get(key)?.value;

test("strings, numbers, lists and comments parse as xl reads them", () => {
  const s = parseXlCfg(
    [
      "# a guest",
      'name = "web1"   # trailing comment',
      "memory = 512",
      "maxmem=0x400",
      "kernel = '/boot/vm\\linuz'",
      'extra = "console=hvc0 \\"quoted\\"\\n"',
      "serial = [ 'pty', ]",
      "nested = [ [1, 2], \"x\" ]",
    ].join("\n"),
    "t.cfg",
  );
  assert.deepEqual(s.get("name")?.value, { kind: "string", value: "web1" });
  assert.equal(s.get("name")?.line, 2);
  assert.deepEqual(s.get("memory")?.value, { kind: "number", value: 512, text: "512" });
  assert.deepEqual(s.get("maxmem")?.value, { kind: "number", value: 1024, text: "0x400" });
  assert.deepEqual(s.get("kernel")?.value, { kind: "string", value: "/boot/vm\\linuz" });
  assert.deepEqual(s.get("extra")?.value, { kind: "string", value: 'console=hvc0 "quoted"\n' });
  assert.deepEqual(s.get("serial")?.value, { kind: "list", items: [{ kind: "string", value: "pty" }] });
  assert.equal(s.get("nested")?.value.kind, "list");
});

test("settings may be separated by semicolons and lists may span lines", () => {
  const s = parseXlCfg('a = 1; b = "x";\nc = [\n  "p", # one\n  "q"\n]\nd = 2\n', "t.cfg");
  assert.deepEqual([...s.keys()], ["a", "b", "c", "d"]);
  assert.equal(s.get("d")?.line, 6);
});

test("a later setting replaces an earlier one and += appends to a list", () => {
  assert.deepEqual(val("memory = 1\nmemory = 2\n", "memory"), { kind: "number", value: 2, text: "2" });
  const l = val('disk = ["a"]\ndisk += ["b"]\n', "disk");
  assert.deepEqual(l, { kind: "list", items: [{ kind: "string", value: "a" }, { kind: "string", value: "b" }] });
});

function failsAt(text: string, line: number, pattern: RegExp): void {
  assert.throws(
    () => parseXlCfg(text, "guest.cfg"),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
      assert.equal(e.line, line);
      assert.match(e.message, pattern);
      assert.ok(e.message.startsWith(`guest.cfg:${line}: `), e.message);
      assert.ok(!e.message.includes("\n"));
      return true;
    },
  );
}

test("syntax errors name the file, the line and the key", () => {
  failsAt('name = "a"\nmemory = abc\n', 2, /memory = abc: strings need quotes/);
  failsAt('name = "a\n', 1, /name: string starting with " is not closed/);
  failsAt("\n\nvcpus 2\n", 3, /vcpus: expected "=" after the name/);
  failsAt('x = ["a" "b"]\n', 1, /x: expected "," or "\]" in list/);
  failsAt('x = ["a",\n"b"\n', 1, /list starting with \[ is not closed/);
  failsAt("memory = 12MB\n", 1, /memory = 12MB: not a number/);
  failsAt('name = "a" "b"\n', 1, /name: unexpected '"' after the value/);
  failsAt("= 3\n", 1, /expected a setting name, found "="/);
  failsAt('extra = "\\q"\n', 1, /unknown escape "\\q"/);
  failsAt("memory =\n", 1, /memory: expected a value, found end of line/);
});

test("command-line overrides use xl syntax, accept bare words and name their argument", () => {
  const s = parseXlCfg('name = "a"\nmemory = 128\n', "t.cfg");
  applyOverrides(s, ["memory=256", "name=web2", 'extra="quiet splash"', "serial=['pty']"]);
  assert.deepEqual(s.get("memory")?.value, { kind: "number", value: 256, text: "256" });
  assert.deepEqual(s.get("name")?.value, { kind: "string", value: "web2" });
  assert.equal(s.get("name")?.file, "command line");
  assert.equal(s.get("name")?.line, 2);
  assert.deepEqual(s.get("extra")?.value, { kind: "string", value: "quiet splash" });
  assert.throws(() => applyOverrides(s, ["memory"]), { message: 'command line:1: "memory" is not a key=value setting' });
  assert.throws(() => applyOverrides(s, ["vcpus=2", "memory=1x"]), { message: "command line:2: memory = 1x: not a number (strings need quotes: \"1x\")" });
});
