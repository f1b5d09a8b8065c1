// xen_version hypercall ABI: XENVER_* numbers and their buffers. Follows xen/include/public/version.h.
import { defineStruct, bytes, u32, u64 } from "../../base/struct.ts";

export const XenVer = {
  version: 0, // returns (major << 16) | minor
  extraversion: 1, // char[16]
  compile_info: 2,
  capabilities: 3, // char[1024]
  changeset: 4, // char[64]
  platform_parameters: 5,
  get_features: 6,
  pagesize: 7, // returns the page size
  guest_handle: 8, // xen_domain_handle_t (16 bytes)
  commandline: 9, // char[1024]
  build_id: 10,
  extraversion2: 11,
  capabilities2: 12,
  changeset2: 13,
  commandline2: 14,
} as const;

export const XEN_EXTRAVERSION_LEN = 16;
export const XEN_CAPABILITIES_INFO_LEN = 1024;
export const XEN_CHANGESET_INFO_LEN = 64;
export const XEN_COMMANDLINE_LEN = 1024;
export const XEN_DOMAIN_HANDLE_LEN = 16;

/** struct xen_compile_info (144 bytes). */
export const XenCompileInfo = defineStruct("xen_compile_info", 144, {
  compiler: bytes(0, 64),
  compileBy: bytes(64, 16),
  compileDomain: bytes(80, 32),
  compileDate: bytes(112, 32),
});

/** struct xen_platform_parameters. */
export const XenPlatformParameters = defineStruct("xen_platform_parameters", 8, {
  virtStart: u64(0),
});

/** struct xen_feature_info: IN submap_idx; OUT submap. */
export const XenFeatureInfo = defineStruct("xen_feature_info", 8, {
  submapIdx: u32(0),
  submap: u32(4),
});

/** struct xen_varbuf / xen_build_id header: IN len, then buf[len]. */
export const XenVarbufHeader = defineStruct("xen_varbuf", 4, {
  len: u32(0),
});

/** (major << 16) | minor as XENVER_version returns it. */
export function encodeXenVersion(major: number, minor: number): number {
  return ((major & 0xffff) << 16) | (minor & 0xffff);
}
