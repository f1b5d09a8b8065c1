// Fuzz: mutated and random xl.cfg text must either parse and validate, or fail with a one-line ConfigError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseXlCfg, applyOverrides } from "./xl_cfg_parser.ts";
import { validateDomainConfig } from "./domain_config.ts";
import { ConfigError } from "./config_error.ts";

const SEED_CFG = `# guest
name = "web1"
type = 'pvh'
memory = 0x100; maxmem = 512
vcpus = 2
kernel = "/boot/vmlinuz"
extra = "console=hvc0 \\"q\\""
serial = [ 'pty', ]
on_crash = "preserve"
`;
const ALPHABET = ` \t\n#=[],;'"\\+-0123456789xabcdefghijklmnopqrstuvwxyz_\r\u00e9\u0000`;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mutate(text: string, r: () => number): string {
  const chars = [...text];
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (chars.length + 1));
    const c = ALPHABET[Math.floor(r() * ALPHABET.length)]!;
    const op = r();
    if (op < 0.4) chars.splice(at, 1);
    else if (op < 0.8) chars.splice(at, 0, c);
    else chars[at] = c;
  }
  return chars.join("");
}

function onlyConfigErrors(fn: () => void, input: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `non-ConfigError ${String(e)} for ${JSON.stringify(input)}`);
    assert.ok(!/[\u0000-\u0008\n-\u001f]/.test(e.message), `error message with control characters for ${JSON.stringify(input)}: ${JSON.stringify(e.message)}`);
  }
}

test("mutated configs parse or fail with ConfigError only", () => {
  const r = rng(1234);
  for (let i = 0; i < 3000; i++) {
    const text = mutate(SEED_CFG, r);
    onlyConfigErrors(() => validateDomainConfig(parseXlCfg(text, "f.cfg"), "f.cfg"), text);
  }
});

test("random text and random overrides fail with ConfigError only", () => {
  const r = rng(99);
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(r() * 60);
    let text = "";
    for (let j = 0; j < len; j++) text += ALPHABET[Math.floor(r() * ALPHABET.length)];
    onlyConfigErrors(() => parseXlCfg(text, "f.cfg"), text);
    onlyConfigErrors(() => applyOverrides(parseXlCfg(SEED_CFG, "f.cfg"), [text]), text);
  }
});
