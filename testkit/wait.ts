/**
 * Waiting in tests and benchmarks: a sleep, and polling a condition. Conditions are polled, not
 * awaited on events, so they work on anything observable (store sizes, counters, flags).
 */

/** Resolve after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One poll interval: `ms` > 0 sleeps, 0 yields one turn of the event loop (setImmediate). */
const pause = (ms: number): Promise<void> => (ms > 0 ? sleep(ms) : new Promise((r) => setImmediate(r)));

/**
 * Poll `cond` every `everyMs` (default 20; 0 polls once per event-loop turn) until it holds;
 * resolves with the elapsed ms.
 * @throws Error naming `what` once `timeoutMs` pass first.
 */
export async function until(cond: () => boolean, timeoutMs: number, what: string, everyMs = 20): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await pause(everyMs);
  }
  return performance.now() - t0;
}

/** Like {@link until} but never throws: resolves with whether `cond` held within `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > deadline) return false;
    await pause(everyMs);
  }
}
