/**
 * The simulated device's one re-armable, unref'd timer. A delay beyond what one Node timer holds
 * (2^31 − 1 ms) is waited in chained steps: a peer's `retry_after_ms` may be up to 2^32 − 1 and
 * jitter lengthens it, and a plain `setTimeout` would fire such a "not before" after 1 ms.
 */

/** Longest delay one Node timer holds. */
const MAX_STEP_MS = 2 ** 31 - 1;

/** One timer: a newer `arm` replaces the older; `clear` cancels. */
export class DeviceTimer {
  private timer: NodeJS.Timeout | null = null;

  /** Run `fn` after `ms`, replacing what was armed. */
  arm(ms: number, fn: () => void): void {
    this.clear();
    this.step(ms, fn);
  }

  /** Disarm; idempotent. */
  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private step(ms: number, fn: () => void): void {
    const now = Math.min(Math.max(0, ms), MAX_STEP_MS);
    this.timer = setTimeout(() => {
      if (ms > now) return this.step(ms - now, fn);
      this.timer = null;
      fn();
    }, now);
    this.timer.unref();
  }
}
