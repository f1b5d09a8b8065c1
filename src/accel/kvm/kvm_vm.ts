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
import { diffMemslots, planMemslots, slotKey, type SlotSpec } from "./memslot_plan.ts";

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

/** Overlay pages come from memfd chunks of this many pages, mapped once and never moved. */
const OVERLAY_CHUNK_PAGES = 64;

export class KvmVm {
  readonly vcpus: KvmVcpuHandle[] = [];
  private closed = false;
  /** Memslots as installed: slot id → what it maps. */
  private readonly slots = new Map<number, SlotSpec>();
  /** Overlay gfn above RAM → host address of the page shown there (each has its own memslot). */
  private readonly overlays = new Map<number, bigint>();
  /** Overlay gfns inside RAM: their page is mapped over the RAM mapping itself (see mapOverlay). */
  private readonly ramOverlays = new Set<number>();
  private readonly overlayHost = new WeakMap<Uint8Array, { host: bigint; fd: number; offset: number }>();
  private readonly overlayChunks: { fd: number; addr: bigint }[] = [];
  private overlayFree: Uint8Array[] = [];

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
      // Optional on PVM hosts, required for real mode on VMX without unrestricted guest.
      ffi.ioctlRaw(vmFd, KVM.SET_TSS_ADDR, TSS_ADDR);
      kvm.enableCap(vmFd, KVM_CAP.SPLIT_IRQCHIP, [SPLIT_IRQCHIP_PINS], "SPLIT_IRQCHIP");
      kvm.enableCap(vmFd, KVM_CAP.X86_USER_SPACE_MSR, [BigInt(KVM_MSR_EXIT_REASON.FILTER | KVM_MSR_EXIT_REASON.UNKNOWN)], "X86_USER_SPACE_MSR");
      installMsrFilter(vmFd);
      const vm = new KvmVm(system, vmFd, memfd, addr, size, ffi.nativeView(addr, size));
      vm.applyMemslots();
      return vm;
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

  // ---- guest-physical layout: RAM and overlay pages (main thread) ----

  /** A zeroed host page that mapOverlay() can show to the guest (memfd-backed, address known to KVM). */
  allocOverlayPage(): Uint8Array {
    this.checkOpen();
    if (this.overlayFree.length === 0) {
      const bytes = OVERLAY_CHUNK_PAGES * 4096;
      const fd = ffi.memfdCreate("tsxen-overlay", bytes);
      const addr = ffi.mmapShared(fd, bytes, "overlay pages");
      this.overlayChunks.push({ fd, addr });
      const view = ffi.nativeView(addr, bytes);
      for (let i = OVERLAY_CHUNK_PAGES - 1; i >= 0; i--) {
        const page = view.subarray(i * 4096, (i + 1) * 4096);
        this.overlayHost.set(page, { host: addr + BigInt(i * 4096), fd, offset: i * 4096 });
        this.overlayFree.push(page);
      }
    }
    return this.overlayFree.pop()!;
  }

  /**
   * Shows `page` (from allocOverlayPage) at gfn, in front of any RAM there.
   * Design: above RAM the page gets its own memslot. Inside RAM, splitting the RAM memslot would leave a
   * moment with no RAM slot, and a running vCPU that walks its page tables then faults (seen: a triple
   * fault). Instead the overlay's memfd page is mmapped with MAP_FIXED over that page of the RAM mapping:
   * KVM (through its MMU notifier), the vCPU threads and the owner all see the overlay at once, and the
   * RAM page underneath stays intact in the RAM memfd until unmapOverlay() maps it back.
   */
  mapOverlay(gfn: number, page: Uint8Array): void {
    this.checkOpen();
    const where = this.overlayHost.get(page);
    if (where === undefined) throw new Error(`Overlay page for gfn 0x${gfn.toString(16)} was not allocated by the kvm backend`);
    if (gfn >= 0 && gfn < this.ramSizeBytes / 4096) {
      ffi.mmapFixedShared(this.ramAddr + BigInt(gfn) * 4096n, 4096, where.fd, where.offset, `overlay at gfn 0x${gfn.toString(16)}`);
      this.ramOverlays.add(gfn);
      return;
    }
    this.overlays.set(gfn, where.host);
    this.applyMemslots();
  }

  unmapOverlay(gfn: number): void {
    this.checkOpen();
    if (this.ramOverlays.delete(gfn)) {
      ffi.mmapFixedShared(this.ramAddr + BigInt(gfn) * 4096n, 4096, this.memfd, gfn * 4096, `RAM at gfn 0x${gfn.toString(16)}`);
      return;
    }
    if (this.overlays.delete(gfn)) this.applyMemslots();
  }

  /** Gives a RAM page's memory back to the host (balloon); the guest reads zeros there afterwards. */
  releaseRamPage(gfn: number): void {
    this.checkOpen();
    if (!(gfn >= 0 && gfn < this.ramSizeBytes / 4096)) throw new RangeError(`gfn 0x${gfn.toString(16)} is not RAM`);
    ffi.punchHole(this.memfd, gfn * 4096, 4096);
  }

  /** Its memory is unmapped after close(): touching it (MAP_FIXED above all) could hit someone else's mapping. */
  private checkOpen(): void {
    if (this.closed) throw new Error("The VM has been destroyed");
  }

  /** Brings the memslots in line with RAM + overlays: removed slots first, so none ever overlap. */
  private applyMemslots(): void {
    const wanted = planMemslots(this.ramSizeBytes / 4096, this.ramAddr, this.overlays);
    const { remove, add } = diffMemslots([...this.slots.values()], wanted);
    const removeKeys = new Set(remove.map(slotKey));
    for (const [id, spec] of this.slots) {
      if (!removeKeys.has(slotKey(spec))) continue;
      kvm.setUserMemoryRegion(this.fd, id, BigInt(spec.gfn) * 4096n, 0n, spec.host);
      this.slots.delete(id);
    }
    for (const spec of add) {
      let id = 0;
      while (this.slots.has(id)) id++;
      kvm.setUserMemoryRegion(this.fd, id, BigInt(spec.gfn) * 4096n, BigInt(spec.pages) * 4096n, spec.host);
      this.slots.set(id, spec);
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
    for (const c of this.overlayChunks) {
      ffi.munmap(c.addr, OVERLAY_CHUNK_PAGES * 4096);
      ffi.closeFd(c.fd);
    }
    this.overlayFree = [];
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
