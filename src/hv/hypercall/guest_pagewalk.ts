// copy_from_guest / copy_to_guest for HVM/PVH guests: guest-virtual → guest-physical by walking the
// guest's own page tables (Intel SDM vol. 3 §4: 32-bit, PAE and 4-level paging), then RAM.
// Design: translate page by page (a buffer may span pages that map anywhere); only Present is checked
// (the hypervisor acts with supervisor rights, as Xen's hvm_copy does for the guest kernel's buffers).
import type { GuestVirtualMemory } from "../ports.ts";
import { GuestFault } from "./xen_error.ts";

/** The control registers that decide how a vCPU translates addresses, as plain numbers. */
export interface PagingState {
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
}

const CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_LA57 = 1 << 12;
const EFER_LMA = 1 << 10;
const PTE_P = 1;
const PTE_PS = 1 << 7;
const TWO_32 = 2 ** 32;
const PAGE = 4096;

/** Translates one guest-virtual address; throws GuestFault if unmapped. */
export function translate(ram: Uint8Array, p: PagingState, va: bigint): number {
  if ((p.cr0 & CR0_PG) === 0) return Number(BigInt.asUintN(32, va));
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  if ((p.efer & EFER_LMA) !== 0) return walkLong(view, p, va);
  const va32 = Number(BigInt.asUintN(32, va));
  if (va !== BigInt(va32)) throw new GuestFault(va, "above 4 GiB in 32-bit mode");
  return (p.cr4 & CR4_PAE) !== 0 ? walkPae(view, p, va32) : walk32(view, p, va32);
}

function readPte64(view: DataView, gpa: number, va: bigint): [lo: number, frame: number] {
  if (gpa + 8 > view.byteLength) throw new GuestFault(va, `page table at 0x${gpa.toString(16)} is outside RAM`);
  const lo = view.getUint32(gpa, true);
  const hi = view.getUint32(gpa + 4, true);
  // Bits 51:12 hold the next frame's address.
  const frame = (lo & 0xfffff000) >>> 0;
  return [lo, frame + (hi & 0x000fffff) * TWO_32];
}

function walkLong(view: DataView, p: PagingState, va: bigint): number {
  if ((p.cr4 & CR4_LA57) !== 0) throw new GuestFault(va, "5-level paging is not supported");
  const top = BigInt.asIntN(64, va) >> 47n;
  if (top !== 0n && top !== -1n) throw new GuestFault(va, "non-canonical address");
  const low = Number(BigInt.asUintN(48, va));
  let table = Math.floor(p.cr3 / PAGE) * PAGE;
  // Levels: PML4 (bits 47:39), PDPT (38:30, 1 GiB pages), PD (29:21, 2 MiB pages), PT (20:12).
  const shifts = [39, 30, 21, 12];
  for (let level = 0; level < 4; level++) {
    const shift = shifts[level]!;
    const index = Math.floor(low / 2 ** shift) % 512;
    const [lo, frame] = readPte64(view, table + index * 8, va);
    if ((lo & PTE_P) === 0) throw new GuestFault(va, `not present at level ${4 - level}`);
    if ((level === 1 || level === 2) && (lo & PTE_PS) !== 0) {
      const size = 2 ** shift;
      return Math.floor(frame / size) * size + (low % size);
    }
    table = frame;
  }
  return table + (low % PAGE);
}

function walkPae(view: DataView, p: PagingState, va: number): number {
  const pdpt = (p.cr3 & 0xffffffe0) >>> 0;
  const [pdpte, pd] = readPte64(view, pdpt + (va >>> 30) * 8, BigInt(va));
  if ((pdpte & PTE_P) === 0) throw new GuestFault(BigInt(va), "PDPTE not present");
  const [pde, pdFrame] = readPte64(view, pd + ((va >>> 21) & 511) * 8, BigInt(va));
  if ((pde & PTE_P) === 0) throw new GuestFault(BigInt(va), "PDE not present");
  if ((pde & PTE_PS) !== 0) return Math.floor(pdFrame / 0x200000) * 0x200000 + (va & 0x1fffff);
  const [pte, frame] = readPte64(view, pdFrame + ((va >>> 12) & 511) * 8, BigInt(va));
  if ((pte & PTE_P) === 0) throw new GuestFault(BigInt(va), "PTE not present");
  return frame + (va & 0xfff);
}

function walk32(view: DataView, p: PagingState, va: number): number {
  const read = (gpa: number): number => {
    if (gpa + 4 > view.byteLength) throw new GuestFault(BigInt(va), "page table outside RAM");
    return view.getUint32(gpa, true);
  };
  const pde = read(((p.cr3 & 0xfffff000) >>> 0) + (va >>> 22) * 4);
  if ((pde & PTE_P) === 0) throw new GuestFault(BigInt(va), "PDE not present");
  if ((pde & PTE_PS) !== 0 && (p.cr4 & CR4_PSE) !== 0) {
    // 4 MiB page: bits 31:22 from the PDE, bits 39:32 from PDE bits 20:13 (PSE-36).
    return ((pde & 0xffc00000) >>> 0) + ((pde >>> 13) & 0xff) * TWO_32 + (va & 0x3fffff);
  }
  const pte = read(((pde & 0xfffff000) >>> 0) + ((va >>> 12) & 1023) * 4);
  if ((pte & PTE_P) === 0) throw new GuestFault(BigInt(va), "PTE not present");
  return ((pte & 0xfffff000) >>> 0) + (va & 0xfff);
}

/** GuestVirtualMemory over a domain's RAM for one vCPU's current paging state. */
export class PagingGuestMemory implements GuestVirtualMemory {
  constructor(
    private readonly ram: Uint8Array,
    /** The translating vCPU's control registers (also what an owner call carries to the main thread). */
    readonly paging: PagingState,
  ) {}

  read(va: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.forEachPage(va, len, (gpa, done, n) => out.set(this.ram.subarray(gpa, gpa + n), done));
    return out;
  }

  write(va: bigint, data: Uint8Array): void {
    this.forEachPage(va, data.length, (gpa, done, n) => this.ram.set(data.subarray(done, done + n), gpa));
  }

  private forEachPage(va: bigint, len: number, fn: (gpa: number, done: number, n: number) => void): void {
    let done = 0;
    while (done < len) {
      const cur = va + BigInt(done);
      const gpa = translate(this.ram, this.paging, cur);
      const n = Math.min(len - done, PAGE - (gpa % PAGE));
      if (gpa + n > this.ram.length) throw new GuestFault(cur, `guest-physical 0x${gpa.toString(16)} is outside RAM`);
      fn(gpa, done, n);
      done += n;
    }
  }
}
