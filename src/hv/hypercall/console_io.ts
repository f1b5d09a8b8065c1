// console_io hypercall (xen/drivers/char/console.c do_console_io): CONSOLEIO_write copies the guest's
// buffer to the domain's console; CONSOLEIO_read has no input for a domU and returns 0 bytes.
import { Errno } from "../../abi/xen/errno.ts";
import { ConsoleIo } from "../../abi/xen/xen.ts";
import type { HypercallHandler } from "./context.ts";
import { XenError } from "./xen_error.ts";

/** Longest single write accepted; Xen copies in chunks, a guest asking for more is broken or hostile. */
const MAX_WRITE_BYTES = 64 * 1024;

export const consoleIo: HypercallHandler = (ctx, [cmd, count, buffer]) => {
  switch (Number(BigInt.asUintN(32, cmd))) {
    case ConsoleIo.write: {
      const n = Number(BigInt.asUintN(32, count));
      if (n > MAX_WRITE_BYTES) throw new XenError(Errno.EINVAL, `console write of ${n} bytes`);
      if (n > 0) ctx.effects.console(ctx.mem.read(buffer, n));
      return 0;
    }
    case ConsoleIo.read:
      return 0;
    default:
      throw new XenError(Errno.ENOSYS, `CONSOLEIO ${cmd}`);
  }
};
