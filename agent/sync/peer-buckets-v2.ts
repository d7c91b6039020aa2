/**
 * The v2 responder's token buckets (protocol-v2.md §13.2): **one per peer**, shared by all of that
 * peer's scopes and links, so a peer's allowance does not grow with its scope count nor with the
 * links it opens. v1's {@link TokenBucket} (pacing.ts) is the bucket.
 */
import { TokenBucket } from './pacing.js';

/** Most peers whose bucket is kept; the least recently used is forgotten beyond (a new one starts full). */
export const MAX_BUCKETS = 4096;

/** Per-peer token buckets, keyed by peer id. */
export class PeerBucketsV2 {
  private readonly buckets = new Map<string, TokenBucket>();

  /** Default 10 tokens, 2 per second (v1's `pollBucket`). */
  constructor(
    private readonly capacity = 10,
    private readonly perSecond = 2,
    private readonly now: () => number = Date.now,
  ) {}

  /** The bucket of `peer`, created full on first use. */
  of(peer: string): TokenBucket {
    let b = this.buckets.get(peer);
    if (b !== undefined) {
      this.buckets.delete(peer); // LRU: to the back
    } else {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value as string);
      b = new TokenBucket(this.capacity, this.perSecond, this.now());
    }
    this.buckets.set(peer, b);
    return b;
  }
}
