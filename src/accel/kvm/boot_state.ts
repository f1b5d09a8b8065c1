// Initial vCPU state for each BootEntry kind, as KVM register structures.
// PVH: xen docs/misc/pvh.pandoc; 64-bit Linux: Documentation/x86/boot.rst "64-bit boot protocol".
import type { KvmRegs } from "../../abi/kvm/regs.ts";
import type { KvmSegment, KvmSregs } from "../../abi/kvm/sregs.ts";
import type { BootEntry } from "../../hv/ports.ts";

const flat = (selector: number, type: number, extra: Partial<KvmSegment> = {}): KvmSegment => ({
  base: 0n, limit: 0xffffffff, selector, type, present: 1, dpl: 0, db: 1, s: 1, l: 0, g: 1, avl: 0, unusable: 0, ...extra,
});
const TSS_32_BUSY = 11;
const LDT = 2;

/** Fills regs/sregs (modified in place) for `entry`. regs should start zeroed; sregs as read from KVM. */
export function applyBootEntry(entry: BootEntry, regs: KvmRegs, s: KvmSregs): void {
  s.tr = { base: 0n, limit: 0x67, selector: 0, type: TSS_32_BUSY, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 };
  s.ldt = { base: 0n, limit: 0xffff, selector: 0, type: LDT, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 };
  regs.set("rflags", 2n);
  switch (entry.kind) {
    case "pvh32": {
      s.cs = flat(0x10, 0xb);
      s.ds = s.es = s.ss = s.fs = s.gs = flat(0x18, 0x3);
      s.cr0 = 0x11n; // PE | ET
      s.cr3 = 0n;
      s.cr4 = 0n;
      s.efer = 0n;
      regs.set("rip", BigInt(entry.entry));
      regs.set("rbx", BigInt(entry.ebx));
      return;
    }
    case "linux64": {
      s.cs = flat(0x10, 0xb, { l: 1, db: 0 });
      s.ds = s.es = s.ss = s.fs = s.gs = flat(0x18, 0x3);
      s.gdt = { base: BigInt(entry.gdtBase), limit: 0x27 };
      s.cr0 = 0x80050033n; // PG | AM | WP | NE | ET | MP | PE
      s.cr3 = BigInt(entry.cr3);
      s.cr4 = 0x20n; // PAE
      s.efer = 0x500n; // LMA | LME
      regs.set("rip", entry.entry);
      regs.set("rsi", BigInt(entry.rsi));
      return;
    }
    case "real16": {
      const seg = (sel: number, type: number): KvmSegment =>
        ({ base: BigInt(sel << 4), limit: 0xffff, selector: sel, type, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0 });
      s.cs = seg(entry.cs, 0xb);
      s.ds = s.es = s.ss = s.fs = s.gs = seg(0, 0x3);
      s.cr0 = 0x10n;
      s.cr4 = 0n;
      s.efer = 0n;
      regs.set("rip", BigInt(entry.ip));
      return;
    }
  }
}
