/**
 * The simulated device's client side of sync, once a session is up (PROTOCOL.md §8.2, §9.4,
 * §10.3, simplified as firmware would do it):
 *
 * - It subscribes to a peer that announces `Capability.Push`, renews at 80 % of the granted
 *   time, and at once when the budget ran out (`Push.exhausted`, `Error{BudgetExhausted}`).
 * - Refused with `MaximumSubscriptionsExceeded`, it polls instead, every
 *   `max(retry_after_ms, 1000)` ms or the responder's `next_poll_ms` if longer, and tries
 *   `Subscribe` again after `retry_after_ms`. While subscribed it polls once a minute
 *   (anti-entropy: repairs a lost last push).
 * - With `pollMs` set it polls on that period whatever the peer hints (tests, demos).
 * - It polls at once while a response says `more`, and when a push shows a gap.
 *
 * One poll is in flight at a time; a response with another session is stale and ignored; an
 * unanswered poll is presumed lost after {@link POLL_TIMEOUT_MS} and repeated after an
 * exponential backoff (250 ms doubling per timeout in a row, at most 60 s; §10.3). Waits carry
 * ±20 % jitter, except that a `retry_after_ms` is only ever lengthened. Every timer is unref'd:
 * a device never keeps the process alive by itself.
 */
import {
  Capability, MAX_HEADS, ReasonCode,
  type ErrorMessage, type Message, type PollResponse, type Push, type SubscribeAck,
} from '../../protocol/index.js';
import { equalBytes } from '../../protocol/bytes.js';
import { DeviceTimer } from './device-timer.js';

/** Seconds a device asks its subscriptions to stay open. */
export const DEVICE_SUBSCRIBE_REMAIN_OPEN_S = 60;
/** Push budget a device asks for, bytes. */
export const DEVICE_SUBSCRIBE_MAX_BYTES = 16384;
/** Ids a device puts in a `Subscribe` or `PollRequest` sample. */
export const DEVICE_SAMPLE_IDS = 16;
/** Wait for a `SubscribeAck` before asking again, ms. */
export const SUBSCRIBE_RETRY_MS = 5000;
/** A poll unanswered for this long is presumed lost and repeated, ms. */
export const POLL_TIMEOUT_MS = 3000;
/** First wait after a poll timed out, ms; doubles per timeout in a row (§10.3). */
export const POLL_BACKOFF_BASE_MS = 250;
/** Longest wait of any backoff, ms. */
export const BACKOFF_CAP_MS = 60_000;
/** Shortest fallback poll period after `MaximumSubscriptionsExceeded`, ms. */
export const MIN_FALLBACK_POLL_MS = 1000;
/** Anti-entropy poll period while subscribed (and not polling on `pollMs`), ms. */
export const ANTI_ENTROPY_POLL_MS = 60_000;

/** What the driver needs from its device. */
export interface SyncHost {
  /** Send one message to the peer. */
  send(msg: Message): void;
  /** The device's head (a copy), or null when it holds nothing. */
  head(): Uint8Array | null;
  /** Whether the ring holds this id. */
  has(id: Uint8Array): boolean;
  /** Copies of up to `max` ring ids, newest first, exponentially spaced. */
  sample(max: number): Uint8Array[];
  /** The device's own frame limit: `max_bytes` of its polls. */
  readonly maxFrame: number;
}

/** How the device is polling. */
export type PollMode = 'off' | 'fixed' | 'fallback' | 'anti-entropy';

/** Subscription and polling state of one session. */
export class DeviceSync {
  /** True between a `SubscribeAck` and the subscription's end (exhausted, refused, link down). */
  subscribed = false;
  /** Push budget left, bytes, as last reported by the peer (or counted down for bare pushes). */
  budget = 0;
  /** Why the device polls periodically, if it does. */
  mode: PollMode = 'off';
  /** Current poll period, ms; 0 when not polling periodically. */
  pollPeriod = 0;
  private active = false;
  private readonly subTimer = new DeviceTimer();
  private readonly pollTimer = new DeviceTimer();
  private inFlight = false;
  /** Polls timed out in a row (sets the backoff before the next one). */
  private timeouts = 0;
  private pollSession = 0;
  private pollsSent = 0;
  /** The peer's heads from its last `PollResponse` (at most MAX_HEADS, copies). */
  private peerHeads: Uint8Array[] = [];

  /**
   * @param host the device.
   * @param subscribe whether to subscribe to peers that push.
   * @param pollMs fixed poll period (0 = only fallback, anti-entropy and catch-up polls).
   */
  constructor(
    private readonly host: SyncHost,
    private readonly subscribe: boolean,
    private readonly pollMs: number,
  ) {}

  /** Number of `PollRequest`s sent so far. */
  get polls(): number {
    return this.pollsSent;
  }

  /** The session came up with a peer announcing `peerCaps`. */
  start(peerCaps: number): void {
    this.stop();
    this.active = true;
    if (this.subscribe && (peerCaps & Capability.Push) !== 0) this.sendSubscribe();
    if (this.pollMs > 0) {
      this.setMode('fixed', this.pollMs);
      this.pollNow();
    }
  }

  /** The session ended or the device stopped: clear timers and state. */
  stop(): void {
    this.active = false;
    this.subscribed = false;
    this.budget = 0;
    this.setMode('off', 0);
    this.inFlight = false;
    this.timeouts = 0;
    this.peerHeads = [];
    this.subTimer.clear();
    this.pollTimer.clear();
  }

  /** Send a `PollRequest` now unless one is already waiting for its answer. */
  pollNow(): void {
    if (!this.active || this.inFlight) return;
    this.inFlight = true;
    this.pollSession = (this.pollSession + 1) >>> 0;
    this.pollsSent++;
    const head = this.host.head();
    // The peer's last heads that we hold tell it our exact frontier; then our own spread.
    const sample = this.peerHeads.filter((id) => this.host.has(id) && !equalBytes(id, head));
    for (const id of this.host.sample(DEVICE_SAMPLE_IDS)) {
      if (sample.length >= DEVICE_SAMPLE_IDS) break;
      if (!equalBytes(id, head) && !sample.some((s) => equalBytes(s, id))) sample.push(id);
    }
    this.host.send({
      type: 'PollRequest',
      session: this.pollSession,
      max_bytes: this.host.maxFrame,
      heads: head === null ? [] : [head],
      sample,
    });
    this.armPoll(POLL_TIMEOUT_MS, () => {
      this.inFlight = false;
      if (this.mode === 'off') return;
      const backoff = Math.min(BACKOFF_CAP_MS, POLL_BACKOFF_BASE_MS * 2 ** Math.min(this.timeouts, 20));
      this.timeouts++;
      this.armPoll(Math.min(BACKOFF_CAP_MS, jitter(backoff)), () => this.pollNow());
    });
  }

  /** Whether `res` answers the poll in flight (else it is stale: ignore it, commands and all). */
  expects(res: PollResponse): boolean {
    return this.active && this.inFlight && res.session === this.pollSession;
  }

  /** The expected `PollResponse` arrived, and its commands were ingested. */
  onPollResponse(res: PollResponse): void {
    this.inFlight = false;
    this.timeouts = 0;
    this.peerHeads = res.heads.slice(0, MAX_HEADS).map((id) => Uint8Array.from(id));
    if (res.more) {
      this.pollNow();
      return;
    }
    this.pollTimer.clear();
    if (this.mode === 'off') return;
    // A fixed period is the user's; otherwise the responder's hint is a floor (§10.3).
    const wait = this.mode === 'fixed' ? this.pollPeriod : Math.max(this.pollPeriod, res.next_poll_ms);
    this.armPoll(jitter(wait), () => this.pollNow());
  }

  /** A `SubscribeAck` arrived. */
  onSubscribeAck(ack: SubscribeAck): void {
    if (!this.active) return;
    if (ack.remain_open === 0) {
      this.subscribed = false;
      this.fallBackToPolling(MIN_FALLBACK_POLL_MS);
      return;
    }
    this.subscribed = true;
    this.budget = ack.max_bytes;
    this.armSubscribe(ack.remain_open * 800);
    if (this.mode === 'fallback' || this.mode === 'off') {
      this.setMode('anti-entropy', ANTI_ENTROPY_POLL_MS);
      if (!this.inFlight) this.armPoll(jitter(ANTI_ENTROPY_POLL_MS), () => this.pollNow());
    }
  }

  /** A `Push` arrived (after its commands were ingested). */
  onPush(push: Push): void {
    if (!this.subscribed) return;
    if (push.remaining !== null) this.budget = push.remaining;
    else for (const c of push.commands) this.budget = Math.max(0, this.budget - c.length);
    if (push.exhausted) this.sendSubscribe();
  }

  /** An `Error` arrived while the session is up. */
  onError(err: ErrorMessage): void {
    if (!this.active) return;
    switch (err.code) {
      case ReasonCode.BudgetExhausted:
        this.sendSubscribe();
        break;
      case ReasonCode.MaximumSubscriptionsExceeded: {
        const retry = Math.max(err.retry_after_ms ?? 0, MIN_FALLBACK_POLL_MS);
        this.subscribed = false;
        this.fallBackToPolling(retry);
        // Try again once the earliest slot may have closed (§9.2).
        this.armSubscribe(jitterUp(retry));
        break;
      }
      case ReasonCode.Busy:
      case ReasonCode.Internal:
        // Our poll was refused, not lost: come back when told (the next poll carries the rest).
        if (this.inFlight) {
          this.inFlight = false;
          const wait = Math.max(this.pollPeriod, MIN_FALLBACK_POLL_MS);
          const after = err.retry_after_ms ?? 0;
          this.armPoll(after >= wait ? jitterUp(after) : Math.max(after, jitter(wait)), () => this.pollNow());
        }
        break;
      default:
        break;
    }
  }

  private sendSubscribe(): void {
    if (!this.active) return;
    this.subscribed = false;
    this.host.send({
      type: 'Subscribe',
      remain_open: DEVICE_SUBSCRIBE_REMAIN_OPEN_S,
      max_bytes: DEVICE_SUBSCRIBE_MAX_BYTES,
      sample: this.host.sample(DEVICE_SAMPLE_IDS),
      via: [],
    });
    // Until acknowledged, ask again now and then: the Subscribe or its answer may be lost.
    this.armSubscribe(SUBSCRIBE_RETRY_MS);
  }

  private armSubscribe(ms: number): void {
    this.subTimer.arm(ms, () => this.sendSubscribe());
  }

  private fallBackToPolling(periodMs: number): void {
    if (this.mode === 'fixed' && this.pollPeriod <= periodMs) return;
    this.setMode('fallback', periodMs);
    if (this.inFlight) return;
    this.pollNow();
  }

  private setMode(mode: PollMode, periodMs: number): void {
    this.mode = mode;
    this.pollPeriod = periodMs;
  }

  private armPoll(ms: number, fn: () => void): void {
    this.pollTimer.arm(ms, fn);
  }
}

/** A wait times a uniform factor in [0.8, 1.2], so peers that failed together retry apart. */
function jitter(ms: number): number {
  return ms * (0.8 + Math.random() * 0.4);
}

/** A peer's `retry_after_ms` times a factor in [1, 1.2]: jitter never shortens it (§10.3). */
function jitterUp(ms: number): number {
  return ms * (1 + Math.random() * 0.2);
}
