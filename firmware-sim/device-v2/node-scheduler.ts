/**
 * The default scheduler of the v2 device: Node's clock and timers, unref'd, so a simulated
 * device never keeps the process alive. Tests inject a manual clock instead.
 */
import type { ArqScheduler } from '../../protocol/arq/driver.js';

/** `performance.now()` and unref'd `setTimeout`. */
export const nodeScheduler: ArqScheduler = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};
