/**
 * Answers a `PollRequest`: every command the requester lacks, in causal order, greedily until
 * the encoded `PollResponse` would exceed `max_bytes` (or the requester's frame limit). A peer
 * bootstrapping through many polls would make every answer re-walk the rest of the graph, so
 * the computed list is cached per peer and continued while the requester's heads show it got
 * the previous chunk and the store has not changed.
 */
import { encodeMessage } from '../../protocol/envelope.js';
import { MAX_HEADS } from '../../protocol/constants.js';
import type { PollRequest, PollResponse } from '../../protocol/messages.js';
import type { CommandStore } from '../store/command-store.js';
import { fitWithin } from './budget.js';
import { deepestFirst, missingFor } from './graph-walk.js';

interface Cursor {
  list: number[];
  pos: number;
  storeSize: number;
  lastSent: number;
}

/** Per-agent poll responder with a small per-peer cursor cache. */
export class PollResponder {
  private readonly cursors = new Map<string, Cursor>();
  /** Most peers whose bootstrap cursor is cached (LRU). */
  static readonly MAX_CURSORS = 16;

  constructor(private readonly store: CommandStore) {}

  /**
   * Build the answer to `req` from `peer`. `frameLimit` caps the response below the requester's
   * `max_bytes` when its announced frame size is smaller. The caller checks `max_bytes` ≥ minimum.
   */
  answer(peer: string, req: PollRequest, frameLimit: number, nextPollMs: number): PollResponse {
    const store = this.store;
    const limit = Math.min(req.max_bytes, frameLimit);
    const list = this.pending(peer, req);
    const heads = deepestFirst(store, store.heads(), MAX_HEADS).map((h) => Uint8Array.from(store.idOf(h)));
    const base: PollResponse = {
      type: 'PollResponse',
      session: req.session,
      more: false,
      total: store.size,
      next_poll_ms: nextPollMs,
      heads,
      commands: [],
    };
    // Envelope size with an empty command list, whose 1-byte head fitWithin re-adds as it grows.
    // Heads are advisory (the requester's peer cache): under a tiny budget they give way.
    let envelope = encodeMessage(base).length - 1;
    while (envelope + 1 > limit && base.heads.length > 0) {
      base.heads = base.heads.slice(0, base.heads.length - 1);
      envelope = encodeMessage(base).length - 1;
    }
    const end = fitWithin(envelope, limit, (k) => store.lengthOf(list.list[k]!), list.pos, list.list.length);
    const commands: Uint8Array[] = [];
    for (let k = list.pos; k < end; k++) commands.push(store.bytesOf(list.list[k]!));
    const i = end;
    base.more = i < list.list.length;
    base.commands = commands;
    if (commands.length > 0) list.lastSent = list.list[i - 1]!;
    list.pos = i;
    if (!base.more) this.cursors.delete(peer);
    return base;
  }

  /** Forget a peer's cursor (link closed). */
  forget(peer: string): void {
    this.cursors.delete(peer);
  }

  private pending(peer: string, req: PollRequest): Cursor {
    const store = this.store;
    const c = this.cursors.get(peer);
    if (
      c !== undefined &&
      c.storeSize === store.size &&
      c.lastSent >= 0 &&
      req.heads.some((id) => store.indexOf(id) === c.lastSent)
    ) {
      return c;
    }
    const known: number[] = [];
    for (const id of req.heads) known.push(store.indexOf(id));
    for (const id of req.sample) known.push(store.indexOf(id));
    const fresh: Cursor = { list: missingFor(store, known), pos: 0, storeSize: store.size, lastSent: -1 };
    this.cursors.delete(peer);
    if (this.cursors.size >= PollResponder.MAX_CURSORS) this.cursors.delete(this.cursors.keys().next().value as string);
    this.cursors.set(peer, fresh);
    return fresh;
  }
}
