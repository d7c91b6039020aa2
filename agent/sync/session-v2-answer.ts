/**
 * The answers of one v2 session to its peer's polls (protocol-v2.md §10, §13.2), served from the
 * engine's {@link PollQueueV2} under the peer's token bucket, which all of the peer's scopes and
 * links share ({@link PeerBucketsV2}):
 *
 * - a poll that continues exactly where the previous answer for that (peer, S) stopped costs
 *   nothing and is never refused;
 * - any other poll that finds less than one whole token is refused with
 *   `Error{Busy, retry_after_ms = max(time until a token, next_poll_ms), scope}`;
 * - an answer with no item and `more` = false costs 1 token (one whose budget fit no item is not
 *   idle), and a fresh walk 1 token per {@link WALK_COMMANDS_PER_TOKEN} commands, charged even when
 *   a newer poll replaced it; the bucket may go into debt down to −capacity.
 *
 * Poll trains (§10.6): a poll with `train_bytes` > 0 from a peer that announced `PollTrain` is
 * answered, after its first answer, by the answers to the requests it would send next; each is
 * queued again behind the engine's other (link, scope) pairs (a train never starves them), is
 * never refused and costs only its walk (a continuation: nothing). A newer poll of the scope
 * replaces the queued continuation (the train is cut); the link closing drops it.
 */
import { MIN_POLL_BYTES } from '../../protocol/constants.js';
import { CAPABILITY_COMPACT_BATCH, CAPABILITY_POLL_TRAIN } from '../../protocol/constants-v2.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { SyncwireError } from '../../protocol/errors.js';
import type { PollRequest } from '../../protocol/messages-v2.js';
import type { PollJobV2 } from './poll-answer-cursor.js';
import { nextTrainRequest, startTrain, trainContinues, TRAIN_FIELD_BYTES, type TrainState } from './poll-train.js';
import { WALK_COMMANDS_PER_TOKEN, type PollServerV2 } from './poll-queue-v2.js';
import type { PeerRef } from './scope-host.js';
import { scopeKey } from './scope-table.js';
import type { ScopedSession } from './scoped-session.js';
import type { SessionV2Host } from './session-v2-host.js';

/** One session's side of the engine's poll queue. */
export class SessionV2Answers implements PollServerV2 {
  private stopped = false;
  /** The train each queued continuation (and each first request of a train) belongs to. */
  private readonly trains = new WeakMap<PollRequest, TrainState>();
  /** Answers 2 … n of trains sent (for tests and status). */
  trainAnswers = 0;

  constructor(
    private readonly host: SessionV2Host,
    private readonly s: ScopedSession,
    private readonly peerRef: () => PeerRef,
    private readonly unknownScope: (n: number) => void,
  ) {}

  /** A `PollRequest` arrived: checked, then queued (one per scope; a newer one replaces it). */
  onPoll(req: PollRequest): void {
    const s = this.s;
    const id = s.table.scopeOfMine(req.scope);
    if (id === undefined) return this.unknownScope(req.scope);
    const theirs = s.table.theirs.get(scopeKey(id));
    if (this.host.hostOf(id) === undefined || theirs === undefined) return; // a join still being set up: nothing to give yet
    if (req.max_bytes < MIN_POLL_BYTES) return s.sendError('Malformed', `max_bytes ${req.max_bytes} is below ${MIN_POLL_BYTES}`, null, theirs);
    const train = startTrain(req, this.trainBytesOf(req), s.sendLimit);
    if (train !== null) this.trains.set(req, train);
    if (this.host.polls.submit(this, req)) s.stats.pollsSuperseded++;
  }

  /** The link closed: its queued polls are dropped. */
  stop(): void {
    this.stopped = true;
    this.host.polls.drop(this);
  }

  startPoll(req: PollRequest): PollJobV2 | null {
    if (this.stopped) return null;
    const s = this.s;
    // Routed again: the table may have changed while the poll was queued.
    const id = s.table.scopeOfMine(req.scope);
    const h = id === undefined ? undefined : this.host.hostOf(id);
    const theirs = id === undefined ? undefined : s.table.theirs.get(scopeKey(id));
    if (id === undefined || h === undefined || theirs === undefined) return null;
    let job: PollJobV2;
    try {
      job = h.beginAnswer(this.peerRef(), req);
    } catch (err) {
      if (!(err instanceof SyncwireError) || err.reason !== 'NotAMember') throw err;
      s.stats.notAMember++;
      s.sendError('NotAMember', 'not a member', null, theirs);
      s.table.close(id);
      s.announcer.flush();
      return null;
    }
    const train = this.trains.get(req);
    if (!job.continued && (train === undefined || train.answers === 0)) {
      const wait = this.bucket().wait(this.host.settings.now());
      if (wait > 0) {
        s.stats.pollsBusy++;
        s.sendError('Busy', 'polling faster than the pacing allows', Math.max(wait, this.host.hintMs(h)), theirs);
        return null;
      }
    }
    return job;
  }

  finishPoll(job: PollJobV2, visited: number): void {
    if (this.stopped) return;
    const s = this.s;
    const id = s.table.scopeOfMine(job.req.scope);
    const h = id === undefined ? undefined : this.host.hostOf(id);
    const theirs = id === undefined ? undefined : s.table.theirs.get(scopeKey(id));
    if (h === undefined || theirs === undefined) return this.abandonPoll(job, visited); // S closed meanwhile
    const train = this.trains.get(job.req);
    // A train answer's trailing fields must fit its budget too (the answer fit does not count them).
    const frameLimit = train === undefined ? s.sendLimit : train.budget - TRAIN_FIELD_BYTES;
    const compact = ((s.peerCaps ?? 0) & CAPABILITY_COMPACT_BATCH) !== 0; // commands in a compact batch (PROTOCOL.md §10.7)
    const { response: res, lastCommand } = h.finishAnswer(job, { scope: theirs, nextPollMs: this.host.hintMs(h), frameLimit, compact });
    const idle = res.items.length === 0 && res.batch === undefined && !res.more;
    const later = train !== undefined && train.answers > 0;
    // Answers 2 … n of a train cost their walk only (§13.2): they answer one poll already admitted.
    this.bucket().spend((idle && !later ? 1 : 0) + visited / WALK_COMMANDS_PER_TOKEN, this.host.settings.now());
    if (train === undefined) {
      s.send(res);
    } else {
      const answer = { ...res, batch: res.batch ?? null, train: true };
      const follows = trainContinues(train, res, encodeMessageV2(answer).length);
      answer.train = follows;
      s.send(answer);
      if (later) this.trainAnswers++;
      if (follows) {
        const next = nextTrainRequest(train, res, lastCommand);
        this.trains.set(next, train);
        this.host.polls.submit(this, next);
      }
    }
    s.stats.pollsAnswered++;
  }

  abandonPoll(_job: PollJobV2, visited: number): void {
    if (visited > 0) this.bucket().spend(visited / WALK_COMMANDS_PER_TOKEN, this.host.settings.now());
  }

  /** `T` of §10.6: the request's `train_bytes` when the peer announced `PollTrain`, else 0. */
  private trainBytesOf(req: PollRequest): number {
    const caps = this.s.peerCaps ?? 0;
    return (caps & CAPABILITY_POLL_TRAIN) === 0 ? 0 : (req.train_bytes ?? 0);
  }

  private bucket(): ReturnType<SessionV2Host['bucketOf']> {
    return this.host.bucketOf(this.s.peerId);
  }
}
