/**
 * The bound on pushed commands a scope has taken in from its links and not placed yet
 * (PROTOCOL.md §11.8). A `Push` is taken in without waiting for the one before it, so peers that
 * push faster than this host verifies and appends would otherwise grow the heap — and the wait of
 * every later input of the scope, whose ingest is one queue — for as long as they push. The
 * bound is per scope, over all its links: a per-link bound let a peer that reconnects, or several
 * peers, queue a bound each. Past {@link MAX_PUSH_BACKLOG_BYTES} a push is dropped whole
 * (counted, never answered: pushes are unacknowledged), and every (link, scope) that lost one is
 * polled once the backlog has drained to half the bound — a poll is paced by its budget and
 * repairs the loss without a backlog of its own.
 */

/** Bytes of pushed commands (their encodings) one scope may have waiting for placement. 256 KiB: ~1 s of verification on a Pi. */
export const MAX_PUSH_BACKLOG_BYTES = 262_144;
/** (link, scope) pairs that lost a push remembered for their repair poll; past it the oldest only wait for their anti-entropy poll. */
export const MAX_REPAIRS = 1024;

/** One scope's push backlog. */
export class PushIntake {
  /** Bytes handed to ingest and not placed yet. */
  backlog = 0;
  /** The largest {@link backlog} seen, for tests and status. */
  peak = 0;
  /** Pushes dropped because the backlog was full. */
  dropped = 0;
  /** Repair polls owed, by the key of the (link, scope) that lost a push. */
  private readonly lost = new Map<string, () => void>();

  constructor(private readonly limit = MAX_PUSH_BACKLOG_BYTES) {}

  /**
   * Take a push of `bytes` in by `run` (which resolves once its commands are placed or refused),
   * or drop it when it does not fit; a push larger than the whole bound is taken when nothing
   * waits, so no push of a legal size is refused for good. `key` names the (link, scope) it came
   * on; `repair` polls it, called once the backlog has halved if this push was dropped.
   * @returns `run`'s promise, or null when dropped.
   */
  take<T>(key: string, bytes: number, run: () => Promise<T>, repair: () => void): Promise<T> | null {
    if (this.backlog > 0 && this.backlog + bytes > this.limit) {
      this.dropped++;
      this.lost.delete(key);
      if (this.lost.size >= MAX_REPAIRS) this.lost.delete(this.lost.keys().next().value as string);
      this.lost.set(key, repair);
      return null;
    }
    this.backlog += bytes;
    this.peak = Math.max(this.peak, this.backlog);
    const p = run();
    const done = (): void => this.release(bytes);
    p.then(done, done);
    return p;
  }

  private release(bytes: number): void {
    this.backlog -= bytes;
    if (this.lost.size === 0 || this.backlog > this.limit / 2) return;
    const repairs = [...this.lost.values()];
    this.lost.clear();
    for (const r of repairs) r();
  }
}
