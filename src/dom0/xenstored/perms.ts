// Node permissions: "<r|w|b|n><domid>" strings, the owner-first list, and what a connection may do with a node.
// Follows docs/misc/xenstore.txt (GET_PERMS/SET_PERMS) and perm_for_conn() of C xenstored.
import { fail } from "./errors.ts";

export const PERM_NONE = 0;
export const PERM_READ = 1;
export const PERM_WRITE = 2;
/** Internal: may change permissions (owner or privileged). Never on the wire. */
export const PERM_OWNER = 4;

/** One permission entry. The first entry of a node names its owner and the access of everyone not listed. */
export interface XsPerm {
  readonly domid: number;
  /** PERM_READ | PERM_WRITE bits. */
  readonly access: number;
}

const LETTERS = ["n", "r", "w", "b"] as const;

export function formatPerm(perm: XsPerm): string {
  return `${LETTERS[perm.access & 3]}${perm.domid}`;
}

/** Parses "b5" etc.; EINVAL for an unknown letter or a domid that is not 0..65535. */
export function parsePerm(text: string): XsPerm {
  const access = LETTERS.indexOf(text[0] as (typeof LETTERS)[number]);
  const digits = text.slice(1);
  if (access < 0 || !/^\d{1,5}$/.test(digits) || Number(digits) > 65535) fail("EINVAL", `Invalid permission "${text}"`);
  return { domid: Number(digits), access };
}

/** Who is asking: a domain id, whether it is privileged (dom0, the toolstack), and the domain it may act for. */
export interface PermSubject {
  readonly domid: number;
  readonly privileged: boolean;
  /** SET_TARGET: this connection also has the rights of domain `target` (a device model for its guest). */
  readonly target?: number;
}

function matches(subject: PermSubject, perm: XsPerm): boolean {
  return perm.domid === subject.domid || (subject.target !== undefined && perm.domid === subject.target);
}

/** PERM_* bits `subject` has on a node with `perms`. */
export function permFor(subject: PermSubject, perms: readonly XsPerm[]): number {
  const owner = perms[0];
  if (subject.privileged || owner === undefined || matches(subject, owner)) return PERM_READ | PERM_WRITE | PERM_OWNER;
  for (let i = 1; i < perms.length; i++) {
    if (matches(subject, perms[i]!)) return perms[i]!.access;
  }
  return owner.access;
}

/** Size C xenstored charges for a node: node_hdr (16) + 8 per permission + value + child names with NULs. */
export function nodeSizeBytes(permCount: number, valueBytes: number, children: readonly string[]): number {
  let childBytes = 0;
  for (const c of children) childBytes += c.length + 1;
  return 16 + 8 * permCount + valueBytes + childBytes;
}
