/**
 * A queue's share of one event-loop turn. A queue asks {@link TurnSlice.spent} before each unit
 * of work it runs synchronously (a link's intake: the rest waits for a later turn), or awaits
 * {@link TurnSlice.pause} when its units are a chain of promise continuations: continuations of
 * settled promises run back to back in one microtask drain, and nothing else — no socket read, no
 * timer, no other scope — runs until the chain ends. Once the turn's units used the budget
 * ({@link TURN_BUDGET_MS} by default), `pause` waits one `setImmediate` so the rest of the process runs.
 */
import { TURN_BUDGET_MS } from './turn-budget.js';

/** One queue's share of an event-loop turn. */
export class TurnSlice {
  /** When the current turn's first unit started (performance.now), or -1 before it. */
  private start = -1;

  /** @param budgetMs most of a turn the queue's units take before it yields (default {@link TURN_BUDGET_MS}). */
  constructor(private readonly budgetMs = TURN_BUDGET_MS) {}

  /**
   * Whether the current turn's budget is used up. The first call of a turn starts its clock and
   * answers false; the clock restarts whenever the event loop turns (an immediate scheduled at a
   * turn's first call resets it), so a queue that went idle never pays a yield it did not need.
   */
  spent(now = performance.now()): boolean {
    if (this.start < 0) {
      this.start = now;
      setImmediate(() => (this.start = -1));
      return false;
    }
    return now - this.start >= this.budgetMs;
  }

  /** Resolve at once (undefined) while the current turn's budget lasts; else after the next `setImmediate`. */
  pause(): Promise<void> | undefined {
    if (!this.spent()) return undefined;
    // The reset immediate was queued first, so it runs before this one and the next unit starts a turn.
    return new Promise<void>((resolve) => setImmediate(resolve));
  }
}
