/**
 * The requester's push subscription with one peer (PROTOCOL.md §9): asked for once the first poll
 * round found nothing missing (so a bootstrap is never sent twice, by poll and by push), renewed
 * at 80 % of the granted time and after `BudgetExhausted`, re-sent (debounced) when our upstream
 * set changes so `via` stays true, and retried with backoff when the peer's table is full.
 *
 * ```
 * stopped ─start─▶ idle ─request─▶ requested ─ack─▶ granted ─renew / via changed─▶ renewing ─ack─▶ granted
 *                                      │                 └─BudgetExhausted─▶ requested
 *                    MaximumSubscriptionsExceeded (from any asking state)
 *                                      ▼
 *                                   refused ─retry timer─▶ retrying ─ack─▶ granted
 * ```
 * `Unauthorized` (our `Auth` still on its way) forgets the request: requested → idle,
 * renewing → granted, retrying → refused. Any state → stopped when the link closes.
 */
import { MAX_HEADS, MAX_SAMPLE, MAX_VIA } from '../../protocol/constants.js';
import { fromHex } from '../../protocol/keys.js';
import type { Push } from '../../protocol/messages.js';
import { deepestFirst, sampleOf } from './graph-walk.js';
import type { ClientPacer } from './pacing.js';
import type { RequesterHost } from './requester-host.js';
import { OneShot } from './session-timers.js';

/** Where the subscription stands. */
export type SubscriptionState =
  /** The link is not up, or it is closing. */
  | 'stopped'
  /** Nothing asked, nothing granted (before the first round ends, or pushes not wanted). */
  | 'idle'
  /** A first `Subscribe` is out. */
  | 'requested'
  /** The peer pushes to us. */
  | 'granted'
  /** Granted, and a renewal (or a `via` update) is out. */
  | 'renewing'
  /** The peer's table was full; a retry is scheduled. We only poll meanwhile. */
  | 'refused'
  /** After a refusal, the retry `Subscribe` is out. */
  | 'retrying';

/** What the subscription tells its requester. */
export interface SubscriptionEvents {
  /** The peer granted a subscription; `first` when we held none before. */
  granted(first: boolean): void;
  /** The peer refused for room; it said to retry after `retryAfterMs` (0 when it did not say). */
  refused(retryAfterMs: number): void;
}

/** The push subscription of one session. */
export class Subscription {
  state: SubscriptionState = 'stopped';
  /** Push budget we believe is left, bytes. */
  remaining = 0;
  /** `remain_open` of the `Subscribe` out (meaningful in the asking states). */
  private asked = 0;
  private readonly renewTimer = new OneShot();
  private readonly debounceTimer = new OneShot();

  constructor(
    private readonly host: RequesterHost,
    private readonly pacer: ClientPacer,
    private readonly events: SubscriptionEvents,
  ) {}

  /** We want pushes from this peer: our settings ask for them and the peer pushes. */
  get wanted(): boolean {
    return this.host.settings.subscribe !== false && this.host.peerPushes;
  }

  /** Whether the peer pushes to us now. */
  get granted(): boolean {
    return this.state === 'granted' || this.state === 'renewing';
  }

  /**
   * Whether this peer pushes to us, or will as soon as our first round ends: such peers are named
   * in `via` so other agents do not relay to us what this one sends anyway.
   */
  get upstream(): boolean {
    return this.state !== 'stopped' && this.state !== 'refused' && this.state !== 'retrying' && this.wanted;
  }

  /** The link is up. */
  start(): void {
    this.state = 'idle';
  }

  /** The link closed: forget the subscription and stop the timers. */
  stop(): void {
    this.state = 'stopped';
    this.renewTimer.clear();
    this.debounceTimer.clear();
  }

  /** Send `Subscribe` now (first request, renewal, or a new `via`). */
  request(): void {
    const want = this.host.settings.subscribe;
    if (this.state === 'stopped' || want === false) return;
    const { store } = this.host;
    const heads = deepestFirst(store, store.heads(), MAX_HEADS);
    const sample = [...new Set([...heads, ...sampleOf(store, MAX_SAMPLE)])].slice(0, MAX_SAMPLE);
    const via = this.host.upstreams().slice(0, MAX_VIA).map(fromHex);
    this.asked = want.remainOpenS;
    this.state = this.granted ? 'renewing' : this.state === 'refused' || this.state === 'retrying' ? 'retrying' : 'requested';
    this.host.send({ type: 'Subscribe', remain_open: want.remainOpenS, max_bytes: want.maxBytes, sample: sample.map((h) => Uint8Array.from(store.idOf(h))), via });
  }

  /** (Re)send `Subscribe` after `ms`; a newer call replaces an older one (debounce). */
  requestLater(ms: number): void {
    this.debounceTimer.arm(ms, () => this.request());
  }

  /** The peer granted `granted` seconds and `maxBytes`. An ack we did not ask for is ignored. */
  onAck(granted: number, maxBytes: number): void {
    if (this.state !== 'requested' && this.state !== 'renewing' && this.state !== 'retrying') return;
    // Never trust the peer's figure beyond what we asked: it sets our renewal timer.
    const remainOpen = Math.min(granted, this.asked);
    const wasUpstream = this.upstream;
    const first = this.state !== 'renewing';
    this.state = 'granted';
    this.remaining = maxBytes;
    this.renewTimer.arm(Math.max(1000, remainOpen * 800), () => this.request());
    if (!wasUpstream) this.host.upstreamsChanged();
    this.events.granted(first);
  }

  /** A push arrived: what it says is left of the budget (or what it cost, when bare). */
  onPush(p: Push): void {
    if (p.remaining === null) this.remaining -= p.commands[0]?.length ?? 0;
    else this.remaining = p.remaining;
  }

  /** `BudgetExhausted`: the subscription ended; ask again. */
  onBudgetExhausted(): void {
    if (this.state === 'stopped') return;
    if (this.granted) this.state = 'idle';
    this.request();
  }

  /** `Unauthorized`: the peer has not taken our `Auth` yet; the request is forgotten. */
  onUnauthorized(): void {
    if (this.state === 'requested') this.state = 'idle';
    else if (this.state === 'renewing') this.state = 'granted';
    else if (this.state === 'retrying') this.state = 'refused';
  }

  /** `MaximumSubscriptionsExceeded`: only poll until a retry (with backoff) is granted. */
  onRefused(retryAfterMs: number): void {
    if (this.state === 'stopped') return;
    this.state = 'refused';
    this.host.upstreamsChanged();
    this.requestLater(this.pacer.afterFailure(retryAfterMs));
    this.events.refused(retryAfterMs);
  }
}
