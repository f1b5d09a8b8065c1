// xen_version hypercall (xen/common/kernel.c do_xen_version, public/version.h): version 4.17, features submap.
import { Errno } from "../../abi/xen/errno.ts";
import { XenFeat, pvhFeatureSubmap } from "../../abi/xen/features.ts";
import { XenVer, encodeXenVersion } from "../../abi/xen/version.ts";
import type { HypercallHandler } from "./context.ts";
import { writeGuestFixedString, readGuestU32 } from "./guest_copy.ts";
import { XenError } from "./xen_error.ts";

export const XEN_MAJOR = 4;
export const XEN_MINOR = 17;
export const XEN_EXTRAVERSION = ".0-tsxen";

/**
 * Submap 0 for a PVH domU as Xen reports it (kernel.c): the guest's own page tables, a translated physmap,
 * the kernel in ring 0, event-channel upcalls through a LAPIC vector (Linux PVH needs hvm_callback_vector).
 * hvm_safe_pvclock is left out: Linux then keeps TSC + LAPIC timers (xen-abi-on-kvm.md §5).
 */
export const PVH_DOMU_FEATURES = pvhFeatureSubmap({ safePvclock: false });

export const xenVersion: HypercallHandler = (ctx, [cmd, arg]) => {
  switch (Number(BigInt.asUintN(32, cmd))) {
    case XenVer.version:
      return encodeXenVersion(XEN_MAJOR, XEN_MINOR);
    case XenVer.extraversion:
      writeGuestFixedString(ctx.mem, arg, XEN_EXTRAVERSION, 16);
      return 0;
    case XenVer.compile_info: {
      writeGuestFixedString(ctx.mem, arg, "tsxen (TypeScript)", 64);
      writeGuestFixedString(ctx.mem, arg + 64n, "tsxen", 16);
      writeGuestFixedString(ctx.mem, arg + 80n, "localdomain", 32);
      writeGuestFixedString(ctx.mem, arg + 112n, "", 32);
      return 0;
    }
    case XenVer.capabilities:
      writeGuestFixedString(ctx.mem, arg, "hvm-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p", 1024);
      return 0;
    case XenVer.changeset:
      writeGuestFixedString(ctx.mem, arg, "tsxen", 64);
      return 0;
    case XenVer.platform_parameters: {
      // virt_start: where Xen's own mappings begin in a PV guest; an HVM/PVH guest owns its whole space.
      const zero = new Uint8Array(ctx.longMode ? 8 : 4);
      ctx.mem.write(arg, zero);
      return 0;
    }
    case XenVer.get_features: {
      const submapIdx = readGuestU32(ctx.mem, arg);
      const submap = submapIdx === 0 ? (ctx.domain.features ?? PVH_DOMU_FEATURES) | (ctx.domain.privileged ? 1 << XenFeat.dom0 : 0) : 0;
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, submap >>> 0, true);
      ctx.mem.write(arg + 4n, out);
      return 0;
    }
    case XenVer.pagesize:
      return 4096;
    case XenVer.guest_handle:
      ctx.mem.write(arg, ctx.domain.handle.subarray(0, 16));
      return 0;
    case XenVer.commandline:
    case XenVer.build_id:
      if (!ctx.domain.privileged) throw new XenError(Errno.EPERM, `XENVER ${cmd} needs a privileged domain`);
      if (Number(cmd) === XenVer.commandline) {
        writeGuestFixedString(ctx.mem, arg, "", 1024);
        return 0;
      }
      throw new XenError(Errno.ENODATA, "no build id");
    default:
      throw new XenError(Errno.ENOSYS, `XENVER ${cmd}`);
  }
};
