/**
 * The v2 poll answer (docs/design/v2-scopes.md §4.5): over one scope's {@link ScopeStoreReader},
 * steps 1–6 — K, M, the window cut, gap, the item list L (commands with the horizon records they
 * need placed before them) and the exact budget fit — and, as v1's responder keeps, a small
 * per-peer cursor over L (step 7). Pure: no I/O beyond the reader, no timers.
 *
 * L is produced lazily: a command's parents are only read (its bytes decoded) when the budget
 * reaches it, so a bootstrap of a large scope reads only what each answer carries (plus one).
 * Not wired yet: the caller (step 4a) owns one {@link PollAnswererV2} per hosted scope, passes the
 * requester's scope number and pacing hint, raises `heldFloor` (§4.2) from each answer and calls
 * {@link PollAnswererV2.forget} when the scope stops on a link.
 */
import { ListFit, byteStringSize } from '../../protocol/budget.js';
import { cborHeadLength } from '../../protocol/cbor.js';
import { decodeCommandV2 } from '../../protocol/command-v2.js';
import { MAX_HEADS } from '../../protocol/constants.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { encodeHorizonRecord } from '../../protocol/horizon-record.js';
import { toHex } from '../../protocol/keys.js';
import type { PollRequest, PollResponse } from '../../protocol/messages-v2.js';
import type { CommandStore } from '../store/command-store.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import { MissingWalk } from './graph-walk.js';

/** The ids of the membership commands of a frontier number the store gave (`frontierOf`). */
export type FrontierIds = (frontier: number) => readonly Uint8Array[];

/** Step 1: `K`, the ids of `q` (heads then sample) this host retains or has in its horizon, first occurrence kept. */
export function knownOf(reader: ScopeStoreReader, q: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const id of q) {
    const hex = toHex(id);
    if (seen.has(hex)) continue;
    seen.add(hex);
    if (reader.indexOf(id) >= 0 || reader.horizonEntry(id) !== undefined) out.push(id);
  }
  return out;
}

/**
 * The membership commands (handles) in the past of `ids`, each included: a retained membership
 * command itself, and for any id the closure of its frontier — `F(c)` of a retained command or a
 * horizon entry, then `F(m)` of each membership command reached. The store's parent links cannot
 * give this: below the horizon they lead through pruned commands.
 */
export function membershipPast(reader: ScopeStoreReader, frontierIds: FrontierIds, ids: readonly Uint8Array[]): Set<number> {
  const out = new Set<number>();
  const stack: number[] = [];
  const push = (f: readonly Uint8Array[]): void => {
    for (const m of f) stack.push(reader.indexOf(m));
  };
  for (const id of ids) {
    const h = reader.indexOf(id);
    if (h >= 0) {
      if (reader.kindOf(h) === CommandKind.Data) push(frontierIds(reader.frontierOf(h)));
      else stack.push(h);
    } else push(reader.horizonEntry(id)?.frontier ?? []);
  }
  for (let m = stack.pop(); m !== undefined; m = stack.pop()) {
    if (m < 0 || out.has(m)) continue;
    out.add(m);
    push(frontierIds(reader.frontierOf(m)));
  }
  return out;
}

/**
 * Step 2 in pieces: M = the retained commands that are not an ancestor-or-equal of an element of
 * K, ascending. Data commands come from v1's {@link MissingWalk} from the heads (a retained data
 * command's descendants are all retained — pruning is down-closed — so the walk reaches it, and
 * stops at horizon entries, which have no handle); membership commands, which may sit below
 * pruned ones, are those in the past of the heads and not in the past of K ({@link membershipPast}).
 */
export class MissingV2 {
  private readonly walk: MissingWalk;
  private readonly knownMembers: Set<number>;

  constructor(
    private readonly reader: ScopeStoreReader,
    private readonly frontierIds: FrontierIds,
    k: readonly Uint8Array[],
  ) {
    this.knownMembers = membershipPast(reader, frontierIds, k);
    const known = [...this.knownMembers];
    for (const id of k) if (reader.indexOf(id) >= 0) known.push(reader.indexOf(id));
    const view = { heads: () => reader.heads(), depthOf: (h: number) => reader.depthOf(h), parentsOf: (h: number) => reader.parentsOf(h) };
    // Why the cast: MissingWalk is typed over the v1 store but reads only these three, same meaning.
    this.walk = new MissingWalk(view as unknown as CommandStore, known);
  }

  /** Commands the walk has visited so far. */
  get visited(): number {
    return this.walk.visited;
  }

  /** Advance the walk by at most `steps` commands; true when done. */
  step(steps: number): boolean {
    return this.walk.step(steps);
  }

  /** M, ascending (completes the walk). */
  result(): Uint32Array {
    const r = this.reader;
    const all = new Set<number>();
    for (const h of this.walk.result()) if (r.kindOf(h) === CommandKind.Data) all.add(h);
    const heads = r.heads().map((h) => r.idOf(h));
    for (const m of membershipPast(r, this.frontierIds, heads)) if (!this.knownMembers.has(m)) all.add(m);
    return Uint32Array.from(all).sort();
  }
}

/** Step 3: `T` and `cut`. Membership commands (kinds 1 and 2) of `m` are always kept. */
export function windowOf(reader: ScopeStoreReader, m: ArrayLike<number>, window: number): { t: number[]; cut: boolean } {
  const all = Array.from(m);
  let data = 0;
  for (const h of all) if (reader.kindOf(h) === CommandKind.Data) data++;
  if (window === 0 || data <= window) return { t: all, cut: false };
  let skip = data - window;
  return { t: all.filter((h) => reader.kindOf(h) !== CommandKind.Data || skip-- <= 0), cut: true };
}

/**
 * Step 4: the requester lacks what this host will not send — a cut window, or a requester behind
 * the horizon: this host has a horizon and `k` names no data command or horizon entry. Membership
 * commands of `k` are not counted: every requester names the genesis (its sample ends with it) and
 * they are never pruned, so they say nothing about how far behind it is.
 */
export function gapOf(reader: ScopeStoreReader, cut: boolean, k: readonly Uint8Array[]): boolean {
  if (cut) return true;
  if (reader.horizon().length === 0) return false;
  return !k.some((id) => {
    const h = reader.indexOf(id);
    return h < 0 || reader.kindOf(h) === CommandKind.Data;
  });
}

/** One element of L: a horizon record (`handle` −1) or a command, with its bytes and the id it names. */
export interface AnswerItem {
  readonly bytes: Uint8Array;
  readonly id: Uint8Array;
  readonly handle: number;
}

/**
 * Step 5, lazily: L for `t` given the request ids `q`. Records come before the command that needs
 * them, in ascending parent id order, for parents not in T, not in Q, not membership commands, and
 * at most once each.
 */
export class AnswerItems {
  private readonly inT: Set<number>;
  private readonly inQ: Set<string>;
  private readonly recorded = new Set<string>();
  private readonly queue: AnswerItem[] = [];
  private next = 0;
  /** Items taken so far (the position in L). */
  taken = 0;

  constructor(
    private readonly reader: ScopeStoreReader,
    private readonly frontierIds: FrontierIds,
    readonly t: readonly number[],
    q: readonly Uint8Array[],
  ) {
    this.inT = new Set(t);
    this.inQ = new Set(q.map(toHex));
  }

  /** The next item of L, undefined at its end. */
  peek(): AnswerItem | undefined {
    if (this.queue.length === 0 && this.next < this.t.length) this.expand(this.t[this.next++]!);
    return this.queue[0];
  }

  /** Take the next item. */
  take(): AnswerItem | undefined {
    const item = this.peek();
    if (item !== undefined) {
      this.queue.shift();
      this.taken++;
    }
    return item;
  }

  private expand(c: number): void {
    const r = this.reader;
    const bytes = r.bytesOf(c);
    const cmd = decodeCommandV2(r.scopeId, bytes);
    for (const p of cmd.parents) {
      const hex = toHex(p);
      if (this.inQ.has(hex) || this.recorded.has(hex)) continue;
      const h = r.indexOf(p);
      let rec: { depth: number; frontier: readonly Uint8Array[] } | undefined;
      if (h >= 0) {
        if (this.inT.has(h) || r.kindOf(h) !== CommandKind.Data) continue;
        rec = { depth: r.depthOf(h), frontier: this.frontierIds(r.frontierOf(h)) };
      } else {
        // A retained command's parent is retained or an entry; a store that lost one gives no record
        // (the requester orphans the command and asks again) rather than failing the answer.
        rec = r.horizonEntry(p);
        if (rec === undefined) continue;
      }
      this.recorded.add(hex);
      this.queue.push({ bytes: encodeHorizonRecord({ id: p, depth: rec.depth, frontier: [...rec.frontier] }), id: p, handle: -1 });
    }
    this.queue.push({ bytes, id: cmd.id, handle: c });
  }
}

/** Up to 10 heads of the reader, deepest first (ties: higher handle first, as v1). Copies. */
export function headsOf(reader: ScopeStoreReader): Uint8Array[] {
  return reader.heads().sort((a, b) => reader.depthOf(b) - reader.depthOf(a) || b - a).slice(0, MAX_HEADS).map((h) => reader.idOf(h).slice());
}

/** Commands the reader retains (`total`): what lies at or above base plus the retained ones below it. */
export function retainedCount(reader: ScopeStoreReader): number {
  let n = reader.size - reader.base;
  for (let h = 0; h < reader.base; h++) if (reader.isRetained(h)) n++;
  return n;
}

/**
 * Step 6: the longest prefix of the rest of `items` that fits `limit` with `base` (whose `items`
 * is ignored). Exact: the encoded answer never exceeds `limit`; heads give way one by one, last
 * first, while the first item would not fit (then the envelope with no heads is what is sent).
 * `more` says items were left out. Returns the answer and the items it carries.
 */
export function fitAnswer(base: PollResponse, items: AnswerItems, limit: number): { response: PollResponse; carried: AnswerItem[] } {
  const msg: PollResponse = { ...base, items: [] };
  const first = items.peek();
  const need = first === undefined ? 1 : cborHeadLength(1) + byteStringSize(first.bytes.length);
  let envelope = encodeMessageV2(msg).length - 1;
  while (envelope + need > limit && msg.heads.length > 0) {
    msg.heads = msg.heads.slice(0, -1);
    envelope = encodeMessageV2(msg).length - 1;
  }
  const fit = new ListFit(envelope, limit);
  const carried: AnswerItem[] = [];
  for (let it = items.peek(); it !== undefined && fit.take(it.bytes.length); it = items.peek()) carried.push(items.take()!);
  msg.items = carried.map((c) => c.bytes);
  msg.more = items.peek() !== undefined;
  return { response: msg, carried };
}

/** What the caller adds to an answer: the requester's number for S, the pacing hint, caps. */
export interface AnswerOptions {
  /** The requester's number for the scope (the answer's `scope`). */
  scope: number;
  nextPollMs: number;
  /** The requester's frame limit when below `max_bytes` (default: none). */
  frameLimit?: number;
  /** `total` when the caller keeps the count (default: {@link retainedCount}). */
  total?: number;
}

/** An answer and what §4.2 needs from it. */
export interface AnswerV2 {
  response: PollResponse;
  /** §4.2 `heldFloor` candidate: the smallest handle of M, or the store size when M is empty. */
  heldFloor: number;
  /** True when the answer continued a cached L (no walk). */
  continued: boolean;
}

interface CursorV2 {
  items: AnswerItems;
  size: number;
  base: number;
  gap: boolean;
  heldFloor: number;
  /** Id of the last command sent (or, when an answer carried records only, its last record); null before any. */
  lastSent: Uint8Array | null;
}

/** One poll being answered: a cached L to continue, or the walk of step 2 still running. */
export class PollJobV2 {
  /** @internal */
  constructor(
    readonly peer: string,
    readonly req: PollRequest,
    /** @internal */ readonly cursor: CursorV2 | null,
    private readonly walk: MissingV2 | null,
    /** @internal K of step 1 (empty for a continuation). */ readonly known: readonly Uint8Array[],
  ) {}
  /** True when the poll continues where the peer's previous answer stopped. */
  get continued(): boolean {
    return this.cursor !== null;
  }
  /** Advance the walk by at most `steps` commands; true once the answer can be built. */
  step(steps: number): boolean {
    return this.walk === null || this.walk.step(steps);
  }
  /** @internal M (completes the walk if needed). */
  missing(): Uint32Array {
    return this.walk!.result();
  }
}

/**
 * The v2 responder of one scope: §4.5 with v1's per-peer cursor cache (16 peers, LRU) over L. A
 * cursor continues while the store's size and base are unchanged and the request names the last
 * command sent (among its heads or sample) or, after an answer of records only, its last record
 * (among the pending-record ids of its sample).
 */
export class PollAnswererV2 {
  private readonly cursors = new Map<string, CursorV2>();
  /** Most peers whose cursor is cached (LRU). */
  static readonly MAX_CURSORS = 16;

  constructor(
    private readonly reader: ScopeStoreReader,
    private readonly frontierIds: FrontierIds,
  ) {}

  /** Start answering `req` from `peer`: O(ids in the request) until {@link PollJobV2.step}. */
  begin(peer: string, req: PollRequest): PollJobV2 {
    const r = this.reader;
    const c = this.cursors.get(peer);
    if (c !== undefined && c.size === r.size && c.base === r.base && c.lastSent !== null) {
      const last = toHex(c.lastSent);
      if (req.heads.some((id) => toHex(id) === last) || req.sample.some((id) => toHex(id) === last)) return new PollJobV2(peer, req, c, null, []);
    }
    const k = knownOf(r, [...req.heads, ...req.sample]);
    return new PollJobV2(peer, req, null, new MissingV2(r, this.frontierIds, k), k);
  }

  /** Build the answer of `job` (its walk is completed here if needed). The caller checks `max_bytes` ≥ 64. */
  finish(job: PollJobV2, opts: AnswerOptions): AnswerV2 {
    const r = this.reader;
    const req = job.req;
    let cur = job.cursor;
    if (cur === null) {
      const m = job.missing();
      const { t, cut } = windowOf(r, m, req.window);
      const items = new AnswerItems(r, this.frontierIds, t, [...req.heads, ...req.sample]);
      cur = this.remember(job.peer, { items, size: r.size, base: r.base, gap: gapOf(r, cut, job.known), heldFloor: m[0] ?? r.size, lastSent: null });
    }
    const first = cur.items.taken === 0;
    const base: PollResponse = {
      type: 'PollResponse', scope: opts.scope, session: req.session, more: false, gap: false,
      total: opts.total ?? retainedCount(r), next_poll_ms: opts.nextPollMs, heads: headsOf(r), items: [],
    };
    const { response, carried } = fitAnswer(base, cur.items, Math.min(req.max_bytes, opts.frameLimit ?? Infinity));
    // The last command carried: the requester names it (a head it just appended); an answer of
    // records only is named through the requester's pending records instead.
    const last = carried.findLast((c) => c.handle >= 0) ?? carried[carried.length - 1];
    if (last !== undefined) cur.lastSent = last.id;
    response.gap = cur.gap && first && last !== undefined;
    if (!response.more) this.cursors.delete(job.peer);
    return { response, heldFloor: cur.heldFloor, continued: job.continued };
  }

  /** {@link begin} and {@link finish} at once. */
  answer(peer: string, req: PollRequest, opts: AnswerOptions): AnswerV2 {
    return this.finish(this.begin(peer, req), opts);
  }

  /** Forget a peer's cursor (the scope stopped on its link, or the link closed). */
  forget(peer: string): void {
    this.cursors.delete(peer);
  }

  private remember(peer: string, c: CursorV2): CursorV2 {
    this.cursors.delete(peer);
    if (this.cursors.size >= PollAnswererV2.MAX_CURSORS) this.cursors.delete(this.cursors.keys().next().value as string);
    this.cursors.set(peer, c);
    return c;
  }
}
