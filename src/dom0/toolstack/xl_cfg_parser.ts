// xl.cfg syntax reader (xl.cfg(5) "Syntax", libxlu's cfg grammar): KEY = VALUE settings where a value
// is a "string" (C escapes), a 'string' (verbatim), a number (decimal or 0x hex) or a [ list ] of
// those; settings end at a newline or ";"; "#" starts a comment; KEY += [list] appends.
//
// Design: a hand-written scanner over the text with a line counter; every error is a ConfigError
// naming file, line and, once known, the key. The result keeps each setting's line so that the
// validator can name it too. Later settings replace earlier ones, as in xl.

import { ConfigError } from "./config_error.ts";

export type CfgValue =
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "number"; readonly value: number; readonly text: string }
  | { readonly kind: "list"; readonly items: readonly CfgValue[] };

export interface CfgSetting {
  readonly key: string;
  readonly value: CfgValue;
  readonly file: string;
  readonly line: number;
}

/** Settings by key, in first-seen order. */
export type CfgSettings = Map<string, CfgSetting>;

const KEY_START = /[A-Za-z_]/;
const KEY_CHAR = /[A-Za-z0-9_]/;

class Scanner {
  pos = 0;
  line = 1;
  constructor(readonly text: string, readonly file: string) {}

  fail(why: string, key?: string, line = this.line): never {
    throw new ConfigError(this.file, line, why, key);
  }

  peek(): string {
    return this.text[this.pos] ?? "";
  }

  next(): string {
    const c = this.text[this.pos++] ?? "";
    if (c === "\n") this.line++;
    return c;
  }

  /** Skips blanks and comments; newlines too when inside a list. */
  skip(newlines: boolean): void {
    for (;;) {
      const c = this.peek();
      if (c === " " || c === "\t" || c === "\r") this.next();
      else if (c === "#") while (this.pos < this.text.length && this.peek() !== "\n") this.next();
      else if (newlines && c === "\n") this.next();
      else return;
    }
  }
}

function describeChar(c: string): string {
  if (c === "") return "end of file";
  if (c === "\n") return "end of line";
  return c === '"' ? `'"'` : `"${c}"`;
}

function readKey(s: Scanner): string {
  let k = s.next();
  while (KEY_CHAR.test(s.peek())) k += s.next();
  return k;
}

function readString(s: Scanner, key: string): CfgValue {
  const quote = s.next();
  const startLine = s.line;
  let out = "";
  for (;;) {
    const c = s.next();
    if (c === "" || c === "\n") s.fail(`${key}: string starting with ${quote} is not closed`, key, startLine);
    if (c === quote) return { kind: "string", value: out };
    if (c === "\\" && quote === '"') {
      const e = s.next();
      switch (e) {
        case "n": out += "\n"; break;
        case "t": out += "\t"; break;
        case "r": out += "\r"; break;
        case "\\": out += "\\"; break;
        case '"': out += '"'; break;
        case "'": out += "'"; break;
        case "x": {
          const hex = s.text.slice(s.pos, s.pos + 2);
          if (!/^[0-9A-Fa-f]{2}$/.test(hex)) s.fail(`${key}: bad escape "\\x${hex}" in string`, key);
          s.pos += 2;
          out += String.fromCharCode(parseInt(hex, 16));
          break;
        }
        default: s.fail(`${key}: unknown escape "\\${e}" in string`, key);
      }
    } else {
      out += c;
    }
  }
}

function readNumber(s: Scanner, key: string): CfgValue {
  let t = "";
  while (/[0-9A-Za-z_.+-]/.test(s.peek())) t += s.next();
  let v: number;
  if (/^0[xX][0-9A-Fa-f]+$/.test(t)) v = parseInt(t, 16);
  else if (/^[+-]?[0-9]+(\.[0-9]+)?$/.test(t)) v = Number(t);
  else s.fail(`${key} = ${t}: not a number (strings need quotes: "${t}")`, key);
  if (!Number.isSafeInteger(v) && !Number.isFinite(v)) s.fail(`${key} = ${t}: number out of range`, key);
  return { kind: "number", value: v, text: t };
}

function readValue(s: Scanner, key: string, depth: number): CfgValue {
  const c = s.peek();
  if (c === '"' || c === "'") return readString(s, key);
  if (/[0-9+-]/.test(c)) return readNumber(s, key);
  if (c === "[") {
    if (depth > 8) s.fail(`${key}: lists nested too deeply`, key);
    const startLine = s.line;
    s.next();
    const items: CfgValue[] = [];
    for (;;) {
      s.skip(true);
      if (s.peek() === "]") {
        s.next();
        return { kind: "list", items };
      }
      if (s.peek() === "") s.fail(`${key}: list starting with [ is not closed`, key, startLine);
      items.push(readValue(s, key, depth + 1));
      s.skip(true);
      const sep = s.peek();
      if (sep === "") s.fail(`${key}: list starting with [ is not closed`, key, startLine);
      if (sep === ",") s.next();
      else if (sep !== "]") s.fail(`${key}: expected "," or "]" in list, found ${describeChar(sep)}`, key);
    }
  }
  if (KEY_START.test(c)) {
    let word = "";
    while (/[^\s,;\]#]/.test(s.peek()) && s.peek() !== "") word += s.next();
    s.fail(`${key} = ${word}: strings need quotes ("${word}")`, key);
  }
  s.fail(`${key}: expected a value, found ${describeChar(c)}`, key);
}

/** Parses xl.cfg text. Throws ConfigError naming file and line on the first mistake. */
export function parseXlCfg(text: string, file: string, into: CfgSettings = new Map()): CfgSettings {
  const s: Scanner = new Scanner(text, file);
  for (;;) {
    s.skip(true);
    if (s.peek() === ";") {
      s.next();
      continue;
    }
    if (s.peek() === "") return into;
    const line = s.line;
    if (!KEY_START.test(s.peek())) s.fail(`expected a setting name, found ${describeChar(s.peek())}`);
    const key = readKey(s);
    s.skip(false);
    let append = false;
    if (s.peek() === "+") {
      s.next();
      append = true;
    }
    if (s.peek() !== "=") s.fail(`${key}: expected "=" after the name, found ${describeChar(s.peek())}`, key);
    s.next();
    s.skip(false);
    let value = readValue(s, key, 0);
    s.skip(false);
    const end = s.peek();
    if (end !== "\n" && end !== ";" && end !== "") s.fail(`${key}: unexpected ${describeChar(end)} after the value`, key);
    if (append) {
      const prev = into.get(key);
      if (value.kind !== "list") s.fail(`${key} += needs a [ list ]`, key, line);
      const added = value.items;
      if (prev) {
        if (prev.value.kind !== "list") s.fail(`${key} += : the earlier value is not a list`, key, line);
        value = { kind: "list", items: [...prev.value.items, ...added] };
      }
    }
    into.set(key, { key, value, file, line });
  }
}

/**
 * Applies command-line overrides "key=value". The value is read with xl.cfg syntax; a bare word that
 * is not a number is taken as a string, so `name=web1` works as `name="web1"` does.
 */
export function applyOverrides(settings: CfgSettings, overrides: readonly string[]): CfgSettings {
  overrides.forEach((arg, i) => {
    const file = "command line";
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new ConfigError(file, i + 1, `${JSON.stringify(arg)} is not a key=value setting`);
    const key = arg.slice(0, eq).trim().replace(/\+$/, "");
    const raw = arg.slice(eq + 1).trim();
    const bare = raw !== "" && !/^["'[0-9+-]/.test(raw) && !/[\s,;#\[\]"']/.test(raw);
    const text = bare ? `${arg.slice(0, eq)}="${raw}"` : arg;
    try {
      parseXlCfg(text, file, settings);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(file, i + 1, e.why, e.key ?? key);
      throw e;
    }
    const s = settings.get(key);
    if (s) settings.set(key, { ...s, line: i + 1 });
  });
  return settings;
}

export function showCfgValue(v: CfgValue): string {
  switch (v.kind) {
    case "string": return JSON.stringify(v.value);
    case "number": return v.text;
    case "list": return `[${v.items.map(showCfgValue).join(", ")}]`;
  }
}
