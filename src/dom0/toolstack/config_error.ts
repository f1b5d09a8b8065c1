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
    super(`${file}${line > 0 ? `:${line}` : ""}: ${why}`);
    this.name = "ConfigError";
  }
}
