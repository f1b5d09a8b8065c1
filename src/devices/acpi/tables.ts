// ACPI tables for the PC platform (ACPI 6.5 §5.2): RSDP v2, RSDT, XSDT, FADT (full, not hardware-
// reduced: PM1a blocks and PM timer in I/O space, reset register 0xcf9 = 6), FACS, MADT (one LAPIC per
// vCPU, the IOAPIC, IRQ0→GSI2 and SCI overrides, LINT1 NMI) and a DSDT whose only object is \_S5_.
//
// Design: writeAcpiTables() lays everything out in a caller-given region (normally guest RAM
// 0xe0000-0xfffff, which the e820 marks reserved and where Linux also scans for the RSDP), RSDP first
// (16-byte aligned), FACS 64-byte aligned, and returns the RSDP's guest-physical address for
// boot_params.acpi_rsdp_addr / hvm_start_info.rsdp_paddr. Checksums are filled last.
import { alignUp, writeU16, writeU32, writeU64, writeU8 } from "../../base/bytes.ts";
import { namedIntegerPackage } from "./aml.ts";
import * as P from "../pm/registers.ts";

export const ACPI_REGION_GPA = 0xe0000;
export const ACPI_REGION_SIZE = 0x20000;

export const OEM_ID = "TSXEN ";
export const OEM_TABLE_ID = "TSXENPC ";
export const CREATOR_ID = "TSXN";
const HEADER_SIZE = 36;

export interface AcpiConfig {
  readonly vcpus: number;
  readonly lapicGpa: number;
  readonly ioapicGpa: number;
  readonly ioapicId: number;
  /** I/O port base of the PM1a_EVT block (PM1a_CNT at +4, PM timer at +8). */
  readonly pmBasePort: number;
  readonly sciIrq: number;
  readonly resetPort: number;
  readonly resetValue: number;
  /** CMOS index of the century byte. */
  readonly rtcCenturyIndex: number;
}

export const DEFAULT_ACPI_CONFIG: Omit<AcpiConfig, "vcpus"> = {
  lapicGpa: 0xfee00000,
  ioapicGpa: 0xfec00000,
  ioapicId: 0,
  pmBasePort: P.PM_BASE_PORT,
  sciIrq: P.SCI_IRQ,
  resetPort: 0xcf9,
  resetValue: 6,
  rtcCenturyIndex: 0x32,
};

export interface AcpiLayout {
  readonly rsdp: number;
  readonly facs: number;
  readonly rsdt: number;
  readonly xsdt: number;
  readonly fadt: number;
  readonly madt: number;
  readonly dsdt: number;
  /** Bytes used from the start of the region. */
  readonly sizeBytes: number;
}

/** FADT fixed feature flags (ACPI 6.5 Table 5.10). */
const FADT_WBINVD = 1 << 0;
const FADT_PROC_C1 = 1 << 2;
const FADT_SLP_BUTTON = 1 << 5;
const FADT_RESET_REG_SUP = 1 << 10;
/** IA-PC boot architecture flags: legacy devices, 8042, VGA not present, MSI not supported. */
const IAPC_BOOT_ARCH = 0x0001 | 0x0002 | 0x0004 | 0x0008;

const GAS_SYSTEM_IO = 1;

function writeAscii(mem: Uint8Array, offset: number, s: string): void {
  for (let i = 0; i < s.length; i++) mem[offset + i] = s.charCodeAt(i);
}

function checksum(mem: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i++) sum = (sum + mem[offset + i]!) & 0xff;
  return (0x100 - sum) & 0xff;
}

function writeHeader(mem: Uint8Array, offset: number, signature: string, length: number, revision: number): void {
  writeAscii(mem, offset, signature);
  writeU32(mem, offset + 4, length);
  writeU8(mem, offset + 8, revision);
  writeU8(mem, offset + 9, 0);
  writeAscii(mem, offset + 10, OEM_ID);
  writeAscii(mem, offset + 16, OEM_TABLE_ID);
  writeU32(mem, offset + 24, 1);
  writeAscii(mem, offset + 28, CREATOR_ID);
  writeU32(mem, offset + 32, 1);
}

function sealTable(mem: Uint8Array, offset: number, length: number): void {
  mem[offset + 9] = 0;
  mem[offset + 9] = checksum(mem, offset, length);
}

function writeGas(mem: Uint8Array, offset: number, bitWidth: number, accessSize: number, address: number): void {
  writeU8(mem, offset, GAS_SYSTEM_IO);
  writeU8(mem, offset + 1, bitWidth);
  writeU8(mem, offset + 2, 0);
  writeU8(mem, offset + 3, accessSize);
  writeU64(mem, offset + 4, address);
}

/** The DSDT's AML body: Name(_S5_, Package(4) { 5, 5, 0, 0 }). */
export function dsdtAml(): Uint8Array {
  return Uint8Array.from(namedIntegerPackage("_S5_", [P.SLP_TYP_S5, P.SLP_TYP_S5, 0, 0]));
}

export const FADT_LENGTH = 276;
export const FACS_LENGTH = 64;
export const RSDP_LENGTH = 36;

function madtLength(vcpus: number): number {
  // header + LAPIC address + flags, LAPICs, IOAPIC, 2 ISOs, LAPIC NMI
  return HEADER_SIZE + 8 + 8 * vcpus + 12 + 10 * 2 + 6;
}

/**
 * Writes all tables into `region`, whose byte 0 is guest-physical `regionGpa`.
 * Returns where each table went; `rsdp` is the address to hand to the kernel.
 */
export function writeAcpiTables(region: Uint8Array, regionGpa: number, config: AcpiConfig): AcpiLayout {
  if (config.vcpus < 1 || config.vcpus > 255) throw new RangeError(`Cannot describe ${config.vcpus} vCPUs in the MADT`);
  if (regionGpa % 16 !== 0) throw new RangeError(`ACPI region at ${regionGpa} is not 16-byte aligned`);
  const aml = dsdtAml();
  const rsdp = 0;
  const facs = alignUp(rsdp + RSDP_LENGTH, 64);
  const rsdt = alignUp(facs + FACS_LENGTH, 16);
  const rsdtLength = HEADER_SIZE + 4 * 2;
  const xsdt = alignUp(rsdt + rsdtLength, 16);
  const xsdtLength = HEADER_SIZE + 8 * 2;
  const fadt = alignUp(xsdt + xsdtLength, 16);
  const madt = alignUp(fadt + FADT_LENGTH, 16);
  const madtLen = madtLength(config.vcpus);
  const dsdt = alignUp(madt + madtLen, 16);
  const dsdtLength = HEADER_SIZE + aml.length;
  const end = dsdt + dsdtLength;
  if (end > region.length) throw new RangeError(`ACPI tables need ${end} bytes, region has ${region.length}`);
  region.fill(0, 0, end);
  const gpa = (offset: number) => regionGpa + offset;

  // DSDT
  writeHeader(region, dsdt, "DSDT", dsdtLength, 2);
  region.set(aml, dsdt + HEADER_SIZE);
  sealTable(region, dsdt, dsdtLength);

  // FACS (no checksum)
  writeAscii(region, facs, "FACS");
  writeU32(region, facs + 4, FACS_LENGTH);
  writeU32(region, facs + 8, 0); // hardware signature
  writeU32(region, facs + 12, 0); // firmware waking vector
  writeU32(region, facs + 16, 0); // global lock
  writeU32(region, facs + 20, 0); // flags
  writeU64(region, facs + 24, 0); // X firmware waking vector
  writeU8(region, facs + 32, 2); // version

  // FADT (revision 6, minor 5)
  const pm = config.pmBasePort;
  writeHeader(region, fadt, "FACP", FADT_LENGTH, 6);
  writeU32(region, fadt + 36, gpa(facs));
  writeU32(region, fadt + 40, gpa(dsdt));
  writeU8(region, fadt + 45, 0); // preferred PM profile: unspecified
  writeU16(region, fadt + 46, config.sciIrq);
  writeU32(region, fadt + 48, 0); // SMI_CMD: none, always in ACPI mode
  writeU32(region, fadt + 56, pm + P.PM1_EVT_OFFSET);
  writeU32(region, fadt + 64, pm + P.PM1_CNT_OFFSET);
  writeU32(region, fadt + 76, pm + P.PM_TMR_OFFSET);
  writeU8(region, fadt + 88, P.PM1_EVT_LEN);
  writeU8(region, fadt + 89, P.PM1_CNT_LEN);
  writeU8(region, fadt + 91, P.PM_TMR_LEN);
  writeU16(region, fadt + 96, 101); // P_LVL2_LAT > 100: C2 not supported
  writeU16(region, fadt + 98, 1001); // P_LVL3_LAT > 1000: C3 not supported
  writeU8(region, fadt + 108, config.rtcCenturyIndex);
  writeU16(region, fadt + 109, IAPC_BOOT_ARCH);
  writeU32(region, fadt + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP);
  writeGas(region, fadt + 116, 8, 1, config.resetPort);
  writeU8(region, fadt + 128, config.resetValue);
  writeU8(region, fadt + 131, 5); // FADT minor version
  writeU64(region, fadt + 132, 0); // X_FIRMWARE_CTRL: FIRMWARE_CTRL is used
  writeU64(region, fadt + 140, gpa(dsdt));
  writeGas(region, fadt + 148, P.PM1_EVT_LEN * 8, 2, pm + P.PM1_EVT_OFFSET);
  writeGas(region, fadt + 172, P.PM1_CNT_LEN * 8, 2, pm + P.PM1_CNT_OFFSET);
  writeGas(region, fadt + 208, P.PM_TMR_LEN * 8, 3, pm + P.PM_TMR_OFFSET);
  sealTable(region, fadt, FADT_LENGTH);

  // MADT (revision 5)
  writeHeader(region, madt, "APIC", madtLen, 5);
  writeU32(region, madt + 36, config.lapicGpa);
  writeU32(region, madt + 40, 1); // PCAT_COMPAT: dual 8259s present
  let p = madt + 44;
  for (let i = 0; i < config.vcpus; i++) {
    writeU8(region, p, 0); // Processor Local APIC
    writeU8(region, p + 1, 8);
    writeU8(region, p + 2, i); // ACPI processor UID
    writeU8(region, p + 3, i); // APIC ID
    writeU32(region, p + 4, 1); // enabled
    p += 8;
  }
  writeU8(region, p, 1); // I/O APIC
  writeU8(region, p + 1, 12);
  writeU8(region, p + 2, config.ioapicId);
  writeU32(region, p + 4, config.ioapicGpa);
  writeU32(region, p + 8, 0); // GSI base
  p += 12;
  writeU8(region, p, 2); // Interrupt Source Override: ISA IRQ0 → GSI2, conforming
  writeU8(region, p + 1, 10);
  writeU8(region, p + 2, 0);
  writeU8(region, p + 3, 0);
  writeU32(region, p + 4, 2);
  writeU16(region, p + 8, 0);
  p += 10;
  writeU8(region, p, 2); // SCI: level-triggered, active high
  writeU8(region, p + 1, 10);
  writeU8(region, p + 2, 0);
  writeU8(region, p + 3, config.sciIrq);
  writeU32(region, p + 4, config.sciIrq);
  writeU16(region, p + 8, 0x000d);
  p += 10;
  writeU8(region, p, 4); // Local APIC NMI: all processors, LINT1
  writeU8(region, p + 1, 6);
  writeU8(region, p + 2, 0xff);
  writeU16(region, p + 3, 0);
  writeU8(region, p + 5, 1);
  sealTable(region, madt, madtLen);

  // RSDT / XSDT: FADT and MADT (the DSDT is reached through the FADT)
  writeHeader(region, rsdt, "RSDT", rsdtLength, 1);
  writeU32(region, rsdt + 36, gpa(fadt));
  writeU32(region, rsdt + 40, gpa(madt));
  sealTable(region, rsdt, rsdtLength);
  writeHeader(region, xsdt, "XSDT", xsdtLength, 1);
  writeU64(region, xsdt + 36, gpa(fadt));
  writeU64(region, xsdt + 44, gpa(madt));
  sealTable(region, xsdt, xsdtLength);

  // RSDP (revision 2): checksum over the first 20 bytes, extended checksum over all 36
  writeAscii(region, rsdp, "RSD PTR ");
  writeAscii(region, rsdp + 9, OEM_ID);
  writeU8(region, rsdp + 15, 2);
  writeU32(region, rsdp + 16, gpa(rsdt));
  writeU32(region, rsdp + 20, RSDP_LENGTH);
  writeU64(region, rsdp + 24, gpa(xsdt));
  region[rsdp + 8] = checksum(region, rsdp, 20);
  region[rsdp + 32] = checksum(region, rsdp, RSDP_LENGTH);

  return {
    rsdp: gpa(rsdp),
    facs: gpa(facs),
    rsdt: gpa(rsdt),
    xsdt: gpa(xsdt),
    fadt: gpa(fadt),
    madt: gpa(madt),
    dsdt: gpa(dsdt),
    sizeBytes: end,
  };
}

/**
 * The ACPI tables as a standalone RAM region (for a BootImage's `regions`): bytes for
 * [ACPI_REGION_GPA, ACPI_REGION_GPA + sizeBytes) and the RSDP address to hand to the kernel.
 */
export function acpiRegion(vcpus: number): { readonly gpa: number; readonly bytes: Uint8Array; readonly rsdp: number } {
  const scratch = new Uint8Array(ACPI_REGION_SIZE);
  const layout = writeAcpiTables(scratch, ACPI_REGION_GPA, { ...DEFAULT_ACPI_CONFIG, vcpus });
  return { gpa: ACPI_REGION_GPA, bytes: scratch.slice(0, layout.sizeBytes), rsdp: layout.rsdp };
}
