// cpio newc layout per Documentation/driver-api/early-userspace/buffer-format.rst; cross-checked with
// GNU cpio (`cpio -itv`) when it is installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { buildInitramfs, writeCpioNewc } from "./initramfs.ts";

interface Parsed { name: string; mode: number; size: number; rdevMajor: number; rdevMinor: number; data: Uint8Array; headerAt: number }

/** A minimal newc reader used to check the writer (alignment, fields, trailer). */
function parseNewc(b: Uint8Array): Parsed[] {
  const out: Parsed[] = [];
  const dec = new TextDecoder();
  let at = 0;
  for (;;) {
    assert.equal(at % 4, 0, "header is 4-byte aligned");
    assert.equal(dec.decode(b.subarray(at, at + 6)), "070701");
    const f = (i: number) => parseInt(dec.decode(b.subarray(at + 6 + i * 8, at + 14 + i * 8)), 16);
    const namesize = f(11);
    const name = dec.decode(b.subarray(at + 110, at + 110 + namesize - 1));
    assert.equal(b[at + 110 + namesize - 1], 0);
    let dataAt = at + 110 + namesize;
    dataAt += (4 - (dataAt % 4)) % 4;
    const size = f(6);
    out.push({ name, mode: f(1), size, rdevMajor: f(9), rdevMinor: f(10), data: b.subarray(dataAt, dataAt + size), headerAt: at });
    at = dataAt + size;
    at += (4 - (at % 4)) % 4;
    if (name === "TRAILER!!!") break;
  }
  assert.equal(at, b.length, "nothing after the trailer");
  return out;
}

test("writeCpioNewc() writes aligned newc headers for directories, files, symlinks and devices", () => {
  const cpio = writeCpioNewc([
    { type: "dir", path: "bin" },
    { type: "file", path: "/bin/hello", data: new TextEncoder().encode("hi!"), mode: 0o755 },
    { type: "symlink", path: "bin/hi", target: "hello" },
    { type: "chardev", path: "dev/console", major: 5, minor: 1 },
  ]);
  // The first header, byte for byte: ino 1, mode 040755, uid/gid 0, nlink 2, mtime 0, size 0, namesize 4.
  assert.equal(
    new TextDecoder().decode(cpio.subarray(0, 114)),
    "070701" + "00000001" + "000041ed" + "00000000" + "00000000" + "00000002" + "00000000" + "00000000" +
      "00000000" + "00000000" + "00000000" + "00000000" + "00000004" + "00000000" + "bin\0",
  );
  const entries = parseNewc(cpio);
  assert.deepEqual(entries.map((e) => e.name), ["bin", "bin/hello", "bin/hi", "dev/console", "TRAILER!!!"]);
  assert.equal(entries[1]!.mode, 0o100755);
  assert.equal(new TextDecoder().decode(entries[1]!.data), "hi!");
  assert.equal(entries[2]!.mode, 0o120777);
  assert.equal(new TextDecoder().decode(entries[2]!.data), "hello");
  assert.deepEqual([entries[3]!.mode, entries[3]!.rdevMajor, entries[3]!.rdevMinor], [0o020600, 5, 1]);
  if (spawnSync("cpio", ["--version"]).status === 0) {
    const r = spawnSync("cpio", ["-itv", "--quiet"], { input: cpio });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /bin\/hi -> hello/);
  }
});

test("buildInitramfs() makes a gzip'd archive with busybox, applet links, console node and the caller's /init", () => {
  const busybox = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]);
  const gz = buildInitramfs({ busybox, initBody: 'echo "RESULT: PASS"\npoweroff -f', applets: ["bin/sh", "sbin/poweroff", "usr/bin/nproc", "etc/bad"] });
  const entries = parseNewc(new Uint8Array(gunzipSync(gz)));
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.deepEqual([...byName.get("bin/busybox")!.data], [...busybox]);
  assert.equal(new TextDecoder().decode(byName.get("usr/bin/nproc")!.data), "../../bin/busybox");
  assert.equal(new TextDecoder().decode(byName.get("sbin/poweroff")!.data), "../bin/busybox");
  assert.ok(!byName.has("etc/bad"), "applets only go to bin, sbin or usr");
  assert.equal(byName.get("dev/console")!.rdevMajor, 5);
  const init = new TextDecoder().decode(byName.get("init")!.data);
  assert.match(init, /^#!\/bin\/busybox sh\n/);
  assert.match(init, /mount -t devtmpfs devtmpfs \/dev\n/);
  assert.match(init, /mount -t proc proc \/proc\n/);
  assert.match(init, /echo "RESULT: PASS"\npoweroff -f\n$/);
  assert.equal(byName.get("init")!.mode, 0o100755);
});
