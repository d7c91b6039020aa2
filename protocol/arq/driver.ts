/**
 * Runs an {@link ArqEndpoint} on a live line: one pump (poll, write every frame, re-arm) and one
 * timer for retransmissions and delayed ACKs. Both the agent's `ArqLink` and the simulated
 * device's serial wiring use it. It stays pure like the rest of `protocol/`: time and timers come
 * from an injected {@link ArqScheduler}.
 *
 * The subtle parts live here once:
 * - the timer is re-armed after every pump from `nextWakeup`, measured after the writes;
 * - a pending timer that fires no later than (about) the new wake-up is kept, so a burst of pumps
 *   (every received frame, every send) does not churn timers; firing early is harmless (the
 *   pump finds nothing due and re-arms);
 * - a pump that a write re-enters (a synchronous line) is skipped: the outer pump re-arms after
 *   its writes, and `nextWakeup` then reports anything the inner one would have sent;
 * - after {@link ArqDriver.close} nothing is written and no timer is left.
 */
import type { ArqEndpoint } from './endpoint.js';

/** Time and one-shot timers, as the host provides them. */
export interface ArqScheduler {
  /** Monotonic time, ms (the endpoint's `now`). */
  now(): number;
  /**
   * Call `fn` once after `ms` (an integer ≥ 1); returns a function that cancels the call. Whether
   * a pending timer keeps the process alive is the host's choice (Node hosts `unref()` it).
   */
  setTimer(fn: () => void, ms: number): () => void;
}

/** Options of an {@link ArqDriver}. */
export interface ArqDriverOptions {
  /** Time and timers. */
  scheduler: ArqScheduler;
  /** Hand one frame body to the line (the host wraps it as a serial frame, or drops it when the line is gone). */
  write: (body: Uint8Array) => void;
  /** Called after every pump that ran (e.g. to emit `drain` once acknowledgements emptied the queue). */
  afterPump?: () => void;
}

/** Pump and timer of one endpoint. */
export class ArqDriver {
  private readonly scheduler: ArqScheduler;
  private readonly write: (body: Uint8Array) => void;
  private readonly afterPump: () => void;
  private cancelTimer: (() => void) | null = null;
  private timerAt = Infinity;
  private pumping = false;
  private closed = false;

  constructor(
    readonly endpoint: ArqEndpoint,
    opts: ArqDriverOptions,
  ) {
    this.scheduler = opts.scheduler;
    this.write = opts.write;
    this.afterPump = opts.afterPump ?? (() => undefined);
  }

  /** The scheduler's current time, ms. */
  now(): number {
    return this.scheduler.now();
  }

  /**
   * Feed one received ARQ frame body to the endpoint at the scheduler's time; returns the
   * messages it completes. Call {@link pump} after a batch of frames (an ACK may be due).
   */
  receive(body: Uint8Array): Uint8Array[] {
    return this.endpoint.receive(body, this.scheduler.now());
  }

  /** Write whatever the endpoint has to send now and re-arm the timer. No-op after {@link close}. */
  pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      for (const f of this.endpoint.poll(this.scheduler.now())) this.write(f);
      this.arm(this.endpoint.nextWakeup(this.scheduler.now()));
    } finally {
      this.pumping = false;
    }
    this.afterPump();
  }

  /** Drop the pending timer (the link was reset); a later {@link pump} arms it again. */
  cancel(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.timerAt = Infinity;
  }

  /** Stop for good: the timer is dropped and pumps do nothing. Idempotent. */
  close(): void {
    this.closed = true;
    this.cancel();
  }

  /** True while a timer is pending (tests and diagnostics). */
  get armed(): boolean {
    return this.cancelTimer !== null;
  }

  private arm(wait: number | null): void {
    if (wait === null) return this.cancel();
    const at = this.scheduler.now() + wait;
    if (this.cancelTimer !== null && this.timerAt <= at + 1) return;
    this.cancel();
    this.timerAt = at;
    this.cancelTimer = this.scheduler.setTimer(() => {
      this.cancelTimer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(1, Math.ceil(wait)));
  }
}
