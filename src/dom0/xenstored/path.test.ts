// Path rules (docs/misc/xenstore.txt) and watch matching (C xenstored is_child()).
import { test } from "node:test";
import assert from "node:assert/strict";
import { XenstoreError } from "./errors.ts";
import { canonicalize, isChild, parentOf } from "./path.ts";

const opts = { base: "/local/domain/3", allowSpecial: false, pathMax: 2048 };

test("canonicalize() resolves relative paths under the domain's base", () => {
  assert.equal(canonicalize("device/vbd", opts), "/local/domain/3/device/vbd");
  assert.equal(canonicalize("/", opts), "/");
  assert.equal(canonicalize("@releaseDomain", { ...opts, allowSpecial: true }), "@releaseDomain");
});

test("canonicalize() answers EINVAL for malformed paths", () => {
  for (const bad of [undefined, "", "/a/", "a//b", "/x y", "/é", "@x"]) {
    assert.throws(() => canonicalize(bad, opts), (e: unknown) => e instanceof XenstoreError && e.errno === "EINVAL", String(bad));
  }
});

test("path-max counts only the part below /local/domain/<n>/", () => {
  assert.equal(canonicalize("a".repeat(2048), opts).length, "/local/domain/3/".length + 2048);
  assert.throws(() => canonicalize("a".repeat(2049), opts));
  assert.throws(() => canonicalize("/" + "a".repeat(2048), opts));
});

test("parentOf() follows get_parent()", () => {
  assert.equal(parentOf("/a/b"), "/a");
  assert.equal(parentOf("/a"), "/");
  assert.equal(parentOf("@releaseDomain"), "/");
});

test("isChild() matches the path itself, descendants, and respects depth", () => {
  assert.ok(isChild("/a", "/a", -1));
  assert.ok(isChild("/a/b/c", "/a", -1));
  assert.ok(!isChild("/ab", "/a", -1));
  assert.ok(isChild("/anything", "/", -1));
  assert.ok(isChild("/a/b", "/a", 1));
  assert.ok(!isChild("/a/b/c", "/a", 1));
  assert.ok(!isChild("/a/b", "/a", 0));
  assert.ok(!isChild("/x", "/", 0));
  assert.ok(isChild("/x", "/", 1));
  assert.ok(!isChild("/x/y", "/", 1));
  assert.ok(isChild("@releaseDomain/5", "@releaseDomain", 1));
});
