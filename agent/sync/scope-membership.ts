/**
 * A scope's membership state for the engine (docs/design/v2-scopes.md §1.5–§1.8, §4.4): one
 * {@link MembershipGraph} plus the bridge between it and the scope store. The store keeps, per
 * handle, an opaque frontier number; here that number is the graph's interned frontier number,
 * so `store.frontierOf(h)` ↔ {@link Frontier} ↔ membership command ids.
 *
 * Interned numbers live only as long as this object: nothing persisted depends on them. A disk
 * store gets them at open from {@link ScopeMembership.openHooks} (F(c) recomputed in handle order
 * from the parents, membership commands added as they are met); a store that is already open is
 * replayed by {@link ScopeMembership.load}.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import { CommandKind, GENESIS_OPEN_READ, Role } from '../../protocol/constants-v2.js';
import { MembershipGraph, type Frontier, type ParentFacts } from '../../protocol/membership.js';
import type { HorizonEntry, ScopeOpenHooks, ScopeStoreReader } from '../store/scope-store-contract.js';

/** Where a parent that is neither held nor a horizon entry may still be found (§2.3 step 3). */
export type ParentLookup = (id: Uint8Array) => ParentFacts | undefined;

/** A pending horizon record of a (link, scope) (§4.6): same fields as a horizon entry. */
export type PendingRecords = (id: Uint8Array) => HorizonEntry | undefined;

/** The outcome of {@link ScopeMembership.frontierForParents}. */
export type FrontierResult =
  | { ok: true; frontier: Frontier; /** parents resolved by a pending record (to adopt on placement) */ records: HorizonEntry[] }
  | { ok: false; /** unresolvable parents, or membership commands a record's frontier names that are not held */ missing: Uint8Array[] };

const isMembershipKind = (k: number): boolean => k === CommandKind.Genesis || k === CommandKind.Membership;

/** The membership of one scope, as the engine's ingest, grants and poll responder need it. */
export class ScopeMembership {
  /** The scope's membership DAG and evaluation. */
  readonly graph: MembershipGraph;
  /** Frontier numbers of handles indexed before {@link load}, whose store numbers are not ours. */
  private loaded: Int32Array | undefined;

  /** An empty membership (no genesis yet) of the scope `scopeId`. */
  constructor(readonly scopeId: Uint8Array) {
    this.graph = new MembershipGraph(scopeId);
  }

  /**
   * Rebuild from a store that is already open and whose frontier numbers were not given by this
   * object: every retained command is replayed in handle order (membership commands are added,
   * every F recomputed from parents and horizon entries). Costs 4 bytes per handle for the
   * remapped numbers; opening the store with {@link openHooks} costs nothing extra.
   */
  static load(reader: ScopeStoreReader, decode: (h: number) => CommandV2): ScopeMembership {
    const m = new ScopeMembership(reader.scopeId);
    const refs = new Int32Array(reader.size);
    m.loaded = refs;
    for (let h = 0; h < reader.size; h++) {
      if (reader.isRetained(h)) refs[h] = m.indexed(decode(h), reader);
    }
    return m;
  }

  /** Hooks for opening this scope's store: F(c) of each command in handle order, as our number. */
  openHooks(): ScopeOpenHooks {
    return { frontier: (cmd, store) => this.indexed(cmd, store) };
  }

  /** F of a command being indexed (open or load); membership commands are added to the graph. */
  private indexed(cmd: CommandV2, reader: ScopeStoreReader): number {
    const r = this.frontierForParents(reader, cmd.parents);
    // A store holds only what was accepted: a parent it cannot resolve is a salvaged gap, read as ∅.
    const f = r.ok ? r.frontier : this.graph.empty;
    if (isMembershipKind(cmd.kind)) this.add(cmd, f);
    return this.graph.intern(f);
  }

  /** The frontier number of a held handle (ours, whether the store was opened or loaded). */
  frontierRef(reader: ScopeStoreReader, h: number): number {
    const l = this.loaded;
    return l !== undefined && h < l.length ? l[h]! : reader.frontierOf(h);
  }

  /** F of a held handle. @throws RangeError for a pruned handle */
  frontierOfHandle(reader: ScopeStoreReader, h: number): Frontier {
    return this.graph.frontierAt(this.frontierRef(reader, h));
  }

  /** Ids of a frontier number, ascending (what a horizon record carries, §4.5 step 5). */
  idsOf(ref: number): Uint8Array[] {
    return this.graph.idsOf(this.graph.frontierAt(ref));
  }

  /** The interned number of `f` (interned now if it was transient). */
  refOf(f: Frontier): number {
    return this.graph.intern(f);
  }

  /**
   * F(c) for a command with these parents (§1.6, §4.4): a held parent gives `{p}` (membership)
   * or its stored frontier; a horizon entry its frontier; then `extra` (commands of the batch
   * being placed), then `pending` (records of this (link, scope), reported back for adoption).
   * Fails with what is missing: unresolvable parents, or membership commands named by a
   * record's or entry's frontier that are not held (the command then waits as an orphan, §4.6).
   */
  frontierForParents(reader: ScopeStoreReader, parents: readonly Uint8Array[], extra?: ParentLookup, pending?: PendingRecords): FrontierResult {
    const facts: ParentFacts[] = [];
    const records: HorizonEntry[] = [];
    const missing: Uint8Array[] = [];
    const needHeld = (ids: readonly Uint8Array[]): void => {
      for (const id of ids) if (!this.graph.has(id)) missing.push(id);
    };
    for (const id of parents) {
      const h = reader.indexOf(id);
      if (h >= 0) {
        facts.push(isMembershipKind(reader.kindOf(h)) ? { id, membership: true } : { id, membership: false, frontier: this.frontierRef(reader, h) });
        continue;
      }
      const e = reader.horizonEntry(id);
      if (e !== undefined) {
        needHeld(e.frontier);
        facts.push({ id, membership: false, frontier: e.frontier });
        continue;
      }
      const x = extra?.(id);
      if (x !== undefined) {
        facts.push(x);
        continue;
      }
      const p = pending?.(id);
      if (p !== undefined) {
        needHeld(p.frontier);
        facts.push({ id, membership: false, frontier: p.frontier });
        records.push(p);
        continue;
      }
      missing.push(id);
    }
    if (missing.length > 0) return { ok: false, missing };
    return { ok: true, frontier: this.graph.frontierOf(facts), records };
  }

  /** Add an accepted membership command (kind 1 or 2) with its F; see {@link MembershipGraph.add}. */
  add(cmd: CommandV2, frontier: Frontier): void {
    this.graph.add({ id: cmd.id, kind: cmd.kind, author: cmd.author, frontier, payload: cmd.payload });
  }

  /** True once the genesis is held. */
  get hasGenesis(): boolean {
    return this.graph.genesis !== undefined;
  }

  /** Whether the genesis sets `open_read` (false before the genesis). */
  get openRead(): boolean {
    return ((this.graph.genesis?.flags ?? 0) & GENESIS_OPEN_READ) !== 0;
  }

  /** Roles of a full 32-byte key in the current view F_H(S) (§1.8); 0 before the genesis. */
  roles(publicKey: Uint8Array): number {
    return this.hasGenesis ? this.graph.grants(publicKey) : 0;
  }

  /**
   * Whether this host grants the scope to a peer with this key (§1.8): R in the current view, or
   * the scope is `open_read` and the host's link trust admits the peer (`linkTrustAdmits`, the
   * caller's). Full keys are compared, never fingerprints. False before the genesis: the joining
   * case (grant to the one peer the scope is being joined from) is the caller's.
   */
  grants(publicKey: Uint8Array, linkTrustAdmits: boolean): boolean {
    if (!this.hasGenesis) return false;
    return (this.roles(publicKey) & Role.Read) !== 0 || (this.openRead && linkTrustAdmits);
  }
}
