import { test } from "node:test";
import assert from "node:assert/strict";
import { HostMemoryPool } from "./memory_pool.ts";
import { DomainError } from "./domain_errors.ts";

const MiB = 1 << 20;

test("reservations come out of the pool and go back on release", () => {
  const pool = new HostMemoryPool(1024 * MiB);
  pool.reserve(1, 256 * MiB, "a");
  pool.reserve(2, 512 * MiB, "b");
  assert.equal(pool.freeBytes, 256 * MiB);
  assert.equal(pool.reservedBy(2), 512 * MiB);
  pool.release(2);
  pool.release(2);
  assert.equal(pool.freeBytes, 768 * MiB);
});

test("a reservation that does not fit fails with no_memory and changes nothing", () => {
  const pool = new HostMemoryPool(1024 * MiB);
  pool.reserve(1, 768 * MiB, "a");
  assert.throws(
    () => pool.reserve(2, 512 * MiB, "big"),
    (e: unknown) =>
      e instanceof DomainError && e.code === "no_memory" &&
      e.message === 'Cannot create domain "big": it needs 512 MiB but the host pool has 256 MiB free of 1024 MiB',
  );
  assert.equal(pool.freeBytes, 256 * MiB);
  assert.equal(pool.reservedBy(2), 0);
});

test("a domain cannot hold two reservations", () => {
  const pool = new HostMemoryPool(1024 * MiB);
  pool.reserve(1, MiB, "a");
  assert.throws(() => pool.reserve(1, MiB, "a"), /already holds/);
});
