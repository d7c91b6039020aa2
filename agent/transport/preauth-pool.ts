/**
 * The bounded pool of a listener's connections whose peer has not authenticated yet. It exists
 * so that nobody can keep a trusted peer out by holding idle sockets: the pool is small, bounded
 * per source address too, every entry has a deadline, and a newcomer never waits for room — it
 * evicts the oldest entry of its address (when that address is at its bound) or of the pool
 * (when the pool is full), preferring entries that have not sent a single complete frame.
 * Authenticated links never live here, so they are never evicted.
 */

/** Why a pre-auth entry left the pool without authenticating. */
export type PreAuthExit = 'evicted' | 'timed-out';

/** One unauthenticated connection. */
export interface PreAuthEntry {
  /** Source address (the per-address bound's key). */
  readonly address: string;
  /** Whether the peer sent at least one complete frame (a Hello): such entries are evicted last. */
  spoke(): boolean;
  /** Tear the connection down; called once, after the entry left the pool. */
  drop(why: PreAuthExit): void;
}

/** Bounds of a {@link PreAuthPool}. */
export interface PreAuthLimits {
  /** Most entries in the pool. */
  max: number;
  /** Most entries from one address. */
  perAddress: number;
  /** Deadline of each entry in ms after it joined; 0 = none. */
  deadlineMs: number;
}

/**
 * Insertion-ordered set of {@link PreAuthEntry}s with eviction and deadlines. `add` is O(pool
 * size) at worst, which is small by construction (64 by default).
 */
export class PreAuthPool {
  private readonly entries = new Map<PreAuthEntry, NodeJS.Timeout | null>();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly limits: PreAuthLimits) {}

  /** Entries currently held. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Admit `e`, first evicting as many entries as the bounds require (each gets `drop('evicted')`).
   * @returns how many entries were evicted.
   */
  add(e: PreAuthEntry): number {
    let evicted = 0;
    while ((this.perAddress.get(e.address) ?? 0) >= this.limits.perAddress) {
      if (!this.evictOne(e.address)) break;
      evicted++;
    }
    while (this.entries.size >= this.limits.max) {
      if (!this.evictOne(undefined)) break;
      evicted++;
    }
    const timer = this.limits.deadlineMs > 0 ? setTimeout(() => this.expire(e), this.limits.deadlineMs) : null;
    timer?.unref();
    this.entries.set(e, timer);
    this.perAddress.set(e.address, (this.perAddress.get(e.address) ?? 0) + 1);
    return evicted;
  }

  /** Take `e` out (it authenticated or closed). False when it was not in the pool. */
  remove(e: PreAuthEntry): boolean {
    if (!this.entries.has(e)) return false;
    const timer = this.entries.get(e);
    if (timer) clearTimeout(timer);
    this.entries.delete(e);
    const n = (this.perAddress.get(e.address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(e.address);
    else this.perAddress.set(e.address, n);
    return true;
  }

  /** Drop every entry (the listener closes); no counts are kept. */
  clear(): PreAuthEntry[] {
    const all = [...this.entries.keys()];
    for (const e of all) this.remove(e);
    return all;
  }

  /** Evict the oldest silent entry (of `address`, if given), else the oldest one. */
  private evictOne(address: string | undefined): boolean {
    let oldest: PreAuthEntry | undefined;
    let victim: PreAuthEntry | undefined;
    for (const e of this.entries.keys()) {
      if (address !== undefined && e.address !== address) continue;
      oldest ??= e;
      if (!e.spoke()) {
        victim = e;
        break;
      }
    }
    victim ??= oldest;
    if (victim === undefined) return false;
    this.remove(victim);
    victim.drop('evicted');
    return true;
  }

  private expire(e: PreAuthEntry): void {
    if (this.remove(e)) e.drop('timed-out');
  }
}
