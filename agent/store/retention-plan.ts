/**
 * What one run of the §4.2 prune planner (`planRetention`, retention.ts) decides: the handles to
 * prune, the base and pinned heads after it, the new horizon (§4.3) and how far over its bounds
 * the scope stays.
 */
import type { HorizonEntry, HorizonSet } from './horizon.js';

/** Why a run stopped: within bounds, no candidate left, a protected command, the horizon target. */
export type StopReason = 'within' | 'exhausted' | 'protected' | 'horizon';

/** Amounts beyond each bound after a plan (0 on an axis within it); status `retention.overBy`. */
export interface OverBy {
  readonly commands: number;
  readonly bytes: number;
  readonly ageS: number;
}

/**
 * The outcome of one run of §4.2. Valid for the view it was computed on: apply it at once. With
 * `F` = the ids of membership commands it is the store's `PrunePlan` (prune, horizon, pinnedHeads).
 */
export interface RetentionPlan<F = number> {
  /** Handles to prune, ascending. */
  readonly prune: readonly number[];
  /** Heads this run reached and kept, ascending (pinned when below `base`). */
  readonly keptHeads: readonly number[];
  /** §5.3 base after the plan. */
  readonly base: number;
  /** Every retained data command below `base` after the plan, ascending (horizon.bin `pinned_heads`). */
  readonly pinnedHeads: readonly number[];
  /** The horizon after the plan: the input set itself when the run pruned nothing. */
  readonly horizonSet: HorizonSet<F>;
  /** The entries of `horizonSet` (listed on first read). */
  readonly horizon: readonly HorizonEntry<F>[];
  readonly stop: StopReason;
  readonly overBy: OverBy;
  /**
   * The own protected commands alone number more than the command bound: pruning cannot
   * bring the scope within it until a peer holds them, so a commit path may refuse.
   */
  readonly ownAloneExceed: boolean;
  /** What `prune` removes from the totals. */
  readonly prunedTotals: { readonly commands: number; readonly bytes: number; readonly own: number };
  /** `appendedAtS` of the oldest counted command after the plan (Infinity: none). */
  readonly oldestAfterS: number;
}
