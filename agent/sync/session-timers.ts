/** Small timing helpers of a session: the `Hello` retransmission schedule and a rate window. */
import { TurnSlice } from './turn-slice.js';

/** First `Hello` retransmission, ms; doubles up to {@link RETRY_MAX_MS} (§7.1). */
export const RETRY_FIRST_MS = 500;
/** Longest gap between `Hello` retransmissions, ms. */
export const RETRY_MAX_MS = 8000;

/**
 * Runs `fire` now and again after 500 ms, 1 s, 2 s, … up to every 8 s, until stopped. Timers are
 * unref'd: a pending handshake never keeps the process alive.
 */
export class Repeater {
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly fire: () => void) {}

  /** (Re)start the schedule from its first step, firing at once. */
  start(): void {
    this.stop();
    this.run(RETRY_FIRST_MS);
  }

  /** Stop; idempotent. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private run(ms: number): void {
    this.fire();
    this.timer = setTimeout(() => this.run(Math.min(ms * 2, RETRY_MAX_MS)), ms);
    this.timer.unref();
  }
}

/** Longest delay one Node timer holds: beyond it `setTimeout` fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One unref'd timer that can be re-armed (a newer arm replaces the older) or cleared. A delay
 * beyond {@link MAX_TIMER_MS} is waited in chained steps: waits come from peers'
 * `retry_after_ms` (up to 2^32 − 1 ms, lengthened by jitter), and one plain timer would turn such a
 * "not before" into a retry after 1 ms.
 */
export class OneShot {
  private timer: NodeJS.Timeout | null = null;

  /** Whether it is armed. */
  get armed(): boolean {
    return this.timer !== null;
  }

  /** Run `fn` after `ms`, replacing what was armed. */
  arm(ms: number, fn: () => void): void {
    this.clear();
    this.step(ms, fn);
  }

  private step(ms: number, fn: () => void): void {
    const now = Math.min(Math.max(0, ms), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      if (ms > now) return this.step(ms - now, fn);
      this.timer = null;
      fn();
    }, now);
    this.timer.unref();
  }

  /** Disarm; idempotent. */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** At most `limit` takes per `windowMs` (a fixed window on the given clock). */
export class RateWindow {
  private start = -Infinity;
  private used = 0;
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Whether one more is allowed now (and count it). */
  take(): boolean {
    const t = this.now();
    if (t - this.start >= this.windowMs) {
      this.start = t;
      this.used = 0;
    }
    return ++this.used <= this.limit;
  }
}

/** Work on one link's incoming frames per event-loop turn, ms; the rest waits for later turns. */
export const INTAKE_TURN_MS = 8;
/** Bytes of frames a link may have waiting; beyond, frames are dropped (a flood, not a peer waiting for answers). */
export const INTAKE_MAX_BYTES = 4 << 20;

/**
 * Hands a link's frames to `handle` in arrival order, spending at most {@link INTAKE_TURN_MS} per
 * event-loop turn: a transport read of thousands of frames (one TCP segment burst) is continued
 * on later turns instead of blocking the loop — every frame now costs an AEAD open, and most an
 * AEAD seal for the answer. Frames beyond {@link INTAKE_MAX_BYTES} waiting are passed to
 * `overflow` (counted) instead: the transport keeps reading while frames wait; so are the frames
 * still waiting when the intake stops (the link closed).
 */
export class Intake {
  private readonly waiting: Uint8Array[] = [];
  /** Arrival time (performance.now) of each waiting frame, parallel to `waiting`. */
  private readonly arrived: number[] = [];
  private head = 0;
  private bytes = 0;
  private readonly turn = new TurnSlice(INTAKE_TURN_MS);
  private scheduled = false;
  private stopped = false;

  constructor(
    /** Handles one frame; `arrivedAt` is when it reached the session (performance.now). */
    private readonly handle: (body: Uint8Array, arrivedAt: number) => void,
    private readonly overflow: (body: Uint8Array) => void,
  ) {}

  /** A frame arrived. */
  push(body: Uint8Array): void {
    if (this.stopped) return;
    const now = performance.now();
    if (this.head < this.waiting.length || this.turn.spent(now)) return this.wait(body, now);
    this.handle(body, now);
  }

  /** Drop what waits (each passed to `overflow`: counted, never silent) and take nothing more (the link closed). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (let i = this.head; i < this.waiting.length; i++) this.overflow(this.waiting[i]!);
    this.waiting.length = this.arrived.length = this.head = this.bytes = 0;
  }

  private wait(body: Uint8Array, now: number): void {
    if (this.bytes + body.length > INTAKE_MAX_BYTES) return this.overflow(body);
    this.waiting.push(body);
    this.arrived.push(now);
    this.bytes += body.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const start = performance.now();
    while (this.head < this.waiting.length && !this.stopped) {
      if (performance.now() - start >= INTAKE_TURN_MS) return this.schedule();
      const at = this.arrived[this.head]!;
      const body = this.waiting[this.head++]!;
      this.bytes -= body.length;
      this.handle(body, at);
    }
    this.waiting.length = this.arrived.length = this.head = 0;
  }
}
