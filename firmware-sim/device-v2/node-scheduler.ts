/**
 * The default scheduler of the v2 device: Node's clock and timers, unref'd, so a simulated
 * device never keeps the process alive. Tests inject a manual clock instead.
 */
import type { ArqScheduler } from '../../protocol/arq/driver.js';

/** Longest delay one Node timer holds: beyond it `setTimeout` fires after 1 ms, so longer waits are chained. */
const MAX_STEP_MS = 2 ** 31 - 1;

/** `performance.now()` and unref'd `setTimeout` (chained past {@link MAX_STEP_MS}). */
export const nodeScheduler: ArqScheduler = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    let t: NodeJS.Timeout;
    const step = (left: number): void => {
      const now = Math.min(Math.max(0, left), MAX_STEP_MS);
      t = setTimeout(() => (left > now ? step(left - now) : fn()), now);
      t.unref();
    };
    step(ms);
    return () => clearTimeout(t);
  },
};
