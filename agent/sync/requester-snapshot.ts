/** What the requester side of one session reports (`peers[].sync` in docs/STATUS.md). */
import type { PollState } from './poll-loop.js';
import type { SubscriptionState } from './subscription.js';

/** A point-in-time view of the requester towards one peer. */
export interface RequesterSnapshot {
  /** The poll loop's state (`poll-loop.ts`). */
  poll: PollState;
  /** The push subscription's state (`subscription.ts`). */
  subscription: SubscriptionState;
  /** `poll` is `stopped`. */
  stopped: boolean;
  /** `subscription` is `granted` or `renewing`. */
  subscribed: boolean;
  /** `subscription` is `refused` or `retrying`. */
  refused: boolean;
  /** Poll rounds completed with nothing left. */
  rounds: number;
  /** `poll` is `in-flight`. */
  pollInFlight: boolean;
  pollScheduled: boolean;
  timeoutsInARow: number;
  /** Answers held for verification. */
  backlog: number;
  morePending: boolean;
  /** Current poll budget, bytes (null before the first poll). */
  budget: number | null;
}
