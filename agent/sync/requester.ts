/**
 * The requester side of a session: its {@link PollLoop} and its {@link Subscription}, and the few
 * rules between them — subscribe once the first round found nothing missing; while subscribed,
 * polls are only the slow anti-entropy ones; a refused subscription polls again soon; a push whose
 * parents we lack (an earlier push was lost) is repaired by a poll. Errors from the peer go to the
 * part they concern. Everything is paced by one {@link ClientPacer}: jitter, caps and backoff.
 */
import { ReasonCode } from '../../protocol/errors.js';
import type { PollResponse, Push } from '../../protocol/messages.js';
import type { ClientPacer } from './pacing.js';
import { PollLoop } from './poll-loop.js';
import type { RequesterHost } from './requester-host.js';
import type { RequesterSnapshot } from './requester-snapshot.js';
import { Subscription } from './subscription.js';

/** Wait before a repair poll after a push with missing parents (the parent may be on its way from another peer). */
export const REPAIR_DELAY_MS = 200;

/** Requester state for one peer. */
export class Requester {
  readonly poll: PollLoop;
  readonly subscription: Subscription;
  /** Epoch ms (engine clock) of the last completed sync: an answer saying no more, or a push, applied. */
  lastSyncMs: number | null = null;

  constructor(
    private readonly host: RequesterHost,
    pacer: ClientPacer,
  ) {
    this.subscription = new Subscription(host, pacer, {
      granted: (first) => {
        // The poll after the first round was scheduled at the unsubscribed pace; pushes now carry
        // new commands, so the next poll is only the slow anti-entropy one.
        if (first && this.poll.quiet) this.poll.schedule(pacer.afterSuccess(host.settings.subscribedPollS * 1000));
      },
      // Back to polling soon (the subscribed pace was the slow anti-entropy one), but never faster
      // than the peer's last next_poll_ms (PROTOCOL.md §9.2: the hint paces only the Subscribe).
      refused: (retry) => this.poll.schedule(Math.max(Math.min(retry || 1000, 60000), this.poll.paceRemainingMs())),
    });
    this.poll = new PollLoop(host, pacer, {
      applied: (more) => {
        if (!more) this.lastSyncMs = host.settings.now();
      },
      roundEnded: (rounds) => {
        if (rounds === 1 && this.subscription.wanted) this.subscription.request();
      },
      subscribed: () => this.subscription.granted,
    });
  }

  /** Whether the peer pushes to us now. */
  get subscribed(): boolean {
    return this.subscription.granted;
  }

  /** Whether this peer is (or is about to be) one of our upstreams (named in `via` elsewhere). */
  get upstream(): boolean {
    return this.subscription.upstream;
  }

  /** The link is up: poll; the first round's end subscribes. */
  start(): void {
    this.subscription.start();
    this.poll.start();
  }

  /** The link closed. */
  stop(): void {
    this.poll.stop();
    this.subscription.stop();
  }

  /** Resolves after the next round that ends with nothing missing (or when stopped). */
  syncOnce(): Promise<void> {
    return this.poll.syncOnce();
  }

  /** Poll now unless a poll is out (diagnostics, benches). */
  pollNow(): void {
    this.poll.pollNow();
  }

  /** Our upstream set changed: re-send `Subscribe` (debounced) so `via` stays true. */
  resubscribeSoon(): void {
    if (!this.subscription.wanted || this.poll.state === 'stopped' || this.poll.rounds === 0) return;
    this.subscription.requestLater(50);
  }

  /**
   * A re-handshake completed (PROTOCOL.md §7.5): the peer may have restarted, losing our
   * subscription and the poll in flight. Poll again now if one was out (a late answer to it is
   * stale and ignored), and renew the subscription soon.
   */
  relinked(): void {
    if (this.poll.state === 'stopped') return;
    this.poll.relinked();
    this.resubscribeSoon();
  }

  onPollResponse(res: PollResponse, bytes: number): void {
    this.poll.onAnswer(res, bytes);
  }

  onPush(p: Push): void {
    this.subscription.onPush(p);
    const arrivedAt = this.host.frameArrivedAt;
    void this.host.ingest(p.commands, 'push').then((r) => {
      this.host.applied(arrivedAt);
      this.lastSyncMs = this.host.settings.now();
      // A push whose parents we lack means an earlier push was lost: repair by polling.
      if (r.orphaned > 0) this.poll.schedule(REPAIR_DELAY_MS);
    });
  }

  onSubscribeAck(granted: number, maxBytes: number): void {
    this.subscription.onAck(granted, maxBytes);
  }

  /** The peer sent an `Error`. */
  onError(code: number, retryAfterMs: number | null): void {
    const retry = retryAfterMs ?? 0;
    switch (code) {
      case ReasonCode.BudgetExhausted:
        return this.subscription.onBudgetExhausted();
      case ReasonCode.Unauthorized:
        // A refused peer closes the link; short of that this is our Auth still on its way.
        this.subscription.onUnauthorized();
        if (this.poll.state === 'in-flight') this.poll.fail(retry);
        return;
      case ReasonCode.MaximumSubscriptionsExceeded:
        return this.subscription.onRefused(retry);
      case ReasonCode.Busy:
        return this.poll.fail(retry);
      case ReasonCode.UnsupportedVersion:
        // The peer cannot talk to us; it closes the link, and the transport decides whether to redial.
        return this.stop();
      default:
        if (this.poll.state === 'in-flight') this.poll.fail(retry);
    }
  }

  /** What `status` shows of the requester. */
  snapshot(): RequesterSnapshot {
    const s = this.subscription.state;
    return {
      poll: this.poll.state,
      subscription: s,
      stopped: this.poll.state === 'stopped',
      subscribed: this.subscription.granted,
      refused: s === 'refused' || s === 'retrying',
      rounds: this.poll.rounds,
      pollInFlight: this.poll.state === 'in-flight',
      ...this.poll.view(),
    };
  }
}
