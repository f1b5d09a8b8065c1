// Golden bytes for shared_info / vcpu_info / vcpu_time_info: offsets from xen/include/public/xen.h and
// arch-x86/xen-x86_64.h as listed in xen-abi-on-kvm.md §6 (64-byte vcpu_info, 32 legacy slots, 64-word bitmaps).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ArchSharedInfo, DOMID_SELF, SharedInfoLayout as S, VcpuInfoLayout as V, VcpuTimeInfo, XEN_LEGACY_MAX_VCPUS } from "./xen.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

test("vcpu_time_info encodes version, tsc_timestamp, system_time, mul, shift, flags", () => {
  const v = {
    version: 2, pad0: 0, tscTimestamp: 0x1122334455667788n, systemTime: 1_000_000_000n,
    tscToSystemMul: 0xde9bd37a, tscShift: 0xff, flags: 1,
  };
  const b = VcpuTimeInfo.build(v);
  assert.deepEqual(
    b,
    hex(
      "02 00 00 00 00 00 00 00 88 77 66 55 44 33 22 11 " +
        "00 ca 9a 3b 00 00 00 00 7a d3 9b de ff 01 00 00",
    ),
  );
  assert.deepEqual(VcpuTimeInfo.decode(b), v);
});

test("vcpu_info is 64 bytes with the time struct at 32", () => {
  assert.deepEqual([V.evtchnUpcallPending, V.evtchnUpcallMask, V.evtchnPendingSel, V.archCr2, V.time, V.size], [0, 1, 8, 16, 32, 64]);
});

test("shared_info places the bitmaps, wallclock and arch area after 32 vcpu_info slots", () => {
  assert.equal(XEN_LEGACY_MAX_VCPUS * V.size, S.evtchnPending);
  assert.equal(S.evtchnPending + 64 * 8, S.evtchnMask);
  assert.equal(S.evtchnMask + 64 * 8, S.wcVersion);
  assert.deepEqual([S.wcSec, S.wcNsec, S.wcSecHi, S.arch], [3076, 3080, 3084, 3088]);
  assert.equal(S.arch + ArchSharedInfo.size, S.size);
  assert.equal(DOMID_SELF, 0x7ff0);
});
