import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { ensureDefaultGuest, fetchedGuest } from "./default_guest.ts";

const skip = fetchedGuest() === undefined ? "the Debian guest is not fetched (run scripts/fetch-guest.sh)" : false;

test("ensureDefaultGuest() builds an initramfs running the given /init body next to the fetched kernel", { skip }, () => {
  const body = `echo "RESULT: PASS"\npoweroff -f`;
  const lines: string[] = [];
  const g = ensureDefaultGuest({ initBody: body, log: (l) => lines.push(l) });
  const cpio = gunzipSync(readFileSync(g.ramdiskPath)).toString("latin1");
  assert.ok(cpio.includes(`echo "RESULT: PASS"\npoweroff -f\n`));
  assert.ok(cpio.includes("bin/busybox"));
  // The second call reuses the image.
  const again = ensureDefaultGuest({ initBody: body, log: (l) => lines.push(l) });
  assert.equal(again.ramdiskPath, g.ramdiskPath);
  assert.equal(lines.filter((l) => l.includes("building")).length <= 1, true);
});
