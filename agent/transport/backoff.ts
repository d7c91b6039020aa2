/** Jittered, capped exponential backoff for reconnect loops. */

/** Settings of a {@link Backoff}. */
export interface BackoffOptions {
  /** First delay in ms. Default 250. */
  baseMs?: number;
  /** Largest delay in ms (before jitter). Default 30000. */
  maxMs?: number;
  /** Relative jitter: each delay is scaled by a uniform factor in [1 - j, 1 + j]. Default 0.2. */
  jitter?: number;
  /** Random source in [0,1). Default Math.random. */
  random?: () => number;
}

/**
 * Delays `base, 2·base, 4·base, …` capped at `max`, each jittered so that many agents restarted
 * together (a gateway reboot, a broker restart) do not reconnect in lockstep.
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = Math.max(1, options.baseMs ?? 250);
    this.maxMs = Math.max(this.baseMs, options.maxMs ?? 30_000);
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
    this.random = options.random ?? Math.random;
  }

  /** The next delay in ms; each call doubles the un-jittered delay up to the cap. */
  next(): number {
    const raw = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    // Stop counting once capped so the exponent never overflows.
    if (raw < this.maxMs) this.attempt++;
    const factor = 1 + (this.random() * 2 - 1) * this.jitter;
    return Math.max(0, Math.round(raw * factor));
  }

  /** Start again from the base delay (after a connection proved stable). */
  reset(): void {
    this.attempt = 0;
  }
}
