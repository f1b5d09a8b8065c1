// Which KVM memory slots a domain needs: RAM from gfn 0, split around overlay pages that sit inside it,
// plus one slot per overlay page (shared_info, grant frames...). KVM forbids overlapping slots, so an
// overlay inside RAM cuts the RAM slot in two (QEMU's xen_overlay.c does the same with memory regions).

export interface SlotSpec {
  readonly gfn: number;
  readonly pages: number;
  /** Host virtual address of the slot's first page. */
  readonly host: bigint;
}

const PAGE = 4096n;

/** The slots for RAM [0, ramPages) at ramHost plus each overlay gfn → host page address. Sorted by gfn. */
export function planMemslots(ramPages: number, ramHost: bigint, overlays: ReadonlyMap<number, bigint>): SlotSpec[] {
  const slots: SlotSpec[] = [];
  const cuts = [...overlays.keys()].filter((g) => g >= 0 && g < ramPages).sort((a, b) => a - b);
  let start = 0;
  for (const cut of [...cuts, ramPages]) {
    if (cut > start) slots.push({ gfn: start, pages: cut - start, host: ramHost + BigInt(start) * PAGE });
    start = cut + 1;
  }
  for (const [gfn, host] of overlays) slots.push({ gfn, pages: 1, host });
  return slots.sort((a, b) => a.gfn - b.gfn);
}

export const slotKey = (s: SlotSpec): string => `${s.gfn}:${s.pages}:${s.host}`;

/** What to change to go from `current` to `wanted`: delete first (no overlap in between), then add. */
export function diffMemslots(current: readonly SlotSpec[], wanted: readonly SlotSpec[]): { remove: SlotSpec[]; add: SlotSpec[] } {
  const have = new Set(current.map(slotKey));
  const want = new Set(wanted.map(slotKey));
  return { remove: current.filter((s) => !want.has(slotKey(s))), add: wanted.filter((s) => !have.has(slotKey(s))) };
}
