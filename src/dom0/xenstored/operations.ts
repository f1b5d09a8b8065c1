// Tree operations with permission and quota checks, on the store or a transaction: READ, WRITE, MKDIR, RM,
// DIRECTORY, DIRECTORY_PART, GET_PERMS, SET_PERMS. Semantics follow docs/misc/xenstore.txt and C xenstored
// (tools/xenstored/core.c): errno hiding through parents, creation inherits the parent's permissions, unprivileged
// creators own what they create, quotas bind unprivileged callers only.
import { XENSTORE_PAYLOAD_MAX } from "../../abi/xen/xs_wire.ts";
import { XenstoreError, fail } from "./errors.ts";
import { baseName, childPath, parentOf } from "./path.ts";
import { PERM_NONE, PERM_OWNER, PERM_READ, PERM_WRITE, nodeSizeBytes, permFor, type PermSubject, type XsPerm } from "./perms.ts";
import type { NodeView, XsNode } from "./store.ts";
import type { WatchEvent } from "./watch.ts";

/** The caller of an operation and the limits that bind it (0 = unlimited). */
export interface Caller extends PermSubject {
  readonly maxNodes: number;
  readonly maxNodeSizeBytes: number;
  readonly maxPermissions: number;
}

const EMPTY = new Uint8Array(0);

/** What do the nearest existing ancestors allow? (ask_parents) */
function parentPerm(view: NodeView, caller: Caller, path: string): number {
  let name = path;
  while (name !== "/") {
    name = parentOf(name);
    const node = view.get(name);
    if (node) return permFor(caller, node.perms);
  }
  return PERM_NONE;
}

/**
 * The node at `path` if the caller has `perm` on it. Otherwise ENOENT or EACCES, where ENOENT is reported only if
 * the nearest existing ancestor grants `perm` too, so the error leaks nothing about unreadable places.
 */
export function getChecked(view: NodeView, caller: Caller, path: string, perm: number): XsNode {
  const node = view.get(path);
  if (node && (permFor(caller, node.perms) & perm) === perm) return node;
  const errno = node ? "EACCES" : "ENOENT";
  if ((parentPerm(view, caller, path) & perm) !== 0) fail(errno, `${errno} for "${path}"`);
  fail("EACCES", `Access denied to "${path}"`);
}

function checkSize(caller: Caller, perms: number, value: number, children: readonly string[]): void {
  if (caller.privileged || caller.maxNodeSizeBytes === 0) return;
  if (nodeSizeBytes(perms, value, children) >= caller.maxNodeSizeBytes) fail("ENOSPC", "Node too large");
}

function event(view: NodeView, path: string, node: XsNode | undefined, match: WatchEvent["match"], oldPerms?: readonly XsPerm[]): WatchEvent {
  const parent = path.startsWith("/") && path !== "/" ? view.get(parentOf(path)) : undefined;
  return { path, match, perms: node?.perms, parentPerms: parent?.perms, oldPerms };
}

/** Creates `path` and any missing ancestors (construct_node/create_node); all checks happen before any change. */
function create(view: NodeView, caller: Caller, path: string, value: Uint8Array): WatchEvent[] {
  const missing: string[] = [];
  let name = path;
  let parent: XsNode | undefined;
  while (!parent) {
    missing.push(name);
    name = parentOf(name);
    parent = view.get(name);
    if (!parent && name === "/") fail("EIO", "Root node missing");
  }
  if (!caller.privileged && caller.maxNodes > 0 && view.ownedNodes(caller.domid) + missing.length > caller.maxNodes) {
    fail("ENOSPC", `Domain ${caller.domid} owns too many nodes`);
  }
  const perms = caller.privileged ? parent.perms : [{ domid: caller.domid, access: parent.perms[0]!.access }, ...parent.perms.slice(1)];
  const parentChildren = [...parent.children, baseName(missing[missing.length - 1]!)];
  checkSize(caller, parent.perms.length, parent.value.length, parentChildren);
  checkSize(caller, perms.length, value.length, []);
  for (let i = missing.length - 1; i > 0; i--) checkSize(caller, perms.length, 0, [baseName(missing[i - 1]!)]);

  view.put(name, { value: parent.value, perms: parent.perms, children: parentChildren });
  for (let i = missing.length - 1; i >= 0; i--) {
    const child = i > 0 ? [baseName(missing[i - 1]!)] : [];
    view.put(missing[i]!, { value: i === 0 ? value : EMPTY, perms, children: child });
  }
  return [event(view, path, view.get(path), "subtree")];
}

export function read(view: NodeView, caller: Caller, path: string): Uint8Array {
  return getChecked(view, caller, path, PERM_READ).value;
}

export function write(view: NodeView, caller: Caller, path: string, value: Uint8Array): WatchEvent[] {
  let node: XsNode;
  try {
    node = getChecked(view, caller, path, PERM_WRITE);
  } catch (e) {
    if (e instanceof XenstoreError && e.errno === "ENOENT") return create(view, caller, path, value);
    throw e;
  }
  checkSize(caller, node.perms.length, value.length, node.children);
  view.put(path, { value, perms: node.perms, children: node.children });
  return [event(view, path, view.get(path), "subtree")];
}

export function mkdir(view: NodeView, caller: Caller, path: string): WatchEvent[] {
  try {
    getChecked(view, caller, path, PERM_WRITE);
    return [];
  } catch (e) {
    if (e instanceof XenstoreError && e.errno === "ENOENT") return create(view, caller, path, EMPTY);
    throw e;
  }
}

/** Deletes `path` and its subtree. A missing node is fine if its parent exists. */
export function rm(view: NodeView, caller: Caller, path: string): WatchEvent[] {
  try {
    getChecked(view, caller, path, PERM_WRITE);
  } catch (e) {
    if (e instanceof XenstoreError && e.errno === "ENOENT" && view.get(parentOf(path))) return [];
    throw e;
  }
  if (path === "/") fail("EINVAL", "Cannot remove the root node");
  const events: WatchEvent[] = [];
  const removeTree = (name: string): void => {
    const node = view.get(name);
    if (!node) return;
    for (const child of node.children) removeTree(childPath(name, child));
    events.push(event(view, name, node, name === path ? "subtree" : "exact"));
    view.remove(name);
  };
  removeTree(path);
  const parentName = parentOf(path);
  const parent = view.get(parentName);
  if (parent) {
    const leaf = baseName(path);
    view.put(parentName, { value: parent.value, perms: parent.perms, children: parent.children.filter((c) => c !== leaf) });
  }
  return events;
}

export function directory(view: NodeView, caller: Caller, path: string): readonly string[] {
  return getChecked(view, caller, path, PERM_READ).children;
}

/** DIRECTORY_PART: generation and the child list from byte `offset`, cut to fit one payload. */
export function directoryPart(view: NodeView, caller: Caller, path: string, offset: number): { generation: number; names: string[]; complete: boolean } {
  const node = getChecked(view, caller, path, PERM_READ);
  const genLength = String(node.generation).length + 1;
  const maxLength = XENSTORE_PAYLOAD_MAX - genLength - 1;
  let at = 0;
  let length = 0;
  const names: string[] = [];
  let complete = true;
  for (const child of node.children) {
    const size = child.length + 1;
    if (at >= offset) {
      if (length + child.length >= maxLength) {
        complete = false;
        break;
      }
      names.push(child);
      length += size;
    }
    at += size;
  }
  return { generation: node.generation, names, complete };
}

export function getPerms(view: NodeView, caller: Caller, path: string): readonly XsPerm[] {
  return getChecked(view, caller, path, PERM_READ).perms;
}

export function setPerms(view: NodeView, caller: Caller, path: string, perms: readonly XsPerm[]): WatchEvent[] {
  if (perms.length === 0) fail("EINVAL", "No permissions given");
  if (!caller.privileged && caller.maxPermissions > 0 && perms.length > caller.maxPermissions) {
    fail("ENOSPC", "Too many permission entries");
  }
  const node = getChecked(view, caller, path, PERM_WRITE | PERM_OWNER);
  if (!caller.privileged && perms[0]!.domid !== node.perms[0]!.domid) fail("EPERM", "Only dom0 may change a node's owner");
  checkSize(caller, perms.length, node.value.length, node.children);
  view.put(path, { value: node.value, perms, children: node.children });
  return [event(view, path, view.get(path), "subtree", node.perms)];
}
