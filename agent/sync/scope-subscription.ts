/**
 * The subscriber's push subscription for one (link, scope) of protocol v2 (protocol-v2.md §11.2–
 * §11.5): asked for after the scope's first completed poll round when the peer announced `Push`
 * (history comes by poll, so nothing is sent twice), renewed at 80 % of the granted time, asked
 * again at once after `BudgetExhausted`, and after a `MaximumSubscriptionsExceeded` retried no
 * sooner than its `retry_after_ms` (with backoff) while the scope keeps polling at full pace.
 *
 * ```
 * [polling] ──round done, peer has Push──▶ Subscribe ──▶ [pending] ──SubscribeAck──▶ [subscribed]
 *     ▲  ▲                                                  │ no ack in ACK_TIMEOUT_MS: ask again
 *     │  └── MaximumSubscriptionsExceeded ─▶ [refused] ─ retry timer ─▶ Subscribe ─▶ [pending]
 *     └──── BudgetExhausted: Subscribe again at once ◀── [subscribed] ── 80 %: Subscribe (renew)
 * ```
 * Any state → `stopped` when S becomes inactive or the link closes.
 */
import type { ClientPacer } from './pacing.js';
import { OneShot } from './session-timers.js';

/** Where a (link, scope) subscription stands. */
export type ScopeSubscriptionState = 'stopped' | 'polling' | 'pending' | 'subscribed' | 'refused';

/** A `Subscribe` unacknowledged this long is asked again, ms. */
export const ACK_TIMEOUT_MS = 5000;

/** What the subscription needs of its session and poll loop. */
export interface ScopeSubscriptionHost {
  /** `remain_open` and `max_bytes` to ask for; false: this side never subscribes. */
  readonly ask: { remainOpenS: number; maxBytes: number } | false;
  /** Whether the peer announced `Push`. */
  readonly peerPushes: boolean;
  /** Send `Subscribe` for S with these figures; false when S is not active (nothing sent). */
  send(remainOpenS: number, maxBytes: number): boolean;
  /** The subscription was granted (true) or ended (false): the poll loop slows down or speeds up. */
  subscribed(on: boolean): void;
}

/** One (link, scope) subscription on the subscriber's side. */
export class ScopeSubscription {
  state: ScopeSubscriptionState = 'stopped';
  /** Push budget believed left, bytes. */
  remaining = 0;
  /** A renewal is out (state stays `subscribed`). */
  renewing = false;
  /** Granted `remain_open`, seconds (≤ what was asked). */
  granted = 0;
  private asked = 0;
  private readonly renewTimer = new OneShot();
  private readonly retryTimer = new OneShot();

  constructor(
    private readonly host: ScopeSubscriptionHost,
    private readonly pacer: ClientPacer,
  ) {}

  /** S became active on the link: polling, nothing asked yet. */
  start(): void {
    this.stop();
    this.state = 'polling';
  }

  /** S became inactive or the link closed. */
  stop(): void {
    const was = this.state === 'subscribed';
    this.state = 'stopped';
    this.renewing = false;
    this.renewTimer.clear();
    this.retryTimer.clear();
    if (was) this.host.subscribed(false);
  }

  /** A poll round of S completed (`more` = false): the first one (or one after the subscription ended) subscribes. */
  roundCompleted(): void {
    if (this.state === 'polling') this.request();
  }

  /** Send `Subscribe` now (first request, renewal, retry). */
  request(): void {
    const ask = this.host.ask;
    if (this.state === 'stopped' || ask === false || !this.host.peerPushes) return;
    if (!this.host.send(ask.remainOpenS, ask.maxBytes)) return;
    this.asked = ask.remainOpenS;
    if (this.state === 'subscribed') this.renewing = true;
    else this.state = 'pending';
    this.retryTimer.arm(ACK_TIMEOUT_MS, () => this.request());
  }

  /** `SubscribeAck` for S: granted `remainOpenS` seconds and `maxBytes`. One not asked for is ignored. */
  onAck(remainOpenS: number, maxBytes: number): void {
    if (this.state !== 'pending' && !(this.state === 'subscribed' && this.renewing)) return;
    this.retryTimer.clear();
    this.renewing = false;
    // Never trust the peer's figure beyond what was asked: it sets the renewal timer.
    this.granted = Math.min(remainOpenS, this.asked);
    if (this.granted === 0) return this.ended();
    const was = this.state === 'subscribed';
    this.state = 'subscribed';
    this.remaining = maxBytes;
    this.renewTimer.arm(Math.max(1000, this.granted * 800), () => this.request());
    if (!was) this.host.subscribed(true);
  }

  /** A push for S arrived: what it says is left (`remaining`), or for a bare push what its body cost. */
  onPush(remaining: number | null, bodyBytes: number): void {
    if (this.state !== 'subscribed') return; // unsolicited (§11.9): neither field is acted on
    this.remaining = remaining ?? Math.max(0, this.remaining - bodyBytes);
  }

  /** `Error{BudgetExhausted}` for S: the subscription ended; subscribe again at once. */
  onBudgetExhausted(): void {
    if (this.state === 'stopped') return;
    this.ended();
    this.request();
  }

  /** `Error{MaximumSubscriptionsExceeded}` for S: poll, and ask again after the hint (with backoff). */
  onRefused(retryAfterMs: number | null): void {
    if (this.state === 'stopped') return;
    const was = this.state === 'subscribed';
    this.state = 'refused';
    this.renewing = false;
    this.renewTimer.clear();
    if (was) this.host.subscribed(false);
    this.retryTimer.arm(this.pacer.afterFailure(retryAfterMs ?? 0), () => {
      this.state = 'polling';
      this.request();
    });
  }

  private ended(): void {
    const was = this.state === 'subscribed';
    this.state = 'polling';
    this.renewing = false;
    this.renewTimer.clear();
    this.retryTimer.clear();
    if (was) this.host.subscribed(false);
  }
}
