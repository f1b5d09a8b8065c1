import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeAcpiTables, DEFAULT_ACPI_CONFIG, dsdtAml, ACPI_REGION_GPA, acpiRegion } from "./tables.ts";
import { pkgLength } from "./aml.ts";

const BASE = ACPI_REGION_GPA;

function build(vcpus = 2) {
  const region = new Uint8Array(0x20000);
  const layout = writeAcpiTables(region, BASE, { ...DEFAULT_ACPI_CONFIG, vcpus });
  const at = (gpa: number, len: number) => region.subarray(gpa - BASE, gpa - BASE + len);
  const u32 = (gpa: number) => new DataView(region.buffer, gpa - BASE, 4).getUint32(0, true);
  const table = (gpa: number) => at(gpa, u32(gpa + 4));
  return { region, layout, at, u32, table };
}

const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("RSDP v2 has the golden bytes and both checksums", () => {
  const { at, layout } = build();
  assert.equal(layout.rsdp, 0xe0000);
  const rsdp = at(layout.rsdp, 36);
  // "RSD PTR ", checksum, "TSXEN ", revision 2, RSDT 0xe0080, length 36, XSDT 0xe00b0, ext checksum
  assert.equal(hex(rsdp), "52534420505452209f545358454e200280000e0024000000b0000e00000000001e000000");
  assert.equal(sum(rsdp.subarray(0, 20)), 0);
  assert.equal(sum(rsdp), 0);
});

test("MADT header, LAPIC per vCPU, IOAPIC and overrides have the golden layout", () => {
  const { table, layout } = build(2);
  const madt = table(layout.madt);
  assert.equal(madt.length, 98);
  // "APIC", length 98, revision 5, checksum, "TSXEN ", "TSXENPC ", OEM rev 1, "TSXN", creator rev 1,
  // LAPIC address 0xfee00000, flags PCAT_COMPAT
  assert.equal(
    hex(madt.subarray(0, 44)),
    "41504943620000000535545358454e20545358454e504320010000005453584e010000000000e0fe01000000",
  );
  assert.equal(hex(madt.subarray(44, 60)), "0008000001000000" + "0008010101000000");
  assert.equal(hex(madt.subarray(60, 72)), "010c00000000c0fe00000000");
  assert.equal(hex(madt.subarray(72, 82)), "020a0000020000000000"); // IRQ0 → GSI2
  assert.equal(hex(madt.subarray(82, 92)), "020a0009090000000d00"); // SCI level/high
  assert.equal(hex(madt.subarray(92, 98)), "0406ff000001"); // LINT1 NMI
});

test("every table checksums to zero and the pointers chain RSDP→XSDT/RSDT→FADT→DSDT/FACS", () => {
  const { table, layout, u32, at } = build(4);
  for (const gpa of [layout.rsdt, layout.xsdt, layout.fadt, layout.madt, layout.dsdt]) assert.equal(sum(table(gpa)), 0);
  assert.equal(u32(layout.rsdt + 36), layout.fadt);
  assert.equal(u32(layout.rsdt + 40), layout.madt);
  assert.equal(u32(layout.xsdt + 36), layout.fadt);
  assert.equal(u32(layout.xsdt + 44), layout.madt);
  assert.equal(u32(layout.fadt + 36), layout.facs);
  assert.equal(u32(layout.fadt + 40), layout.dsdt);
  assert.equal(u32(layout.fadt + 140), layout.dsdt);
  assert.equal(layout.facs % 64, 0);
  assert.equal(String.fromCharCode(...at(layout.facs, 4)), "FACS");
  const fadt = table(layout.fadt);
  assert.equal(fadt.length, 276);
  assert.equal(fadt[8], 6);
  assert.equal(u32(layout.fadt + 56), 0x600); // PM1a_EVT
  assert.equal(u32(layout.fadt + 64), 0x604); // PM1a_CNT
  assert.equal(fadt[128], 6); // reset value
  assert.equal(hex(fadt.subarray(116, 128)), "010800" + "01" + "f90c000000000000");
  assert.equal(table(layout.madt).length, 44 + 8 * 4 + 12 + 20 + 6);
});

test("the DSDT AML is exactly Name(_S5_, Package(4){5, 5, 0, 0})", () => {
  assert.equal(hex(dsdtAml()), "085f53355f1208040a050a050000");
  assert.deepEqual(pkgLength(8 - 1), [8]);
  assert.deepEqual(pkgLength(100), [0x40 | (102 & 0xf), 102 >> 4]);
});

test("iasl disassembles the FADT, MADT and DSDT without errors (skipped without acpica-tools)", (t) => {
  if (spawnSync("iasl", ["-v"]).error) {
    t.skip("iasl not installed");
    return;
  }
  const { table, layout } = build(2);
  const dir = mkdtempSync(join(tmpdir(), "acpi-"));
  try {
    for (const [name, gpa] of [["facp", layout.fadt], ["apic", layout.madt], ["dsdt", layout.dsdt]] as const) {
      writeFileSync(join(dir, `${name}.dat`), table(gpa));
      const r = spawnSync("iasl", ["-d", `${name}.dat`], { cwd: dir, encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
    const dsl = readFileSync(join(dir, "dsdt.dsl"), "utf8");
    assert.match(dsl, /Name \(_S5, Package \(0x04\)/);
    const madt = readFileSync(join(dir, "apic.dsl"), "utf8");
    assert.equal((madt.match(/\[Processor Local APIC\]/g) ?? []).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("acpiRegion() gives the same bytes as writing in place, trimmed to the tables", () => {
  const { region, layout } = build(2);
  const r = acpiRegion(2);
  assert.equal(r.gpa, 0xe0000);
  assert.equal(r.rsdp, layout.rsdp);
  assert.deepEqual(r.bytes, region.subarray(0, layout.sizeBytes));
});
