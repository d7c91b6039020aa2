/**
 * Is the event loop alive? A timer that should fire every `intervalMs` measures how late it
 * fires (timer lateness = time the loop spent on something else); the loop is **healthy** while
 * its last tick is fresh and no tick within the last `windowMs` came `thresholdMs` or more late.
 * One consumer is the systemd watchdog (systemd-notify.ts sends `WATCHDOG=1` only while healthy,
 * so a wedged engine is restarted), the other `GET /readyz` ("engine loop not wedged").
 *
 * Why our own timer and not only `perf_hooks.monitorEventLoopDelay`: the histogram says how
 * delayed the loop was, but a loop that is stuck right now updates nothing, so the question
 * "did the loop run recently?" needs a timestamp of a callback that actually ran — the tick.
 * The histogram's maximum is still read at each tick (when available) because it also sees
 * stalls shorter than the interval that a coarse tick would average away.
 *
 * Cost: one unref'd timer (it never keeps the process alive) and a few numbers; no allocation
 * per tick.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * The defaults. The window is short against the shipped unit's watchdog (`WatchdogSec=30s`,
 * pinged every 15 s): one stall costs at most the pings of 5 s, never the 30 s that would get the
 * agent killed, while a loop that stalls again and again stays unhealthy and is restarted.
 */
export const LOOP_HEALTH_DEFAULTS = { intervalMs: 500, thresholdMs: 2000, windowMs: 5000 } as const;

/** Tuning; every field has a default ({@link LOOP_HEALTH_DEFAULTS}). */
export interface LoopHealthOptions {
  /** Tick period, ms. Default 500. */
  intervalMs?: number;
  /** A tick this late (or a histogram maximum this high) is a stall, ms. Default 2000. */
  thresholdMs?: number;
  /** How long one stall keeps the loop unhealthy, ms. Default 5000. */
  windowMs?: number;
  /** Clock (ms, monotonic). Default `performance.now`. For tests. */
  now?: () => number;
}

/** The loop's health; see the module comment. */
export interface LoopHealth {
  /** Last tick fresh (within interval + threshold) and no stall within the window. */
  healthy(): boolean;
  /** The largest lateness seen within the window, ms (0 when none). */
  lagMs(): number;
  /** ms since the last tick ran. */
  sinceTickMs(): number;
  /** Stop the timer and the histogram. healthy() is false afterwards. */
  close(): void;
}

/** Start measuring. */
export function createLoopHealth(opts: LoopHealthOptions = {}): LoopHealth {
  const intervalMs = opts.intervalMs ?? LOOP_HEALTH_DEFAULTS.intervalMs;
  const thresholdMs = opts.thresholdMs ?? LOOP_HEALTH_DEFAULTS.thresholdMs;
  const windowMs = opts.windowMs ?? LOOP_HEALTH_DEFAULTS.windowMs;
  const now = opts.now ?? (() => performance.now());
  let lastTick = now();
  let worst = 0;
  let worstAt = -Infinity;
  let stallAt = -Infinity;
  let closed = false;
  let hist: IntervalHistogram | null = null;
  try {
    hist = monitorEventLoopDelay({ resolution: 20 });
    hist.enable();
  } catch {
    hist = null; // not on this runtime: the tick alone decides
  }

  const timer = setInterval(() => {
    const t = now();
    const late = Math.max(0, t - lastTick - intervalMs, hist !== null ? hist.max / 1e6 : 0);
    hist?.reset();
    lastTick = t;
    if (late >= thresholdMs) stallAt = t;
    // The worst lateness of the window, for lagMs(); an older one gives way to the current.
    if (late >= worst || t - worstAt > windowMs) {
      worst = late;
      worstAt = t;
    }
  }, intervalMs);
  timer.unref();

  const lagMs = (): number => (now() - worstAt > windowMs ? 0 : worst);
  return {
    healthy: () => {
      const t = now();
      return !closed && t - lastTick < intervalMs + thresholdMs && t - stallAt > windowMs;
    },
    lagMs,
    sinceTickMs: () => now() - lastTick,
    close: () => {
      closed = true;
      clearInterval(timer);
      hist?.disable();
    },
  };
}
