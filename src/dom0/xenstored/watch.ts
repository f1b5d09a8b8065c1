// Watches: registrations (path, token, optional depth) and change events matched against them.
// Follows docs/misc/xenstore.txt (WATCH, WATCH_EVENT) and fire_watches()/is_child() of C xenstored.
import { isChild } from "./path.ts";
import { PERM_READ, permFor, type PermSubject, type XsPerm } from "./perms.ts";

export interface Watch {
  /** Canonical path or "@special". */
  readonly path: string;
  readonly token: string;
  /** Levels below `path` that match; -1 = any depth. */
  readonly depth: number;
  /** Characters stripped from event paths: the watch was given relative to /local/domain/<domid>. */
  readonly prefixLength: number;
}

/**
 * How an event path selects watches: "subtree" fires watches at or above the path (a change), "exact" only a watch
 * on exactly the path (a node deleted as part of a subtree), "nodepth"/"depth" are for @special events.
 */
export type WatchMatch = "subtree" | "exact" | "nodepth" | "depth";

/** A change to report, with the permissions that decide who may see it (captured when the change happened). */
export interface WatchEvent {
  readonly path: string;
  readonly match: WatchMatch;
  /** Permissions of the node after the change (or just before deletion); undefined if it does not exist. */
  readonly perms?: readonly XsPerm[];
  /** Permissions of the parent node, for watchers that may read the parent but not the node. */
  readonly parentPerms?: readonly XsPerm[];
  /** Permissions before a SET_PERMS: a watcher losing access still hears about it. */
  readonly oldPerms?: readonly XsPerm[];
}

/** watch_permitted(): the watcher may read the node, its old permissions, or its parent. */
export function eventVisibleTo(subject: PermSubject, event: WatchEvent): boolean {
  if (subject.privileged) return true;
  for (const perms of [event.oldPerms, event.perms, event.parentPerms]) {
    if (perms && (permFor(subject, perms) & PERM_READ) !== 0) return true;
  }
  return false;
}

export function watchMatches(watch: Watch, event: WatchEvent): boolean {
  switch (event.match) {
    case "exact":
      return event.path === watch.path;
    case "subtree":
      return isChild(event.path, watch.path, watch.depth);
    case "depth":
      return event.path === watch.path || (watch.depth > 0 && isChild(event.path, watch.path, watch.depth));
    case "nodepth":
      return event.path === watch.path && watch.depth < 0;
  }
}

/** The path as the watcher sees it (relative if it registered a relative path). */
export function eventPathFor(watch: Watch, path: string): string {
  return path.slice(watch.prefixLength);
}
