// Fuzz: a hostile domain issues random hypercalls (numbers, sub-ops, pointers, struct contents) to every
// handler of this core; only XenError may escape, and the neighbour domain stays intact. Deterministic seeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Gtf, GrantEntryV1 } from "../../abi/xen/grant_table.ts";
import { Hypercall } from "../../abi/xen/xen.ts";
import { XEN_CORE_HYPERCALLS } from "./entry_points.ts";
import { makeXenWorld } from "./test_support.ts";
import { XenError } from "./xen_error.ts";

/** xorshift32: small, seedable, no dependencies. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const SPECIAL = [0, 1, 2, 3, 7, 8, 9, 31, 32, 63, 64, 511, 512, 4095, 4096, 0x7ff0, 0x7ff1, 0xffff, 0x8000_0000, 0xffff_ffff];
const NUMBERS = [Hypercall.memory_op, Hypercall.grant_table_op, Hypercall.vcpu_op, Hypercall.event_channel_op, Hypercall.hvm_op];
const ARG_PAGE = 0x3000;

test("random hypercalls from a hostile domain raise only XenError and leave the neighbour intact", () => {
  const w = makeXenWorld(64);
  // The neighbour (domain 2) grants one page read-only to the attacker (domain 1) and offers it a port.
  w.xen.grants.mapFrame(2, 0, 0x100000);
  GrantEntryV1.encode({ flags: Gtf.permit_access | Gtf.readonly, domid: 1, frame: 0x30 }, w.b.physmap.page(0x100000)!, 8 * 8);
  w.ramB.bytes.fill(0x5a, 0x30 * 4096, 0x31 * 4096);
  const offered = w.xen.events.allocUnbound(2, 2, 1);
  const neighbourRam = w.ramB.bytes.slice();

  const next = rng(0x7353_0001);
  const value = (): number => {
    const r = next() % 10;
    if (r < 4) return next() % 10;
    if (r < 6) return SPECIAL[next() % SPECIAL.length]!;
    return next();
  };
  const pointer = (): bigint => {
    const r = next() % 8;
    if (r < 6) return BigInt(ARG_PAGE + (next() % 64) * 8);
    if (r === 6) return BigInt(next()) << BigInt(next() % 40);
    return 0n;
  };
  const counts = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    // Random struct contents at the argument page, with small values and pointers back into it.
    const dv = new DataView(w.ramA.bytes.buffer, w.ramA.bytes.byteOffset + ARG_PAGE, 4096);
    for (let off = 0; off < 1024; off += 4) dv.setUint32(off, next() % 3 === 0 ? Number(pointer() & 0xffff_ffffn) : value(), true);
    const nr = next() % 16 === 0 ? next() % 64 : NUMBERS[next() % NUMBERS.length]!;
    const handler = XEN_CORE_HYPERCALLS[nr];
    if (handler === undefined) continue;
    const args = [BigInt(next() % 4 === 0 ? value() : next() % 16), pointer(), BigInt(value()), pointer(), BigInt(value())];
    if (nr === Hypercall.vcpu_op) args[2] = pointer();
    if (nr === Hypercall.grant_table_op) args[2] = BigInt(next() % 4);
    const call = w.call(1, next() % 3);
    try {
      const rc = handler(w.xen, call, args);
      assert.ok(Number.isSafeInteger(rc) && rc >= 0, `handler ${nr} returned ${rc}`);
      counts.set("ok", (counts.get("ok") ?? 0) + 1);
    } catch (e) {
      if (!(e instanceof XenError)) {
        throw new Error(`hypercall ${nr} args ${args.map((a) => "0x" + a.toString(16)).join(",")} threw ${String(e)}`, { cause: e });
      }
      counts.set(e.message.split(":")[0]!, (counts.get(e.message.split(":")[0]!) ?? 0) + 1);
    }
    w.clock.advance(next() % 1_000_000);
    if (i % 97 === 0) {
      w.a.runTimers(0);
      w.a.updateAllTimes();
    }
  }
  if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify([...counts]));
  assert.ok((counts.get("ok") ?? 0) > 1000, `enough calls succeeded: ${JSON.stringify([...counts])}`);

  // The neighbour's memory is untouched (the read-only grant was the only way in).
  assert.deepEqual(w.ramB.bytes, neighbourRam);
  // Its grant entry carries no leftover pin once the attacker is gone, and its offered port is sane.
  w.xen.remove(1);
  assert.equal(w.xen.grants.entry(2, 8)!.flags, Gtf.permit_access | Gtf.readonly);
  const st = w.xen.events.channel(2, offered)!;
  assert.equal(st.state, "unbound");
  // The neighbour still works: dom0 binds to it and events flow both ways.
  const guestPort = w.dom0.allocUnboundInGuest(2);
  const seen: number[] = [];
  const dom0Port = w.dom0.bindInterdomain(2, guestPort, (p) => seen.push(p));
  w.xen.events.send(2, guestPort);
  assert.deepEqual(seen, [dom0Port]);
  w.dom0.notify(dom0Port);
  assert.ok(w.xen.events.isPending(2, guestPort));
});
