// struct kvm_sregs (arch/x86/include/uapi/asm/kvm.h), 312 bytes: 8 kvm_segment, gdt/idt kvm_dtable,
// cr0 cr2 cr3 cr4 cr8 efer apic_base, interrupt_bitmap[4].

export const KVM_SREGS_SIZE = 312;
const SEGMENT_SIZE = 24;
const SEGMENT_NAMES = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];

/** struct kvm_segment (24 bytes): base u64 +0, limit u32 +8, selector u16 +12, type +14, present +15,
 * dpl +16, db +17, s +18, l +19, g +20, avl +21, unusable +22, padding +23. */
export interface KvmSegment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** struct kvm_dtable (16 bytes): base u64 +0, limit u16 +8, padding. */
export interface KvmDtable {
  base: bigint;
  limit: number;
}

export interface KvmSregs {
  cs: KvmSegment; ds: KvmSegment; es: KvmSegment; fs: KvmSegment;
  gs: KvmSegment; ss: KvmSegment; tr: KvmSegment; ldt: KvmSegment;
  gdt: KvmDtable;
  idt: KvmDtable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  /** interrupt_bitmap[4] (u64 each), kept as read so a get/modify/set round trip preserves it. */
  interruptBitmap: [bigint, bigint, bigint, bigint];
}

const OFF_GDT = 8 * SEGMENT_SIZE; // 192
const OFF_IDT = OFF_GDT + 16; // 208
const OFF_CR0 = OFF_IDT + 16; // 224
const CTRL_NAMES = ["cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apicBase"] as const;
const OFF_BITMAP = OFF_CR0 + 7 * 8; // 280

function decodeSegment(v: DataView, off: number): KvmSegment {
  return {
    base: v.getBigUint64(off, true),
    limit: v.getUint32(off + 8, true),
    selector: v.getUint16(off + 12, true),
    type: v.getUint8(off + 14),
    present: v.getUint8(off + 15),
    dpl: v.getUint8(off + 16),
    db: v.getUint8(off + 17),
    s: v.getUint8(off + 18),
    l: v.getUint8(off + 19),
    g: v.getUint8(off + 20),
    avl: v.getUint8(off + 21),
    unusable: v.getUint8(off + 22),
  };
}

function encodeSegment(v: DataView, off: number, s: KvmSegment): void {
  v.setBigUint64(off, s.base, true);
  v.setUint32(off + 8, s.limit >>> 0, true);
  v.setUint16(off + 12, s.selector, true);
  v.setUint8(off + 14, s.type);
  v.setUint8(off + 15, s.present);
  v.setUint8(off + 16, s.dpl);
  v.setUint8(off + 17, s.db);
  v.setUint8(off + 18, s.s);
  v.setUint8(off + 19, s.l);
  v.setUint8(off + 20, s.g);
  v.setUint8(off + 21, s.avl);
  v.setUint8(off + 22, s.unusable);
  v.setUint8(off + 23, 0);
}

export function decodeSregs(bytes: Uint8Array): KvmSregs {
  const v = new DataView(bytes.buffer, bytes.byteOffset, KVM_SREGS_SIZE);
  const seg = (i: number): KvmSegment => decodeSegment(v, i * SEGMENT_SIZE);
  const ctrl = (i: number): bigint => v.getBigUint64(OFF_CR0 + i * 8, true);
  return {
    cs: seg(0), ds: seg(1), es: seg(2), fs: seg(3), gs: seg(4), ss: seg(5), tr: seg(6), ldt: seg(7),
    gdt: { base: v.getBigUint64(OFF_GDT, true), limit: v.getUint16(OFF_GDT + 8, true) },
    idt: { base: v.getBigUint64(OFF_IDT, true), limit: v.getUint16(OFF_IDT + 8, true) },
    cr0: ctrl(0), cr2: ctrl(1), cr3: ctrl(2), cr4: ctrl(3), cr8: ctrl(4), efer: ctrl(5), apicBase: ctrl(6),
    interruptBitmap: [0, 1, 2, 3].map((i) => v.getBigUint64(OFF_BITMAP + i * 8, true)) as KvmSregs["interruptBitmap"],
  };
}

export function encodeSregs(s: KvmSregs): Uint8Array {
  const bytes = new Uint8Array(KVM_SREGS_SIZE);
  const v = new DataView(bytes.buffer);
  SEGMENT_NAMES.forEach((name, i) => encodeSegment(v, i * SEGMENT_SIZE, s[name]));
  v.setBigUint64(OFF_GDT, s.gdt.base, true);
  v.setUint16(OFF_GDT + 8, s.gdt.limit, true);
  v.setBigUint64(OFF_IDT, s.idt.base, true);
  v.setUint16(OFF_IDT + 8, s.idt.limit, true);
  CTRL_NAMES.forEach((name, i) => v.setBigUint64(OFF_CR0 + i * 8, s[name], true));
  s.interruptBitmap.forEach((w, i) => v.setBigUint64(OFF_BITMAP + i * 8, w, true));
  return bytes;
}
