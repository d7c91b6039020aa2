/** The Q-3 commit refusal (docs/design/v2-scopes.md §11.1): a bounded scope full of own commands no peer holds yet. */

/**
 * A data commit to a scope whose own not-yet-acknowledged data commands (own commands with a
 * handle at or above the scope's `heldFloor`, §4.2) already number the scope's command bound.
 * Pruning never removes those, so one more would keep the scope above its bound until a peer
 * polls it; the commit is refused instead and nothing is written. The CLI maps it to exit 75,
 * the API to HTTP 507 (§11.1). Retry once a peer has polled the scope.
 */
export class RetentionFullError extends Error {
  override readonly name = 'RetentionFullError';
  /** Stable reason code (API `error` field). */
  readonly reason = 'retention_full';
  constructor(
    /** The scope's name. */
    readonly scope: string,
    /** Own data commands no peer is known to hold. */
    readonly unacknowledged: number,
    /** The scope's command bound at this host. */
    readonly bound: number,
  ) {
    super(`scope ${scope}: ${unacknowledged} own commands no peer holds yet already reach the retention bound of ${bound}; commit again once a peer has synced`);
  }
}
