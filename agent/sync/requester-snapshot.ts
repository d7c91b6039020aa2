/** What the requester side of one session reports (`peers[].sync` in docs/STATUS.md). */

/** A point-in-time view of the requester towards one peer. */
export interface RequesterSnapshot {
  stopped: boolean;
  subscribed: boolean;
  refused: boolean;
  /** Poll rounds completed with nothing left. */
  rounds: number;
  pollInFlight: boolean;
  pollScheduled: boolean;
  timeoutsInARow: number;
  /** Answers held for verification. */
  backlog: number;
  morePending: boolean;
  /** Current poll budget, bytes (null before the first poll). */
  budget: number | null;
}
