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
 */
import { compareBytes, fingerprint } from './command.js';
import { CommandKind, MAX_FRONTIER, MAX_MEMBERSHIP_COMMANDS, Role } from './constants-v2.js';
import { MalformedError, NotPermittedError, SyncwireError } from './errors.js';
import { decodeGenesisBody, genesisMember, type GenesisBody } from './genesis.js';
import { decodeMembershipBody, type Member } from './membership-body.js';

/** A byte string as a map key (one char per byte, no copy of the bytes). */
function bkey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

/** A membership frontier: an antichain of membership commands of one graph. */
export class Frontier {
  /** Its interned number in the graph ({@link MembershipGraph.intern}), or -1 while transient. */
  ref = -1;
  /** @internal cached state, evicted by the graph's LRU. */
  cachedState: MembershipState | undefined = undefined;
  /** @internal */
  constructor(
    /** Node numbers, ascending (arrival order). */
    readonly nodes: readonly number[],
    /** @internal interning key */
    readonly key: string,
  ) {}
  /** Membership commands in it. */
  get size(): number {
    return this.nodes.length;
  }
}

/** The membership at a frontier: every key set in its closure, with its roles (0 = removed). */
export class MembershipState {
  /** @internal */
  constructor(
    /** @internal key number → roles */
    readonly byKey: ReadonlyMap<number, number>,
    private readonly graph: MembershipGraph,
  ) {}
  /** Roles of a full 32-byte public key (0 when the closure never set it or removed it). */
  roles(publicKey: Uint8Array): number {
    const k = this.graph.keyNumber(publicKey);
    return k === undefined ? 0 : (this.byKey.get(k) ?? 0);
  }
  /** Every key the closure sets, roles 0 included, ascending by key. O(keys log keys). */
  members(): Member[] {
    const out: Member[] = [];
    for (const [k, roles] of this.byKey) out.push({ publicKey: this.graph.keyAt(k), roles });
    return out.sort((a, b) => compareBytes(a.publicKey, b.publicKey));
  }
}

/** What the graph needs to know of one parent of a command (§1.6). */
export interface ParentFacts {
  /** The parent's id. */
  id: Uint8Array;
  /** True when the parent is a membership command (kind 1 or 2) held by this graph. */
  membership: boolean;
  /**
   * For any other parent, its own frontier: the interned number the caller stored for it, or the
   * ids of a horizon record's frontier (§4.4). Not read for a membership parent.
   */
  frontier?: number | readonly Uint8Array[];
}

/** A command to judge or add: its id, kind, author fingerprint, `F(c)` and payload. */
export interface CommandFacts {
  /** The command's id (for a genesis: the scope id it claims). */
  id: Uint8Array;
  /** `kind` field: 0 data, 1 genesis, 2 membership. */
  kind: number;
  /** 8-byte author fingerprint. */
  author: Uint8Array;
  /** `F(c)` from {@link MembershipGraph.frontierOf}; not read for a genesis (its F is ∅). */
  frontier: Frontier;
  /** The body for kinds 1 and 2; not read for kind 0. */
  payload: Uint8Array;
}

/** Why a command is refused by membership. */
export type MembershipRefusal = 'UnknownAuthor' | 'NotPermitted' | 'Malformed';
/** The verdict of {@link MembershipGraph.check}: the key the signature must verify under, or why not. */
export type Verdict = { ok: true; key: Uint8Array } | { ok: false; reason: MembershipRefusal; detail: string };

interface Node {
  id: Uint8Array;
  /** F(m) (∅ for the genesis). */
  frontier: Frontier;
  /** The frontier {m}. */
  self: Frontier;
  /** Key numbers this command sets, and the roles it gives each. */
  opKeys: number[];
  opRoles: number[];
  /** Bit o set iff node o is a strict ancestor; ceil(number/32) words. */
  anc: Uint32Array;
}

/** Options of a {@link MembershipGraph}. */
export interface MembershipGraphOptions {
  /** Frontiers whose state is kept (least recently used evicted). Default 64. */
  stateCacheSize?: number;
}

/** The membership DAG of one scope and its evaluation; see the module doc for costs. */
export class MembershipGraph {
  private readonly nodes: Node[] = [];
  private readonly nodeById = new Map<string, number>();
  private readonly keys: Uint8Array[] = [];
  private readonly keyFp: string[] = [];
  private readonly keyByPk = new Map<string, number>();
  private readonly keysByFp = new Map<string, number[]>();
  private readonly frontiers: Frontier[] = [];
  private readonly interned = new Map<string, Frontier>();
  private readonly stateLru = new Set<Frontier>();
  private readonly stateCacheSize: number;
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
    this.stateCacheSize = Math.max(1, options.stateCacheSize ?? 64);
    this.empty = new Frontier([], '');
    this.intern(this.empty);
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
    return this.keyByPk.get(bkey(publicKey));
  }
  /** @internal */
  keyAt(k: number): Uint8Array {
    return this.keys[k]!;
  }

  private nodeOf(id: Uint8Array): number {
    const n = this.nodeById.get(bkey(id));
    if (n === undefined) throw new NotPermittedError('membership frontier names a membership command that is not held');
    return n;
  }

  private isAnc(o: number, m: number): boolean {
    const anc = this.nodes[m]!.anc;
    const w = o >>> 5;
    return w < anc.length && ((anc[w]! >>> (o & 31)) & 1) === 1;
  }

  /** Node numbers of `set` (deduplicated) that are no ancestor of another; ascending. */
  private maxNodes(set: readonly number[]): number[] {
    const uniq = [...new Set(set)].sort((a, b) => a - b);
    const top = uniq[uniq.length - 1];
    if (top === undefined) return [];
    const covered = new Uint32Array((top >>> 5) + 1);
    for (const n of uniq) {
      const anc = this.nodes[n]!.anc;
      for (let w = 0; w < anc.length && w < covered.length; w++) covered[w]! |= anc[w]!;
    }
    return uniq.filter((n) => ((covered[n >>> 5]! >>> (n & 31)) & 1) === 0);
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
    return on !== undefined && mn !== undefined && this.isAnc(on, mn);
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
    return this.lookup(this.maxNodes(ids.map((id) => this.nodeOf(id))));
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
    return this.lookup(this.maxNodes(all));
  }

  private contribution(p: ParentFacts): Frontier {
    if (p.membership) return this.nodes[this.nodeOf(p.id)]!.self;
    if (typeof p.frontier === 'number') return this.frontierAt(p.frontier);
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
    const hit = f.cachedState;
    if (hit !== undefined) {
      this.stateLru.delete(f);
      this.stateLru.add(f);
      return hit;
    }
    const s = new MembershipState(this.computeState(f), this);
    f.cachedState = s;
    this.stateLru.add(f);
    if (this.stateLru.size > this.stateCacheSize) {
      const oldest = this.stateLru.values().next().value as Frontier; // non-empty: size > cap ≥ 1
      this.stateLru.delete(oldest);
      oldest.cachedState = undefined;
    }
    return s;
  }

  /** Closure of `f` as a bitset over node numbers. */
  private closure(f: Frontier): Uint32Array {
    const top = f.nodes[f.nodes.length - 1] ?? -1;
    const bits = new Uint32Array((top >>> 5) + 1);
    for (const n of f.nodes) {
      bits[n >>> 5]! |= 1 << (n & 31);
      const anc = this.nodes[n]!.anc;
      for (let w = 0; w < anc.length; w++) bits[w]! |= anc[w]!;
    }
    return bits;
  }

  private computeState(f: Frontier): Map<number, number> {
    const out = new Map<number, number>();
    if (f.nodes.length === 0) return out;
    const bits = this.closure(f);
    // Walk the closure in arrival (topological) order; per key keep the setters no later setter
    // descends from: at the end they are max(Ops_k).
    const setters = new Map<number, number[]>();
    const setRoles = new Map<number, number[]>();
    for (let w = 0; w < bits.length; w++) {
      for (let word = bits[w]!; word !== 0; word &= word - 1) {
        const n = (w << 5) + (31 - Math.clz32(word & -word));
        const node = this.nodes[n]!;
        for (let i = 0; i < node.opKeys.length; i++) {
          const k = node.opKeys[i]!;
          const s = setters.get(k);
          const r = setRoles.get(k);
          if (s === undefined || r === undefined) {
            setters.set(k, [n]);
            setRoles.set(k, [node.opRoles[i]!]);
            continue;
          }
          let j = 0;
          for (let x = 0; x < s.length; x++) {
            if (this.isAnc(s[x]!, n)) continue;
            s[j] = s[x]!;
            r[j++] = r[x]!;
          }
          s.length = j;
          r.length = j;
          s.push(n);
          r.push(node.opRoles[i]!);
        }
      }
    }
    for (const [k, r] of setRoles) out.set(k, r.reduce((a, b) => a & b, 7));
    return out;
  }

  /** Key number of the author in `state`, or 'none' / 'ambiguous' (§1.7). */
  private resolveAuthor(state: MembershipState, author: Uint8Array): number | 'none' | 'ambiguous' {
    let found: number | 'none' = 'none';
    for (const k of this.keysByFp.get(bkey(author)) ?? []) {
      if ((state.byKey.get(k) ?? 0) === 0) continue;
      if (found !== 'none') return 'ambiguous';
      found = k;
    }
    return found;
  }

  /**
   * The key a command's `author` names at `f` (§1.7): the one key of `state(f)` with that
   * fingerprint and non-zero roles; undefined (`UnknownAuthor`) when none or several.
   */
  authorKey(f: Frontier, author: Uint8Array): Uint8Array | undefined {
    const k = this.resolveAuthor(this.state(f), author);
    return typeof k === 'number' ? this.keys[k] : undefined;
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
    if (c.kind === CommandKind.Genesis) return this.checkGenesis(c);
    if (c.kind !== CommandKind.Data && c.kind !== CommandKind.Membership) return refuse('Malformed', `kind ${c.kind}`);
    if (c.frontier.size > MAX_FRONTIER) return refuse('NotPermitted', `membership frontier of ${c.frontier.size} commands exceeds ${MAX_FRONTIER}`);
    let ops: Member[] = [];
    if (c.kind === CommandKind.Membership) {
      try {
        ops = decodeMembershipBody(c.payload).ops;
      } catch (err) {
        if (err instanceof SyncwireError) return refuse('Malformed', err.message);
        throw err;
      }
    }
    const state = this.state(c.frontier);
    const k = this.resolveAuthor(state, c.author);
    if (typeof k !== 'number') return refuse('UnknownAuthor', k === 'none' ? 'no member key has this fingerprint' : 'two member keys share this fingerprint');
    const need = c.kind === CommandKind.Data ? Role.Write : Role.Admin;
    if (((state.byKey.get(k) ?? 0) & need) === 0) return refuse('NotPermitted', c.kind === CommandKind.Data ? 'author lacks W' : 'author lacks A');
    if (c.kind === CommandKind.Membership) {
      let count = 0;
      for (const word of this.closure(c.frontier)) count += popcount(word);
      if (count > MAX_MEMBERSHIP_COMMANDS - 1) return refuse('NotPermitted', `closure holds ${count} membership commands`);
      if (this.collides(state, ops)) return refuse('NotPermitted', 'two keys with roles would share a fingerprint');
    }
    return { ok: true, key: this.keys[k]! };
  }

  private checkGenesis(c: CommandFacts): Verdict {
    if (compareBytes(c.id, this.scopeId) !== 0) return refuse('NotPermitted', 'genesis id is not the scope id');
    let body: GenesisBody;
    try {
      body = decodeGenesisBody(c.payload);
    } catch (err) {
      if (err instanceof SyncwireError) return refuse('Malformed', err.message);
      throw err;
    }
    const m = genesisMember(body, c.author);
    if (m === undefined || (m.roles & Role.Admin) === 0) return refuse('NotPermitted', 'genesis author is not an admin member');
    return { ok: true, key: m.publicKey };
  }

  /** Rule 4 of §1.5: in state({m}) = state(F(m)) overridden by m's ops, a fingerprint is shared. */
  private collides(base: MembershipState, ops: readonly Member[]): boolean {
    const overridden = new Set<number>();
    const seen = new Set<string>();
    const fps: string[] = [];
    for (const op of ops) {
      const k = this.keyNumber(op.publicKey);
      if (k !== undefined) overridden.add(k);
      if (op.roles !== 0) fps.push(k === undefined ? bkey(fingerprint(op.publicKey)) : this.keyFp[k]!);
    }
    for (const [k, roles] of base.byKey) if (roles !== 0 && !overridden.has(k)) fps.push(this.keyFp[k]!);
    for (const fp of fps) {
      if (seen.has(fp)) return true;
      seen.add(fp);
    }
    return false;
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
    const anc = new Uint32Array((n + 31) >>> 5);
    for (const f of frontier.nodes) {
      anc[f >>> 5]! |= 1 << (f & 31);
      const fa = this.nodes[f]!.anc;
      for (let w = 0; w < fa.length; w++) anc[w]! |= fa[w]!;
    }
    const self = new Frontier([n], String(n));
    const node: Node = { id: Uint8Array.from(c.id), frontier, self, opKeys: ops.map((m) => this.internKey(m.publicKey)), opRoles: ops.map((m) => m.roles), anc };
    this.nodes.push(node);
    this.nodeById.set(bkey(node.id), n);
    this.intern(self);
    this.heads = this.heads.filter((h) => !this.isAnc(h, n));
    this.heads.push(n);
    this.viewCache = undefined;
  }

  private internKey(publicKey: Uint8Array): number {
    const pk = bkey(publicKey);
    const known = this.keyByPk.get(pk);
    if (known !== undefined) return known;
    const k = this.keys.length;
    const fp = bkey(fingerprint(publicKey));
    this.keys.push(Uint8Array.from(publicKey));
    this.keyFp.push(fp);
    this.keyByPk.set(pk, k);
    const same = this.keysByFp.get(fp);
    if (same === undefined) this.keysByFp.set(fp, [k]);
    else same.push(k);
    return k;
  }
}

function refuse(reason: MembershipRefusal, detail: string): Verdict {
  return { ok: false, reason, detail };
}

function popcount(x: number): number {
  let c = 0;
  for (let v = x; v !== 0; v &= v - 1) c++;
  return c;
}
