/**
 * agent/sync/poll-loop.ts with a fake requester host: the state union (stopped → idle →
 * in-flight → idle), stale and duplicated answers ignored, pipelining while `more`, a round's end
 * (and a repair poll instead when orphans were seen), failures and timeouts backing off, the
 * watchdog closing a link that answers nothing, and stop.
 */
import t from 'tap';
import { decodeMessage } from '../protocol/envelope.js';
import type { PollRequest, PollResponse } from '../protocol/messages.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { resolveSettings, type EngineOptions } from '../agent/sync/engine-settings.js';
import type { IngestResult } from '../agent/sync/ingest.js';
import { ClientPacer } from '../agent/sync/pacing.js';
import { PollLoop } from '../agent/sync/poll-loop.js';
import type { RequesterHost } from '../agent/sync/requester-host.js';
import { until } from '../testkit/wait.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function rig(opts: Partial<EngineOptions> = {}) {
  const polls: PollRequest[] = [];
  const applies: ((r: IngestResult) => void)[] = [];
  const seen = { applied: [] as boolean[], rounds: [] as number[], closed: 0, answers: 0 };
  const host: RequesterHost = {
    store: new MemoryStore(),
    settings: resolveSettings({ backoff: { baseMs: 10, capMs: 50, floorMs: 5, jitter: 0 }, pollHint: { minMs: 20, maxMs: 20 }, ...opts }),
    log: silent,
    peerId: 'aaaaaaaaaaaaaaaa',
    linkDescription: 'fake',
    answerRoom: 65536,
    peerPushes: true,
    frameArrivedAt: 0,
    sendFrame: (body) => {
      const m = decodeMessage(body);
      if (m.type === 'PollRequest') polls.push(m);
    },
    send: () => undefined,
    close: async () => void seen.closed++,
    // Applied when the test says so: the pipelining rules depend on what is still held.
    ingest: () => new Promise<IngestResult>((resolve) => applies.push(resolve)),
    upstreams: () => [],
    upstreamsChanged: () => undefined,
    pollAnswered: () => void seen.answers++,
    applied: () => undefined,
  };
  const loop = new PollLoop(host, new ClientPacer(host.settings.backoff, () => 0.5), {
    applied: (more) => void seen.applied.push(more),
    roundEnded: (n) => void seen.rounds.push(n),
    subscribed: () => false,
  });
  const answer = (more: boolean, session = polls[polls.length - 1]!.session): PollResponse => ({ type: 'PollResponse', session, more, total: 3, next_poll_ms: 20, heads: [], commands: [] });
  const apply = (orphaned = 0): void => applies.shift()!({ appended: [], duplicates: 0, orphaned, rejected: {} });
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
  return { loop, polls, seen, answer, apply, settle };
}

t.test('a round: in-flight until answered; the round ends once the answer is applied', async (t) => {
  const { loop, polls, seen, answer, apply, settle } = rig();
  t.teardown(() => loop.stop());
  t.equal(loop.state, 'stopped');
  loop.pollNow();
  t.equal(polls.length, 0, 'a stopped loop sends nothing');
  loop.start();
  t.same([loop.state, polls.length], ['in-flight', 1], 'start polls at once');
  loop.pollNow();
  t.equal(polls.length, 1, 'one poll in flight at a time');
  loop.onAnswer(answer(false, polls[0]!.session + 1), 10);
  t.equal(loop.state, 'in-flight', 'an answer to another session is stale: ignored');
  loop.onAnswer(answer(false), 10);
  t.same([loop.state, loop.peerTotal, seen.answers], ['idle', 3, 1], 'answered');
  loop.onAnswer(answer(false), 10);
  t.equal(seen.answers, 1, 'a duplicated answer frame is ignored');
  t.same(seen.rounds, [], 'the round ends only once the commands are applied');
  apply();
  await settle();
  t.same([seen.applied, seen.rounds, loop.rounds], [[false], [1], 1], 'applied: the round ended');
  t.ok(loop.view().pollScheduled, 'the next poll waits for its timer (the pacing hint)');
  await until(() => polls.length === 2, 5000, 'the next poll after the hint');
});

t.test('pipelining: while more, the next poll goes out before the answer is applied; at most two held', async (t) => {
  const { loop, polls, answer, apply, settle, seen } = rig();
  t.teardown(() => loop.stop());
  loop.start();
  loop.onAnswer(answer(true), 10);
  t.same([loop.state, polls.length], ['in-flight', 2], 'the second poll is out at once');
  loop.onAnswer(answer(true), 10);
  t.same([loop.state, polls.length, loop.view().backlog], ['idle', 2, 2], 'two held: no third poll yet');
  apply();
  await settle();
  t.same([loop.state, polls.length], ['in-flight', 3], 'one applied: the next goes out');
  loop.onAnswer(answer(false), 10);
  apply();
  await settle();
  t.same(seen.rounds, [], 'a newer answer is still held: it ends the round');
  apply();
  await settle();
  t.same(seen.rounds, [1], 'the round ends with the last answer applied');
});

t.test('orphans seen in a round: a repair poll instead of a completed round', async (t) => {
  const { loop, polls, answer, apply, settle, seen } = rig();
  t.teardown(() => loop.stop());
  loop.start();
  loop.onAnswer(answer(false), 10);
  apply(2);
  await settle();
  t.same([seen.rounds, loop.rounds], [[], 0], 'not a completed round');
  await until(() => polls.length === 2, 5000, 'the repair poll');
});

t.test('a failure backs off; timeouts shrink the poll; the watchdog closes a link that answers nothing', async (t) => {
  const { loop, polls, seen } = rig({ deadAfterTimeouts: 2, pollTimeoutMs: 1, pollTimeoutMsPerByte: 0 });
  t.teardown(() => loop.stop());
  loop.start();
  loop.fail(0);
  t.same([loop.state, loop.view().pollScheduled], ['idle', true], 'failed: the next poll waits for its backoff');
  await until(() => polls.length === 2, 5000, 'the poll after the backoff');
  await until(() => loop.view().timeoutsInARow === 1, 5000, 'a first timeout');
  await until(() => polls.length === 3, 5000, 'the poll after the timeout');
  t.ok(polls[2]!.max_bytes < polls[1]!.max_bytes, `a smaller poll after a timeout: ${polls[1]!.max_bytes} → ${polls[2]!.max_bytes} bytes`);
  await until(() => seen.closed === 1, 5000, 'closed after two timeouts in a row');
  t.equal(loop.state, 'idle');
});

t.test('stop: every timer cleared, waiters released, nothing moves it', async (t) => {
  const { loop, polls, answer } = rig();
  loop.start();
  const waiting = loop.syncOnce();
  loop.stop();
  await waiting;
  t.pass('syncOnce resolves when stopped');
  t.same([loop.state, loop.view().pollScheduled, loop.rounds], ['stopped', false, 0]);
  loop.onAnswer(answer(false), 10);
  loop.fail(0);
  loop.schedule(1);
  t.same([loop.state, polls.length], ['stopped', 1], 'answers, failures and schedules leave it stopped');
  t.ok(await loop.syncOnce().then(() => true), 'syncOnce on a stopped loop resolves at once');
});
