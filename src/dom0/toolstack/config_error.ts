// ConfigError: a domain configuration (xl.cfg file or key=value override) that cannot be used.

export class ConfigError extends Error {
  constructor(
    /** File the setting came from, or "command line". */
    readonly file: string,
    /** 1-based line (argument number for the command line); 0 when the whole config is at fault. */
    readonly line: number,
    readonly why: string,
    readonly key?: string,
  ) {
    super(printable(`${file}${line > 0 ? `:${line}` : ""}: ${why}`));
    this.name = "ConfigError";
  }
}

/** Errors are one line: control characters from hostile input are shown escaped (\n, \u0000). */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) =>
    c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
