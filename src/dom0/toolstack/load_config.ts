// Reads an xl.cfg file plus command-line overrides into a DomainConfig with absolute paths.
// Relative kernel/ramdisk paths in the file are taken from the file's folder; on the command line, from the cwd.

import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError } from "./config_error.ts";
import { validateDomainConfig, type DomainConfig, type ValidatedConfig } from "./domain_config.ts";
import { applyOverrides, parseXlCfg } from "./xl_cfg_parser.ts";

export function loadDomainConfig(cfgPath: string, overrides: readonly string[], cwd: string): ValidatedConfig {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, cfgPath), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file does not exist" : code === "EISDIR" ? "is a folder" : code === "EACCES" ? "permission denied" : String(e);
    throw new ConfigError(cfgPath, 0, `Cannot read config: ${why}`);
  }
  const settings = applyOverrides(parseXlCfg(text, cfgPath), overrides);
  const { config, warnings } = validateDomainConfig(settings, cfgPath);
  const cfgDir = dirname(resolve(cwd, cfgPath));
  const absolute = (key: "kernel" | "ramdisk", path: string): string => {
    const s = settings.get(key)!;
    const abs = resolve(s.file === "command line" ? cwd : cfgDir, path);
    checkFile(s.file, s.line, key, abs);
    return abs;
  };
  const out: DomainConfig = {
    ...config,
    kernel: absolute("kernel", config.kernel),
    ...(config.ramdisk !== undefined ? { ramdisk: absolute("ramdisk", config.ramdisk) } : {}),
  };
  return { config: out, warnings };
}

function checkFile(file: string, line: number, key: string, path: string): void {
  let ok = false;
  try {
    ok = statSync(path).isFile();
  } catch {
    throw new ConfigError(file, line, `${key} = "${path}": file does not exist`, key);
  }
  if (!ok) throw new ConfigError(file, line, `${key} = "${path}": not a regular file`, key);
}
