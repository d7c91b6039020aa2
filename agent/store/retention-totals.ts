/**
 * The running totals of the commands §4.1's bounds count in one scope, kept beside its store so
 * that the §4.2 planner (`planRetention`, retention.ts) costs nothing while no bound is exceeded.
 */
import { CommandKind } from '../../protocol/constants-v2.js';
import type { RetentionLimits } from './retention-policy.js';
import type { RetentionPlan } from './retention-plan.js';
import { candidates, type RetentionView } from './retention-view.js';

/**
 * Running totals of the *counted* commands (retained data commands that are not heads, §4.1),
 * so that "is a bound exceeded" is O(1) and a plan costs nothing when nothing needs pruning.
 * Every command is a head when appended; it starts counting when it stops being one.
 */
export class RetentionTotals {
  private n = 0;
  private b = 0;
  private o = 0;
  private oldest = Infinity;
  /** Counted commands. */
  get commands(): number { return this.n; }
  /** Sum of their encodings. */
  get bytes(): number { return this.b; }
  /** How many of them are own commands (protected or not). */
  get own(): number { return this.o; }
  /** The oldest one's `appendedAtS`; Infinity when none counts. */
  get oldestS(): number { return this.oldest; }

  /** Totals of a store as it is (on open): one pass over the retained data commands. */
  static fromView(view: RetentionView<unknown>): RetentionTotals {
    const t = new RetentionTotals();
    const next = candidates(view);
    for (let h = next(); h >= 0; h = next()) if (!view.isHead(h)) t.retire(view, h);
    return t;
  }

  /** Retained command `h` stopped being a head (a command naming it was appended). Non-data: ignored. */
  retire(view: RetentionView<unknown>, h: number): void {
    if (view.kind(h) !== CommandKind.Data || !view.isRetained(h)) return;
    this.n++;
    this.b += view.lengthOf(h);
    if (view.isOwn(h)) this.o++;
    this.oldest = Math.min(this.oldest, view.appendedAtS(h));
  }

  /** The store applied `plan` (call it before anything else is appended). */
  apply(plan: RetentionPlan<unknown>): void {
    this.n -= plan.prunedTotals.commands;
    this.b -= plan.prunedTotals.bytes;
    this.o -= plan.prunedTotals.own;
    this.oldest = this.n === 0 ? Infinity : plan.oldestAfterS;
  }

  /** Whether a bound of `limits` is exceeded at `nowS` (§4.1). O(1). */
  exceeded(limits: RetentionLimits, nowS: number): boolean {
    return this.n > limits.commands || this.b > limits.bytes || nowS - this.oldest > limits.ageS;
  }
}
