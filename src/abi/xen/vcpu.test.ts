// Golden bytes for vcpu_op structs: expected bytes written by hand from xen/include/public/vcpu.h.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VcpuRegisterVcpuInfo, VcpuRunstateInfo, VcpuSetSingleshotTimer, VcpuSetPeriodicTimer } from "./vcpu.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

test("vcpu_register_vcpu_info is mfn u64, offset u32, rsvd u32", () => {
  const v = { mfn: 0x2a01n, offset: 0x40, rsvd: 0 };
  const b = VcpuRegisterVcpuInfo.build(v);
  assert.deepEqual(b, hex("01 2a 00 00 00 00 00 00 40 00 00 00 00 00 00 00"));
  assert.deepEqual(VcpuRegisterVcpuInfo.decode(b), v);
});

test("vcpu_set_singleshot_timer is timeout u64 then flags u32 (padded to 16)", () => {
  const b = VcpuSetSingleshotTimer.build({ timeoutAbsNs: 5_000_000n, flags: 1 });
  assert.deepEqual(b, hex("40 4b 4c 00 00 00 00 00 01 00 00 00 00 00 00 00"));
  assert.equal(VcpuSetPeriodicTimer.size, 8);
  assert.equal(VcpuRunstateInfo.size, 48);
});
