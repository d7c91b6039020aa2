/**
 * The v2 bootstrap reporter (agent/cli/bootstrap-progress.ts) on a stand-in engine, fake clock,
 * fake timers and a capturing logger: started / progress (also while stalled) / finished /
 * interrupted lines per (peer, scope), two scopes at once, none when the peer holds no more.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { BootstrapProgress, type ProgressScope, type ProgressSource } from '../agent/cli/bootstrap-progress.js';
import type { Logger } from '../agent/node/log.js';
import type { ScopeStoreReader } from '../agent/store/scope-store-contract.js';
import type { PollAnswered } from '../agent/sync/engine-events.js';
import type { Scheduler } from '../agent/sync/scope-announcer.js';

interface Line {
  level: 'info' | 'warn';
  msg: string;
  fields: Record<string, unknown>;
}

/** A scope retaining `held` commands (handles 0..held-1, base 0) whose ingest is idle at once. */
class FakeScope implements ProgressScope {
  idleCalls = 0;
  private readonly counts = { size: 0, base: 0, isRetained: (): boolean => true };
  // The reporter reads only size, base and isRetained (retainedCount).
  readonly store = this.counts as unknown as ScopeStoreReader;
  readonly ingest = { idle: async (): Promise<void> => void this.idleCalls++ };
  set held(n: number) {
    this.counts.size = n;
  }
}

/** Timers advanced by hand. */
class FakeTimers implements Scheduler {
  now = 1_000;
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.now + ms, fn, live: true };
    this.timers.push(timer);
    return () => void (timer.live = false);
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.now = due.at;
      due.live = false;
      due.fn();
    }
    this.now = end;
    this.timers = this.timers.filter((x) => x.live);
  }
  get pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
}

function setup(scopeNames: string[] = ['fleet/a']): { engine: EventEmitter & ProgressSource; scopes: Map<string, FakeScope>; lines: Line[]; timers: FakeTimers; progress: BootstrapProgress } {
  const scopes = new Map(scopeNames.map((n) => [n, new FakeScope()]));
  const engine = Object.assign(new EventEmitter(), { scope: (name: string) => scopes.get(name) });
  const lines: Line[] = [];
  const push = (level: Line['level']) => (fields: object, msg?: string): void => void lines.push({ level, msg: msg ?? '', fields: fields as Record<string, unknown> });
  const log: Logger = { debug: () => undefined, info: push('info'), warn: push('warn'), error: () => undefined };
  const timers = new FakeTimers();
  const progress = new BootstrapProgress(engine, { log, intervalMs: 10_000, now: () => timers.now, scheduler: timers });
  return { engine, scopes, lines, timers, progress };
}

const P = '0123456789abcdef';
const Q = 'fedcba9876543210';
const answer = (o: Partial<PollAnswered> & Pick<PollAnswered, 'more' | 'total'>): PollAnswered => ({ peer: P, scope: 'fleet/a', scopeId: 'aa'.repeat(32), commands: 0, bytes: 0, ...o });
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('started, progress every interval (also while stalled), finished once the ingest is idle', async (t) => {
  const { engine, scopes, lines, timers, progress } = setup();
  const s = scopes.get('fleet/a')!;
  s.held = 11; // the genesis and this answer's 10
  engine.emit('poll-answer', answer({ more: true, total: 301, commands: 10, bytes: 500 }));
  t.same(lines, [{ level: 'info', msg: 'bootstrap started', fields: { peer: P, scope: 'fleet/a', have: 11, total: 301 } }]);
  t.equal(progress.active, 1);
  timers.advance(9_999);
  t.equal(lines.length, 1, 'no progress line before the interval');
  s.held = 111;
  engine.emit('poll-answer', answer({ more: true, total: 301, commands: 100, bytes: 5000 }));
  timers.advance(1);
  t.same(lines[1], { level: 'info', msg: 'bootstrap progress', fields: { peer: P, scope: 'fleet/a', have: 111, total: 301, commands: 110, bytes: 5500, durationMs: 10_000 } });
  timers.advance(10_000); // nothing arrived: still reported
  t.match(lines[2], { msg: 'bootstrap progress', fields: { have: 111, commands: 110, durationMs: 20_000 } });
  t.equal(lines.length, 3, 'one line per interval');
  s.held = 301;
  timers.advance(500);
  engine.emit('poll-answer', answer({ more: false, total: 301, commands: 190, bytes: 9500 }));
  t.equal(progress.active, 0, 'the run is over at once');
  t.equal(timers.pending, 0, 'its timer is cancelled');
  await flush();
  t.equal(s.idleCalls, 1, 'waited for the ingest');
  t.same(lines[3], { level: 'info', msg: 'bootstrap finished', fields: { peer: P, scope: 'fleet/a', have: 301, total: 301, commands: 300, bytes: 15_000, durationMs: 20_500 } });
  timers.advance(60_000);
  t.equal(lines.length, 4, 'nothing after the end');
  progress.stop();
  t.equal(lines.length, 4, 'stop after the end logs nothing');
});

t.test('no bootstrap when the peer holds no more than this host, or says no more', async (t) => {
  const { engine, scopes, lines, timers, progress } = setup();
  scopes.get('fleet/a')!.held = 50;
  engine.emit('poll-answer', answer({ more: true, total: 50 }));
  engine.emit('poll-answer', answer({ more: true, total: 40 }));
  engine.emit('poll-answer', answer({ more: false, total: 400 })); // the round is over: nothing to follow
  timers.advance(30_000);
  await flush();
  t.same(lines, []);
  t.equal(progress.active, 0);
  t.equal(timers.pending, 0);
  progress.stop();
  t.same(lines, [], 'nothing interrupted');
});

t.test('interrupted when the peer goes down or on stop; two scopes and two peers at once', async (t) => {
  const { engine, scopes, lines, timers, progress } = setup(['fleet/a', 'fleet/b']);
  scopes.get('fleet/a')!.held = 1;
  scopes.get('fleet/b')!.held = 1;
  const b = { scope: 'fleet/b', scopeId: 'bb'.repeat(32) };
  engine.emit('poll-answer', answer({ more: true, total: 100, commands: 1, bytes: 10 }));
  engine.emit('poll-answer', answer({ more: true, total: 200, commands: 2, bytes: 20, ...b }));
  engine.emit('poll-answer', answer({ more: true, total: 300, commands: 3, bytes: 30, ...b, peer: Q }));
  t.equal(progress.active, 3, 'one run per (peer, scope)');
  timers.advance(10_000);
  const ticks = lines.filter((l) => l.msg === 'bootstrap progress');
  t.same(ticks.map((l) => [l.fields.peer, l.fields.scope, l.fields.total, l.fields.commands]), [[P, 'fleet/a', 100, 1], [P, 'fleet/b', 200, 2], [Q, 'fleet/b', 300, 3]]);
  engine.emit('peer-down', P);
  const down = lines.filter((l) => l.msg === 'bootstrap interrupted');
  t.same(down.map((l) => [l.level, l.fields.peer, l.fields.scope, l.fields.reason]), [['warn', P, 'fleet/a', 'peer down'], ['warn', P, 'fleet/b', 'peer down']]);
  t.match(down[0], { fields: { have: 1, total: 100, commands: 1, bytes: 10, durationMs: 10_000 } });
  t.equal(progress.active, 1, "Q's run goes on");
  engine.emit('poll-answer', answer({ more: true, total: 300, commands: 5, ...b, peer: Q }));
  timers.advance(10_000);
  t.match(lines.at(-1), { msg: 'bootstrap progress', fields: { peer: Q, commands: 8 } });
  const count = lines.length;
  progress.stop();
  t.same(lines.slice(count).map((l) => [l.msg, l.fields.peer, l.fields.reason]), [['bootstrap interrupted', Q, 'shutdown']]);
  t.equal(timers.pending, 0, 'no timer left');
  t.equal(engine.listenerCount('poll-answer') + engine.listenerCount('peer-down'), 0, 'listeners removed');
  engine.emit('poll-answer', answer({ more: true, total: 100 }));
  t.equal(progress.active, 0, 'stopped: nothing starts');
});

t.test('a new round after a finished one is a new bootstrap', async (t) => {
  const { engine, scopes, lines, progress } = setup();
  scopes.get('fleet/a')!.held = 1;
  engine.emit('poll-answer', answer({ more: true, total: 10, commands: 1 }));
  engine.emit('poll-answer', answer({ more: false, total: 10, commands: 9 }));
  engine.emit('poll-answer', answer({ more: true, total: 20, commands: 4 })); // before the finished line: not part of the old run
  await flush();
  engine.emit('poll-answer', answer({ more: true, total: 20, commands: 5 }));
  engine.emit('poll-answer', answer({ more: false, total: 20, commands: 0 }));
  await flush();
  t.same(lines.map((l) => [l.msg, l.fields.commands]), [['bootstrap started', undefined], ['bootstrap started', undefined], ['bootstrap finished', 10], ['bootstrap finished', 9]]);
  t.equal(progress.active, 0);
  progress.stop();
});
