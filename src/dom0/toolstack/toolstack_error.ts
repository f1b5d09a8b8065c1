// Errors raised by the toolstack itself (backend choice, boot image), beside ConfigError and the core's DomainError.

export type ToolstackErrorKind = "backend" | "boot";

export class ToolstackError extends Error {
  constructor(readonly kind: ToolstackErrorKind, message: string) {
    super(message);
    this.name = "ToolstackError";
  }
}
