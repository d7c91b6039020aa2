/**
 * The requester's poll loop for one (link, scope) of protocol v2 (docs/design/v2-scopes.md §3.9,
 * protocol-v2.md §10.2, §13.3): one poll in flight at a time; the next at once while an answer
 * says `more`; after a round that ends with nothing left, the next poll after the responder's
 * `next_poll_ms` (jittered and clamped by the {@link ClientPacer}, as v1's loop); after a
 * timeout, an `Error` for the scope, or a round that left orphans, exponential backoff. Started
 * when S becomes active on the link, stopped when it becomes inactive or the link closes.
 *
 * ```
 * stopped ──start──▶ idle ──poll──▶ in-flight ──answer applied (more: poll at once)──▶ idle
 *    ▲                 (a timer may be armed)      └──timeout / Error──▶ idle (backoff)
 *    └──────────────────────────── stop (S inactive, link closed) ────────────────────┘
 * ```
 *
 * Budgets: `maxBytes` as configured; an answer that fit nothing (`more`, no item) raises it to at
 * least `POLL_FIT_ANY_BYTES_V2` (1,391), which fits any one item (§3.9). No poll shaping to the
 * line in this step (the budget does not shrink after timeouts).
 *
 * While S is push-subscribed on the link ({@link ScopePollLoop.slowMs} set), a round that ends
 * with nothing left waits `max(slowMs, next_poll_ms)` instead: the anti-entropy poll of
 * protocol-v2.md §11.4 that repairs what a lost push left behind. A pushed command that could not
 * be placed asks for a poll soon ({@link ScopePollLoop.pollSoon}, §11.8).
 *
 * Poll trains (§10.6): answers with `train` = true keep the poll outstanding; each is taken in as
 * it arrives while the next ones travel (the loop's answers are taken in one after another, in
 * arrival order), the timeout is re-armed for the next answer, and the answer with `train` =
 * false answers the poll as above, with the orphans of the whole train.
 *
 * The loop itself never gives up; its host hook {@link ScopePollHost.timedOut} feeds the session's
 * dead-link watchdog (link-watchdog.ts), which closes a link on which one scope's polls went
 * unanswered `deadAfterTimeouts` times in a row while nothing at all was heard from the peer.
 */
import { POLL_FIT_ANY_BYTES_V2 } from '../../protocol/constants-v2.js';
import type { PollRequest, PollResponse } from '../../protocol/messages-v2.js';
import type { ClientPacer } from './pacing.js';
import { OneShot } from './session-timers.js';

/** Where one (link, scope) poll loop stands. */
export type ScopePollState =
  /** Not polling: S is not active on the link, or the link closed. */
  | { kind: 'stopped' }
  /** No poll out; a timer may be armed for the next one. */
  | { kind: 'idle' }
  /**
   * Poll `session` is out; `applying` once its (last) answer arrived and is being taken in;
   * `answers` of it arrived so far (more than one: a train), `orphaned` by those taken in.
   */
  | { kind: 'in-flight'; session: number; applying: boolean; answers: number; orphaned: number; failed: boolean };

/** What the loop needs of its session and scope. */
export interface ScopePollHost {
  /** This host's poll of the peer for S, numbered `session`, within `maxBytes`; null when S is no longer active. */
  request(session: number, maxBytes: number): PollRequest | null;
  /** Send the poll on the link. */
  send(req: PollRequest): void;
  /**
   * Take the peer's answer in (records, gap marker, commands); resolves with how many commands
   * wait as orphans and, for an answer with `more` = false, whether its heads name a command this
   * host lacks that the answer did not carry (`behind`: the responder left it out, §13.3).
   */
  accept(res: PollResponse): Promise<{ orphaned: number; behind?: boolean }>;
  /** Poll timeout for a budget of `maxBytes`, ms. */
  timeoutMs(maxBytes: number): number;
  /** A poll failed to be accepted (a store error); logged by the host, the loop backs off. */
  failed(err: unknown): void;
  /** A round ended with nothing left (`more` = false) and its answer was taken in. */
  completed?(): void;
  /**
   * The poll in flight timed out (once per timeout, after the loop armed its backoff): the
   * session's dead-link count (`LinkWatchdog`, link-watchdog.ts). It may close the link, which stops the loop.
   */
  timedOut?(): void;
}

/** One (link, scope) poll loop. */
export class ScopePollLoop {
  state: ScopePollState = { kind: 'stopped' };
  /** Polls sent since creation. */
  polls = 0;
  /** Polls that timed out since creation. */
  timeouts = 0;
  /** Rounds completed (an answer with `more` = false taken in) since creation. */
  rounds = 0;
  /** While set (S is push-subscribed), the least wait between rounds, ms (anti-entropy). */
  slowMs: number | null = null;
  private session = Math.floor(Math.random() * 0x7fffffff);
  private budget: number;
  private readonly timer = new OneShot();
  private readonly timeout = new OneShot();
  /** The answers being taken in, one after another (a train's answer k + 1 waits for answer k). */
  private chain: Promise<unknown> = Promise.resolve();
  /** Answers with `train` = true received since creation. */
  trainAnswers = 0;
  /** {@link pollSoon} asked while a poll was out: the longest wait after that round, ms. */
  private soonMs: number | null = null;
  /** Rounds in a row that ended `behind` (their heads named commands this host lacks and did not get). */
  private behindRounds = 0;

  /** @param maxBytes the configured poll budget (`max_bytes`), already within the frame limit. */
  constructor(
    private readonly host: ScopePollHost,
    private readonly pacer: ClientPacer,
    private readonly maxBytes: number,
  ) {
    this.budget = maxBytes;
  }

  /** S became active: poll now (a no-op unless stopped). */
  start(): void {
    if (this.state.kind !== 'stopped') return;
    this.state = { kind: 'idle' };
    this.pollNow();
  }

  /** S became inactive or the link closed: no timer, no poll; an answer still arriving is ignored. */
  stop(): void {
    this.state = { kind: 'stopped' };
    this.timer.clear();
    this.timeout.clear();
  }

  /** Send a poll now unless one is out (or the loop is stopped). */
  pollNow(): void {
    if (this.state.kind !== 'idle') return;
    this.timer.clear();
    this.soonMs = null; // this poll restates the frontier: it brings what the caller of pollSoon lacks
    this.session = (this.session + 1) >>> 0;
    const req = this.host.request(this.session, this.budget);
    if (req === null) return this.stop();
    const session = this.session;
    this.state = { kind: 'in-flight', session, applying: false, answers: 0, orphaned: 0, failed: false };
    this.polls++;
    this.host.send(req);
    // Unless the send closed the link (and so stopped this loop).
    if (this.state.kind === 'in-flight') this.timeout.arm(this.host.timeoutMs(this.budget), () => this.timedOut(session));
  }

  /**
   * S was push-subscribed (`ms`: the anti-entropy period) or no longer is (null). Subscribed and
   * idle: the poll already armed becomes the anti-entropy one (pushes bring what is new).
   */
  setSlow(ms: number | null): void {
    this.slowMs = ms;
    if (ms !== null && this.state.kind === 'idle') this.timer.arm(ms, () => this.pollNow());
  }

  /**
   * Poll after at most `ms` (a pushed command waits for its parents, a push was dropped: §11.8).
   * With a poll out, which was sent before whatever asks and may not bring it, the round's end
   * waits at most `ms` for the next poll.
   */
  pollSoon(ms: number): void {
    if (this.state.kind === 'stopped') return;
    if (this.state.kind === 'idle') return this.timer.arm(ms, () => this.pollNow());
    this.soonMs = Math.min(this.soonMs ?? ms, ms);
  }

  /**
   * The peer's `PollResponse` for S. A stale or repeated one (another session, or after the
   * answer that ended the poll) is ignored.
   */
  onResponse(res: PollResponse): void {
    const st = this.state;
    if (st.kind !== 'in-flight' || st.applying || res.session !== st.session) return;
    const last = res.train !== true;
    st.answers++;
    this.timeout.clear();
    this.pacer.succeeded();
    if (last) st.applying = true;
    else {
      this.trainAnswers++;
      const session = st.session;
      this.timeout.arm(this.host.timeoutMs(this.budget), () => this.timedOut(session));
    }
    if (res.more && res.items.length === 0) this.budget = Math.max(this.budget, POLL_FIT_ANY_BYTES_V2);
    const run = this.chain.then(() => (st.failed ? null : this.host.accept(res)));
    this.chain = run.catch(() => undefined);
    run.then(
      (r) => {
        if (r === null) return;
        st.orphaned += r.orphaned;
        if (last) this.applied(st, res, st.orphaned, r.behind === true);
      },
      (err: unknown) => {
        st.failed = true; // the train's later answers are not taken in
        this.host.failed(err);
        if (this.state === st) this.backOff(0);
      },
    );
  }

  /** An `Error` naming S arrived (Busy, UnknownScope, NotAMember, …): back off, never below `retryAfterMs`. */
  onError(retryAfterMs: number | null): void {
    const st = this.state;
    if (st.kind !== 'in-flight' || st.applying || st.answers > 0) return; // a train is never refused midway
    this.timeout.clear();
    this.backOff(retryAfterMs ?? 0);
  }

  private applied(st: ScopePollState, res: PollResponse, orphaned: number, behind: boolean): void {
    if (this.state !== st) return; // stopped meanwhile
    const idle: ScopePollState = { kind: 'idle' };
    this.state = idle;
    if (res.more) return this.pollNow();
    this.rounds++;
    this.host.completed?.();
    if (this.state !== idle) return; // the hook stopped the loop or polled
    // Orphans: their parents may come from a later answer or another peer; ask again soon, not at once.
    let wait: number;
    if (orphaned > 0) wait = this.pacer.afterFailure();
    else if (this.slowMs !== null) wait = Math.max(this.slowMs, res.next_poll_ms); // not the pacer: its cap is for failures
    else wait = this.pacer.afterSuccess(res.next_poll_ms);
    // The responder holds commands it did not send (§10.3 step 3a left them out while it could not
    // see where the two stand): ask again soon, backing off, since the next poll may name more.
    if (behind && orphaned === 0) wait = Math.min(wait, this.pacer.soon(this.behindRounds++));
    else this.behindRounds = 0;
    if (this.soonMs !== null) wait = Math.min(wait, this.soonMs);
    this.timer.arm(wait, () => this.pollNow());
  }

  private timedOut(session: number): void {
    const st = this.state;
    if (st.kind !== 'in-flight' || st.session !== session || st.applying) return;
    this.timeouts++;
    this.state = { kind: 'idle' };
    this.timer.arm(this.pacer.afterTimeout(), () => this.pollNow());
    this.host.timedOut?.(); // last: closing the link stops this loop, the timer just armed included
  }

  private backOff(retryAfterMs: number): void {
    this.state = { kind: 'idle' };
    this.timer.arm(this.pacer.afterFailure(retryAfterMs), () => this.pollNow());
  }
}
