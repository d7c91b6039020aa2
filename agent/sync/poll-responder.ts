/**
 * Answers a `PollRequest`: every command the requester lacks, in causal order, greedily until
 * the encoded `PollResponse` would exceed `max_bytes` (or the requester's frame limit). A peer
 * bootstrapping through many polls would make every answer re-walk the rest of the graph, so
 * the computed list is cached per peer and continued while the requester's heads show it got
 * the previous chunk and the store has not changed.
 *
 * Answering is split in two so the walk can be spread over turns of the event loop
 * (`poll-queue.ts`): {@link PollResponder.begin} is cheap and returns a {@link PollJob} whose
 * walk the caller advances in chunks; {@link PollResponder.finish} builds the answer.
 */
import { encodeMessage } from '../../protocol/envelope.js';
import { MAX_HEADS } from '../../protocol/constants.js';
import type { PollRequest, PollResponse } from '../../protocol/messages.js';
import type { CommandStore } from '../store/command-store.js';
import { cborHeadLength, fitWithin } from './budget.js';
import { deepestFirst, MissingWalk } from './graph-walk.js';

/** A per-peer position in a computed list of what the peer lacks. */
export interface Cursor {
  list: ArrayLike<number>;
  pos: number;
  storeSize: number;
  lastSent: number;
}

/** One poll being answered: a cached cursor to continue, or a graph walk still in progress. */
export class PollJob {
  /** @internal */
  constructor(
    readonly peer: string,
    readonly req: PollRequest,
    /** The cursor continued (no walk needed), or null while {@link walk} computes a fresh one. */
    readonly cursor: Cursor | null,
    private readonly walk: MissingWalk | null,
    readonly storeSize: number,
  ) {}

  /** True when the poll continues where the requester's previous answer stopped (no walk). */
  get continued(): boolean {
    return this.cursor !== null;
  }

  /** Commands the walk has visited so far (0 for a continuation). */
  get visited(): number {
    return this.walk?.visited ?? 0;
  }

  /** Advance the walk by at most `steps` commands; returns true once the answer can be built. */
  step(steps: number): boolean {
    return this.walk === null || this.walk.step(steps);
  }

  /** @internal The computed list (completes the walk if needed). */
  list(): ArrayLike<number> {
    return this.walk!.result();
  }
}

/** Per-agent poll responder with a small per-peer cursor cache. */
export class PollResponder {
  private readonly cursors = new Map<string, Cursor>();
  /** Most peers whose bootstrap cursor is cached (LRU). */
  static readonly MAX_CURSORS = 16;

  constructor(private readonly store: CommandStore) {}

  /**
   * Start answering `req` from `peer`. Cheap: O(ids in the request). The cursor continues when the
   * request names the last command sent — among its heads or its sample: a requester need not put
   * it among its heads (it may not be one of its deepest), and its sample starts with the newest
   * command it appended (§8.1), which is that one.
   */
  begin(peer: string, req: PollRequest): PollJob {
    const store = this.store;
    const c = this.cursors.get(peer);
    const names = (id: Uint8Array): boolean => store.indexOf(id) === c!.lastSent;
    if (c !== undefined && c.storeSize === store.size && c.lastSent >= 0 && (req.heads.some(names) || req.sample.some(names))) {
      return new PollJob(peer, req, c, null, store.size);
    }
    const known: number[] = [];
    for (const id of req.heads) known.push(store.indexOf(id));
    for (const id of req.sample) known.push(store.indexOf(id));
    return new PollJob(peer, req, null, new MissingWalk(store, known), store.size);
  }

  /**
   * Build the answer of a job whose walk is done (it is completed here otherwise). `frameLimit`
   * caps the response below the requester's `max_bytes` when its announced frame size is
   * smaller. The caller checks `max_bytes` ≥ minimum.
   */
  finish(job: PollJob, frameLimit: number, nextPollMs: number): PollResponse {
    const store = this.store;
    const req = job.req;
    const cur = job.cursor ?? this.remember(job.peer, { list: job.list(), pos: 0, storeSize: job.storeSize, lastSent: -1 });
    const limit = Math.min(req.max_bytes, frameLimit);
    const heads = deepestFirst(store, store.heads(), MAX_HEADS).map((h) => Uint8Array.from(store.idOf(h)));
    const base: PollResponse = { type: 'PollResponse', session: req.session, more: false, total: store.size, next_poll_ms: nextPollMs, heads, commands: [] };
    // Envelope size with an empty command list, whose 1-byte head fitWithin re-adds as it grows.
    // Heads are advisory (the requester's peer cache): they give way to the first command, and
    // to the envelope itself under a budget too small for that (PROTOCOL.md §8.1 step 6).
    const first = cur.pos < cur.list.length ? store.lengthOf(cur.list[cur.pos]!) : -1;
    const need = first < 0 ? 1 : cborHeadLength(1) + cborHeadLength(first) + first;
    let envelope = encodeMessage(base).length - 1;
    while (envelope + need > limit && base.heads.length > 0) {
      base.heads = base.heads.slice(0, base.heads.length - 1);
      envelope = encodeMessage(base).length - 1;
    }
    const end = fitWithin(envelope, limit, (k) => store.lengthOf(cur.list[k]!), cur.pos, cur.list.length);
    const commands: Uint8Array[] = [];
    for (let k = cur.pos; k < end; k++) commands.push(store.bytesOf(cur.list[k]!));
    base.more = end < cur.list.length;
    base.commands = commands;
    if (commands.length > 0) cur.lastSent = cur.list[end - 1]!;
    cur.pos = end;
    if (!base.more) this.cursors.delete(job.peer);
    return base;
  }

  /** Build the answer to `req` from `peer` at once, the whole walk in one piece. */
  answer(peer: string, req: PollRequest, frameLimit: number, nextPollMs: number): PollResponse {
    return this.finish(this.begin(peer, req), frameLimit, nextPollMs);
  }

  /** Forget a peer's cursor (link closed). */
  forget(peer: string): void {
    this.cursors.delete(peer);
  }

  private remember(peer: string, c: Cursor): Cursor {
    this.cursors.delete(peer);
    if (this.cursors.size >= PollResponder.MAX_CURSORS) this.cursors.delete(this.cursors.keys().next().value as string);
    this.cursors.set(peer, c);
    return c;
  }
}
