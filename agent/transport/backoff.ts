/**
 * Capped exponential backoff with full jitter: the one reconnect schedule of every dialer (TCP,
 * TLS and serial through `redial.ts`, the MQTT broker connection and its relinks).
 */

/** Settings of a {@link Backoff}. */
export interface BackoffOptions {
  /** Ceiling of the first delay in ms. Default 250. */
  baseMs?: number;
  /** Largest ceiling in ms. Default 30000. */
  maxMs?: number;
  /** Random source in [0,1). Default Math.random. */
  random?: () => number;
}

/**
 * Delay `n` (from 0) is drawn uniformly from `[0, min(max, base·2ⁿ)]` ("full jitter"). The first
 * delay is random too, so agents that lost their broker or gateway at the same instant (a
 * restart, a power cut) spread their attempts over the whole window instead of arriving
 * together at `base`, `2·base`, … — with ±20 % jitter 500 devices still met in narrow bands.
 * The expected wait at the cap is `max / 2`, the longest `max`.
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = Math.max(1, options.baseMs ?? 250);
    this.maxMs = Math.max(this.baseMs, options.maxMs ?? 30_000);
    this.random = options.random ?? Math.random;
  }

  /** The current ceiling: `min(max, base·2ⁿ)` for the next call's `n`. */
  get ceilingMs(): number {
    return Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
  }

  /** The next delay in ms, uniform in `[0, ceiling]`; each call doubles the ceiling up to the cap. */
  next(): number {
    const ceiling = this.ceilingMs;
    // Stop counting once capped so the exponent never overflows.
    if (ceiling < this.maxMs) this.attempt++;
    return Math.round(this.random() * ceiling);
  }

  /** Start again from the base ceiling (after a connection proved stable). */
  reset(): void {
    this.attempt = 0;
  }
}
