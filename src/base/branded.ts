// Branded number types so that a frame number cannot be passed where an address is expected.

export type Brand<T, B extends string> = T & { readonly __brand: B };

/** Guest-physical address (bytes). */
export type Gpa = Brand<number, "Gpa">;
/** Guest frame number (4 KiB pages of guest-physical memory). */
export type Gfn = Brand<number, "Gfn">;
/** Machine frame number (what Xen calls an MFN; equal to the GFN for auto-translated guests). */
export type Mfn = Brand<number, "Mfn">;
/** Guest-virtual address (64-bit). */
export type Gva = Brand<bigint, "Gva">;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

export const gpa = (value: number): Gpa => value as Gpa;
export const gfn = (value: number): Gfn => value as Gfn;
export const mfn = (value: number): Mfn => value as Mfn;
export const gva = (value: bigint): Gva => value as Gva;

export const gfnToGpa = (frame: Gfn): Gpa => (frame * PAGE_SIZE) as Gpa;
export const gpaToGfn = (address: Gpa): Gfn => Math.floor(address / PAGE_SIZE) as Gfn;
