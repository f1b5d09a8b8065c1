// Typed errors shared by every layer: one-line messages that say what was attempted, values in quotes.
// Layer-specific errors (XenError in hv/, KvmError in accel/kvm) extend TsxenError in their own layer.

/** Base of every error tsxen throws on purpose; anything else is a bug. */
export class TsxenError extends Error {
  override get name(): string {
    return this.constructor.name;
  }
}

/** Bad configuration: an xl.cfg key/value, a command-line override. */
export class ConfigError extends TsxenError {
  constructor(
    readonly path: string,
    readonly why: string,
    readonly line?: number,
  ) {
    super(`Invalid configuration "${path}"${line === undefined ? "" : ` line ${line}`}: ${why}`);
  }
}

/** A kernel, ramdisk or boot-protocol image that cannot be loaded. */
export class BootError extends TsxenError {
  /** context: what was being attempted, e.g. `Cannot load kernel "/boot/vmlinuz"`; reason: why it failed. */
  constructor(
    readonly reason: string,
    readonly context?: string,
  ) {
    super(context === undefined ? reason : `${context}: ${reason}`);
  }

  /** The same failure with a context prepended (keeps an existing context). */
  withContext(context: string): BootError {
    return this.context === undefined ? new BootError(this.reason, context) : this;
  }
}

/** Wrong command-line usage of a tool. */
export class UsageError extends TsxenError {}
