/**
 * The v2 responder's push side (protocol-v2.md §11.1–§11.4, docs/design/v2-scopes.md §3.8): the
 * (peer, scope) subscription table, where each recent command of a scope came from (so it is not
 * pushed back to its sender or to a subscriber whose `via` names the sender), the live links, and
 * coalesced push passes (push-pass-v2.ts): any number of appends in one turn mark the scope's
 * subscribers dirty once and schedule one pass on the next turn.
 *
 * Lifetimes: a `Subscribe` inserts or updates a slot; `Unsubscribe`, the close time, an exhausted
 * budget and S going inactive on the link remove it at once; the link closing suspends it (kept
 * ≤ 60 s, the first freed for a newcomer), and S becoming active again on a new link of the same
 * peer key resumes it with its known heads and budget.
 */
import { toHex } from '../../protocol/keys.js';
import type { Subscribe } from '../../protocol/messages-v2.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import { PushPassV2, deepestHandles, type PushLinkV2 } from './push-pass-v2.js';
import { MAX_KNOWN_V2, SubscriptionTableV2 } from './subscription-table-v2.js';

export type { PushLinkV2 } from './push-pass-v2.js';

/** Recent commands whose origin is remembered, per scope. */
const MAX_ORIGINS = 4096;

/** What the pusher needs from the engine. */
export interface PusherV2Host {
  /** Table capacity, a power of two (§11.1: others are refused at start-up). */
  readonly capacity: number;
  /** Longest subscription granted, seconds (default 900). */
  readonly maxRemainOpenS: number;
  /** The engine's clock, ms. */
  now(): number;
  /** The store of a held scope. */
  storeOf(scopeId: Uint8Array): ScopeStoreReader | undefined;
}

/** What a `Subscribe` got. */
export type SubscribeOutcomeV2 =
  | { granted: true; remainOpenS: number; maxBytes: number }
  | { granted: false; retryAfterMs: number; capacity: number };

/** Subscriptions, origins, links and push passes of one v2 engine. */
export class PusherV2 {
  readonly table: SubscriptionTableV2;
  readonly links = new Map<number, PushLinkV2>();
  private readonly pass: PushPassV2;
  private readonly scopeIx = new Map<string, number>();
  private readonly origins = new Map<number, Map<number, string>>();
  private scheduled = false;
  private closed = false;

  /** @throws SubscriptionCapacityError for a capacity that is not a power of two. */
  constructor(private readonly host: PusherV2Host) {
    this.table = new SubscriptionTableV2(host.capacity);
    this.pass = new PushPassV2({
      table: this.table,
      links: this.links,
      storeOf: (id) => host.storeOf(id),
      skip: (slot, h) => {
        const o = this.origins.get(this.table.scopeIxAt(slot))?.get(h);
        return o !== undefined && (o === this.table.peerAt(slot) || this.table.hasVia(slot, o));
      },
    });
  }

  /** The slot of (peer, S), or -1. */
  slotOf(fingerprint: Uint8Array, scopeId: Uint8Array): number {
    return this.table.find(fingerprint, scopeId);
  }

  /** A link is up: pushes may go to it. */
  linkUp(link: PushLinkV2): void {
    this.links.set(link.linkId, link);
  }

  /** A link closed: every slot bound to it is suspended (§11.3), its push in progress dropped. */
  linkDown(link: PushLinkV2): void {
    if (!this.links.delete(link.linkId)) return;
    const now = this.host.now();
    this.table.forEach((slot) => {
      if (this.table.linkAt(slot) !== link.linkId) return;
      this.table.suspend(slot, now);
      this.pass.forget(slot);
    });
  }

  /** S became active on `link`: a suspended slot of that peer and scope resumes as it was (§11.3). */
  scopeActive(link: PushLinkV2, scopeId: Uint8Array): void {
    const slot = this.table.find(link.fingerprint, scopeId);
    if (slot < 0 || !this.table.isSuspended(slot)) return;
    this.table.reap(this.host.now(), (s) => this.pass.forget(s));
    if (!this.table.isUsed(slot) || this.table.linkAt(slot) >= 0) return; // reaped just now
    this.table.resume(slot, link.linkId);
    this.table.markDirty(slot);
    this.schedule();
  }

  /** S stopped being active on `link` (either side closed it, or the grant was lost): its slot goes at once. */
  scopeInactive(link: PushLinkV2, scopeId: Uint8Array): void {
    const slot = this.table.find(link.fingerprint, scopeId);
    if (slot >= 0 && this.table.linkAt(slot) === link.linkId) this.remove(slot);
  }

  /**
   * A `Subscribe` for S from `link`'s peer (routed and granted by the caller), §11.2 steps 1–6:
   * reap, insert or update, clamp `remain_open`, set the budget, merge the known heads (first 10
   * deepest first; when the sample names nothing retained and no earlier heads are known: the
   * current heads, so only new commands are pushed), store `via`. The caller answers
   * `SubscribeAck` (or the refusal); the push of what follows the known heads runs next turn.
   */
  subscribe(link: PushLinkV2, scopeId: Uint8Array, sub: Subscribe): SubscribeOutcomeV2 {
    const store = this.host.storeOf(scopeId);
    const now = this.host.now();
    const t = this.table;
    t.reap(now, (s) => this.pass.forget(s));
    let slot = t.find(link.fingerprint, scopeId);
    if (slot < 0) slot = t.insert(link.fingerprint, link.peerId, scopeId, this.indexOf(scopeId), link.linkId);
    if (slot < 0) return { granted: false, retryAfterMs: Math.max(1000, Math.ceil(t.earliestClose() - now)), capacity: t.capacity };
    if (t.isSuspended(slot) || t.linkAt(slot) !== link.linkId) t.resume(slot, link.linkId);
    const remainOpenS = Math.min(sub.remain_open, this.host.maxRemainOpenS);
    t.grant(slot, now + remainOpenS * 1000, sub.max_bytes);
    if (store !== undefined) {
      const known = t.knownOf(slot);
      const before = known.length;
      for (const id of sub.sample) {
        const h = store.indexOf(id);
        if (h >= 0 && store.isRetained(h) && !known.includes(h)) known.push(h);
      }
      if (known.length === 0 && before === 0 && t.knownFloor(slot) === 0) t.setKnown(slot, deepestHandles(store, store.heads(), MAX_KNOWN_V2), store.size);
      else t.setKnown(slot, deepestHandles(store, known, MAX_KNOWN_V2), t.knownFloor(slot));
    }
    t.setVia(slot, sub.via.map(toHex));
    this.pass.forget(slot); // a push in progress started from the old known heads
    t.markDirty(slot);
    this.schedule();
    return { granted: true, remainOpenS, maxBytes: sub.max_bytes };
  }

  /** `Unsubscribe` from `link`'s peer for S: its slot goes; a no-op when there is none. */
  unsubscribe(link: PushLinkV2, scopeId: Uint8Array): void {
    const slot = this.table.find(link.fingerprint, scopeId);
    if (slot >= 0) this.remove(slot);
  }

  /** Commands were appended to S (by `scopeKey`, its id in hex) from `from` (a peer id, or 'local'): remember where; push them. */
  appended(scopeKey: string, handles: readonly number[], from: string): void {
    const ix = this.scopeIx.get(scopeKey);
    if (ix === undefined) return; // never subscribed to: nobody to push to
    let o = this.origins.get(ix);
    if (o === undefined) this.origins.set(ix, (o = new Map()));
    for (const h of handles) o.set(h, from);
    if (o.size > MAX_ORIGINS) {
      // Oldest first (insertion order); one iterator for the whole excess, not one per handle.
      const it = o.keys();
      for (let n = o.size - MAX_ORIGINS; n > 0; n--) o.delete(it.next().value as number);
    }
    this.table.markScopeDirty(ix);
    this.schedule();
  }

  /** Schedule one coalesced pass on the next turn (an append, a drained link, a resumption). */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** One pass now: expired slots reaped, then bounded work; the rest on a later turn. Returns true when work is left (that turn is scheduled). */
  flush(): boolean {
    if (this.closed) return false;
    this.table.reap(this.host.now(), (s) => this.pass.forget(s));
    const left = this.pass.run();
    if (left) this.schedule();
    return left;
  }

  /** Schedule nothing more (the engine closes). */
  close(): void {
    this.closed = true;
  }

  private remove(slot: number): void {
    this.pass.forget(slot);
    this.table.remove(slot);
  }

  private indexOf(scopeId: Uint8Array): number {
    const hex = toHex(scopeId);
    let ix = this.scopeIx.get(hex);
    if (ix === undefined) this.scopeIx.set(hex, (ix = this.scopeIx.size));
    return ix;
  }
}
