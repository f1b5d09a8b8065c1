// Guest memory layout shared by the native (KVM) and emu runners of the differential test.
// Identity-mapped (linear = physical) 32 MiB, 2 MiB user pages. Ring-3 code runs a batch of sequences; each
// sequence has a prologue that copies its data template into the scratch area and loads GPRs, XMMs and
// RFLAGS from its IN block, and an epilogue that stores them (and the scratch area) into its OUT block.
// The batch ends with `out %al, $EXIT_PORT` (IOPL is 3, so ring 3 may do port I/O and KVM exits at once).

export const RAM_BYTES = 32 << 20;
export const PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000;
export const GDT = 0x4000, TSS = 0x5000, IDT = 0x6000, RSP0 = 0x9000;
/** Linux's x86-64 GDT layout: under PVM ring-3 code runs with the host's selectors (mov %cs gives 0x33, far
 * jumps use the host GDT), so the guest uses the same values and both sides agree. DS/ES/FS/GS are null. */
export const SEL = { KCODE: 0x10, KDATA: 0x18, UCODE32: 0x23, UDATA: 0x2b, UCODE: 0x33, TSS: 0x40 } as const;
export const GDT_LIMIT = 0x4f;
/** Scratch data area every sequence sees at the same address; r15 points at its middle, which is a page
 * boundary, so many accesses straddle two pages. */
export const SCRATCH = 0x10f00;
export const SCRATCH_BYTES = 512;
export const SCRATCH_BASE_REG_VALUE = SCRATCH + 256;
export const CODE = 0x100000;
export const CODE_LIMIT = 0x800000;
export const STATE = 0x800000;
/** Per-sequence state: IN, TEMPLATE, OUT, OUTDATA, FX (the epilogue's fxsave image) blocks of 512 bytes each. */
export const STATE_STRIDE = 0xa00;
export const MAX_BATCH = Math.floor((RAM_BYTES - STATE) / STATE_STRIDE);
export const IN_OFF = 0, TEMPLATE_OFF = 0x200, OUT_OFF = 0x400, OUTDATA_OFF = 0x600, FX_OFF = 0x800;
/** Block layout: GPR i (KVM order rax rbx rcx rdx rsi rdi rsp rbp r8..r15) at 8*i, RFLAGS at 0x88, xmm i at
 * 0x90+16*i, MXCSR at 0x190, mm i at 0x1a0+8*i. */
export const FLAGS_OFF = 0x88, XMM_OFF = 0x90, MXCSR_OFF = 0x190, MM_OFF = 0x1a0;
export const EXIT_PORT = 0x80;
/** Ring-0 exception stubs write the vector to this port (eax) then halt. */
export const FAULT_PORT = 0x81;
/** Where the CPU pushed the interrupted RIP on the ring-0 stack (SS, RSP, RFLAGS, CS, RIP from RSP0 down),
 * and the error code below it for the vectors that have one. */
export const FAULT_FRAME_RIP = RSP0 - 40;
export const FAULT_FRAME_ERROR = RSP0 - 48;
/** The ring-0 fault handler stores CR2 here, and the interrupted GPRs (KVM order; rsp from the frame) at
 * FAULT_REGS, before reporting. */
export const FAULT_CR2 = 0x8f00;
export const FAULT_REGS = 0x8e00;
export const FAULT_FRAME_RSP = RSP0 - 16;
export const VECTORS_WITH_ERROR = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

export const GPR_NAMES = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"] as const;

export function seqBase(i: number): number {
  return STATE + i * STATE_STRIDE;
}
