/**
 * The dead-link watchdog of a protocol-v2 session: a link that carries nothing back is dead in a
 * way its transport did not notice (a wedged UART, a half-open socket), and only closing it makes
 * the transport redial with fresh state. Each {@link ScopePollLoop} backs off on its own forever,
 * so the verdict is the link's.
 *
 * The rule:
 * - Per scope poll loop of the link, the session counts that loop's consecutive poll timeouts.
 * - Every message the peer sends on the up link (sealed and opened on a sealed link) resets every
 *   count of the link to 0: a `PollResponse`, an `Error`, a `Push`, the peer's own polls — anything
 *   proves the line carries the peer's messages back. Undecodable frames, seal failures and replays
 *   do not.
 * - When one loop's count reaches `settings.deadAfterTimeouts` (> 0; 0 = never), the session logs
 *   a warn `{peer, link, timeouts}` 'no poll answered in N tries in a row; closing the link so its
 *   transport redials', counts it (`SessionV2Stats.deadLinkCloses`), and closes the link.
 * - The counts survive `restartScopes` (they belong to the link) and start at 0 on a new link.
 *
 * Why per loop and not the link's timeouts added up: each loop backs off exponentially between
 * its timed-out polls, so N timeouts of one loop are a span of silence (about 2 minutes at the
 * default 8), whatever the number of scopes; a sum over 30 scopes would reach 8 within one
 * timeout period and close a link whose peer was merely busy for a few seconds.
 */

/** Consecutive poll timeouts per loop of one link, and the call when one reaches the limit. */
export class LinkWatchdog {
  /** Consecutive timeouts by scope (hex id). */
  private readonly counts = new Map<string, number>();
  private fired = false;

  /**
   * @param limit `deadAfterTimeouts`: consecutive timeouts of one loop that make the link dead; 0
   *   (or any value not > 0) never does.
   * @param dead called once, with the count, when one reaches `limit`; it closes the link.
   */
  constructor(
    private readonly limit: number,
    private readonly dead: (timeouts: number) => void,
  ) {}

  /** The largest count of consecutive timeouts of one loop since the peer was last heard (0 on a new link). */
  get timeouts(): number {
    let max = 0;
    for (const n of this.counts.values()) max = Math.max(max, n);
    return max;
  }

  /** A poll of the scope `key` (its hex id) timed out. */
  timedOut(key: string): void {
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    if (this.limit > 0 && n >= this.limit && !this.fired) {
      this.fired = true; // the link is closing: a loop still ticking must not count it twice
      this.dead(n);
    }
  }

  /** The peer was heard on the link (any message): every count starts again. */
  heard(): void {
    if (this.counts.size > 0) this.counts.clear();
  }
}
