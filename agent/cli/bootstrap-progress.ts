/**
 * Bootstrap progress of a v2 node, per (peer, scope). A bootstrap of scope S from peer P starts
 * when an answer of P for S (the engine's `poll-answer` event) has `more` = true and a `total` (the
 * commands P retains in S, PROTOCOL.md §10) above what this host retains of S once that answer is
 * in; it finishes with P's next answer for S that has `more` = false (logged once S's ingest is
 * idle), and is interrupted when P's link goes down or the reporter stops. Several run at once:
 * one per (peer, scope), so at most links × scopes.
 *
 * Log lines (`peer` the remote peer id, `scope` the scope's name as status shows it):
 * - `bootstrap started` (info) {peer, scope, have, total}
 * - `bootstrap progress` (info) {peer, scope, have, total, commands, bytes, durationMs}: every
 *   `intervalMs` (default 10 s) while it lasts, also when nothing arrived (a stall shows as such)
 * - `bootstrap finished` (info) {…the same}: P said it has no more
 * - `bootstrap interrupted` (warn) {…the same, reason}: `'peer down'` or `'shutdown'`
 *
 * `have` is what this host retains of S now, `total` P's count from its latest answer, `commands`
 * and `bytes` what P's answers appended here since the start (the starting answer's included;
 * encoded bytes, as stored), `durationMs` the time since the start. Log lines only, on a terminal
 * too: the JSON log shares stderr, where a redrawn bar would be torn by every other line.
 */
import type { Logger } from '../node/log.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import type { PollAnswered } from '../sync/engine-events.js';
import { retainedCount } from '../sync/poll-answer-fit.js';
import { realScheduler, type Scheduler } from '../sync/scope-announcer.js';

/** A scope as the reporter reads it: its retained count and the end of the ingest in flight. */
export interface ProgressScope {
  store: ScopeStoreReader;
  ingest: { idle(): Promise<void> };
}

/** What the reporter needs of the engine: an `EngineV2`, or a stand-in in tests. */
export interface ProgressSource {
  on(event: 'poll-answer', listener: (a: PollAnswered) => void): unknown;
  on(event: 'peer-down', listener: (peerId: string) => void): unknown;
  off(event: 'poll-answer', listener: (a: PollAnswered) => void): unknown;
  off(event: 'peer-down', listener: (peerId: string) => void): unknown;
  /** The scope held under `name`, if any. */
  scope(name: string): ProgressScope | undefined;
}

/** Options of {@link BootstrapProgress}. */
export interface BootstrapProgressOptions {
  /** Where the lines go. */
  log: Logger;
  /** Least time between two progress lines of one bootstrap, ms. Default 10 000. */
  intervalMs?: number;
  /** Clock for `durationMs`, ms. Default `Date.now`. */
  now?: () => number;
  /** Timers of the progress lines. Default real timers, unref'd (they never keep the process up). */
  scheduler?: Scheduler;
}

/** One bootstrap in progress. */
interface Run {
  peer: string;
  scope: string;
  total: number;
  commands: number;
  bytes: number;
  startedAt: number;
  cancel: () => void;
}

type Outcome = 'progress' | 'finished' | 'interrupted';

/** Reports every bootstrap of the engine as log lines; {@link stop} on shutdown. */
export class BootstrapProgress {
  private readonly runs = new Map<string, Run>();
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly scheduler: Scheduler;
  private readonly onAnswer = (a: PollAnswered): void => this.answer(a);
  private readonly onDown = (peer: string): void => {
    for (const [key, run] of this.runs) if (run.peer === peer) this.end(key, run, 'interrupted', 'peer down');
  };

  /** Start listening to `engine`'s `poll-answer` and `peer-down` events. */
  constructor(
    private readonly engine: ProgressSource,
    private readonly o: BootstrapProgressOptions,
  ) {
    this.intervalMs = o.intervalMs ?? 10_000;
    this.now = o.now ?? Date.now;
    this.scheduler = o.scheduler ?? realScheduler;
    engine.on('poll-answer', this.onAnswer);
    engine.on('peer-down', this.onDown);
  }

  /** Bootstraps in progress. */
  get active(): number {
    return this.runs.size;
  }

  /** Stop listening; each bootstrap still running is logged as interrupted ('shutdown'). Idempotent. */
  stop(): void {
    this.engine.off('poll-answer', this.onAnswer);
    this.engine.off('peer-down', this.onDown);
    for (const [key, run] of this.runs) this.end(key, run, 'interrupted', 'shutdown');
  }

  private answer(a: PollAnswered): void {
    const key = `${a.peer}/${a.scopeId}`;
    let run = this.runs.get(key);
    if (run === undefined) {
      if (!a.more || a.total <= this.haveOf(a.scope)) return;
      run = this.begin(key, a);
    } else {
      run.total = a.total;
      run.commands += a.commands;
      run.bytes += a.bytes;
    }
    if (a.more) return;
    // The round is over. Its commands are in once the scope's ingest is idle; a new round of P
    // starting meanwhile is a new bootstrap, so the run leaves the map (and its timer stops) now.
    const done = run;
    this.runs.delete(key);
    done.cancel();
    const idle = this.engine.scope(a.scope)?.ingest.idle() ?? Promise.resolve();
    void idle.then(() => this.line(done, 'finished'));
  }

  private begin(key: string, a: PollAnswered): Run {
    const run: Run = { peer: a.peer, scope: a.scope, total: a.total, commands: a.commands, bytes: a.bytes, startedAt: this.now(), cancel: () => undefined };
    this.runs.set(key, run);
    this.o.log.info({ peer: run.peer, scope: run.scope, have: this.haveOf(run.scope), total: run.total }, 'bootstrap started');
    const tick = (): void => {
      if (this.runs.get(key) !== run) return;
      this.line(run, 'progress');
      run.cancel = this.scheduler.after(this.intervalMs, tick);
    };
    run.cancel = this.scheduler.after(this.intervalMs, tick);
    return run;
  }

  private end(key: string, run: Run, how: Outcome, reason: string): void {
    this.runs.delete(key);
    run.cancel();
    this.line(run, how, reason);
  }

  private line(run: Run, how: Outcome, reason?: string): void {
    const fields = {
      peer: run.peer, scope: run.scope, have: this.haveOf(run.scope), total: run.total,
      commands: run.commands, bytes: run.bytes, durationMs: this.now() - run.startedAt,
      ...(reason === undefined ? {} : { reason }),
    };
    if (how === 'interrupted') this.o.log.warn(fields, 'bootstrap interrupted');
    else this.o.log.info(fields, `bootstrap ${how}`);
  }

  /** Commands this host retains of the scope (comparable to a peer's `total`); 0 when not held. */
  private haveOf(scope: string): number {
    const s = this.engine.scope(scope);
    return s === undefined ? 0 : retainedCount(s.store);
  }
}
