/**
 * Horizon vectors (docs/design/v2-scopes.md §10, `horizon.json`): a 40-command scope of real v2
 * commands (genesis by A = 0x01×32 with A rwa and B rw, data by B, one merge, one fork left as a
 * head, one membership command by A adding C = 0x03×32 as r), a retention of 10 commands applied
 * by the prune planner (agent/store/retention.ts) to a memory scope store — the pruned handles,
 * base, pinned heads and horizon entries — then three polls against it with the exact answers of
 * agent/sync/poll-answer-v2.ts: an empty requester, a requester behind the horizon, and `window`
 * 5 with the membership command in the cut part.
 *
 * {@link ScopeHost} (one scope's memory store with its membership graph and a retention view) is
 * exported for the poll-answer tests. `make vectors` (scripts/gen-vectors.ts) writes the file;
 * test/vectors-horizon.test.ts replays it without this generator.
 */
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind, Role, type CommandKindValue } from '../protocol/constants-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import { encodeMembershipBody, type Member } from '../protocol/membership-body.js';
import { MembershipGraph, type ParentFacts } from '../protocol/membership.js';
import type { PollRequest } from '../protocol/messages-v2.js';
import { HorizonSet } from '../agent/store/horizon.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { planRetention, RetentionTotals, type RetentionPlan, type RetentionView } from '../agent/store/retention.js';
import type { RetentionLimits } from '../agent/store/retention-policy.js';
import { PollAnswererV2 } from '../agent/sync/poll-answer-v2.js';

/**
 * One host's copy of a scope: a memory scope store, the membership graph giving each command's
 * frontier, and what the prune planner reads (children counts, all parent ids) kept beside it.
 * The store's clock is fixed at 0 and no command is own, so pruning depends on counts only.
 */
export class ScopeHost {
  readonly store: MemoryScopeStore;
  readonly graph: MembershipGraph;
  private readonly handleOf = new Map<string, number>();
  private readonly parentIds: Uint8Array[][] = [];
  private readonly kinds: CommandKindValue[] = [];
  private readonly children: number[] = [];

  constructor(readonly scopeId: Uint8Array) {
    this.store = new MemoryScopeStore(scopeId, { nowS: () => 0 });
    this.graph = new MembershipGraph(scopeId);
  }

  /** Ids of an interned frontier number, ascending. */
  readonly frontierIds = (f: number): Uint8Array[] => this.graph.idsOf(this.graph.frontierAt(f));

  /** Whether the membership command `id` is held (every one ever accepted stays retained). */
  readonly holdsMembership = (id: Uint8Array): boolean => this.graph.has(id);

  /**
   * Place a command whose parents are retained or horizon entries (not verified: test data).
   * Returns its handle; a command already held (or pruned here) returns what the store says.
   */
  place(cmd: CommandV2): number {
    const facts: ParentFacts[] = cmd.parents.map((p) => {
      const h = this.store.indexOf(p);
      if (h >= 0) return { id: p, membership: this.store.kindOf(h) !== CommandKind.Data, frontier: this.store.frontierOf(h) };
      const e = this.store.horizonEntry(p);
      if (e === undefined) throw new Error(`parent ${toHex(p)} is neither held nor in the horizon`);
      return { id: p, membership: false, frontier: e.frontier };
    });
    const f = cmd.kind === CommandKind.Genesis ? this.graph.empty : this.graph.frontierOf(facts);
    if (this.store.indexOf(cmd.id) >= 0 || this.handleOf.has(toHex(cmd.id))) return this.store.indexOf(cmd.id);
    if (cmd.kind !== CommandKind.Data) this.graph.add({ id: cmd.id, kind: cmd.kind, author: cmd.author, frontier: f, payload: cmd.payload });
    const h = this.store.append(cmd, { frontier: this.graph.intern(f) });
    if (h < 0) return h;
    this.handleOf.set(toHex(cmd.id), h);
    this.parentIds[h] = cmd.parents.map((p) => p.slice());
    this.kinds[h] = cmd.kind;
    this.children[h] = 0;
    for (const p of cmd.parents) {
      const ph = this.handleOf.get(toHex(p));
      if (ph !== undefined) this.children[ph]!++;
    }
    return h;
  }

  /** What the planner reads, frontiers as ids (so a plan is the store's PrunePlan). */
  view(): RetentionView<Uint8Array[]> {
    const s = this.store;
    return {
      get size() { return s.size; },
      get base() { return s.base; },
      pinnedHeads: () => Array.from({ length: s.base }, (_, h) => h).filter((h) => s.isRetained(h) && this.kinds[h] === CommandKind.Data),
      isRetained: (h) => s.isRetained(h),
      kind: (h) => this.kinds[h]!,
      parentIdsOf: (h) => this.parentIds[h]!,
      childCountOf: (h) => this.children[h]!,
      isHead: (h) => this.children[h] === 0,
      lengthOf: (h) => s.lengthOf(h),
      appendedAtS: (h) => s.appendedAtS(h),
      isOwn: () => false,
      depthOf: (h) => s.depthOf(h),
      frontierOf: (h) => this.frontierIds(s.frontierOf(h)),
      idOf: (h) => s.idOf(h),
    };
  }

  /** One run of the §4.2 planner with `limits`, applied to the store at once; returns the plan. */
  prune(limits: RetentionLimits, horizonTarget?: number): RetentionPlan<Uint8Array[]> {
    const view = this.view();
    const refs = new Map<string, number>();
    for (let h = 0; h < this.store.size; h++) {
      if (this.store.isRetained(h)) for (const p of this.parentIds[h]!) refs.set(toHex(p), (refs.get(toHex(p)) ?? 0) + 1);
    }
    const horizon = HorizonSet.of(this.store.horizon().map((entry) => ({ entry, refs: refs.get(toHex(entry.id)) ?? 1 })));
    const plan = planRetention({ view, limits, nowS: 0, heldFloor: this.store.size, horizon, totals: RetentionTotals.fromView(view), ...(horizonTarget === undefined ? {} : { horizonTarget }) });
    // A memory store applies a plan synchronously; the promise only mirrors the disk store.
    void this.store.prune(plan);
    return plan;
  }
}

const SEED = (b: number): Identity => identityFromSecret(new Uint8Array(32).fill(b));
const A = SEED(0x01);
const B = SEED(0x02);
const C = SEED(0x03);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The 40 commands, by handle: which parents, and whether it is the membership command. */
const SHAPE: Array<{ parents: number[]; membership?: true }> = [
  { parents: [] },
  ...Array.from({ length: 9 }, (_, i) => ({ parents: [i] })), // 1..9 a chain
  { parents: [8] }, // 10: a fork nothing builds on — a head the pruning keeps (pinned)
  { parents: [9] },
  ...Array.from({ length: 13 }, (_, i) => ({ parents: [i + 11] })), // 12..24
  { parents: [24] }, { parents: [24] }, { parents: [25, 26] }, // 25, 26 and their merge 27
  { parents: [27] }, { parents: [28] },
  { parents: [29], membership: true }, // 30: A adds C as r
  ...Array.from({ length: 9 }, (_, i) => ({ parents: [i + 30] })), // 31..39
];

/** Build the scope's 40 commands (deterministic signatures). */
export function horizonCommands(): CommandV2[] {
  const members: Member[] = [{ publicKey: A.publicKey, roles: Role.Read | Role.Write | Role.Admin }, { publicKey: B.publicKey, roles: Role.Read | Role.Write }];
  const payload = encodeGenesisBody({ format: 1, name: 'device/horizon', nonce: Uint8Array.from({ length: 16 }, (_, i) => i), flags: 0, members, retention: { maxCommands: 10, maxBytes: 0, maxAgeS: 0 } });
  const genesis = encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => A.sign(m));
  const out: CommandV2[] = [genesis];
  let seqB = 0;
  for (const s of SHAPE.slice(1)) {
    const parents = s.parents.map((p) => out[p]!.id);
    out.push(s.membership
      ? encodeCommandV2(genesis.id, { parents, author: A.author, seq: 1, kind: CommandKind.Membership, payload: encodeMembershipBody({ ops: [{ publicKey: C.publicKey, roles: Role.Read }] }) }, (m) => A.sign(m))
      : encodeCommandV2(genesis.id, { parents, author: B.author, seq: ++seqB, kind: CommandKind.Data, payload: text(`reading ${seqB}`) }, (m) => B.sign(m)));
  }
  return out;
}

/** The `horizon.json` content. */
export function horizonVectors(): Record<string, unknown> {
  const cmds = horizonCommands();
  const host = new ScopeHost(cmds[0]!.id);
  for (const c of cmds) host.place(c);
  const plan = host.prune({ commands: 10, bytes: Infinity, ageS: Infinity });
  const hex = (ids: readonly Uint8Array[]): string[] => ids.map(toHex);
  const answerer = new PollAnswererV2(host.store, host.frontierIds);
  const polls: Array<{ name: string; description: string; holds: number; window: number; max_bytes: number }> = [
    { name: 'empty_requester', description: 'a requester holding nothing: K empty, the horizon is not, so gap; every retained command with records for the pruned parents h8 and h27', holds: 0, window: 0, max_bytes: 4096 },
    { name: 'behind_the_horizon', description: 'a requester holding h0..h5: every data id it names was pruned beyond the horizon (the genesis it names is a membership command), so gap; everything but the genesis', holds: 6, window: 0, max_bytes: 4096 },
    { name: 'window_5', description: 'a requester holding h0..h29 asks for window 5: the membership command h30 lies in the cut part and is kept, data h10 and h31..h34 are cut (a record for h34 before h35), gap', holds: 30, window: 5, max_bytes: 1391 },
  ];
  return {
    'horizon.json': {
      description:
        'design v2 §10 horizon.json: a 40-command scope, retention of 10 commands (config {"commands": 10}; the genesis states the same), pruned by §4.2, then three polls answered by §4.5. ' +
        'Commands are listed by handle (= index). Requests name the requester\'s heads (deepest first) and its exponential sample (handles size-1, size-2, size-4, …, then 0), as ids. Answers are built with scope number 0, session 1, next_poll_ms 1000.',
      identities: { A: toHex(A.secretKey), B: toHex(B.secretKey), C: toHex(C.secretKey) },
      scope_id: toHex(host.scopeId),
      commands: cmds.map((c, h) => ({ handle: h, kind: c.kind, parents: SHAPE[h]!.parents, id: toHex(c.id), encoding: toHex(c.bytes) })),
      retention: { commands: 10 },
      pruned: plan.prune,
      base: plan.base,
      pinned_heads: plan.pinnedHeads,
      horizon: plan.horizon.map((e) => ({ id: toHex(e.id), handle: cmds.findIndex((c) => toHex(c.id) === toHex(e.id)), depth: e.depth, frontier: hex(e.frontier) })),
      heads: hex(host.store.heads().map((h) => host.store.idOf(h))),
      polls: polls.map((p, i) => {
        const req = requestOf(cmds.slice(0, p.holds), p.window, p.max_bytes);
        const a = answerer.answer(`poll-${i}`, req, { scope: 0, nextPollMs: 1000 });
        const r = a.response;
        return {
          name: p.name, description: p.description, requester_holds: p.holds,
          request: { session: req.session, max_bytes: req.max_bytes, heads: hex(req.heads), sample: hex(req.sample), window: req.window },
          answer: { more: r.more, gap: r.gap, total: r.total, heads: hex(r.heads), items: hex(r.items) },
          held_floor: a.heldFloor,
        };
      }),
    },
  };
}

/** The request of a requester holding `held` (a prefix of the scope, nothing pruned). */
function requestOf(held: CommandV2[], window: number, maxBytes: number): PollRequest {
  const host = new ScopeHost(held[0]?.id ?? new Uint8Array(32));
  for (const c of held) host.place(c);
  const s = host.store;
  const heads = s.heads().sort((a, b) => s.depthOf(b) - s.depthOf(a) || b - a).slice(0, 10);
  const sample: number[] = [];
  for (let d = 1; d <= s.size; d *= 2) if (!heads.includes(s.size - d)) sample.push(s.size - d);
  if (s.size > 0 && !heads.includes(0) && !sample.includes(0)) sample.push(0);
  return { type: 'PollRequest', scope: 0, session: 1, max_bytes: maxBytes, heads: heads.map((h) => s.idOf(h).slice()), sample: sample.map((h) => s.idOf(h).slice()), window };
}
