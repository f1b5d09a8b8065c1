// Boots the stock kernel as an HVM guest on the emu backend in this process (no daemon) with a busybox initramfs
// whose /init runs `initBody`; resolves when the guest shuts down or crashes, with its console, the backend's log
// and the execution profile the vCPU thread wrote when it stopped. Shared by the emu integration tests.
import { emuBackend } from "../../src/accel/emu/backend.ts";
import { loadKernel } from "../../src/boot/load.ts";
import { ACPI_REGION_GPA } from "../../src/devices/acpi/tables.ts";
import type { ExecutionProfile, ShutdownReason } from "../../src/hv/ports.ts";
import { KERNEL, ensureGuest, testInitramfs } from "./guest.ts";

export interface EmuBoot {
  console: string;
  reason: ShutdownReason | "crashed";
  log: string[];
  seconds: number;
  profile: ExecutionProfile | null;
}

export interface EmuBootOptions {
  name: string;
  vcpus: number;
  memoryMiB: number;
  /** Block JIT on or off; absent: the backend's default. */
  jit?: boolean;
}

export async function bootHvmOnEmu(initBody: string, o: EmuBootOptions): Promise<EmuBoot> {
  ensureGuest();
  const initrd = testInitramfs(initBody);
  const memoryBytes = o.memoryMiB << 20;
  const image = loadKernel({
    kernelPath: KERNEL, ramdiskPath: initrd, memoryBytes, vcpus: o.vcpus, type: "hvm", rsdpPaddr: ACPI_REGION_GPA,
    cmdline: "console=ttyS0 reboot=t cryptomgr.notests panic=-1 quiet",
  });
  let text = "";
  const log: string[] = [];
  const t0 = performance.now();
  return await new Promise<EmuBoot>((resolve, reject) => {
    let exec: Awaited<ReturnType<typeof emuBackend.launch>> | undefined;
    let finished = false;
    const finish = (reason: ShutdownReason | "crashed"): void => {
      if (finished) return;
      finished = true;
      const seconds = (performance.now() - t0) / 1000;
      // The thread has stopped: this is the snapshot it wrote when it left its run loop.
      void (exec?.profile?.() ?? Promise.resolve(null)).then((profile) => exec?.destroy().then(() => resolve({ console: text, reason, log, seconds, profile })));
    };
    const emu = o.jit === undefined ? {} : { emu: { jit: o.jit } };
    emuBackend.launch({ domid: 1, name: o.name, type: "hvm", memoryBytes, vcpus: o.vcpus, image, ...emu }, {
      console: (b) => { text += Buffer.from(b).toString("latin1"); },
      log: (l) => log.push(l),
      shutdown: (r) => finish(r),
      crashed: (why, dump) => { log.push(`crashed: ${why}\n${dump}`); finish("crashed"); },
    }).then((e) => { exec = e; if (finished) void e.destroy(); }, reject);
  });
}
