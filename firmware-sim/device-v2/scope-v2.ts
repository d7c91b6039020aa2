/**
 * One scope held by the v2 device (§7 items 3, 4, 6, 9): its ring of data commands, its
 * membership commands (kept apart, never evicted: at most 16), its membership evaluation
 * (`protocol/membership.ts`, the shared normative rule), a table of at most 16 frontiers that
 * ring and horizon entries name by a u8 index, its horizon table and the pending records of the
 * current poll round. A scope that would need more than these tables is refused as a whole
 * (`overflow`: the caller drops and closes it), never accepted differently from other hosts.
 *
 * Acceptance is §2.3 in order: decode with the scope id, duplicate, parents resolvable (ring,
 * membership commands, horizon, pending records; the device keeps no orphan buffer), F(c),
 * membership verdict, signature.
 */
import { CommandKind, GENESIS_OPEN_READ, MAX_FRONTIER, Role } from '../../protocol/constants-v2.js';
import { decodeCommandV2, encodeCommandV2, verifyCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { NotPermittedError } from '../../protocol/errors.js';
import type { HorizonRecord } from '../../protocol/horizon-record.js';
import type { Identity } from '../../protocol/keys.js';
import { MembershipGraph, type Frontier, type ParentFacts } from '../../protocol/membership.js';
import { FrontierTableV2 } from './frontier-table-v2.js';
import { HorizonTableV2, PendingRecords } from './horizon-table-v2.js';
import { joinRefusal, tooManyKeys } from './scope-rules-v2.js';
import { ScopeRingV2, sameId } from './scope-ring-v2.js';
import { MEMBERSHIP_SLOTS, type Accepted, type ScopeState } from './types-v2.js';

interface Resolved { facts: ParentFacts; depth: number; record?: HorizonRecord }

/** One scope slot of the device. */
export class DeviceScope {
  state: ScopeState = 'free';
  /** Scope id (valid unless free). */
  id: Uint8Array = new Uint8Array(32);
  /** Announced (and, once held, genesis) name. */
  name = '';
  /** Membership evaluation; null while free. */
  graph: MembershipGraph | null = null;
  /** Data commands. */
  readonly ring: ScopeRingV2;
  /** Membership commands, in append order. */
  readonly members = new ScopeRingV2(MEMBERSHIP_SLOTS);
  readonly horizon = new HorizonTableV2();
  readonly pending = new PendingRecords();
  /** Horizon records adopted, and horizon entries dropped from a full table (the device adds these to its stats). */
  adopted = 0;
  horizonDrops = 0;
  /** Interned frontiers of the graph, by the u8 index entries keep. */
  private readonly frontiers = new FrontierTableV2();
  private order = 0;
  private ownSeq = 0;

  constructor(
    readonly slot: number,
    ringSize: number,
    private readonly self: Identity,
  ) {
    this.ring = new ScopeRingV2(ringSize);
  }

  /** Start holding (joining) scope `id` offered under `name`: empty, waiting for its genesis. */
  begin(id: Uint8Array, name: string): void {
    this.free();
    this.state = 'joining';
    this.id = Uint8Array.from(id);
    this.name = name;
    this.graph = new MembershipGraph(this.id);
  }

  /** Drop everything (the buffers stay). */
  free(): void {
    this.state = 'free';
    this.graph = null;
    this.ring.clear();
    this.members.clear();
    this.horizon.clear();
    this.pending.clear();
    this.frontiers.clear();
    this.order = this.ownSeq = 0;
  }

  /** Whether `peerKey` belongs to the scope in the device's current view (§1.8; the link already trusts it). */
  grants(peerKey: Uint8Array): boolean {
    const g = this.graph;
    if (g === null) return false;
    if (this.state === 'joining') return true; // §1.8: granted to the peer it joins from, having nothing to give
    if (((g.genesis?.flags ?? 0) & GENESIS_OPEN_READ) !== 0) return true;
    return (g.grants(peerKey) & Role.Read) !== 0;
  }

  /** Whether the device retains `id` (ring or membership commands). */
  retains(id: Uint8Array): boolean {
    return this.ring.indexOf(id) >= 0 || this.members.indexOf(id) >= 0;
  }

  /** Commands retained. */
  get total(): number {
    return this.ring.count + this.members.count;
  }

  /** The ids of the frontier at index `fi`, ascending (a record's frontier). */
  frontierIds(fi: number): Uint8Array[] {
    return this.frontiers.ids(this.graph!, fi); // not free: indices exist only while held
  }

  /** A record for a data command retained or in the horizon, or null (the table dropped it). */
  record(id: Uint8Array): HorizonRecord | null {
    let i = this.ring.indexOf(id);
    if (i >= 0) return { id: Uint8Array.from(id), depth: this.ring.depthAt(i), frontier: this.frontierIds(this.ring.frontierAt(i)) };
    i = this.horizon.indexOf(id);
    if (i >= 0) return { id: Uint8Array.from(id), depth: this.horizon.depthAt(i), frontier: this.frontierIds(this.horizon.frontierAt(i)) };
    return null;
  }

  /** Heads (retained commands no retained command names), deepest first, at most `max`; copies. */
  heads(max: number): Uint8Array[] {
    const out: { id: Uint8Array; depth: number }[] = [];
    for (const r of [this.ring, this.members]) {
      for (let i = 0; i < r.count; i++) {
        const id = r.idAt(i);
        if (!this.ring.names(id) && !this.members.names(id)) out.push({ id: Uint8Array.from(id), depth: r.depthAt(i) });
      }
    }
    return out.sort((a, b) => b.depth - a.depth).slice(0, max).map((h) => h.id);
  }

  /** §2.3 for one received command encoding. */
  accept(bytes: Uint8Array): Accepted {
    const g = this.graph;
    if (g === null) return { kind: 'orphan' };
    let cmd: CommandV2;
    try {
      cmd = decodeCommandV2(this.id, bytes);
    } catch (err) {
      return { kind: 'rejected', reason: 'Malformed', detail: (err as Error).message };
    }
    if (this.retains(cmd.id)) return { kind: 'duplicate' };
    if (cmd.kind !== CommandKind.Genesis && g.size === 0) return { kind: 'orphan' };
    const facts: ParentFacts[] = [];
    const adopt: HorizonRecord[] = [];
    let depth = 0;
    for (const p of cmd.parents) {
      const r = this.resolve(p);
      if (r === null) return { kind: 'orphan' };
      facts.push(r.facts);
      depth = Math.max(depth, r.depth + 1);
      if (r.record !== undefined) adopt.push(r.record);
    }
    let frontier: Frontier;
    try {
      frontier = g.frontierOf(facts);
    } catch (err) {
      if (!(err instanceof NotPermittedError)) throw err;
      // A record's frontier naming a membership command not held: the command waits (§4.6).
      if (adopt.length > 0) return { kind: 'orphan' };
      return { kind: 'rejected', reason: 'NotPermitted', detail: err.message };
    }
    const verdict = g.check({ id: cmd.id, kind: cmd.kind, author: cmd.author, frontier, payload: cmd.payload });
    if (!verdict.ok) return { kind: 'rejected', reason: verdict.reason, detail: verdict.detail };
    if (!verifyCommandV2(cmd, verdict.key)) return { kind: 'rejected', reason: 'BadSignature', detail: 'signature does not verify' };
    return this.store(cmd, frontier, depth, adopt, false);
  }

  /**
   * Commit an own data command on the scope's heads. Returns the command, or why not: `full`
   * (ring full of own commands no peer holds), `refused` (the device lacks W here, or holds no
   * genesis yet), `overflow` (a 17th frontier).
   */
  commit(payload: Uint8Array): CommandV2 | 'full' | 'refused' | 'overflow' {
    const g = this.graph;
    if (this.state !== 'held' || g === null) return 'refused';
    if (this.ring.fullOfUnsynced) return 'full';
    const parents = this.heads(MAX_FRONTIER);
    const facts = parents.map((p) => this.resolve(p)!); // heads are retained: they resolve
    const frontier = g.frontierOf(facts.map((f) => f.facts));
    const depth = facts.reduce((d, f) => Math.max(d, f.depth + 1), 0);
    if ((g.grants(this.self.publicKey, frontier) & Role.Write) === 0) return 'refused';
    const cmd = encodeCommandV2(this.id, { parents, author: this.self.author, seq: (this.ownSeq + 1) >>> 0, kind: CommandKind.Data, payload: Uint8Array.from(payload) }, this.self.sign);
    const r = this.store(cmd, frontier, depth, [], true);
    return r.kind === 'stored' ? r.cmd : r.kind === 'overflow' ? 'overflow' : 'full';
  }

  private resolve(p: Uint8Array): Resolved | null {
    let i = this.members.indexOf(p);
    if (i >= 0) return { facts: { id: p, membership: true }, depth: this.members.depthAt(i) };
    i = this.ring.indexOf(p);
    if (i >= 0) return { facts: { id: p, membership: false, frontier: this.frontiers.ref(this.ring.frontierAt(i)) }, depth: this.ring.depthAt(i) };
    i = this.horizon.indexOf(p);
    if (i >= 0) return { facts: { id: p, membership: false, frontier: this.frontiers.ref(this.horizon.frontierAt(i)) }, depth: this.horizon.depthAt(i) };
    const r = this.pending.find(p);
    return r === undefined ? null : { facts: { id: p, membership: false, frontier: r.frontier }, depth: r.depth, record: r };
  }

  private store(cmd: CommandV2, frontier: Frontier, depth: number, adopt: HorizonRecord[], own: boolean): Accepted {
    const g = this.graph!; // set: accept and commit check it
    const adoptAt: number[] = [];
    for (const r of adopt) {
      const fi = this.frontiers.indexOf(g, g.frontierFromIds(r.frontier));
      if (fi < 0) return { kind: 'overflow' };
      adoptAt.push(fi);
    }
    if (cmd.kind === CommandKind.Data) {
      const fi = this.frontiers.indexOf(g, frontier);
      if (fi < 0) return { kind: 'overflow' };
      const evicted = this.ring.push(cmd.id, cmd.bytes, depth, fi, this.order, own);
      if (evicted === false) return { kind: 'full' };
      this.order++;
      if (evicted !== null && this.ring.names(evicted.id)) this.horizonDrops += Number(this.horizon.add(evicted.id, evicted.depth, evicted.frontier));
    } else {
      const refusal = cmd.kind === CommandKind.Genesis ? joinRefusal(cmd, this.name, this.self.publicKey) : null;
      if (refusal !== null) return { kind: 'join-rejected', detail: refusal };
      if (this.members.count >= MEMBERSHIP_SLOTS || tooManyKeys(g, cmd)) return { kind: 'overflow' };
      g.add({ id: cmd.id, kind: cmd.kind, author: cmd.author, frontier, payload: cmd.payload });
      this.members.push(cmd.id, cmd.bytes, depth, 0, this.order++, false);
      if (cmd.kind === CommandKind.Genesis) this.state = 'held';
    }
    adopt.forEach((r, k) => {
      this.adopted++;
      this.horizonDrops += Number(this.horizon.add(r.id, r.depth, adoptAt[k]!));
    });
    this.horizon.retain((id) => this.ring.names(id) || this.members.names(id));
    if (!own) this.ring.markHeldFrom(cmd.parents);
    if (own || (cmd.kind === CommandKind.Data && sameId(cmd.author, this.self.author))) this.ownSeq = Math.max(this.ownSeq, cmd.seq);
    return { kind: 'stored', cmd };
  }
}
