// grant_table_op (hypercall 20): GNTTABOP_* over arrays of argument structs in guest memory, with per-op
// GNTST_* status written back as Xen does (do_grant_table_op in xen/common/grant_table.c).
import { Errno } from "../../abi/xen/errno.ts";
import {
  Gntcopy, Gntmap, GnttabCopy, GnttabDumpTable, GnttabGetStatusFrames, GnttabGetVersion, GnttabMapGrantRef, GnttabOp,
  GnttabQuerySize, GnttabSetupTable, GnttabSetVersion, GnttabUnmapGrantRef, Gntst, gntstToU16,
} from "../../abi/xen/grant_table.ts";
import { DOMID_SELF, XEN_PAGE_SHIFT, XEN_PAGE_SIZE } from "../../abi/xen/xen.ts";
import { copyToGuest, inOut, readStruct, writeStruct, type GuestCall } from "../xen/guest_call.ts";
import { XenError } from "../xen/xen_error.ts";
import { GrantStatusError, type GrantTables } from "./grant_table.ts";

/** Largest batch accepted in one call (Xen would preempt and continue; we refuse absurd counts). */
export const MAX_GNTTAB_BATCH = 4096;

function statusOf(e: unknown): number {
  if (e instanceof GrantStatusError) return e.status;
  if (e instanceof XenError && e.errno === Errno.EFAULT) throw e;
  if (e instanceof XenError) return Gntst.general_error;
  throw e;
}

/** HYPERVISOR_grant_table_op(cmd, uop, count). Returns 0 (per-op results in status fields) or throws XenError. */
export function gnttabOp(tables: GrantTables, call: GuestCall, cmd: number, uop: bigint, count: number): number {
  if (!Number.isInteger(count) || count < 0 || count > MAX_GNTTAB_BATCH) {
    throw new XenError(Errno.EINVAL, `grant_table_op count "${count}" is out of range`);
  }
  const self = call.domid;
  switch (cmd) {
    case GnttabOp.map_grant_ref:
      for (let i = 0; i < count; i++) {
        inOut(call, GnttabMapGrantRef, uop + BigInt(i * GnttabMapGrantRef.size), (op) => {
          op.handle = 0xffff_ffff;
          op.devBusAddr = 0n;
          if ((op.flags & (Gntmap.host_map | Gntmap.device_map)) === 0) {
            op.status = gntstToU16(Gntst.bad_gntref);
            return 0;
          }
          if ((op.flags & Gntmap.contains_pte) !== 0) {
            op.status = gntstToU16(Gntst.general_error);
            return 0;
          }
          try {
            const atGfn = (op.flags & Gntmap.host_map) !== 0 ? Number(op.hostAddr >> BigInt(XEN_PAGE_SHIFT)) : undefined;
            if (atGfn !== undefined && !Number.isSafeInteger(atGfn)) throw new GrantStatusError(Gntst.bad_virt_addr, "host_addr too large");
            const m = tables.mapGrantRef(self, op.dom, op.ref, (op.flags & Gntmap.readonly) !== 0, atGfn);
            op.handle = m.handle;
            if ((op.flags & Gntmap.device_map) !== 0) op.devBusAddr = BigInt(m.frame) << BigInt(XEN_PAGE_SHIFT);
            op.status = gntstToU16(Gntst.okay);
          } catch (e) {
            op.status = gntstToU16(statusOf(e));
          }
          return 0;
        });
      }
      return 0;

    case GnttabOp.unmap_grant_ref:
      for (let i = 0; i < count; i++) {
        inOut(call, GnttabUnmapGrantRef, uop + BigInt(i * GnttabUnmapGrantRef.size), (op) => {
          try {
            tables.unmapGrantRef(self, op.handle);
            op.status = gntstToU16(Gntst.okay);
          } catch (e) {
            op.status = gntstToU16(statusOf(e));
          }
          return 0;
        });
      }
      return 0;

    case GnttabOp.setup_table: {
      if (count !== 1) throw new XenError(Errno.EINVAL, "setup_table takes exactly one struct");
      return inOut(call, GnttabSetupTable, uop, (op) => {
        try {
          const gfns = tables.setupTable(self, op.dom, op.nrFrames);
          const list = new Uint8Array(gfns.length * 8);
          const view = new DataView(list.buffer);
          gfns.forEach((g, i) => view.setBigUint64(i * 8, g, true));
          try {
            copyToGuest(call, op.frameList, list);
            op.status = gntstToU16(Gntst.okay);
          } catch {
            op.status = gntstToU16(Gntst.bad_virt_addr);
          }
        } catch (e) {
          op.status = gntstToU16(statusOf(e));
        }
        return 0;
      });
    }

    case GnttabOp.copy:
      for (let i = 0; i < count; i++) {
        inOut(call, GnttabCopy, uop + BigInt(i * GnttabCopy.size), (op) => {
          try {
            copyOne(tables, call, op);
            op.status = gntstToU16(Gntst.okay);
          } catch (e) {
            op.status = gntstToU16(statusOf(e));
          }
          return 0;
        });
      }
      return 0;

    case GnttabOp.query_size:
      if (count !== 1) throw new XenError(Errno.EINVAL, "query_size takes exactly one struct");
      return inOut(call, GnttabQuerySize, uop, (op) => {
        try {
          const q = tables.querySize(self, op.dom);
          op.nrFrames = q.nrFrames;
          op.maxNrFrames = q.maxNrFrames;
          op.status = gntstToU16(Gntst.okay);
        } catch (e) {
          op.status = gntstToU16(statusOf(e));
        }
        return 0;
      });

    case GnttabOp.set_version: {
      const op = readStruct(call, GnttabSetVersion, uop);
      let failure: unknown;
      try {
        tables.setVersion(self, op.version);
      } catch (e) {
        failure = e;
      }
      writeStruct(call, GnttabSetVersion, uop, { version: tables.getVersion(self, DOMID_SELF) });
      if (failure !== undefined) throw failure;
      return 0;
    }

    case GnttabOp.get_version:
      return inOut(call, GnttabGetVersion, uop, (op) => {
        op.version = tables.getVersion(self, op.dom);
        return 0;
      });

    case GnttabOp.get_status_frames:
      return inOut(call, GnttabGetStatusFrames, uop, (op) => {
        op.status = gntstToU16(Gntst.general_error); // status frames exist only in v2
        return 0;
      });

    case GnttabOp.dump_table:
      return inOut(call, GnttabDumpTable, uop, (op) => {
        try {
          tables.querySize(self, op.dom);
          op.status = gntstToU16(Gntst.okay);
        } catch (e) {
          op.status = gntstToU16(statusOf(e));
        }
        return 0;
      });

    default:
      throw new XenError(Errno.ENOSYS, `Unsupported grant_table_op "${cmd}"`);
  }
}

type CopyOp = ReturnType<typeof GnttabCopy.decode>;

/** One GNTTABOP_copy: each side is a grant ref of (domid) or a gmfn of the caller itself (DOMID_SELF only). */
function copyOne(tables: GrantTables, call: GuestCall, op: CopyOp): void {
  if (op.len === 0) return;
  if (op.sourceOffset + op.len > XEN_PAGE_SIZE || op.destOffset + op.len > XEN_PAGE_SIZE) {
    throw new GrantStatusError(Gntst.bad_copy_arg, "Copy crosses a page boundary");
  }
  const srcGref = (op.flags & Gntcopy.source_gref) !== 0;
  const dstGref = (op.flags & Gntcopy.dest_gref) !== 0;
  if ((!srcGref && op.sourceDomid !== DOMID_SELF) || (!dstGref && op.destDomid !== DOMID_SELF)) {
    throw new GrantStatusError(Gntst.permission_denied, "Only DOMID_SELF may be addressed by frame");
  }
  const own = (gmfn: bigint): Uint8Array => {
    const page = gmfn <= BigInt(Number.MAX_SAFE_INTEGER) ? tables.physmapOf(call.domid)?.page(Number(gmfn)) : undefined;
    if (page === undefined) throw new GrantStatusError(Gntst.bad_page, `Frame "${gmfn}" of domain ${call.domid} holds no page`);
    return page;
  };
  const withDest = (src: Uint8Array) => {
    const data = src.slice(op.sourceOffset, op.sourceOffset + op.len);
    if (dstGref) {
      tables.withGrantedPage(call.domid, op.destDomid, Number(op.destU & 0xffff_ffffn), false, (dst) => dst.set(data, op.destOffset));
    } else {
      own(op.destU).set(data, op.destOffset);
    }
  };
  if (srcGref) tables.withGrantedPage(call.domid, op.sourceDomid, Number(op.sourceU & 0xffff_ffffn), true, withDest);
  else withDest(own(op.sourceU));
}
