// LOCK prefix validity (Intel SDM vol. 2 LOCK; AMD APM vol. 3 §1.2.5): only ADD, ADC, AND, BTC, BTR, BTS, CMPXCHG,
// CMPXCHG8B/16B, DEC, INC, NEG, NOT, OR, SBB, SUB, XOR, XADD and XCHG with a memory destination may be locked;
// anything else (including those with a register destination) raises #UD. The interpreter executes locked
// instructions like unlocked ones (one vCPU per core, memory operations are not interleaved within an instruction).

import type { CoreBase } from "../decode/decoder.ts";

/** Called with the opcode byte `b` of an instruction that has a LOCK prefix, before anything else is decoded:
 * raises #UD unless the instruction may be locked. Peeks the following bytes (0f map opcode, ModRM) without
 * consuming them. */
export function checkLock(c: CoreBase, b: number): void {
  const p = c.fPtr;
  let op = b;
  if (b === 0x0f) {
    op = 0x100 | c.f8();
    if (op !== 0x1ab && op !== 0x1b3 && op !== 0x1bb && op !== 0x1ba && op !== 0x1b0 && op !== 0x1b1 &&
      op !== 0x1c0 && op !== 0x1c1 && op !== 0x1c7) { c.fPtr = p; c.ud(); }
  } else if (!((b < 0x38 && (b & 6) === 0) || (b >= 0x80 && b <= 0x83) || b === 0x86 || b === 0x87 ||
    b === 0xf6 || b === 0xf7 || b === 0xfe || b === 0xff)) c.ud();
  const m = c.f8();
  c.fPtr = p;
  const reg = (m >> 3) & 7;
  let ok = (m >> 6) !== 3; // memory destination
  switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83: ok = ok && reg !== 7; break; // not cmp
    case 0xf6: case 0xf7: ok = ok && (reg === 2 || reg === 3); break; // not / neg
    case 0xfe: case 0xff: ok = ok && reg < 2; break; // inc / dec
    case 0x1ba: ok = ok && reg >= 5; break; // bts / btr / btc imm8
    case 0x1c7: ok = ok && reg === 1; break; // cmpxchg8b / cmpxchg16b
    default: break;
  }
  if (!ok) c.ud();
}
