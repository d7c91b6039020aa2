/**
 * The dead-link watchdog of a protocol-v2 session (issue 16; v1's `deadAfterTimeouts`): a link
 * that carries nothing back is dead in a way its transport did not notice (a wedged UART, a
 * half-open socket), and only closing it makes the transport redial with fresh state. Each
 * {@link ScopePollLoop} backs off on its own forever, so the count is kept here, once per link.
 *
 * The rule:
 * - Each v2 session counts consecutive poll timeouts over ALL its scope poll loops (per link,
 *   not per scope).
 * - Any poll answer the loop takes as an answer to its poll in flight resets the count to 0: a
 *   `PollResponse` of the in-flight session, or a scoped `Error` that ends the poll
 *   (`ScopePollLoop.onError` path).
 * - When the count reaches `settings.deadAfterTimeouts` (> 0; 0 = never), the session logs a warn
 *   `{peer, link, timeouts}` 'no poll answered in N tries in a row; closing the link so its
 *   transport redials', counts it (`SessionV2Stats.deadLinkCloses`), and closes the link.
 * - The count survives `restartScopes` (it belongs to the link) and starts at 0 for a new link.
 *
 * Why per link: a link's scopes share its line, so one scope's answers prove the line carries
 * things back; and with the timeouts of all loops added up, a link with many active scopes is
 * given up on sooner in time, not later, than one with a single scope.
 *
 * `ScopePollLoop` (scope-poll-loop.ts) calls `timedOut` and `answered` through its host hooks.
 */

/** Consecutive poll timeouts of one link, and the call when they reach the limit. */
export class LinkWatchdog {
  private count = 0;
  private fired = false;

  /**
   * @param limit `deadAfterTimeouts`: consecutive timeouts that make the link dead; 0 (or any
   *   value not > 0) never does.
   * @param dead called once, with the count, when it reaches `limit`; it closes the link.
   */
  constructor(
    private readonly limit: number,
    private readonly dead: (timeouts: number) => void,
  ) {}

  /** Consecutive poll timeouts since the last answer (0 on a new link). */
  get timeouts(): number {
    return this.count;
  }

  /** A poll of any of the link's scopes timed out. */
  timedOut(): void {
    this.count++;
    if (this.limit > 0 && this.count >= this.limit && !this.fired) {
      this.fired = true; // the link is closing: a loop still ticking must not count it twice
      this.dead(this.count);
    }
  }

  /** A poll of any of the link's scopes was answered (a `PollResponse` of it, or an `Error` that ended it). */
  answered(): void {
    this.count = 0;
  }
}
