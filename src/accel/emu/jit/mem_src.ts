// Source fragments for guest memory accesses in JIT blocks. Inside a block: `c` is the core, `sys` its EmuSystem,
// (ea, eh) the linear address; reads leave the value in dst (and the high half in dsth for 64-bit), writes take
// value expressions. Faults are thrown by the system's read/write entry points (the software TLB's slow path).
//
// Inline TLB probe (Mmu: `jitTlb`, `rBase`/`wBase`, `ram16`/`ram32`): the fragment computes the entry index and
// compares the entry's tag with `ea & (-4096 | (size - 1))`, which checks the page and natural alignment at once
// (an empty entry's tag has bit 11 set, so it never matches), then the tag's high half; on a hit it reads or
// writes the aligned typed-array view of guest RAM directly. Everything else (misses, misaligned or page-crossing
// accesses, MMIO, writes to pages holding translated code, which never enter the write sets) calls the system's
// readLin / writeLin, whose slow path walks, faults, sets A/D bits and refills the TLB. The read/write set bases
// are those of the current CPL: a block never runs across a CPL change (it ends, or leaves after an in-block
// interpreter step that changed it). Systems without `jitTlb` (test doubles) always miss.
//
// Measured (V8 11/Node 20): in TurboFan-compiled hot blocks an inline probe is ~1.5x faster than the call
// (bench loop with 8 memory accesses per iteration: 125 -> 182 MIPS), but it makes block sources ~50 % larger
// (boot: 31 -> 47 MB, more parse and compile work) and costs more than the call in V8's unoptimized tiers (an
// Ignition/Sparkplug block runs ~25 bytecodes per probe instead of a call into optimized readLin). So the
// default is the call; `inline` (per fragment) or setInlineTlb() turn probes on, e.g. when a hot block is
// recompiled. Two forms: self-contained (loads the TLB, set base and RAM view from sys at each access), or, once
// the translator put MEM_PROLOGUE in front of the block (useMemPrologue / memPrologueFor), using its locals.
// TSXEN_EMU_JIT_INLINE_TLB=1 turns probes on everywhere (for A/B measurements); TSXEN_EMU_TLB_STATS=1 counts
// inline hits in sys.stats.hits.

const env = ((): Record<string, string | undefined> => {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return g.process?.env ?? {};
})();

/** Whether fragments use inline TLB probes when the caller does not say (TSXEN_EMU_JIT_INLINE_TLB=1; setInlineTlb). */
export let INLINE_TLB = env.TSXEN_EMU_JIT_INLINE_TLB === "1";
/** Sets the default of memRd/memWr's `inline` (fragments emitted from now on). */
export function setInlineTlb(on: boolean): void { INLINE_TLB = on; }
const COUNT_HITS = env.TSXEN_EMU_TLB_STATS === "1";

/** Block prologue for the inline probes: declares jt (the TLB), jr/jw (read/write set bases), m8/m16/m32 (RAM
 * views) and the scratch locals ti/tp. Goes after the declaration of `c` and `sys`. */
export const MEM_PROLOGUE =
  "const jt = sys.jitTlb ?? c.cpu.rlo, jr = sys.jitTlb === undefined ? -1e9 : sys.rBase, " +
    "jw = sys.jitTlb === undefined ? -1e9 : sys.wBase, m8 = sys.ram, m16 = sys.ram16, m32 = sys.ram32;\nlet ti = 0, tp = 0;\n";

let prologue = false;
/** For the translator, once at module load: every block source from now on contains the returned MEM_PROLOGUE
 * after `c` and `sys` are declared (or memPrologueFor(body)), and inline fragments use its locals. Without it
 * inline fragments are self-contained (they load the TLB, set base and RAM view from sys at each access). */
export function useMemPrologue(on = true): string {
  prologue = on;
  return MEM_PROLOGUE;
}

/** The prologue a block body needs: MEM_PROLOGUE when the fragments in it use the prologue's locals, else "". */
export function memPrologueFor(body: string): string {
  return prologue && body.includes("jt[") ? MEM_PROLOGUE : "";
}

const HIT_COUNT = COUNT_HITS ? " sys.stats.hits++;" : "";

/** Inline probe for an access of `os` bytes through the read (w false) or write set: `open` declares what the
 * access needs, `cond` is the hit test (page and natural alignment in one compare), `off` the RAM offset of the
 * accessed byte on a hit, `close` ends the scope `open` opened. */
function probe(os: number, w: boolean, view: string): { open: string; cond: string; off: string; close: string; m: string } {
  const mask = -4096 | (os - 1);
  if (prologue) {
    return {
      open: `ti = ((((ea >>> 12) ^ eh) & 4095) << 2) + ${w ? "jw" : "jr"};`,
      cond: `jt[ti] === (ea & ${mask}) && jt[ti + 1] === eh`,
      off: "jt[ti + 2] + (ea & 4095)", close: "", m: view,
    };
  }
  return {
    open: `{ const jt = sys.jitTlb, ti = ((((ea >>> 12) ^ eh) & 4095) << 2) + sys.${w ? "wBase" : "rBase"};`,
    cond: `jt !== undefined && jt[ti] === (ea & ${mask}) && jt[ti + 1] === eh`,
    off: "jt[ti + 2] + (ea & 4095)", close: " }", m: `sys.${view === "m8" ? "ram" : view === "m16" ? "ram16" : "ram32"}`,
  };
}

/** Reads `os` bytes at (ea, eh) into dst (dsth: high half of 64-bit reads, else 0). inline: TLB probe in the
 * fragment (default INLINE_TLB) or a readLin call. */
export function memRd(os: number, dst: string, dsth: string, inline = INLINE_TLB): string {
  if (!inline) {
    switch (os) {
      case 1: return `${dst} = sys.readLin8(ea, eh) & 255; ${dsth} = 0;`;
      case 2: return `${dst} = sys.readLin16(ea, eh) & 65535; ${dsth} = 0;`;
      case 4: return `${dst} = sys.readLin32(ea, eh) | 0; ${dsth} = 0;`;
      default: return `${dst} = sys.readLin64(ea, eh) | 0; ${dsth} = sys.hiResult | 0;`;
    }
  }
  switch (os) {
    case 1: {
      const q = probe(1, false, "m8");
      return `${q.open} if (${q.cond}) {${HIT_COUNT} ${dst} = ${q.m}[${q.off}]; } else ${dst} = sys.readLin8(ea, eh) & 255;${q.close} ${dsth} = 0;`;
    }
    case 2: {
      const q = probe(2, false, "m16");
      return `${q.open} if (${q.cond}) {${HIT_COUNT} ${dst} = ${q.m}[(${q.off}) >> 1]; } else ${dst} = sys.readLin16(ea, eh) & 65535;${q.close} ${dsth} = 0;`;
    }
    case 4: {
      const q = probe(4, false, "m32");
      return `${q.open} if (${q.cond}) {${HIT_COUNT} ${dst} = ${q.m}[(${q.off}) >> 2]; } else ${dst} = sys.readLin32(ea, eh) | 0;${q.close} ${dsth} = 0;`;
    }
    default: {
      const q = probe(8, false, "m32");
      const tp = prologue ? "tp = " : "const tp = ";
      return `${q.open} if (${q.cond}) {${HIT_COUNT} ${tp}(${q.off}) >> 2; ${dst} = ${q.m}[tp]; ${dsth} = ${q.m}[tp + 1]; } ` +
        `else { ${dst} = sys.readLin64(ea, eh) | 0; ${dsth} = sys.hiResult | 0; }${q.close}`;
    }
  }
}
/** Marker in the source of every guest memory write: the translator adds the self-modifying-code check after
 * instructions that contain it. */
export const WRITE_MARK = "/*w*/";

/** Writes `os` bytes of the value expressions v (vh: high half for 64-bit) at (ea, eh); inline as in memRd. The
 * expressions may be evaluated in either branch: they must be free of side effects (registers, locals, constants). */
export function memWr(os: number, v: string, vh: string, inline = INLINE_TLB): string {
  if (!inline) {
    switch (os) {
      case 1: return `sys.writeLin8(ea, eh, ${v} & 255);${WRITE_MARK}`;
      case 2: return `sys.writeLin16(ea, eh, ${v} & 65535);${WRITE_MARK}`;
      case 4: return `sys.writeLin32(ea, eh, ${v});${WRITE_MARK}`;
      default: return `sys.writeLin64(ea, eh, ${v}, ${vh});${WRITE_MARK}`;
    }
  }
  // The typed-array stores truncate (ToUint8/ToUint16/ToInt32) as the masks of the call forms do.
  switch (os) {
    case 1: {
      const q = probe(1, true, "m8");
      return `${q.open} if (${q.cond}) {${HIT_COUNT} ${q.m}[${q.off}] = ${v}; } else sys.writeLin8(ea, eh, (${v}) & 255);${q.close}${WRITE_MARK}`;
    }
    case 2: {
      const q = probe(2, true, "m16");
      return `${q.open} if (${q.cond}) {${HIT_COUNT} ${q.m}[(${q.off}) >> 1] = ${v}; } else sys.writeLin16(ea, eh, (${v}) & 65535);${q.close}${WRITE_MARK}`;
    }
    case 4: {
      const q = probe(4, true, "m32");
      return `${q.open} if (${q.cond}) {${HIT_COUNT} ${q.m}[(${q.off}) >> 2] = ${v}; } else sys.writeLin32(ea, eh, ${v});${q.close}${WRITE_MARK}`;
    }
    default: {
      const q = probe(8, true, "m32");
      const tp = prologue ? "tp = " : "const tp = ";
      return `${q.open} if (${q.cond}) {${HIT_COUNT} ${tp}(${q.off}) >> 2; ${q.m}[tp] = ${v}; ${q.m}[tp + 1] = ${vh}; } ` +
        `else sys.writeLin64(ea, eh, ${v}, ${vh});${q.close}${WRITE_MARK}`;
    }
  }
}
