/**
 * The v2 responder's poll queue (protocol-v2.md §13.2; v1's `PollQueue`, per (link, scope)):
 *
 * - **One poll per (link, scope).** A requester has at most one poll of S in flight; a
 *   `PollRequest` for S that arrives while an earlier one for S from the same link is still
 *   queued replaces it, keeping its place in the round. A burst of polls costs one answer.
 * - **Bounded work per turn.** Queued polls are served round-robin over (link, scope) pairs, their
 *   walks advanced {@link WALK_CHUNK} commands at a time until {@link TURN_BUDGET_MS} of a turn is
 *   used; then the queue yields (`setImmediate`).
 * - **Work is counted.** The queue counts the chunks each walk ran so the server can charge its
 *   peer's token bucket ({@link WALK_COMMANDS_PER_TOKEN}); it charges nothing itself.
 *
 * The turn and walk constants are turn-budget.ts's (shared with the push pass).
 */
import type { PollRequest } from '../../protocol/messages-v2.js';
import type { PollJobV2 } from './poll-answer-cursor.js';
import { TURN_BUDGET_MS, WALK_CHUNK } from './turn-budget.js';

export { TURN_BUDGET_MS, WALK_CHUNK, WALK_COMMANDS_PER_TOKEN } from './turn-budget.js';

/** What the queue needs of one link's responder. */
export interface PollServerV2 {
  /** Admit a poll and begin its job, or refuse it (answered `Busy`, or dropped): null. */
  startPoll(req: PollRequest): PollJobV2 | null;
  /**
   * Answer a job whose walk is done. `visited` counts the walk's completed chunks of
   * {@link WALK_CHUNK} commands (a lower bound of the commands it visited; 0 for a continuation).
   */
  finishPoll(job: PollJobV2, visited: number): void;
  /** A newer poll of the same scope replaced `job` before it was answered (its walk so far is still charged). */
  abandonPoll(job: PollJobV2, visited: number): void;
}

interface Entry {
  server: PollServerV2;
  req: PollRequest;
  job: PollJobV2 | null;
  visited: number;
}

/** Per-engine queue of v2 polls waiting for an answer. */
export class PollQueueV2 {
  private readonly queue = new Map<string, Entry>();
  private readonly ids = new WeakMap<PollServerV2, number>();
  private nextId = 0;
  private scheduled = false;
  private closed = false;
  /** Polls replaced by a newer one for the same (link, scope) before they were answered. */
  superseded = 0;

  /** Queue `req` of `server`, replacing its poll of the same scope not yet answered. Returns whether one was replaced. */
  submit(server: PollServerV2, req: PollRequest): boolean {
    if (this.closed) return false;
    const key = `${this.idOf(server)}/${req.scope}`;
    const old = this.queue.get(key);
    if (old !== undefined) {
      this.superseded++;
      if (old.job !== null) server.abandonPoll(old.job, old.visited);
      // Keep its place in the round: replacing must not let a peer jump the queue either way.
      Object.assign(old, { req, job: null, visited: 0 });
      return true;
    }
    this.queue.set(key, { server, req, job: null, visited: 0 });
    this.schedule();
    return false;
  }

  /** Forget a server's queued polls (its link closed). */
  drop(server: PollServerV2): void {
    const id = this.ids.get(server);
    if (id === undefined) return;
    for (const k of [...this.queue.keys()]) if (k.startsWith(`${id}/`)) this.queue.delete(k);
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

  private idOf(s: PollServerV2): number {
    let id = this.ids.get(s);
    if (id === undefined) this.ids.set(s, (id = this.nextId++));
    return id;
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
      const [key, e] = this.queue.entries().next().value as [string, Entry];
      this.queue.delete(key);
      if (e.job === null) {
        const job = e.server.startPoll(e.req);
        if (job === null) continue;
        e.job = job;
      }
      if (e.job.step(WALK_CHUNK)) e.server.finishPoll(e.job, e.visited);
      else {
        e.visited += WALK_CHUNK;
        this.queue.set(key, e); // to the back of the round
      }
    }
    this.schedule();
  }
}
