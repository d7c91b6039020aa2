/**
 * The responder's push side (PROTOCOL.md §9): the subscription table, where each recent command
 * came from (so it is not pushed back to its sender or to a subscriber that also subscribes to
 * the sender), when it was added (push latency), and the coalesced push passes (`push-pass.ts`)
 * that carry new commands to every dirty subscriber whose link can take more.
 *
 * Work is coalesced: any number of additions in one turn of the event loop mark every
 * subscriber dirty once and schedule one pass on the next turn; a pass that leaves work (a big
 * push, a time budget used up) schedules the next.
 */
import { MAX_KNOWN } from './subscription-table.js';
import { SubscriptionTable } from './subscription-table.js';
import { toHex } from '../../protocol/keys.js';
import type { Subscribe } from '../../protocol/messages.js';
import type { CommandStore } from '../store/command-store.js';
import { deepestFirst } from './graph-walk.js';
import { LatencyHistogram } from './latency-histogram.js';
import { PushPass, type PushTarget } from './push-pass.js';

/** Commands whose addition time is remembered for push latency (a ring indexed by handle). */
const ADDED_RING = 1 << 16;
/** Recent commands whose origin is remembered. */
const MAX_ORIGINS = 65536;

/** What the pusher needs from the engine. */
export interface PusherHost {
  readonly store: CommandStore;
  /** Up sessions by peer id. */
  readonly sessions: ReadonlyMap<string, PushTarget>;
  /** Subscription table capacity (a power of two). */
  readonly capacity: number;
  /** Longest subscription granted, seconds. */
  readonly maxRemainOpenS: number;
  /** The engine's clock, ms. */
  now(): number;
}

/** What a `Subscribe` got: granted (with the `remain_open` to acknowledge), or refused for room. */
export type SubscribeOutcome = { granted: true; remainOpenS: number } | { granted: false; retryAfterMs: number; capacity: number };

/** Subscriptions, origins and push passes of one engine. */
export class Pusher {
  /** @internal Read by tests and benches until they read {@link Engine.snapshot} instead. */
  readonly table: SubscriptionTable;
  private readonly pass: PushPass;
  private readonly origin = new Map<number, string>();
  /** performance.now() when a handle was added, at `handle % ADDED_RING` (checked against `addedHandle`). */
  private readonly addedAt = new Float64Array(ADDED_RING);
  private readonly addedHandle = new Int32Array(ADDED_RING).fill(-1);
  /** From a command's addition to the frame carrying it handed to a link, per command and subscriber. */
  readonly latency = new LatencyHistogram();
  private scheduled = false;
  private closed = false;

  /** @throws SubscriptionCapacityError for a capacity that is not a power of two. */
  constructor(private readonly host: PusherHost) {
    this.table = new SubscriptionTable(host.capacity);
    this.pass = new PushPass({
      store: host.store,
      table: this.table,
      sessions: host.sessions,
      skip: (slot, peerId, h) => {
        const o = this.origin.get(h);
        return o === peerId || (o !== undefined && o !== 'self' && this.table.hasVia(slot, o));
      },
      sent: (list, from, to) => {
        const now = performance.now();
        for (let k = from; k < to; k++) {
          const h = list[k]!;
          const i = h & (ADDED_RING - 1);
          if (this.addedHandle[i] === h) this.latency.observe(now - this.addedAt[i]!);
        }
      },
    });
  }

  /** Slots in use and the table's capacity. */
  get usage(): { used: number; capacity: number } {
    return { used: this.table.size, capacity: this.table.capacity };
  }

  /** Whether `peerId` holds a subscription (we push to it). */
  holds(peerId: string): boolean {
    return this.table.find(peerId) >= 0;
  }

  /** Bytes of pushes `peerId`'s subscription still grants, or null when it holds none. */
  budgetOf(peerId: string): number | null {
    const slot = this.table.find(peerId);
    return slot < 0 ? null : this.table.remainingOf(slot);
  }

  /** Which peer a recent command came from ('self' for local commits), if remembered. */
  originOf(handle: number): string | undefined {
    return this.origin.get(handle);
  }

  /** Commands were added to the graph from `from`: remember where and when; push them. */
  added(handles: readonly number[], from: string): void {
    const now = performance.now();
    for (const h of handles) {
      this.addedAt[h & (ADDED_RING - 1)] = now;
      this.addedHandle[h & (ADDED_RING - 1)] = h;
      this.origin.set(h, from);
      if (this.origin.size > MAX_ORIGINS) this.origin.delete(this.origin.keys().next().value as number);
    }
    this.table.markAllDirty();
    this.schedule();
  }

  /**
   * A subscriber's `Subscribe` (new or renewal). An update keeps what we already pushed as known:
   * the subscriber's sample may predate it, and anything a lost push dropped is repaired by the
   * subscriber's polls. Refused only when every slot is held by a live subscription.
   */
  subscribe(peerId: string, sub: Subscribe): SubscribeOutcome {
    const { store } = this.host;
    const now = this.host.now();
    const remainOpenS = Math.min(sub.remain_open, this.host.maxRemainOpenS);
    this.table.reap(now);
    const slot = this.table.upsert(peerId, now + remainOpenS * 1000, sub.max_bytes);
    if (slot < 0) return { granted: false, retryAfterMs: Math.max(1000, Math.ceil(this.table.earliestClose() - now)), capacity: this.table.capacity };
    const known = this.table.knownOf(slot);
    for (const id of sub.sample) {
      const h = store.indexOf(id);
      if (h >= 0) known.push(h);
    }
    this.table.setKnown(slot, deepestFirst(store, known, MAX_KNOWN), this.table.knownFloor(slot));
    this.pass.forget(peerId); // a push in progress started from the old known heads
    this.table.setVia(slot, sub.via.map(toHex));
    this.table.markDirty(slot);
    this.schedule();
    return { granted: true, remainOpenS };
  }

  /** The subscriber ended its subscription (`Unsubscribe`). */
  unsubscribe(peerId: string): void {
    this.table.remove(peerId);
    this.pass.forget(peerId);
  }

  /** `peerId` has a link again: its suspended subscription resumes (and may have gone dirty meanwhile). */
  resume(peerId: string): void {
    this.table.resume(peerId);
    this.schedule();
  }

  /** `peerId`'s link closed: its subscription is suspended (§9.3), its push in progress dropped. */
  suspend(peerId: string): void {
    this.table.suspend(peerId, this.host.now());
    this.pass.forget(peerId);
  }

  /** Schedule one coalesced push pass on the next turn (a link drained, a subscriber resumed). */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** One push pass now: expired subscriptions reaped, then bounded work; the rest on a later turn. */
  flush(): void {
    this.table.reap(this.host.now());
    if (this.pass.run()) this.schedule();
  }

  /** Schedule nothing more (the engine closes). */
  close(): void {
    this.closed = true;
  }
}
