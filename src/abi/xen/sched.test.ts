// Golden bytes for sched_op structs: expected bytes written by hand from xen/include/public/sched.h (x86_64).
import { test } from "node:test";
import assert from "node:assert/strict";
import { SchedPoll, SchedRemoteShutdown, SchedShutdown, ShutdownCode } from "./sched.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

test("sched_shutdown is one u32 reason", () => {
  assert.deepEqual(SchedShutdown.build({ reason: ShutdownCode.crash }), hex("03 00 00 00"));
});

test("sched_poll is a handle, nr_ports at 8 and timeout at 16", () => {
  const v = { ports: 0x1000n, nrPorts: 1, timeout: 0n };
  assert.deepEqual(SchedPoll.build(v), hex("00 10 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
  assert.deepEqual(SchedRemoteShutdown.build({ domainId: 2, reason: 1 }), hex("02 00 00 00 01 00 00 00"));
});
