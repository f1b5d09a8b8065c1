import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { checkDomainConfig, validateDomainConfig } from "./domain_config.ts";
import { parseXlCfg } from "./xl_cfg_parser.ts";
import { loadDomainConfig } from "./load_config.ts";
import { ConfigError } from "./config_error.ts";
import { testTempDir } from "../../testing/temp_dir.ts";

const validate = (text: string) => validateDomainConfig(parseXlCfg(text, "g.cfg"), "g.cfg");

test("a minimal config gets xl's defaults", () => {
  const { config, warnings } = validate('name = "g"\nkernel = "/k"\n');
  assert.deepEqual(config, {
    name: "g", type: "pvh", memoryMiB: 128, maxmemMiB: 128, vcpus: 1, kernel: "/k", cmdline: "", serial: "pty", accel: "auto",
    onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy", onWatchdog: "destroy", onSoftReset: "restart",
  });
  assert.deepEqual(warnings, []);
});

test("every supported key is read into the typed config", () => {
  const { config } = validate(
    'name="g"\ntype="hvm"\nmemory=256\nmaxmem=512\nvcpus=2\nkernel="/k"\nramdisk="/r"\nroot="/dev/xvda1"\nextra="quiet"\n' +
      'on_poweroff="preserve"\non_reboot="destroy"\non_crash="rename-restart"\non_watchdog="restart"\nserial="none"\naccel="kvm"\n',
  );
  assert.equal(config.type, "hvm");
  assert.equal(config.memoryMiB, 256);
  assert.equal(config.maxmemMiB, 512);
  assert.equal(config.vcpus, 2);
  assert.equal(config.ramdisk, "/r");
  assert.equal(config.cmdline, "root=/dev/xvda1 quiet");
  assert.equal(config.onPoweroff, "preserve");
  assert.equal(config.onCrash, "rename-restart");
  assert.equal(config.onWatchdog, "restart");
  assert.equal(config.serial, "none");
  assert.equal(config.accel, "kvm");
});

test("cmdline wins over root and extra with a warning", () => {
  const { config, warnings } = validate('name="g"\nkernel="/k"\ncmdline="console=ttyS0"\nextra="quiet"\n');
  assert.equal(config.cmdline, "console=ttyS0");
  assert.deepEqual(warnings, ["cmdline is set: ignoring root and extra"]);
});

function rejects(text: string, message: string): void {
  assert.throws(() => validate(text), (e: unknown) => e instanceof ConfigError && e.message === message ? true : assert.fail(String(e)));
}

test("bad values are rejected with file, line, key and value", () => {
  rejects('name="g"\nkernel="/k"\nmemory="lots"\n', 'g.cfg:3: memory = "lots": expected a whole number of MiB');
  rejects('name="g"\nkernel="/k"\nvcpus=0\n', "g.cfg:3: vcpus = 0: a whole number of vCPUs must be between 1 and 128");
  rejects('name="g"\nkernel="/k"\ntype="pv"\n', 'g.cfg:3: type = "pv": classic PV is not supported (Xen is retiring it too); use type = "pvh"');
  rejects('name="g"\nkernel="/k"\naccel="tcg"\n', 'g.cfg:3: accel = "tcg": expected one of "auto", "emu", "kvm"');
  rejects('name="g"\nkernel="/k"\non_crash="coredump-destroy"\n',
    'g.cfg:3: on_crash = "coredump-destroy": "coredump-destroy" is not supported yet (tsxen cannot write core dumps); use "destroy" or "preserve"');
  rejects('name="g"\nkernel="/k"\non_reboot="explode"\n', 'g.cfg:3: on_reboot = "explode": expected one of "destroy", "restart", "rename-restart", "preserve"');
  rejects('name="g"\nkernel="/k"\nmemory=256\nmaxmem=128\n', "g.cfg:4: maxmem = 128: maxmem is below memory (256 MiB)");
  rejects('name="my guest"\nkernel="/k"\n', 'g.cfg:1: name = "my guest": a name is 1-64 letters, digits, "_", "." or "-", starting with a letter or digit');
  rejects('name="g"\nkernel="/k"\nserial="tcp:1234"\n', 'g.cfg:3: serial = "tcp:1234": "tcp:1234" is not supported yet; use "pty" or "none"');
  rejects('name="g"\nkernel=42\n', "g.cfg:2: kernel = 42: expected a quoted string");
});

test("unknown keys are errors with a suggestion, and known-but-unbuilt keys say so", () => {
  rejects('name="g"\nkernel="/k"\nmemroy=128\n', 'g.cfg:3: unknown setting "memroy" (did you mean "memory"?)');
  rejects('name="g"\nkernel="/k"\nfrobnicate=1\n', 'g.cfg:3: unknown setting "frobnicate"');
  rejects('name="g"\nkernel="/k"\ndisk=["/img,raw,xvda,rw"]\n', 'g.cfg:3: disk = ["/img,raw,xvda,rw"]: "disk" is not supported by tsxen yet');
});

test("missing name or kernel is named", () => {
  rejects('kernel="/k"\n', 'g.cfg: no name: add name = "..." (or name=... on the command line)');
  rejects('name="g"\n', 'g.cfg: no kernel: tsxen boots a kernel directly (firmware boot is not built yet); add kernel = "/path/to/vmlinuz"');
});

test("loadDomainConfig() resolves the kernel beside the config file and checks it exists", () => {
  const dir = testTempDir("tsxen-cfg-");
  mkdirSync(join(dir, "guests"));
  writeFileSync(join(dir, "guests", "k.elf"), "x");
  writeFileSync(join(dir, "other.elf"), "x");
  writeFileSync(join(dir, "guests", "g.cfg"), 'name = "g"\nkernel = "k.elf"\n');
  const { config } = loadDomainConfig("guests/g.cfg", [], dir);
  assert.equal(config.kernel, join(dir, "guests", "k.elf"));
  assert.equal(loadDomainConfig("guests/g.cfg", ["kernel=other.elf"], dir).config.kernel, join(dir, "other.elf"));
  assert.throws(() => loadDomainConfig("guests/g.cfg", ["ramdisk=nope.img"], dir), {
    message: `command line:1: ramdisk = "${join(dir, "nope.img")}": file does not exist`,
  });
  assert.throws(() => loadDomainConfig("missing.cfg", [], dir), { message: "missing.cfg: Cannot read config: file does not exist" });
});

test("checkDomainConfig() accepts a validated config and rejects tampered fields", () => {
  const { config } = validate('name="g"\nkernel="/k"\n');
  assert.deepEqual(checkDomainConfig(JSON.parse(JSON.stringify(config))), config);
  assert.throws(() => checkDomainConfig({ ...config, vcpus: -1 }), /vcpus = -1/);
  assert.throws(() => checkDomainConfig({ ...config, extra: 1 }), /extra = 1: unknown field/);
  assert.throws(() => checkDomainConfig(null), /not an object/);
});
