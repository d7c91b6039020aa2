/**
 * Admission of new senders by an MQTT listener. Any broker client can publish under a made-up
 * sender id, and each new id would cost a virtual link and the engine's `Hello` answers. So:
 *
 * - links whose peer has not authenticated yet live in a small pool of their own (`maxPending`),
 *   apart from the authenticated ones (`maxLinks`); when the pool is full, a new sender evicts
 *   the oldest unauthenticated link, never an authenticated one;
 * - new unauthenticated links are created at a bounded rate (a token bucket of `perSecond`
 *   tokens, holding one second's worth), so the answers to fake senders are bounded too;
 * - a sender id that authenticated before on this transport (the last 4096 such ids) is exempt
 *   from the rate: a device relinking after a broker restart gets in at once during a flood.
 *
 * Summaries, not one line per message: drops are counted and warned at most every 10 s.
 */
import type { Logger } from '../node/log.js';

/** Ids remembered as "authenticated before". */
const KNOWN_IDS = 4096;
/** Shortest interval between two warn lines about dropped senders. */
const WARN_EVERY_MS = 10_000;

/** Why a new sender was not given a link. */
export type Refusal = 'rate' | 'full';

/** The admission state of one listener; pure bookkeeping, the transport owns the links. */
export class Admission<L> {
  /** Unauthenticated links by sender id, oldest first. */
  readonly pending = new Map<string, L>();
  private readonly known = new Map<string, true>();
  private tokens: number;
  private refilledAt: number;
  private dropped: Record<Refusal, number> = { rate: 0, full: 0 };
  private warnedAt = -Infinity;

  constructor(
    private readonly maxPending: number,
    private readonly perSecond: number,
    private readonly url: string,
    private readonly logger: Logger | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.refilledAt = now();
  }

  /**
   * May `from` (no link yet) get a new unauthenticated link? Takes a rate token unless `from`
   * authenticated before. Returns the link to evict first (the oldest pending one) when the pool
   * is full, `true` when there is room, or a {@link Refusal} (counted and summarised).
   */
  admit(from: string): { evict: L | undefined } | Refusal {
    if (!this.known.has(from)) {
      const t = this.now();
      this.tokens = Math.min(this.perSecond, this.tokens + ((t - this.refilledAt) / 1000) * this.perSecond);
      this.refilledAt = t;
      if (this.tokens < 1) return this.refuse('rate');
      this.tokens -= 1;
    }
    if (this.pending.size < this.maxPending) return { evict: undefined };
    if (this.maxPending === 0) return this.refuse('full');
    return { evict: this.pending.values().next().value };
  }

  /** The link of `from` authenticated: leave the pool and remember the id. */
  authenticated(from: string): void {
    this.pending.delete(from);
    this.known.delete(from);
    this.known.set(from, true);
    if (this.known.size > KNOWN_IDS) this.known.delete(this.known.keys().next().value!);
  }

  /** Count a sender refused for another reason (the authenticated table is full). */
  refuse(why: Refusal): Refusal {
    this.dropped[why]++;
    const t = this.now();
    if (t - this.warnedAt >= WARN_EVERY_MS) {
      this.warnedAt = t;
      const { rate, full } = this.dropped;
      this.dropped = { rate: 0, full: 0 };
      this.logger?.warn({ url: this.url, droppedRate: rate, droppedFull: full, pending: this.pending.size },
        `new MQTT senders refused (${rate} over the rate limit, ${full} with the link table full) since the last report`);
    }
    return why;
  }
}
