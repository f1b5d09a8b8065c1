// xl.cfg settings → a typed DomainConfig (xl.cfg(5): name, type, memory, maxmem, vcpus, kernel,
// ramdisk, cmdline/extra/root, on_*, serial; plus tsxen's accel and emu_jit).
//
// Design: one validator per key in a table; unknown keys are errors (with a "did you mean" for
// typos), keys xl knows but tsxen does not implement yet are errors that say so. Every error is a
// ConfigError naming the file, line, key and value. Paths stay as written; the caller resolves them.

import { DOMAIN_NAME_RE } from "../../hv/domain/domain_table.ts";
import { SHUTDOWN_ACTIONS, type ShutdownAction } from "../../hv/domain/shutdown_policy.ts";
import { ConfigError } from "./config_error.ts";
import { showCfgValue, type CfgSetting, type CfgSettings } from "./xl_cfg_parser.ts";

export type AccelChoice = "auto" | "emu" | "kvm";

export interface DomainConfig {
  readonly name: string;
  readonly type: "pvh" | "hvm";
  readonly memoryMiB: number;
  readonly maxmemMiB: number;
  readonly vcpus: number;
  readonly kernel: string;
  readonly ramdisk?: string;
  /** The kernel command line: cmdline, or "root=<root> <extra>" as xl builds it. */
  readonly cmdline: string;
  readonly serial: "pty" | "none";
  readonly accel: AccelChoice;
  /** emu_jit = 0|1: the emu backend's block JIT on or off; absent = the backend's default. kvm ignores it. */
  readonly emuJit?: boolean;
  readonly onPoweroff: ShutdownAction;
  readonly onReboot: ShutdownAction;
  readonly onCrash: ShutdownAction;
  readonly onWatchdog: ShutdownAction;
  readonly onSoftReset: ShutdownAction;
}

export interface ValidatedConfig {
  readonly config: DomainConfig;
  /** Non-fatal notes, as xl prints them ("cmdline given: ignoring root and extra"). */
  readonly warnings: readonly string[];
}

export const MAX_VCPUS = 128;
export const DEFAULT_MEMORY_MIB = 128;

/** Keys from xl.cfg(5) that tsxen reads but does not implement yet. */
const NOT_YET = new Set([
  "disk", "vif", "vfb", "vkb", "vtpm", "p9", "pci", "usb", "usbctrl", "usbdev", "channel", "rdm", "dtdev",
  "boot", "bootloader", "bootloader_args", "firmware", "bios", "device_model_version", "device_model_override",
  "uuid", "cpus", "cpus_soft", "cpu_weight", "cap", "pool", "maxvcpus", "vcpu_hard_affinity", "vcpu_soft_affinity",
  "vnc", "vnclisten", "sdl", "vga", "videoram", "stdvga", "acpi", "apic", "pae", "hap", "nestedhvm", "viridian",
  "shadow_memory", "seclabel", "init_seclabel", "device_tree", "localtime", "rtc_timeoffset", "tsc_mode",
  "max_grant_frames", "max_maptrack_frames", "driver_domain", "vnuma", "altp2m", "soundhw", "keymap",
  "gfx_passthru", "ioports", "iomem", "irqs", "e820_host", "claim_mode", "cpuid", "smbios", "vkb_device",
]);

type Validator = (s: CfgSetting) => unknown;

function fail(s: CfgSetting, why: string): never {
  throw new ConfigError(s.file, s.line, `${s.key} = ${showCfgValue(s.value)}: ${why}`, s.key);
}

function str(s: CfgSetting): string {
  if (s.value.kind !== "string") fail(s, "expected a quoted string");
  return s.value.value;
}

function wholeNumber(s: CfgSetting, what: string, min: number, max: number): number {
  let n: number;
  if (s.value.kind === "number") n = s.value.value;
  else if (s.value.kind === "string" && /^[0-9]+$/.test(s.value.value)) n = Number(s.value.value);
  else fail(s, `expected ${what}`);
  if (!Number.isInteger(n)) fail(s, `expected ${what}`);
  if (n < min || n > max) fail(s, `${what} must be between ${min} and ${max}`);
  return n;
}

function oneOf<T extends string>(s: CfgSetting, allowed: readonly T[]): T {
  const v = str(s);
  if (!(allowed as readonly string[]).includes(v)) fail(s, `expected one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
  return v as T;
}

/** A boolean as xl.cfg writes it (0 or 1), or the words "true"/"false" (also what `key=true` gives on the command line). */
function bool01(s: CfgSetting): boolean {
  const v = s.value;
  if (v.kind === "number" && (v.value === 0 || v.value === 1)) return v.value === 1;
  if (v.kind === "string") {
    if (v.value === "1" || v.value === "true") return true;
    if (v.value === "0" || v.value === "false") return false;
  }
  fail(s, 'expected 0 or 1 (or "true"/"false")');
}

function action(s: CfgSetting): ShutdownAction {
  const v = str(s);
  if (v === "coredump-destroy" || v === "coredump-restart") {
    fail(s, `"${v}" is not supported yet (tsxen cannot write core dumps); use "${v.slice(9)}" or "preserve"`);
  }
  if (v === "soft-reset") fail(s, `"soft-reset" is not supported yet`);
  return oneOf(s, SHUTDOWN_ACTIONS);
}

const VALIDATORS: Record<string, Validator> = {
  name: (s) => {
    const v = str(s);
    if (!DOMAIN_NAME_RE.test(v)) fail(s, 'a name is 1-64 letters, digits, "_", "." or "-", starting with a letter or digit');
    if (v === "Domain-0") fail(s, "the name belongs to dom0");
    return v;
  },
  type: (s) => {
    const v = str(s);
    if (v === "pv") fail(s, 'classic PV is not supported (Xen is retiring it too); use type = "pvh"');
    return oneOf(s, ["pvh", "hvm"] as const);
  },
  builder: (s) => {
    const v = str(s);
    if (v === "hvm") return "hvm";
    fail(s, 'only builder = "hvm" is accepted (deprecated; prefer type = "hvm")');
  },
  memory: (s) => wholeNumber(s, "a whole number of MiB", 1, 16 * 1024 * 1024),
  maxmem: (s) => wholeNumber(s, "a whole number of MiB", 1, 16 * 1024 * 1024),
  vcpus: (s) => wholeNumber(s, "a whole number of vCPUs", 1, MAX_VCPUS),
  kernel: (s) => {
    const v = str(s);
    if (v === "") fail(s, "the kernel path is empty");
    return v;
  },
  ramdisk: (s) => {
    const v = str(s);
    if (v === "") fail(s, "the ramdisk path is empty");
    return v;
  },
  cmdline: str,
  extra: str,
  root: str,
  on_poweroff: action,
  on_reboot: action,
  on_crash: action,
  on_watchdog: action,
  on_soft_reset: action,
  serial: (s) => {
    const items = s.value.kind === "list" ? s.value.items : [s.value];
    if (items.length > 1) fail(s, "only one serial port is supported");
    if (items.length === 0) return "none";
    const first = items[0]!;
    if (first.kind !== "string") fail(s, 'expected "pty" or "none"');
    if (first.value !== "pty" && first.value !== "none") fail(s, `"${first.value}" is not supported yet; use "pty" or "none"`);
    return first.value;
  },
  accel: (s) => oneOf(s, ["auto", "emu", "kvm"] as const),
  emu_jit: bool01,
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function unknownKey(s: CfgSetting): never {
  if (NOT_YET.has(s.key)) fail(s, `"${s.key}" is not supported by tsxen yet`);
  let best = "";
  let bestD = 3;
  for (const k of Object.keys(VALIDATORS)) {
    const dist = editDistance(s.key, k);
    if (dist < bestD) {
      best = k;
      bestD = dist;
    }
  }
  throw new ConfigError(s.file, s.line, `unknown setting "${s.key}"${best ? ` (did you mean "${best}"?)` : ""}`, s.key);
}

/** Validates parsed settings; `source` names the config for whole-config errors. */
export function validateDomainConfig(settings: CfgSettings, source: string): ValidatedConfig {
  const v: Record<string, unknown> = {};
  for (const s of settings.values()) {
    const fn = VALIDATORS[s.key];
    if (!fn) unknownKey(s);
    v[s.key] = fn(s);
  }
  const warnings: string[] = [];
  const at = (key: string): CfgSetting => settings.get(key)!;

  if (v.name === undefined) throw new ConfigError(source, 0, 'no name: add name = "..." (or name=... on the command line)', "name");
  if (v.kernel === undefined) {
    throw new ConfigError(source, 0, 'no kernel: tsxen boots a kernel directly (firmware boot is not built yet); add kernel = "/path/to/vmlinuz"', "kernel");
  }
  let type = (v.type as "pvh" | "hvm" | undefined) ?? "pvh";
  if (v.builder !== undefined) {
    if (v.type !== undefined && v.type !== "hvm") fail(at("builder"), `conflicts with type = "${String(v.type)}"`);
    type = "hvm";
    warnings.push('builder = "hvm" is deprecated; use type = "hvm"');
  }
  const memoryMiB = (v.memory as number | undefined) ?? DEFAULT_MEMORY_MIB;
  const maxmemMiB = (v.maxmem as number | undefined) ?? memoryMiB;
  if (maxmemMiB < memoryMiB) fail(at("maxmem"), `maxmem is below memory (${memoryMiB} MiB)`);

  let cmdline: string;
  if (v.cmdline !== undefined) {
    cmdline = v.cmdline as string;
    if (v.root !== undefined || v.extra !== undefined) warnings.push("cmdline is set: ignoring root and extra");
  } else {
    const parts: string[] = [];
    if (v.root !== undefined) parts.push(`root=${v.root as string}`);
    if (v.extra !== undefined) parts.push(v.extra as string);
    cmdline = parts.join(" ");
  }

  if (v.serial === "none") warnings.push('serial = "none" is not honoured yet: the guest console is always connected');
  const config: DomainConfig = {
    name: v.name as string,
    type,
    memoryMiB,
    maxmemMiB,
    vcpus: (v.vcpus as number | undefined) ?? 1,
    kernel: v.kernel as string,
    ...(v.ramdisk !== undefined ? { ramdisk: v.ramdisk as string } : {}),
    cmdline,
    serial: (v.serial as "pty" | "none" | undefined) ?? "pty",
    accel: (v.accel as AccelChoice | undefined) ?? "auto",
    ...(v.emu_jit !== undefined ? { emuJit: v.emu_jit as boolean } : {}),
    onPoweroff: (v.on_poweroff as ShutdownAction | undefined) ?? "destroy",
    onReboot: (v.on_reboot as ShutdownAction | undefined) ?? "restart",
    onCrash: (v.on_crash as ShutdownAction | undefined) ?? "destroy",
    onWatchdog: (v.on_watchdog as ShutdownAction | undefined) ?? "destroy",
    onSoftReset: (v.on_soft_reset as ShutdownAction | undefined) ?? "restart",
  };
  return { config, warnings };
}

/**
 * Checks a DomainConfig that arrived over the daemon socket (already validated by xl, but the
 * socket is an input like any other). Throws ConfigError naming the first bad field.
 */
export function checkDomainConfig(x: unknown): DomainConfig {
  const src = "request";
  if (typeof x !== "object" || x === null) throw new ConfigError(src, 0, "the domain config is not an object");
  const o = x as Record<string, unknown>;
  const bad = (key: string, why: string): never => {
    throw new ConfigError(src, 0, `${key} = ${JSON.stringify(o[key])}: ${why}`, key);
  };
  const isStr = (k: string) => typeof o[k] === "string";
  const isInt = (k: string, min: number, max: number) => Number.isInteger(o[k]) && (o[k] as number) >= min && (o[k] as number) <= max;
  if (!isStr("name") || !DOMAIN_NAME_RE.test(o.name as string)) bad("name", "not a valid domain name");
  if (o.type !== "pvh" && o.type !== "hvm") bad("type", 'expected "pvh" or "hvm"');
  if (!isInt("memoryMiB", 1, 16 * 1024 * 1024)) bad("memoryMiB", "expected a whole number of MiB");
  if (!isInt("maxmemMiB", o.memoryMiB as number, 16 * 1024 * 1024)) bad("maxmemMiB", "expected a whole number of MiB, at least memory");
  if (!isInt("vcpus", 1, MAX_VCPUS)) bad("vcpus", `expected 1..${MAX_VCPUS}`);
  if (!isStr("kernel") || o.kernel === "") bad("kernel", "expected a path");
  if (o.ramdisk !== undefined && (!isStr("ramdisk") || o.ramdisk === "")) bad("ramdisk", "expected a path");
  if (!isStr("cmdline")) bad("cmdline", "expected a string");
  if (o.serial !== "pty" && o.serial !== "none") bad("serial", 'expected "pty" or "none"');
  if (o.accel !== "auto" && o.accel !== "emu" && o.accel !== "kvm") bad("accel", 'expected "auto", "emu" or "kvm"');
  if (o.emuJit !== undefined && typeof o.emuJit !== "boolean") bad("emuJit", "expected true or false");
  for (const k of ["onPoweroff", "onReboot", "onCrash", "onWatchdog", "onSoftReset"]) {
    if (!(SHUTDOWN_ACTIONS as readonly unknown[]).includes(o[k])) bad(k, "not a shutdown action");
  }
  const known = new Set(["name", "type", "memoryMiB", "maxmemMiB", "vcpus", "kernel", "ramdisk", "cmdline", "serial", "accel", "emuJit",
    "onPoweroff", "onReboot", "onCrash", "onWatchdog", "onSoftReset"]);
  for (const k of Object.keys(o)) if (!known.has(k)) bad(k, "unknown field");
  return o as unknown as DomainConfig;
}
