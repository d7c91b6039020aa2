/**
 * The bound on pushed commands a link has handed to its scopes' ingest and that are not placed
 * yet (PROTOCOL.md §11.8). A `Push` is taken in without waiting for the one before it, so a peer
 * that pushes faster than this host verifies and appends would otherwise grow the heap for as
 * long as it pushes. Past {@link MAX_PUSH_BACKLOG_BYTES} a push is dropped whole (counted, never
 * answered: pushes are unacknowledged), and every scope that lost a push is polled once the
 * backlog has drained to half the bound — the poll is paced by its budget, so it repairs the loss
 * without a backlog of its own.
 */

/** Bytes of pushed commands (their encodings) one link may have waiting for placement. Default 1 MiB. */
export const MAX_PUSH_BACKLOG_BYTES = 1_048_576;

/** What the intake needs of its link. */
export interface PushIntakeHost {
  /** Scope `scopeId` lost a push: poll it (the backlog has drained to half the bound). */
  repair(scopeId: Uint8Array): void;
}

/** One link's push backlog. */
export class PushIntake {
  /** Bytes handed to ingest and not placed yet. */
  backlog = 0;
  /** The largest {@link backlog} seen, for tests and status. */
  peak = 0;
  /** Pushes dropped because the backlog was full. */
  dropped = 0;
  /** Scopes that lost a push, by hex id. */
  private readonly lost = new Map<string, Uint8Array>();

  constructor(
    private readonly host: PushIntakeHost,
    private readonly limit = MAX_PUSH_BACKLOG_BYTES,
  ) {}

  /**
   * Take a push of `bytes` for scope `scopeId` (`key`: its hex id) in by `run` (which resolves once its commands are
   * placed or refused), or drop it when it does not fit. A push larger than the whole bound is
   * taken when nothing waits, so no push of a legal size is refused for good.
   * @returns `run`'s promise, or null when dropped.
   */
  take<T>(scopeId: Uint8Array, key: string, bytes: number, run: () => Promise<T>): Promise<T> | null {
    if (this.backlog > 0 && this.backlog + bytes > this.limit) {
      this.dropped++;
      this.lost.set(key, scopeId);
      return null;
    }
    this.backlog += bytes;
    this.peak = Math.max(this.peak, this.backlog);
    const p = run();
    const done = (): void => this.release(bytes);
    p.then(done, done);
    return p;
  }

  /** The link closed: scopes that lost pushes are polled on the next link anyway. */
  stop(): void {
    this.lost.clear();
  }

  private release(bytes: number): void {
    this.backlog -= bytes;
    if (this.lost.size === 0 || this.backlog > this.limit / 2) return;
    const ids = [...this.lost.values()];
    this.lost.clear();
    for (const id of ids) this.host.repair(id);
  }
}
