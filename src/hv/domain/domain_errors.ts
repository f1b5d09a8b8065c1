// Errors the domain table raises on a toolstack request it cannot honour (Xen: -ESRCH, -EEXIST, -ENOMEM, -EINVAL from domctl).

/** Why a domain operation was refused. The CLI maps each code to an exit status. */
export type DomainErrorCode = "not_found" | "exists" | "no_memory" | "bad_state" | "invalid";

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  constructor(code: DomainErrorCode, message: string) {
    super(message);
    this.name = "DomainError";
    this.code = code;
  }
}
