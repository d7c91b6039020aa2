/**
 * The responder's work queue: bounds what polls may cost the event loop.
 *
 * - **One poll per link.** A requester has at most one poll in flight (PROTOCOL.md §8.2); a
 *   `PollRequest` that arrives while an earlier one from the same link is still queued replaces
 *   it — the earlier one is never answered (its requester has moved on to the newer session).
 *   A burst of 2,000 polls in one TCP write therefore costs one answer, not 2,000.
 * - **Bounded work per turn.** Queued polls are served round-robin, their graph walks advanced
 *   {@link WALK_CHUNK} commands at a time, until {@link TURN_BUDGET_MS} of a turn is used; then
 *   the queue yields (`setImmediate`) so I/O, timers, other peers and local commits run between
 *   chunks of a big walk.
 * - **Work is charged.** The session charges its peer's token bucket by the walk's size (see
 *   `PeerSession.finishPoll`), so a peer forcing fresh walks is throttled like one polling idly.
 */
import type { PollRequest } from '../../protocol/messages.js';
import type { PollJob } from './poll-responder.js';

import { TURN_BUDGET_MS, WALK_CHUNK } from './turn-budget.js';

export { TURN_BUDGET_MS, WALK_CHUNK, WALK_COMMANDS_PER_TOKEN } from './turn-budget.js';

/** What the queue needs from a session. */
export interface PollServer {
  /** Admit a poll and begin its job, or refuse it (answered or dropped by the session): null. */
  startPoll(req: PollRequest): PollJob | null;
  /** Answer a job whose walk is done. */
  finishPoll(job: PollJob): void;
  /** Work thrown away because a newer poll replaced this job (charged like finished work). */
  abandonPoll(job: PollJob): void;
}

interface Entry {
  req: PollRequest;
  job: PollJob | null;
}

/** Per-engine queue of polls waiting for an answer. */
export class PollQueue {
  private readonly queue = new Map<PollServer, Entry>();
  private scheduled = false;
  private closed = false;
  /** Polls replaced by a newer one from the same link before they were answered. */
  superseded = 0;

  /** Queue `req`, replacing any poll of the same server not yet answered. Returns whether one was replaced. */
  submit(s: PollServer, req: PollRequest): boolean {
    if (this.closed) return false;
    const old = this.queue.get(s);
    if (old !== undefined) {
      this.superseded++;
      if (old.job !== null) s.abandonPoll(old.job);
      // Keep its place in the round: replacing must not let a peer jump the queue either way.
      old.req = req;
      old.job = null;
      return true;
    }
    this.queue.set(s, { req, job: null });
    this.schedule();
    return false;
  }

  /** Forget a server's queued poll (its link closed). */
  drop(s: PollServer): void {
    this.queue.delete(s);
  }

  /** Number of polls waiting. */
  get size(): number {
    return this.queue.size;
  }

  /** Stop serving; queued polls are dropped. */
  close(): void {
    this.closed = true;
    this.queue.clear();
  }

  private schedule(): void {
    if (this.scheduled || this.closed || this.queue.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.turn();
    });
  }

  /** Serve round-robin until the turn's budget is used; then yield. */
  private turn(): void {
    const start = performance.now();
    while (this.queue.size > 0 && performance.now() - start < TURN_BUDGET_MS) {
      const [s, entry] = this.queue.entries().next().value as [PollServer, Entry];
      this.queue.delete(s);
      if (entry.job === null) {
        const job = s.startPoll(entry.req);
        if (job === null) continue;
        entry.job = job;
      }
      if (entry.job.step(WALK_CHUNK)) s.finishPoll(entry.job);
      else this.queue.set(s, entry); // to the back of the round
    }
    this.schedule();
  }
}
