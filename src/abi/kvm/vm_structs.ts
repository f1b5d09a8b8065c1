// Small KVM argument structs (include/uapi/linux/kvm.h, x86-64 layout): memory regions, ENABLE_CAP,
// MSR filter, MSI, signal mask.

/** struct kvm_userspace_memory_region (32 B): slot u32 +0, flags u32 +4, guest_phys_addr u64 +8,
 * memory_size u64 +16, userspace_addr u64 +24. */
export function encodeUserspaceMemoryRegion(r: {
  slot: number;
  flags: number;
  guestPhysAddr: bigint;
  memorySize: bigint;
  userspaceAddr: bigint;
}): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setUint32(0, r.slot, true);
  v.setUint32(4, r.flags, true);
  v.setBigUint64(8, r.guestPhysAddr, true);
  v.setBigUint64(16, r.memorySize, true);
  v.setBigUint64(24, r.userspaceAddr, true);
  return b;
}

/** struct kvm_enable_cap (104 B): cap u32 +0, flags u32 +4, args[4] u64 +8, pad[64] +40. */
export function encodeEnableCap(cap: number, args: readonly bigint[] = []): Uint8Array {
  const b = new Uint8Array(104);
  const v = new DataView(b.buffer);
  v.setUint32(0, cap, true);
  args.slice(0, 4).forEach((a, i) => v.setBigUint64(8 + i * 8, a, true));
  return b;
}

export const KVM_MSR_FILTER_MAX_RANGES = 16;
export const KVM_MSR_FILTER_DEFAULT_ALLOW = 0;
export const KVM_MSR_FILTER_DEFAULT_DENY = 1;
export const KVM_MSR_FILTER_READ = 1;
export const KVM_MSR_FILTER_WRITE = 2;

/** struct kvm_msr_filter (392 B): flags u32 +0, ranges[16] +8, each kvm_msr_filter_range (24 B):
 * flags u32 +0, nmsrs u32 +4, base u32 +8, bitmap pointer u64 +16 (bit set = allow). */
export function encodeMsrFilter(
  flags: number,
  ranges: readonly { flags: number; nmsrs: number; base: number; bitmapAddr: bigint }[],
): Uint8Array {
  if (ranges.length > KVM_MSR_FILTER_MAX_RANGES) throw new RangeError(`At most ${KVM_MSR_FILTER_MAX_RANGES} MSR filter ranges`);
  const b = new Uint8Array(392);
  const v = new DataView(b.buffer);
  v.setUint32(0, flags, true);
  ranges.forEach((r, i) => {
    const o = 8 + i * 24;
    v.setUint32(o, r.flags, true);
    v.setUint32(o + 4, r.nmsrs, true);
    v.setUint32(o + 8, r.base >>> 0, true);
    v.setBigUint64(o + 16, r.bitmapAddr, true);
  });
  return b;
}

/** struct kvm_msi (32 B): address_lo u32 +0, address_hi u32 +4, data u32 +8, flags u32 +12, devid u32 +16, pad. */
export function encodeMsi(m: { addressLo: number; addressHi: number; data: number }): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setUint32(0, m.addressLo >>> 0, true);
  v.setUint32(4, m.addressHi >>> 0, true);
  v.setUint32(8, m.data >>> 0, true);
  return b;
}

/** struct kvm_signal_mask {len u32; sigset[]}: the mask KVM_RUN installs while the guest runs.
 * The kernel sigset is 8 bytes on x86-64; an all-zero set leaves every signal deliverable. */
export function encodeSignalMask(blockedSignals: readonly number[]): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, 8, true);
  let mask = 0n;
  for (const sig of blockedSignals) mask |= 1n << BigInt(sig - 1);
  v.setBigUint64(4, mask, true);
  return b;
}
