/**
 * Pacing: the server tells clients when to come back (seed 004's Retry-After), and clients obey
 * with jitter, caps and backoff.
 */

/** Per-peer token bucket: `capacity` tokens, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  /** Defaults: 10 tokens, 2 per second — ten quick idle polls, then one every 500 ms. */
  constructor(
    private readonly capacity = 10,
    private readonly perSecond = 2,
    now = Date.now(),
  ) {
    this.tokens = capacity;
    this.last = now;
  }
  /** Take one token; returns 0 when granted, else the ms until one is available. */
  take(now = Date.now()): number {
    const wait = this.wait(now);
    if (wait === 0) this.tokens -= 1;
    return wait;
  }
  /** Ms until a whole token is available (0: one is); takes nothing. */
  wait(now = Date.now()): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }
  /**
   * Spend `n` tokens (fractions allowed) for work already done. The bucket may go into debt,
   * down to `-capacity`: costly work makes the peer wait longer, but never more than
   * `(capacity + 1) / perSecond` seconds.
   */
  spend(n: number, now = Date.now()): void {
    this.refill(now);
    this.tokens = Math.max(-this.capacity, this.tokens - n);
  }
  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + (Math.max(0, now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }
}

/** Bounds of the `next_poll_ms` hint. */
export interface PollHintBounds {
  /** Hint when commits are frequent. Default 1000. */
  minMs: number;
  /** Hint when nothing happens. Default 30000. */
  maxMs: number;
}

/**
 * Tracks the recent commit rate (exponentially decaying, ~60 s window) and turns it into a
 * `next_poll_ms` hint: poll about as often as a new command is expected, scaled up by load,
 * within the bounds.
 */
export class CommitRate {
  private rate = 0;
  private last: number;
  constructor(
    private readonly bounds: PollHintBounds = { minMs: 1000, maxMs: 30000 },
    now = Date.now(),
  ) {
    this.last = now;
  }
  /** Record `n` new commands. */
  record(n: number, now = Date.now()): void {
    this.decay(now);
    this.rate += n / 60;
  }
  /** Commands per second, recent average. */
  perSecond(now = Date.now()): number {
    this.decay(now);
    return this.rate;
  }
  /**
   * The hint: `1000 / rate` ms clamped to the bounds, multiplied by `load` (≥ 1; e.g. active
   * polling peers / 16) so a busy agent spreads its clients out.
   */
  hintMs(load = 1, now = Date.now()): number {
    const r = this.perSecond(now);
    const base = r > 0 ? 1000 / r : this.bounds.maxMs;
    return Math.round(Math.min(this.bounds.maxMs, Math.max(this.bounds.minMs, base) * Math.max(1, load)));
  }
  private decay(now: number): void {
    const dt = Math.max(0, now - this.last) / 1000;
    this.rate *= Math.exp(-dt / 60);
    this.last = now;
  }
}

/** Client-side wait policy. */
export interface BackoffPolicy {
  /** First wait after a failure. Default 250 ms. */
  baseMs: number;
  /** Longest wait of any kind. Default 60000 ms. */
  capMs: number;
  /** Shortest wait between two polls. Default 50 ms. */
  floorMs: number;
  /** Relative jitter, ±. Default 0.2. */
  jitter: number;
}

/** Default client wait policy. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 60000, floorMs: 50, jitter: 0.2 };

/** Client pacing state: honours hints, backs off on failures, never spins. */
export class ClientPacer {
  private failures = 0;
  constructor(
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}
  /** A request succeeded (a poll was answered): the next failure starts from `base` again. */
  succeeded(): void {
    this.failures = 0;
  }
  /** Wait before the next poll after a success that carried `hintMs`. Resets the backoff. */
  afterSuccess(hintMs: number): number {
    this.failures = 0;
    return this.jittered(Math.max(this.policy.floorMs, hintMs));
  }
  /**
   * Wait after the `k`-th answer in a row (from 0) that ended a round while naming heads this host
   * lacks and was not sent (PROTOCOL.md §13.3): `floor × 2^k`, jittered; the caller takes the
   * shorter of this and its usual wait, so a responder that never sends them is soon polled at
   * the usual rate again.
   */
  soon(k: number): number {
    return this.jittered(this.policy.floorMs * 2 ** Math.min(k, 30));
  }
  /**
   * Wait after a refusal, a timeout or any other failure (PROTOCOL.md §10.3): exponential backoff
   * `base × 2^failures`, jittered ±`jitter` and clamped to [floor, cap] — but never shorter than
   * the server's `retryAfterMs`: that one is only ever lengthened, by up to `jitter`, and the cap
   * does not apply to it (the server said "not before").
   */
  afterFailure(retryAfterMs = 0): number {
    const { baseMs, floorMs, capMs, jitter } = this.policy;
    const exp = baseMs * 2 ** Math.min(this.failures, 30);
    this.failures++;
    const u = this.random();
    const backoff = Math.min(capMs, Math.max(floorMs, Math.max(floorMs, exp) * (1 + (u * 2 - 1) * jitter)));
    return Math.round(Math.max(backoff, retryAfterMs * (1 + u * jitter)));
  }
  /**
   * Wait after a poll timed out: a failure like any other, so consecutive timeouts back off
   * exponentially up to the cap (a peer or line that answers nothing is not hammered every few
   * seconds). The budget does not shrink after timeouts in v2 (scope-poll-loop.ts), and a link
   * on which one scope's polls time out `deadAfterTimeouts` times in a row, with nothing heard
   * from the peer meanwhile, is closed by its session's watchdog (link-watchdog.ts).
   */
  afterTimeout(): number {
    return this.afterFailure(0);
  }

  private jittered(ms: number): number {
    const j = 1 + (this.random() * 2 - 1) * this.policy.jitter;
    return Math.round(Math.min(this.policy.capMs, Math.max(this.policy.floorMs, ms * j)));
  }
}
