// The few AML encodings the DSDT needs (ACPI 6.5 §20.2: NameOp, PackageOp, PkgLength, integer constants).

export const AML_ZERO = 0x00;
export const AML_ONE = 0x01;
export const AML_BYTE_PREFIX = 0x0a;
export const AML_NAME_OP = 0x08;
export const AML_PACKAGE_OP = 0x12;

/** PkgLength encoding of a body of `bodyLength` bytes (the count includes the PkgLength bytes themselves). */
export function pkgLength(bodyLength: number): number[] {
  if (bodyLength + 1 <= 0x3f) return [bodyLength + 1];
  if (bodyLength + 2 <= 0xfff) {
    const n = bodyLength + 2;
    return [0x40 | (n & 0x0f), n >> 4];
  }
  const n = bodyLength + 3;
  if (n > 0xfffff) throw new RangeError(`AML package of ${bodyLength} bytes is too large`);
  return [0x80 | (n & 0x0f), (n >> 4) & 0xff, n >> 12];
}

/** Integer constant: ZeroOp, OneOp or BytePrefix (values up to 255 are all the DSDT needs). */
export function amlInteger(value: number): number[] {
  if (value === 0) return [AML_ZERO];
  if (value === 1) return [AML_ONE];
  if (value >= 0 && value <= 0xff) return [AML_BYTE_PREFIX, value];
  throw new RangeError(`AML integer ${value} needs a wider prefix than implemented`);
}

/** A 4-character NameSeg (padded with '_'). */
export function nameSeg(name: string): number[] {
  const padded = (name + "____").slice(0, 4);
  return Array.from(padded, (c) => c.charCodeAt(0));
}

/** Name(NAME, Package(n) { integers }) */
export function namedIntegerPackage(name: string, values: readonly number[]): number[] {
  const elements = values.flatMap(amlInteger);
  const body = [values.length, ...elements];
  return [AML_NAME_OP, ...nameSeg(name), AML_PACKAGE_OP, ...pkgLength(body.length), ...body];
}
