// A KVM virtual machine as the owner (main thread) holds it: /dev/kvm, the VM fd, guest RAM from a
// memfd mapped MAP_SHARED and registered as memslot 0, split irqchip, user-space MSR exits with a filter
// for the Xen hypercall-page MSR, and vCPU fds with their kvm_run pages. vCPU threads use the fds and
// addresses (valid process-wide); only the owner closes and unmaps them, after the threads have stopped.
import { KVM, KVM_API_VERSION, KVM_CAP, KVM_MSR_EXIT_REASON } from "../../abi/kvm/ioctl_numbers.ts";
import type { CpuidEntry } from "../../abi/kvm/cpuid.ts";
import { encodeMsi, KVM_MSR_FILTER_DEFAULT_ALLOW, KVM_MSR_FILTER_WRITE } from "../../abi/kvm/vm_structs.ts";
import { HYPERCALL_PAGE_MSR } from "../../hv/hypercall/hypercall_page.ts";
import { KvmError } from "./errors.ts";
import * as ffi from "./ffi.ts";
import * as kvm from "./ioctl.ts";

export const KVM_DEVICE = "/dev/kvm";
/** RAM is one slot below the LAPIC/IOAPIC/BIOS area; larger guests need a second slot above 4 GiB (later). */
export const MAX_RAM_BYTES = 3 * 1024 * 1024 * 1024;
/** Where VMX hosts keep the real-mode TSS (3 pages), as QEMU does: just below the BIOS. */
const TSS_ADDR = 0xfffbd000;
/** IOAPIC pins routed through KVM with a split irqchip (Xen PVH has no IOAPIC; 24 is QEMU's default). */
const SPLIT_IRQCHIP_PINS = 24n;

/** /dev/kvm opened: the system-level ioctls. */
export class KvmSystem {
  private constructor(
    readonly fd: number,
    readonly vcpuMmapSize: number,
  ) {}

  static open(): KvmSystem {
    let fd: number;
    try {
      fd = ffi.openFile(KVM_DEVICE, ffi.O_RDWR);
    } catch (e) {
      if (e instanceof KvmError && (e.errno === 13 || e.errno === 1)) {
        throw new KvmError(`open "${KVM_DEVICE}"`, e.errno, e.errnoName, `no permission; run as root or join the "kvm" group`);
      }
      if (e instanceof KvmError && e.errno === 2) {
        throw new KvmError(`open "${KVM_DEVICE}"`, e.errno, e.errnoName, "KVM is not available on this host");
      }
      throw e;
    }
    try {
      const version = ffi.ioctlValue(fd, KVM.GET_API_VERSION, 0, "KVM_GET_API_VERSION");
      if (version !== KVM_API_VERSION) throw new KvmError("KVM_GET_API_VERSION", 0, "EINVAL", `API version ${version}, tsxen needs ${KVM_API_VERSION}`);
      const mmapSize = ffi.ioctlValue(fd, KVM.GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
      return new KvmSystem(fd, mmapSize);
    } catch (e) {
      ffi.closeFd(fd);
      throw e;
    }
  }

  checkExtension(cap: number): number {
    return kvm.checkExtension(this.fd, cap);
  }

  supportedCpuid(): CpuidEntry[] {
    return kvm.getSupportedCpuid(this.fd);
  }

  close(): void {
    ffi.closeFd(this.fd);
  }
}

export interface KvmVcpuHandle {
  readonly id: number;
  readonly fd: number;
  /** Address of this vCPU's struct kvm_run mapping. */
  readonly runAddr: bigint;
  readonly runSizeBytes: number;
}

export class KvmVm {
  readonly vcpus: KvmVcpuHandle[] = [];
  private closed = false;

  private constructor(
    readonly system: KvmSystem,
    readonly fd: number,
    readonly memfd: number,
    readonly ramAddr: bigint,
    readonly ramSizeBytes: number,
    /** Guest RAM seen from the owner thread; index = guest-physical address. */
    readonly ram: Uint8Array,
  ) {}

  /** Takes ownership of `system` on success (close() closes it). */
  static create(system: KvmSystem, opts: { name: string; memoryBytes: number }): KvmVm {
    const size = opts.memoryBytes;
    if (size <= 0 || size % 4096 !== 0) throw new RangeError(`Guest memory must be a positive multiple of 4 KiB, got ${size}`);
    if (size > MAX_RAM_BYTES) throw new RangeError(`Guest memory ${size} bytes exceeds the kvm backend's limit of ${MAX_RAM_BYTES} bytes`);
    const cleanup: (() => void)[] = [];
    try {
      const vmFd = ffi.ioctlValue(system.fd, KVM.CREATE_VM, 0, "KVM_CREATE_VM");
      cleanup.push(() => ffi.closeFd(vmFd));
      const memfd = ffi.memfdCreate(`tsxen-ram-${opts.name}`, size);
      cleanup.push(() => ffi.closeFd(memfd));
      const addr = ffi.mmapShared(memfd, size, "guest RAM");
      cleanup.push(() => ffi.munmap(addr, size));
      kvm.setUserMemoryRegion(vmFd, 0, 0n, BigInt(size), addr);
      // Optional on PVM hosts, required for real mode on VMX without unrestricted guest.
      ffi.ioctlRaw(vmFd, KVM.SET_TSS_ADDR, TSS_ADDR);
      kvm.enableCap(vmFd, KVM_CAP.SPLIT_IRQCHIP, [SPLIT_IRQCHIP_PINS], "SPLIT_IRQCHIP");
      kvm.enableCap(vmFd, KVM_CAP.X86_USER_SPACE_MSR, [BigInt(KVM_MSR_EXIT_REASON.FILTER | KVM_MSR_EXIT_REASON.UNKNOWN)], "X86_USER_SPACE_MSR");
      installMsrFilter(vmFd);
      return new KvmVm(system, vmFd, memfd, addr, size, ffi.nativeView(addr, size));
    } catch (e) {
      for (const c of cleanup.reverse()) c();
      throw e;
    }
  }

  createVcpu(id: number): KvmVcpuHandle {
    const fd = ffi.ioctlValue(this.fd, KVM.CREATE_VCPU, id, `KVM_CREATE_VCPU ${id}`);
    try {
      const runAddr = ffi.mmapShared(fd, this.system.vcpuMmapSize, `kvm_run of vCPU ${id}`);
      const h = { id, fd, runAddr, runSizeBytes: this.system.vcpuMmapSize };
      this.vcpus.push(h);
      return h;
    } catch (e) {
      ffi.closeFd(fd);
      throw e;
    }
  }

  /**
   * Raises `vector` on the LAPIC with id `apicId` as a fixed, edge-triggered MSI (KVM_SIGNAL_MSI):
   * how the Xen upcall vector reaches a vCPU (xen-abi-on-kvm.md §7). Any thread. Returns true if delivered.
   */
  signalMsi(apicId: number, vector: number): boolean {
    if (this.closed) return false;
    const msi = encodeMsi({ addressLo: 0xfee00000 | ((apicId & 0xff) << 12), addressHi: 0, data: vector & 0xff });
    return ffi.ioctlRaw(this.fd, KVM.SIGNAL_MSI, msi) > 0;
  }

  /** Releases vCPUs, RAM and the VM. Only after every vCPU thread has stopped. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const v of this.vcpus) {
      ffi.munmap(v.runAddr, v.runSizeBytes);
      ffi.closeFd(v.fd);
    }
    ffi.munmap(this.ramAddr, this.ramSizeBytes);
    ffi.closeFd(this.memfd);
    ffi.closeFd(this.fd);
    this.system.close();
  }
}

/** Writes to the hypercall-page MSR exit to userspace (KVM_EXIT_X86_WRMSR, reason FILTER). */
function installMsrFilter(vmFd: number): void {
  const bitmap = ffi.mallocBytes(8);
  try {
    ffi.nativeView(bitmap, 8).fill(0); // bit clear = deny = exit to userspace
    kvm.setMsrFilter(vmFd, KVM_MSR_FILTER_DEFAULT_ALLOW, [
      { flags: KVM_MSR_FILTER_WRITE, nmsrs: 1, base: HYPERCALL_PAGE_MSR, bitmapAddr: bitmap },
    ]);
  } finally {
    ffi.freeBytes(bitmap); // KVM copied the bitmap
  }
}
