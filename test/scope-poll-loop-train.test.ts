/**
 * The requester's side of poll trains (PROTOCOL.md §10.6) on {@link ScopePollLoop} with a fake
 * host: answers with `train` = true keep the poll outstanding and are taken in one after another
 * in arrival order; the answer with `train` = false ends the poll with the whole train's orphans;
 * an `Error` midway is ignored; a timeout between answers makes later ones stale; an answer that
 * cannot be taken in stops the rest of its train.
 */
import t from 'tap';
import { ClientPacer } from '../agent/sync/pacing.js';
import { ScopePollLoop, type ScopePollHost } from '../agent/sync/scope-poll-loop.js';
import type { PollRequest, PollResponse } from '../protocol/messages-v2.js';
import { until } from '../testkit/wait.js';

interface Fake {
  host: ScopePollHost;
  sent: PollRequest[];
  accepted: PollResponse[];
  /** Resolve the oldest accept (once it was called) with `orphaned`, or reject it. */
  settle(orphaned: number | Error): Promise<void>;
  pending(): number;
  completed: number;
  failed: unknown[];
}

function fake(timeoutMs = 60_000): Fake {
  const waiting: Array<{ ok: (r: { orphaned: number }) => void; no: (e: Error) => void }> = [];
  const f: Fake = {
    sent: [],
    accepted: [],
    completed: 0,
    failed: [],
    settle: async (o) => {
      await until(() => waiting.length > 0, 5000, 'an answer being taken in');
      const w = waiting.shift()!;
      if (o instanceof Error) w.no(o);
      else w.ok({ orphaned: o });
    },
    pending: () => waiting.length,
    host: {
      request: (session, maxBytes) => ({ type: 'PollRequest', scope: 0, session, max_bytes: maxBytes, heads: [], sample: [], window: 0 }),
      send: (req) => void f.sent.push(req),
      accept: (res) => {
        f.accepted.push(res);
        return new Promise((ok, no) => waiting.push({ ok, no }));
      },
      timeoutMs: () => timeoutMs,
      failed: (err) => void f.failed.push(err),
      completed: () => void f.completed++,
    },
  };
  return f;
}

// Waits far beyond a test's length: nothing polls again on its own while a test looks.
const SLOW = new ClientPacer({ baseMs: 60_000, capMs: 60_000, floorMs: 60_000, jitter: 0 });
const answer = (session: number, o: Partial<PollResponse>): PollResponse => ({
  type: 'PollResponse', scope: 0, session, more: false, gap: false, total: 1, next_poll_ms: 60_000, heads: [], items: [Uint8Array.of(0x86)], batch: null, ...o,
});
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('a train: answers taken in one after another; the last ends the poll', async (t) => {
  const f = fake();
  const loop = new ScopePollLoop(f.host, SLOW, 4096);
  t.teardown(() => loop.stop());
  loop.start();
  const s = f.sent[0]!.session;
  loop.onResponse(answer(s, { more: true, train: true }));
  loop.onResponse(answer(s, { more: true, train: true }));
  loop.onResponse(answer(s, { more: false, train: false }));
  await flush();
  t.equal(f.accepted.length, 1, 'answer 2 waits until answer 1 is taken in');
  t.equal(loop.state.kind, 'in-flight', 'the poll is still outstanding');
  await f.settle(2);
  await until(() => f.accepted.length === 2, 5000, 'answer 2 taken in');
  await f.settle(0);
  await until(() => f.accepted.length === 3, 5000, 'answer 3 taken in');
  t.equal(f.completed, 0, 'the round is not over before the last answer is in');
  await f.settle(1);
  await until(() => f.completed === 1, 5000, 'round completed');
  t.same([f.sent.length, loop.rounds, loop.trainAnswers, loop.state.kind], [1, 1, 2, 'idle'], 'one poll, one round, two train answers');
  loop.onResponse(answer(s, { more: false, train: false }));
  await flush();
  t.equal(f.accepted.length, 3, 'a repeated last answer is ignored');
});

t.test('more on the last answer: the next poll at once; an Error midway is ignored', async (t) => {
  const f = fake();
  const loop = new ScopePollLoop(f.host, SLOW, 4096);
  t.teardown(() => loop.stop());
  loop.start();
  const s = f.sent[0]!.session;
  loop.onResponse(answer(s, { more: true, train: true }));
  loop.onError(250);
  t.equal(loop.state.kind, 'in-flight', 'a train is never refused midway: the Error changes nothing');
  loop.onResponse(answer(s, { more: true, train: false }));
  await f.settle(0);
  await until(() => f.accepted.length === 2, 5000, 'answer 2 taken in');
  await f.settle(0);
  await until(() => f.sent.length === 2, 5000, 'polled again');
  t.equal(f.sent[1]!.session, s + 1, 'a new session');
});

t.test('a timeout between answers: later answers of the old session are stale', async (t) => {
  const f = fake(30);
  const loop = new ScopePollLoop(f.host, SLOW, 4096);
  t.teardown(() => loop.stop());
  loop.start();
  const s = f.sent[0]!.session;
  loop.onResponse(answer(s, { more: true, train: true }));
  await f.settle(0);
  await until(() => loop.timeouts === 1, 5000, 'the next answer did not come');
  loop.onResponse(answer(s, { more: false, train: false }));
  await flush();
  t.equal(f.accepted.length, 1, 'the late answer is ignored');
  t.equal(loop.state.kind, 'idle', 'backing off');
});

t.test('an answer that cannot be taken in: the rest of its train is not, the loop backs off', async (t) => {
  const f = fake();
  const loop = new ScopePollLoop(f.host, SLOW, 4096);
  t.teardown(() => loop.stop());
  loop.start();
  const s = f.sent[0]!.session;
  loop.onResponse(answer(s, { more: true, train: true }));
  loop.onResponse(answer(s, { more: true, train: true }));
  await f.settle(new Error('store'));
  await until(() => f.failed.length === 1, 5000, 'failure reported');
  await flush();
  t.equal(f.accepted.length, 1, 'answer 2 is not taken in');
  t.equal(loop.state.kind, 'idle', 'backing off');
  loop.onResponse(answer(s, { more: false, train: false }));
  await flush();
  t.equal(f.accepted.length, 1, 'nor the last');
});
