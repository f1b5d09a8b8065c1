// Xenstore path rules: valid characters, canonical absolute form, parents and watch matching.
// Follows docs/misc/xenstore.txt ("Paths are /-separated ...") and canonicalize()/is_child() of C xenstored.
import { XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX } from "../../abi/xen/xs_wire.ts";
import { fail } from "./errors.ts";

const VALID_PATH = /^[A-Za-z0-9\-/_@]*$/;
const LOCAL_DOMAIN = /^\/local\/domain\/(\d{1,5})\//;

/** The implicit base of relative paths for a domain: /local/domain/<domid>. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

export interface CanonicalizeOptions {
  /** Base for relative paths (/local/domain/<domid>). */
  readonly base: string;
  /** Accept "@..." special watch paths (WATCH, UNWATCH, GET_PERMS, SET_PERMS). */
  readonly allowSpecial: boolean;
  /** Longest allowed path below /local/domain/<n>/ (quota "path-max"); 0 = only the absolute limit. */
  readonly pathMax: number;
}

/**
 * Absolute form of a client-supplied path, or EINVAL: empty, bad characters, '@' where not allowed, trailing or
 * doubled slash, or too long.
 */
export function canonicalize(raw: string | undefined, options: CanonicalizeOptions): string {
  if (raw === undefined || raw.length === 0 || !VALID_PATH.test(raw)) fail("EINVAL", `Invalid path "${raw}"`);
  if (raw[0] === "@" && !options.allowSpecial) fail("EINVAL", `Special path "${raw}" is not allowed here`);
  const name = raw[0] === "/" || raw[0] === "@" ? raw : `${options.base}/${raw}`;
  if ((name.endsWith("/") && name !== "/") || name.includes("//")) fail("EINVAL", `Invalid path "${raw}"`);
  const local = LOCAL_DOMAIN.exec(name);
  const localOffset = local ? local[0].length : 0;
  const limit = options.pathMax > 0 ? Math.min(options.pathMax, XENSTORE_REL_PATH_MAX) : XENSTORE_ABS_PATH_MAX;
  if (name.length - localOffset > limit || name.length > XENSTORE_ABS_PATH_MAX) fail("EINVAL", "Path is too long");
  return name;
}

/** get_parent(): "/a/b" → "/a", "/a" → "/", "@releaseDomain" → "/". */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : "/";
}

/** Last component of a path other than "/". */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export function childPath(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

/**
 * is_child(): true if `child` equals `parent` or lies below it, at most `depth` levels down (depth < 0: any depth).
 */
export function isChild(child: string, parent: string, depth: number): boolean {
  const len = parent.length;
  if (!child.startsWith(parent)) return false;
  if (len > 1 && child.length > len && child[len] !== "/") return false;
  if (depth < 0 || child.length === len) return true;
  let levels = len === 1 ? 1 : 0;
  for (let i = len; levels <= depth; i++) {
    if (i >= child.length) return true;
    if (child[i] === "/") levels++;
  }
  return false;
}
