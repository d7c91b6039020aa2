/**
 * Membership evaluation of one scope (design v2-scopes §1.5–§1.8): the membership DAG (the
 * genesis and every kind-2 command), membership frontiers `F(c)`, `max`, closure ancestry,
 * `state(F)` with remove-wins merging, author lookup and the verdict of §2.3 steps 4–5.
 *
 * Pure and incremental: it works on ids, authors, kinds, parents' facts and payloads, never on a
 * command encoding, so an index can drive it. Membership commands are numbered in arrival order
 * (a node number); since a membership command is added only after every command of its frontier,
 * that order is topological, which the ancestor bitsets and the state walk rely on.
 *
 * Costs, with n = membership commands held:
 * - `add(m)`: O(|F(m)| · n/32) words to build m's ancestor bitset (kept: n/32 words per node,
 *   n²/64 bytes in all), a SHA-256 per key the scope never named before.
 * - `isAncestor`: O(1) (one bit of the bitset).
 * - `frontierOf(parents)`: O(1) per parent when all parents share one frontier (the usual case:
 *   an array read, or a map lookup of a membership parent's id); otherwise O(k · n/32) for the k
 *   candidate commands, plus one map lookup to find the interned frontier.
 * - `state(F)`: cached on the frontier (a bounded LRU of `stateCacheSize` frontiers, default 64);
 *   a miss walks the closure, O(|C(F)| · ops · setters), at most 1,023 · 16 op visits for a
 *   valid frontier.
 * - `check`: kind 0 costs the state lookup plus a map lookup of the author; kinds 1 and 2 decode
 *   the body (kind 2 also counts the closure and checks fingerprints, O(keys)).
 * Interned frontiers (the empty one, `{m}` and `F(m)` for every membership command, and what the
 * caller interns for accepted commands) are kept for the graph's lifetime.
 *
 * This file holds the graph; the values it takes and returns are in membership-types.ts, the
 * ancestry and state walks in membership-closure.ts, the verdict in membership-check.ts, the
 * key numbering in membership-keys.ts and the state LRU in membership-state-cache.ts. Every name it exported before is re-exported here.
 */
import { compareBytes } from './command.js';
import { CommandKind } from './constants-v2.js';
import { MalformedError, NotPermittedError } from './errors.js';
import { decodeGenesisBody, type GenesisBody } from './genesis.js';
import { decodeMembershipBody, type Member } from './membership-body.js';
import { checkCommand, resolveAuthor, type CheckContext } from './membership-check.js';
import { ancestorBits, closureOf, computeState, isAnc, maxNodes, type MembershipNode } from './membership-closure.js';
import { bkey, MembershipKeys } from './membership-keys.js';
import { MembershipStateCache } from './membership-state-cache.js';
import { Frontier, MembershipState, type CommandFacts, type MembershipGraphOptions, type ParentFacts, type Verdict } from './membership-types.js';

export {
  Frontier, MembershipState,
  type CommandFacts, type MembershipGraphOptions, type MembershipRefusal, type ParentFacts, type Verdict,
} from './membership-types.js';

/** The membership DAG of one scope and its evaluation; see the module doc for costs. */
export class MembershipGraph {
  private readonly nodes: MembershipNode[] = [];
  private readonly nodeById = new Map<string, number>();
  private readonly keyTable = new MembershipKeys();
  private readonly frontiers: Frontier[] = [];
  private readonly interned = new Map<string, Frontier>();
  private readonly stateCache: MembershipStateCache;
  private readonly checks: CheckContext;
  private heads: number[] = [];
  private viewCache: Frontier | undefined;
  private genesisBody: GenesisBody | undefined;
  /** The empty frontier, F(genesis); interned as number 0. */
  readonly empty: Frontier;

  /** A graph for the scope `scopeId` (the genesis id), holding nothing yet. */
  constructor(
    readonly scopeId: Uint8Array,
    options: MembershipGraphOptions = {},
  ) {
    this.stateCache = new MembershipStateCache(Math.max(1, options.stateCacheSize ?? 64));
    this.empty = new Frontier([], '');
    this.intern(this.empty);
    this.checks = { scopeId, keys: this.keyTable, state: (f) => this.state(f), closure: (f) => closureOf(this.nodes, f) };
  }

  /** Membership commands held (genesis included). */
  get size(): number {
    return this.nodes.length;
  }
  /** The genesis body, once the genesis is added. */
  get genesis(): GenesisBody | undefined {
    return this.genesisBody;
  }
  /** True when the membership command `id` is held. */
  has(id: Uint8Array): boolean {
    return this.nodeById.has(bkey(id));
  }
  /** F(m) of a held membership command, or undefined. */
  frontierOfCommand(id: Uint8Array): Frontier | undefined {
    const n = this.nodeById.get(bkey(id));
    return n === undefined ? undefined : this.nodes[n]!.frontier;
  }
  /** The ids of a frontier, ascending bytewise (the order of a horizon record). O(k log k). */
  idsOf(f: Frontier): Uint8Array[] {
    return f.nodes.map((n) => this.nodes[n]!.id).sort(compareBytes);
  }
  /** The interned frontier numbered `ref`. @throws RangeError for a number never handed out */
  frontierAt(ref: number): Frontier {
    const f = this.frontiers[ref];
    if (f === undefined) throw new RangeError(`no interned frontier ${ref}`);
    return f;
  }
  /** Frontiers interned so far. */
  get frontierCount(): number {
    return this.frontiers.length;
  }
  /**
   * Keep `f` for the graph's lifetime and give it a number (idempotent). Call it for the frontier
   * of each accepted command, so later commands find the same object and its cached state.
   */
  intern(f: Frontier): number {
    if (f.ref >= 0) return f.ref;
    const known = this.interned.get(f.key);
    if (known !== undefined) return known.ref;
    f.ref = this.frontiers.length;
    this.frontiers.push(f);
    this.interned.set(f.key, f);
    return f.ref;
  }

  /** Key number of a full public key, if the scope ever named it. @internal */
  keyNumber(publicKey: Uint8Array): number | undefined {
    return this.keyTable.keyNumber(publicKey);
  }
  /** @internal */
  keyAt(k: number): Uint8Array {
    return this.keyTable.keyAt(k);
  }

  private nodeOf(id: Uint8Array): number {
    const n = this.nodeById.get(bkey(id));
    if (n === undefined) throw new NotPermittedError('membership frontier names a membership command that is not held');
    return n;
  }

  /** The frontier object of an antichain given as ascending node numbers (interned if known). */
  private lookup(nodes: number[]): Frontier {
    if (nodes.length === 0) return this.empty;
    if (nodes.length === 1) return this.nodes[nodes[0]!]!.self;
    const key = nodes.join(',');
    return this.interned.get(key) ?? new Frontier(nodes, key);
  }

  /** True when membership command `o` is an ancestor of `m` (§1.6); false if either is not held. */
  isAncestor(o: Uint8Array, m: Uint8Array): boolean {
    const on = this.nodeById.get(bkey(o));
    const mn = this.nodeById.get(bkey(m));
    return on !== undefined && mn !== undefined && isAnc(this.nodes, on, mn);
  }

  /**
   * `max(X)` of §1.6 over held membership commands: those of `ids` that are no ancestor of
   * another, ascending bytewise. @throws NotPermittedError when an id is not held
   */
  max(ids: readonly Uint8Array[]): Uint8Array[] {
    return this.idsOf(this.frontierFromIds(ids));
  }

  /** The frontier `max(ids)` (a horizon record's F). @throws NotPermittedError when an id is not held */
  frontierFromIds(ids: readonly Uint8Array[]): Frontier {
    return this.lookup(maxNodes(this.nodes, ids.map((id) => this.nodeOf(id))));
  }

  /**
   * `F(c)` of a command with these parents (§1.6): max of the union of `{p}` for membership
   * parents and `F(p)` for the others. No parents: the empty frontier (the genesis). The result
   * may be wider than 16 ({@link check} refuses that); it is transient unless already interned.
   * @throws NotPermittedError when it names a membership command that is not held (§2.3 step 4)
   */
  frontierOf(parents: readonly ParentFacts[]): Frontier {
    if (parents.length === 0) return this.empty;
    const first = this.contribution(parents[0]!);
    if (parents.length === 1) return first;
    const parts: Frontier[] = [first];
    let same = true;
    for (let i = 1; i < parents.length; i++) {
      const f = this.contribution(parents[i]!);
      if (f !== first) same = false;
      parts.push(f);
    }
    if (same) return first;
    const all: number[] = [];
    for (const f of parts) for (const n of f.nodes) all.push(n);
    return this.lookup(maxNodes(this.nodes, all));
  }

  private contribution(p: ParentFacts): Frontier {
    if (p.membership) return this.nodes[this.nodeOf(p.id)]!.self;
    if (typeof p.frontier === 'number') return this.frontierAt(p.frontier);
    if (p.frontier instanceof Frontier) return p.frontier;
    if (p.frontier === undefined) throw new RangeError('a parent that is not a membership command needs its frontier');
    return this.frontierFromIds(p.frontier);
  }

  /** The host's current view `F_H(S)` (§1.8): max of every membership command held. */
  view(): Frontier {
    this.viewCache ??= this.lookup([...this.heads]);
    return this.viewCache;
  }

  /** `state(F)` of §1.6, cached per frontier (LRU). */
  state(f: Frontier): MembershipState {
    return this.stateCache.get(f, () => new MembershipState(computeState(this.nodes, f), this.keyTable));
  }

  /**
   * The key a command's `author` names at `f` (§1.7): the one key of `state(f)` with that
   * fingerprint and non-zero roles; undefined (`UnknownAuthor`) when none or several.
   */
  authorKey(f: Frontier, author: Uint8Array): Uint8Array | undefined {
    const k = resolveAuthor(this.keyTable, this.state(f), author);
    return typeof k === 'number' ? this.keyTable.keyAt(k) : undefined;
  }

  /** Roles of a full 32-byte key at `f` (§1.8; default the current view). Open-read is the caller's. */
  grants(publicKey: Uint8Array, f: Frontier = this.view()): number {
    return this.state(f).roles(publicKey);
  }

  /**
   * Membership's verdict on a command (§2.3 steps 4–5): kind 0 needs W, kind 1 must be this
   * scope's genesis signed by an A member, kind 2 needs A and rules 2–4 of §1.5. On success,
   * the key its signature must verify under. Changes nothing.
   */
  check(c: CommandFacts): Verdict {
    return checkCommand(this.checks, c);
  }

  /**
   * Add a membership command that was accepted (or is reloaded from a store): the genesis first,
   * then kind-2 commands whose frontier (from this graph's {@link frontierOf}) is held. Rules are
   * not checked again; adding a held id does nothing.
   * @throws MalformedError for another kind or a body that does not decode; NotPermittedError
   * for a genesis that is not this scope's or comes second, or a kind-2 command before the genesis
   */
  add(c: CommandFacts): void {
    if (this.nodeById.has(bkey(c.id))) return;
    let frontier = this.empty;
    let ops: Member[];
    if (c.kind === CommandKind.Genesis) {
      if (this.nodes.length > 0 || compareBytes(c.id, this.scopeId) !== 0) throw new NotPermittedError('not this scope\'s genesis');
      this.genesisBody = decodeGenesisBody(c.payload);
      ops = this.genesisBody.members;
    } else if (c.kind === CommandKind.Membership) {
      if (this.nodes.length === 0 || c.frontier.size === 0) throw new NotPermittedError('a membership command needs the genesis in its past');
      ops = decodeMembershipBody(c.payload).ops;
      frontier = c.frontier;
      this.intern(frontier);
    } else {
      throw new MalformedError(`kind ${c.kind} is not a membership command`);
    }
    const n = this.nodes.length;
    const anc = ancestorBits(this.nodes, frontier, n);
    const self = new Frontier([n], String(n));
    const node: MembershipNode = { id: Uint8Array.from(c.id), frontier, self, opKeys: ops.map((m) => this.keyTable.intern(m.publicKey)), opRoles: ops.map((m) => m.roles), anc };
    this.nodes.push(node);
    this.nodeById.set(bkey(node.id), n);
    this.intern(self);
    this.heads = this.heads.filter((h) => !isAnc(this.nodes, h, n));
    this.heads.push(n);
    this.viewCache = undefined;
  }
}
