/**
 * The v2 poll answer (docs/design/v2-scopes.md §4.5): over one scope's {@link ScopeStoreReader},
 * steps 1–6 — K, M, the window cut, gap, the item list L (commands with the horizon records they
 * need placed before them) and the exact budget fit — and, as v1's responder keeps, a small
 * per-peer cursor over L (step 7). Pure: no I/O beyond the reader, no timers.
 *
 * L is produced lazily: a command's parents are only read (its bytes decoded) when the budget
 * reaches it, so a bootstrap of a large scope reads only what each answer carries (plus one).
 * The caller (scope-host.ts) owns one {@link PollAnswererV2} per hosted scope, passes the
 * requester's scope number and pacing hint, raises `heldFloor` (§4.2) from each answer and calls
 * {@link PollAnswererV2.forget} when the scope stops on a link.
 *
 * This file holds the answerer and its cursor cache; the steps are in poll-answer-missing.ts (1–2),
 * poll-answer-window.ts (3–4), poll-answer-items.ts (5), poll-answer-fit.ts (6) and
 * poll-answer-cursor.ts (7), and are re-exported here; poll-answer-batch.ts is step 6 toward a
 * requester that takes compact batches.
 */
import { toHex } from '../../protocol/keys.js';
import type { PollRequest, PollResponse } from '../../protocol/messages-v2.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import { PollJobV2, type CursorV2 } from './poll-answer-cursor.js';
import { fitAnswer, headsOf, retainedCount } from './poll-answer-fit.js';
import { fitBatchAnswer } from './poll-answer-batch.js';
import { AnswerItems } from './poll-answer-items.js';
import { MissingV2, knownOf, type FrontierIds } from './poll-answer-missing.js';
import { gapOf, windowOf } from './poll-answer-window.js';

export { PollJobV2 } from './poll-answer-cursor.js';
export { fitAnswer, headsOf, retainedCount } from './poll-answer-fit.js';
export { fitBatchAnswer } from './poll-answer-batch.js';
export { AnswerItems, type AnswerItem } from './poll-answer-items.js';
export { MissingV2, knownOf, membershipPast, type FrontierIds } from './poll-answer-missing.js';
export { gapOf, windowOf } from './poll-answer-window.js';

/** What the caller adds to an answer: the requester's number for S, the pacing hint, caps. */
export interface AnswerOptions {
  /** The requester's number for the scope (the answer's `scope`). */
  scope: number;
  nextPollMs: number;
  /** The requester's frame limit when below `max_bytes` (default: none). */
  frameLimit?: number;
  /** `total` when the caller keeps the count (default: {@link retainedCount}). */
  total?: number;
  /** The requester announced `caps` bit 8: commands travel in a compact batch (poll-answer-batch.ts). Default false. */
  compact?: boolean;
}

/** An answer and what §4.2 needs from it. */
export interface AnswerV2 {
  response: PollResponse;
  /** §4.2 `heldFloor` candidate: the smallest handle of M, or the store size when M is empty. */
  heldFloor: number;
  /** True when the answer continued a cached L (no walk). */
  continued: boolean;
  /** The id of the last command the answer carries (in its items or its batch), or null: a poll train's next request names it (§10.6). */
  lastCommand: Uint8Array | null;
}

/**
 * The v2 responder of one scope: §4.5 with v1's per-peer cursor cache (16 peers, LRU) over L. A
 * cursor continues while the store's size and base are unchanged and the request names the last
 * command sent (among its heads or sample) or, after an answer of records only, its last record
 * (among the pending-record ids of its sample).
 */
export class PollAnswererV2 {
  private readonly cursors = new Map<string, CursorV2>();
  /**
   * Answers that left out a command this host holds without its signature, which could not go in
   * them (PROTOCOL.md §10.3 step 3a: a plain answer or a poll without `elide`; §10.7: with
   * `elide`, no cover in reach, when the answer ends before it with `more` false).
   */
  heldSkips = 0;
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
    if (c !== undefined && c.size === r.size && c.base === r.base && c.lastSent !== null && c.elide === (req.elide === true)) {
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
      const items = new AnswerItems(r, this.frontierIds, t, [...req.heads, ...req.sample], !(opts.compact === true && req.elide === true));
      cur = this.remember(job.peer, { items, size: r.size, base: r.base, gap: gapOf(r, cut, job.known), heldFloor: m[0] ?? r.size, lastSent: null, elide: req.elide === true });
    }
    const leftBefore = cur.items.leftOut;
    const first = cur.items.taken === 0;
    const base: PollResponse = {
      type: 'PollResponse', scope: opts.scope, session: req.session, more: false, gap: false,
      total: opts.total ?? retainedCount(r), next_poll_ms: opts.nextPollMs, heads: headsOf(r), items: [],
    };
    const limit = Math.min(req.max_bytes, opts.frameLimit ?? Infinity);
    const { response, carried, held } = opts.compact === true ? fitBatchAnswer(base, cur.items, limit, req.elide === true, req.segment) : { ...fitAnswer(base, cur.items, limit), held: false };
    if (held || cur.items.leftOut > leftBefore) this.heldSkips++;
    // The last command carried: the requester names it (a head it just appended); an answer of
    // records only is named through the requester's pending records instead.
    const lastCommand = carried.findLast((c) => c.handle >= 0);
    const last = lastCommand ?? carried[carried.length - 1];
    if (last !== undefined) cur.lastSent = last.id;
    response.gap = cur.gap && first && last !== undefined;
    if (!response.more) this.cursors.delete(job.peer);
    return { response, heldFloor: cur.heldFloor, continued: job.continued, lastCommand: lastCommand?.id ?? null };
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
