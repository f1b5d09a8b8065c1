// The xenstore database: a tree of nodes (value, permissions, ordered children, generation), with per-owner node
// counts, and transactions as copy-on-write overlays with C xenstored's conflict rule (any node the transaction
// read or wrote changed meanwhile → EAGAIN at commit).
import { fail } from "./errors.ts";
import type { XsPerm } from "./perms.ts";
import type { WatchEvent } from "./watch.ts";

export interface XsNode {
  readonly value: Uint8Array;
  /** perms[0] is the owner and the default access for everyone else. */
  readonly perms: readonly XsPerm[];
  /** Child names in creation order (as C xenstored keeps them). */
  readonly children: readonly string[];
  /** Bumped on every change of this node (value, perms, children); DIRECTORY_PART reports it. */
  readonly generation: number;
}

export type NodeContent = Omit<XsNode, "generation">;

/** A readable, writable set of nodes: the store itself or a transaction on top of it. */
export interface NodeView {
  get(path: string): XsNode | undefined;
  put(path: string, node: NodeContent): void;
  remove(path: string): void;
  /** Nodes owned by `domid` as this view sees them. */
  ownedNodes(domid: number): number;
}

/** Absent nodes are recorded with this generation in a transaction's access set. */
const ABSENT = -1;

export class Store implements NodeView {
  private readonly nodes = new Map<string, XsNode>();
  private readonly owned = new Map<number, number>();
  private generation = 0;

  constructor() {
    this.put("/", { value: new Uint8Array(0), perms: [{ domid: 0, access: 0 }], children: [] });
  }

  nextGeneration(): number {
    return ++this.generation;
  }

  get(path: string): XsNode | undefined {
    return this.nodes.get(path);
  }

  put(path: string, node: NodeContent, generation = this.nextGeneration()): void {
    const old = this.nodes.get(path);
    if (old) this.count(old.perms[0]!.domid, -1);
    this.count(node.perms[0]!.domid, +1);
    this.nodes.set(path, { value: node.value, perms: node.perms, children: node.children, generation });
  }

  remove(path: string): void {
    const old = this.nodes.get(path);
    if (!old) return;
    this.count(old.perms[0]!.domid, -1);
    this.nodes.delete(path);
  }

  ownedNodes(domid: number): number {
    return this.owned.get(domid) ?? 0;
  }

  get size(): number {
    return this.nodes.size;
  }

  paths(): IterableIterator<string> {
    return this.nodes.keys();
  }

  /**
   * Invariants, for tests and debugging: every node's parent exists and lists it once, every listed child exists,
   * and the per-owner counts match the nodes. Returns the problems found (empty when consistent).
   */
  verify(): string[] {
    const problems: string[] = [];
    const counts = new Map<number, number>();
    for (const [path, node] of this.nodes) {
      counts.set(node.perms[0]!.domid, (counts.get(node.perms[0]!.domid) ?? 0) + 1);
      if (node.perms.length === 0) problems.push(`${path}: no permissions`);
      if (new Set(node.children).size !== node.children.length) problems.push(`${path}: duplicate children`);
      for (const c of node.children) {
        if (!this.nodes.has(path === "/" ? `/${c}` : `${path}/${c}`)) problems.push(`${path}: missing child ${c}`);
      }
      if (path === "/" || !path.startsWith("/")) continue;
      const slash = path.lastIndexOf("/");
      const parentPath = slash > 0 ? path.slice(0, slash) : "/";
      const parent = this.nodes.get(parentPath);
      if (!parent) problems.push(`${path}: parent missing`);
      else if (parent.children.filter((c) => c === path.slice(slash + 1)).length !== 1) problems.push(`${path}: not listed by parent`);
    }
    for (const [domid, n] of counts) if (this.ownedNodes(domid) !== n) problems.push(`domain ${domid}: count ${this.ownedNodes(domid)} != ${n}`);
    for (const [domid, n] of this.owned) if ((counts.get(domid) ?? 0) !== n) problems.push(`domain ${domid}: stale count ${n}`);
    return problems;
  }

  /** Rewrites permissions in place without a generation bump (domain death housekeeping). */
  replacePerms(path: string, perms: readonly XsPerm[]): void {
    const old = this.nodes.get(path);
    if (!old) return;
    this.count(old.perms[0]!.domid, -1);
    this.count(perms[0]!.domid, +1);
    this.nodes.set(path, { ...old, perms });
  }

  private count(domid: number, delta: number): void {
    const n = (this.owned.get(domid) ?? 0) + delta;
    if (n === 0) this.owned.delete(domid);
    else this.owned.set(domid, n);
  }
}

/** One transaction: reads fall through to the store and are remembered; writes stay in an overlay until commit. */
export class Transaction implements NodeView {
  private readonly overlay = new Map<string, XsNode | null>();
  private readonly accessed = new Map<string, number>();
  private readonly ownerDelta = new Map<number, number>();
  /** Watch events to fire if and when the transaction commits. */
  readonly pendingEvents: WatchEvent[] = [];
  private readonly generation: number;

  constructor(
    readonly id: number,
    private readonly store: Store,
    /** transaction-nodes quota: most distinct nodes this transaction may touch; 0 = unlimited. */
    private readonly accessLimit: number,
  ) {
    this.generation = store.nextGeneration();
  }

  get(path: string): XsNode | undefined {
    if (this.overlay.has(path)) return this.overlay.get(path) ?? undefined;
    const node = this.store.get(path);
    this.recordAccess(path, node);
    return node;
  }

  put(path: string, node: NodeContent): void {
    const old = this.get(path);
    if (old) this.countOwner(old.perms[0]!.domid, -1);
    this.countOwner(node.perms[0]!.domid, +1);
    this.overlay.set(path, { value: node.value, perms: node.perms, children: node.children, generation: this.generation });
  }

  remove(path: string): void {
    const old = this.get(path);
    if (old) this.countOwner(old.perms[0]!.domid, -1);
    this.overlay.set(path, null);
  }

  ownedNodes(domid: number): number {
    return this.store.ownedNodes(domid) + (this.ownerDelta.get(domid) ?? 0);
  }

  /** Owners whose node count grows if this transaction commits, with the growth. */
  ownerGrowth(): [number, number][] {
    return [...this.ownerDelta].filter(([, d]) => d > 0);
  }

  /** True if every node this transaction touched is unchanged in the store. */
  isConsistent(): boolean {
    for (const [path, generation] of this.accessed) {
      if ((this.store.get(path)?.generation ?? ABSENT) !== generation) return false;
    }
    return true;
  }

  /** Applies the overlay to the store; EAGAIN (nothing applied) if another writer got in first. */
  commit(): void {
    if (!this.isConsistent()) fail("EAGAIN", `Transaction ${this.id} conflicts with a concurrent change`);
    for (const [path, node] of this.overlay) {
      if (node === null) this.store.remove(path);
      else this.store.put(path, node);
    }
  }

  private recordAccess(path: string, node: XsNode | undefined): void {
    if (this.accessed.has(path)) return;
    if (this.accessLimit > 0 && this.accessed.size >= this.accessLimit) {
      fail("ENOSPC", `Transaction ${this.id} touches too many nodes`);
    }
    this.accessed.set(path, node?.generation ?? ABSENT);
  }

  private countOwner(domid: number, delta: number): void {
    this.ownerDelta.set(domid, (this.ownerDelta.get(domid) ?? 0) + delta);
  }
}
