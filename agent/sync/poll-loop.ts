/**
 * The requester's poll loop towards one peer (PROTOCOL.md §8.2, §10.3): one poll in flight at a
 * time, the next sent at once while answers say `more` (pipelined: at most two answers held for
 * verification), a round ended when an answer says nothing is left, then the next poll after the
 * peer's pacing hint — or after the slow anti-entropy period while subscribed. Timeouts shrink the
 * next poll (the shaper) and back off; a link whose polls keep timing out is closed. Nothing spins.
 *
 * ```
 * stopped ──start──▶ idle ──pollNow──▶ in-flight ──answer / timeout / error──▶ idle
 *    ▲                 (a timer may be armed for the next poll: `pollScheduled`)      │
 *    └───────────────────────────────stop─────────────────────────────────────────────┘
 * ```
 */
import { sha256 } from '../../protocol/command.js';
import type { PollResponse } from '../../protocol/messages.js';
import type { ClientPacer } from './pacing.js';
import { pollRequestBody } from './poll-request.js';
import { PollShaper } from './poll-shaper.js';
import { OneShot } from './session-timers.js';
import type { RequesterHost } from './requester-host.js';

/** Where the poll loop stands. */
export type PollState =
  /** Not polling: the link is not up, or it is closing. */
  | 'stopped'
  /** No poll out; the next waits for its timer, or for held answers to be applied. */
  | 'idle'
  /** A poll awaits its answer (or its timeout). */
  | 'in-flight';

/** What the loop tells its requester. */
export interface PollLoopEvents {
  /** An answer's commands are applied; `more` as the answer said. */
  applied(more: boolean): void;
  /** A round ended with nothing missing; `rounds` counts them since start. */
  roundEnded(rounds: number): void;
  /** Whether we hold a push subscription with the peer (then polls are only anti-entropy). */
  subscribed(): boolean;
}

/** The poll loop of one session. */
export class PollLoop {
  state: PollState = 'stopped';
  /** Rounds completed with nothing left since start. */
  rounds = 0;
  /** `total` of the peer's last answer (commands it held), null before any. */
  peerTotal: number | null = null;
  /** Session number of the poll in flight (meaningful in `in-flight`). */
  private session = Math.floor(Math.random() * 0x7fffffff);
  /** Session of the last answer handled, -1 before any: a duplicated frame is ignored. */
  private answered = -1;
  private readonly pollTimer = new OneShot();
  private readonly timeoutTimer = new OneShot();
  /** The heads the peer last reported (sent back first in our sample). */
  private peerHeads: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private shaper: PollShaper | null = null;
  /** Answers received whose commands are still being verified or applied. */
  private backlog = 0;
  /** Id of the last command of the newest answer of this round (named as held), empty when none. */
  private frontier: Uint8Array = new Uint8Array(0);
  /** The newest answer said `more`. */
  private morePending = false;
  private timeouts = 0;
  /** When the peer's last round-ending `next_poll_ms` lets the next poll go (settings.now() time). */
  private paceUntil = 0;
  /** Orphans seen this round: the round then ends with a repair poll. */
  private roundOrphans = 0;
  private sentAt = 0;
  private requestBytes = 0;

  constructor(
    private readonly host: RequesterHost,
    private readonly pacer: ClientPacer,
    private readonly events: PollLoopEvents,
  ) {}

  /**
   * Ms until the pace of the peer's last `next_poll_ms` allows the next poll (0 when it already
   * does): a caller that brings the next poll forward (a refused subscription) waits at least this.
   */
  paceRemainingMs(): number {
    return Math.max(0, this.paceUntil - this.host.settings.now());
  }

  /** Whether nothing is out or held (a new subscription may reschedule the next poll). */
  get quiet(): boolean {
    return this.state === 'idle' && this.backlog === 0;
  }

  /** Begin with a poll now. */
  start(): void {
    this.state = 'idle';
    this.pollNow();
  }

  /** Stop every timer; the next start begins a new first round. Waiters resolve. */
  stop(): void {
    this.state = 'stopped';
    this.pollTimer.clear();
    this.timeoutTimer.clear();
    this.rounds = 0;
    this.release();
  }

  /** Resolves after the next round that ends with nothing missing (or when stopped). */
  syncOnce(): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.pollNow();
    });
  }

  /** For the snapshot. */
  view(): { pollScheduled: boolean; timeoutsInARow: number; backlog: number; morePending: boolean; budget: number | null } {
    return { pollScheduled: this.pollTimer.armed, timeoutsInARow: this.timeouts, backlog: this.backlog, morePending: this.morePending, budget: this.shaper?.budget ?? null };
  }

  /** Send a poll now unless one is in flight. */
  pollNow(): void {
    if (this.state !== 'idle') return;
    this.pollTimer.clear();
    const h = this.host;
    const room = h.answerRoom;
    const shaper = (this.shaper ??= new PollShaper(Math.min(h.settings.pollMaxBytes, room), h.settings.pollTimeoutMs, h.settings.pollTimeoutMsPerByte, room));
    this.session = (this.session + 1) >>> 0;
    this.state = 'in-flight';
    const body = pollRequestBody(h.store, this.session, shaper, this.peerHeads, this.frontier);
    this.requestBytes = body.length;
    this.sentAt = performance.now();
    h.sendFrame(body);
    // Unless the send closed the link (sealed sequence numbers used up): then it is stopped.
    if (this.state === 'in-flight') this.timeoutTimer.arm(shaper.timeoutMs(body.length), () => this.timedOut(shaper));
  }

  /**
   * An answer arrived; `bytes` is its encoded size. While `more` is set the next poll goes out at
   * once — before this answer is verified — unless an earlier answer is still held too.
   */
  onAnswer(res: PollResponse, bytes: number): void {
    // A stale answer to a timed-out poll, or a duplicated frame of one already handled.
    if (this.state !== 'in-flight' || res.session !== this.session || res.session === this.answered) return;
    const h = this.host;
    this.answered = res.session;
    this.state = 'idle';
    this.timeouts = 0;
    this.timeoutTimer.clear();
    this.pacer.succeeded();
    this.shaper?.answered(performance.now() - this.sentAt, this.requestBytes + bytes);
    // The next command did not fit: raise the budget, past the configured maximum if need be (§8.2).
    if (res.more && res.commands.length === 0) this.shaper?.fitNothing();
    if (res.heads.length > 0) this.peerHeads = res.heads;
    const last = res.commands[res.commands.length - 1];
    if (last !== undefined) this.frontier = sha256(last);
    this.backlog++;
    this.peerTotal = res.total;
    const arrivedAt = h.frameArrivedAt;
    const applied = h.ingest(res.commands, 'poll');
    // After ingest() queued the batch, so an observer awaiting the ingest sees it applied.
    h.pollAnswered({ commands: res.commands.length, more: res.more, total: res.total, nextPollMs: res.next_poll_ms });
    this.morePending = res.more;
    if (res.more && this.backlog < 2) this.pollNow();
    void applied.then((r) => {
      this.backlog--;
      if (res.commands.length > 0) h.applied(arrivedAt);
      this.events.applied(res.more);
      this.roundOrphans += r.orphaned;
      if (this.state === 'stopped') return;
      if (res.more) {
        if (this.morePending) this.pollNow(); // no-op when the pipelined poll is already out
        return;
      }
      if (this.backlog > 0) return; // a newer answer is still being applied; it ends the round
      this.endRound(res.next_poll_ms);
    });
  }

  /** The poll in flight failed (or the peer is busy): back off and poll again. */
  fail(retryAfterMs: number): void {
    if (this.state === 'stopped') return;
    this.state = 'idle';
    this.timeoutTimer.clear();
    this.schedule(this.pacer.afterFailure(retryAfterMs));
  }

  /** A re-handshake completed: a poll in flight may be lost with the peer's restart; poll again now. */
  relinked(): void {
    if (this.state !== 'in-flight') return;
    this.state = 'idle';
    this.timeoutTimer.clear();
    this.pollNow();
  }

  /** Poll after `ms` (replacing an earlier timer). */
  schedule(ms: number): void {
    if (this.state !== 'stopped') this.pollTimer.arm(ms, () => this.pollNow());
  }

  private endRound(hintMs: number): void {
    this.paceUntil = this.host.settings.now() + hintMs;
    this.frontier = new Uint8Array(0);
    const orphans = this.roundOrphans;
    this.roundOrphans = 0;
    if (orphans > 0) return this.schedule(this.pacer.afterFailure());
    this.rounds++;
    this.events.roundEnded(this.rounds);
    this.release();
    const anti = this.host.settings.subscribedPollS * 1000;
    this.schedule(this.pacer.afterSuccess(this.events.subscribed() ? Math.max(anti, hintMs) : hintMs));
  }

  private timedOut(shaper: PollShaper): void {
    const h = this.host;
    if (this.state !== 'in-flight') return;
    this.state = 'idle';
    const dead = h.settings.deadAfterTimeouts;
    if (dead > 0 && ++this.timeouts >= dead) {
      h.log.warn({ peer: h.peerId, link: h.linkDescription, timeouts: this.timeouts }, 'peer answers no polls; closing the link');
      void h.close();
      return;
    }
    shaper.timedOut();
    h.log.debug({ peer: h.peerId, budget: shaper.budget }, 'poll timed out');
    this.schedule(this.pacer.afterTimeout());
  }

  private release(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
