/**
 * A clock for work that runs as a chain of promise continuations. Continuations of promises that
 * are already settled run back to back in one microtask drain, and nothing else — no socket read,
 * no timer, no other scope — runs until the chain ends. A queue of such work asks
 * {@link TurnSlice.pause} before each unit: once the units of the current event-loop turn have
 * used {@link TURN_BUDGET_MS}, it waits one `setImmediate` so the rest of the process runs.
 */
import { TURN_BUDGET_MS } from './turn-budget.js';

/** One queue's share of an event-loop turn. */
export class TurnSlice {
  /** When the current turn's first unit started (performance.now), or -1 before it. */
  private start = -1;

  /** @param budgetMs most of a turn the queue's units take before it yields (default {@link TURN_BUDGET_MS}). */
  constructor(private readonly budgetMs = TURN_BUDGET_MS) {}

  /**
   * Resolve at once while the current turn's budget lasts; else after the next `setImmediate`.
   * The clock restarts whenever the event loop turns (an immediate scheduled at a turn's first
   * unit resets it), so a queue that goes idle never pays a yield it did not need.
   */
  pause(): Promise<void> | undefined {
    const now = performance.now();
    if (this.start < 0) {
      this.start = now;
      setImmediate(() => (this.start = -1));
      return undefined;
    }
    if (now - this.start < this.budgetMs) return undefined;
    // The reset immediate was queued first, so it runs before this one and the next unit starts a turn.
    return new Promise<void>((resolve) => setImmediate(resolve));
  }
}
