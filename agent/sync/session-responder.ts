/**
 * The responder role of one session (PROTOCOL.md §8.1, §9, §10.2): admit the peer's polls through
 * the engine's poll queue under a token bucket, and manage the peer's subscription. It sees the
 * session only through {@link ResponderSession} and the engine through {@link ResponderEngine}, so
 * it does not care whether the link is sealed.
 */
import { MIN_POLL_BYTES } from '../../protocol/constants.js';
import type { ReasonName } from '../../protocol/errors.js';
import type { Message, PollRequest, Subscribe } from '../../protocol/messages.js';
import { TokenBucket } from './pacing.js';
import { WALK_COMMANDS_PER_TOKEN, type PollServer } from './poll-queue.js';
import type { PollJob } from './poll-responder.js';
import type { SessionHost } from './session-host.js';

/** What the responder needs of the engine. */
export type ResponderEngine = Pick<SessionHost, 'settings' | 'learnKey' | 'submitPoll' | 'beginPoll' | 'finishPoll' | 'pollHintMs' | 'subscribe' | 'unsubscribe'>;

/** What the responder needs of its session. */
export interface ResponderSession {
  readonly peerId: string;
  /** The link is up and open. */
  readonly live: boolean;
  /** The link is above its high-water mark. */
  readonly blocked: boolean;
  /** Largest message we may send this peer (sealing overhead taken off). */
  readonly sendLimit: number;
  readonly stats: { polledCommands: number; pollsDeferred: number; pollsSuperseded: number };
  send(msg: Message): void;
  sendError(reason: ReasonName, message: string, retryAfterMs: number | null): void;
}

/** Answers one peer's polls and holds its subscription. */
export class SessionResponder implements PollServer {
  private readonly bucket: TokenBucket;

  constructor(
    private readonly e: ResponderEngine,
    private readonly s: ResponderSession,
  ) {
    const b = e.settings.pollBucket;
    this.bucket = new TokenBucket(b.capacity, b.perSecond, e.settings.now());
  }

  /** A request of the peer's. Returns false when `msg` is not one (the caller handles it). */
  handle(msg: Message): boolean {
    switch (msg.type) {
      case 'PollRequest':
        this.onPollRequest(msg);
        return true;
      case 'Subscribe':
        this.onSubscribe(msg);
        return true;
      case 'Unsubscribe':
        this.e.unsubscribe(this.s.peerId);
        return true;
      case 'Keys':
        for (const k of msg.keys) this.e.learnKey(k);
        return true;
      default:
        return false;
    }
  }

  private onPollRequest(req: PollRequest): void {
    if (req.max_bytes < MIN_POLL_BYTES) {
      this.s.sendError('Malformed', `max_bytes below ${MIN_POLL_BYTES}`, null);
      return;
    }
    // Answered from the engine's poll queue: one poll per link, bounded work per turn.
    if (this.e.submitPoll(this, req)) this.s.stats.pollsSuperseded++;
  }

  /** {@link PollServer}: admit a queued poll (the queue's turn has come). */
  startPoll(req: PollRequest): PollJob | null {
    if (!this.s.live) return null;
    if (this.s.blocked) {
      // The link is above its high-water mark: an answer would queue behind what is already
      // waiting and reach the requester after it gave up (bufferbloat on a slow lossy line). Let
      // the poll time out; the requester retries smaller once the queue has drained.
      this.s.stats.pollsDeferred++;
      return null;
    }
    const job = this.e.beginPoll(this.s.peerId, req);
    // A poll that continues where the last answer stopped is progress and never refused; any
    // other needs a token (it may be idle, or walk the graph), and is refused while in debt.
    if (!job.continued) {
      const wait = this.bucket.wait(this.e.settings.now());
      if (wait > 0) {
        this.s.sendError('Busy', 'polling faster than the pacing hint', Math.max(wait, this.e.pollHintMs()));
        return null;
      }
    }
    return job;
  }

  /**
   * {@link PollServer}: answer a job whose walk is done, and charge the work (§10.2): one token
   * for an answer with nothing to send and nothing left out (an idle poll; an answer whose
   * budget fit no command is not one), plus the fresh walk's size.
   */
  finishPoll(job: PollJob): void {
    if (!this.s.live) return;
    const res = this.e.finishPoll(job, this.s.sendLimit);
    const idle = res.commands.length === 0 && !res.more;
    this.bucket.spend((idle ? 1 : 0) + job.visited / WALK_COMMANDS_PER_TOKEN, this.e.settings.now());
    this.s.stats.polledCommands += res.commands.length;
    this.s.send(res);
  }

  /** {@link PollServer}: a newer poll replaced `job`; its walk so far is still charged. */
  abandonPoll(job: PollJob): void {
    this.bucket.spend(job.visited / WALK_COMMANDS_PER_TOKEN, this.e.settings.now());
  }

  private onSubscribe(sub: Subscribe): void {
    const r = this.e.subscribe(this.s.peerId, sub);
    if (!r.granted) return this.s.sendError('MaximumSubscriptionsExceeded', `all ${r.capacity} subscription slots in use`, r.retryAfterMs);
    this.s.send({ type: 'SubscribeAck', remain_open: r.remainOpenS, max_bytes: sub.max_bytes });
  }
}
