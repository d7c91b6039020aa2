/**
 * The dead-link watchdog's parts without an engine (issue 16): {@link LinkWatchdog}'s count
 * (consecutive timeouts, reset by an answer, fired once at the limit, never at 0), the
 * {@link ScopePollLoop} hooks that feed it (`timedOut` per timeout, `answered` per answer taken
 * for the poll in flight: each train answer and an ending `Error`, never a stale answer), and one
 * watchdog shared by two loops counting their timeouts together, as a link's scopes do.
 */
import t from 'tap';
import { LinkWatchdog } from '../agent/sync/link-watchdog.js';
import { ClientPacer } from '../agent/sync/pacing.js';
import { ScopePollLoop, type ScopePollHost } from '../agent/sync/scope-poll-loop.js';
import type { PollRequest, PollResponse } from '../protocol/messages-v2.js';
import { until } from '../testkit/wait.js';

// Waits far beyond a test's length: nothing polls again on its own; the test calls pollNow.
const SLOW = (): ClientPacer => new ClientPacer({ baseMs: 60_000, capMs: 60_000, floorMs: 60_000, jitter: 0 });
const answer = (session: number, o: Partial<PollResponse> = {}): PollResponse => ({
  type: 'PollResponse', scope: 0, session, more: false, gap: false, total: 0, next_poll_ms: 60_000, heads: [], items: [], batch: null, ...o,
});
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Fake {
  host: ScopePollHost;
  sent: PollRequest[];
  timedOut: number;
  answered: number;
  /** State of the loop when each `timedOut` hook ran. */
  seen: string[];
}

/** A host whose polls time out after `timeoutMs` and whose answers are taken in at once. */
function fake(timeoutMs: number, onTimeout: () => void = () => {}, loop: () => ScopePollLoop | undefined = () => undefined): Fake {
  const f: Fake = {
    sent: [], timedOut: 0, answered: 0, seen: [],
    host: {
      request: (session, maxBytes) => ({ type: 'PollRequest', scope: 0, session, max_bytes: maxBytes, heads: [], sample: [], window: 0 }),
      send: (req) => void f.sent.push(req),
      accept: () => Promise.resolve({ orphaned: 0 }),
      timeoutMs: () => timeoutMs,
      failed: () => {},
      timedOut: () => {
        f.timedOut++;
        f.seen.push(loop()?.state.kind ?? '?');
        onTimeout();
      },
      answered: () => void f.answered++,
    },
  };
  return f;
}

t.test('LinkWatchdog: consecutive timeouts, reset by an answer, fired once at the limit', async (t) => {
  const dead: number[] = [];
  const w = new LinkWatchdog(3, (n) => void dead.push(n));
  t.equal(w.timeouts, 0, 'a new link starts at 0');
  w.timedOut();
  w.timedOut();
  w.answered();
  t.equal(w.timeouts, 0, 'an answer resets the count');
  w.timedOut();
  w.timedOut();
  t.same(dead, [], 'two in a row, twice, with an answer between: alive');
  w.timedOut();
  t.same(dead, [3], 'the third in a row: dead, with the count');
  w.timedOut();
  w.timedOut();
  w.timedOut();
  t.same(dead, [3], 'fired once: the link is closing');
  for (const limit of [0, -1]) {
    const never: number[] = [];
    const z = new LinkWatchdog(limit, (n) => void never.push(n));
    for (let i = 0; i < 1000; i++) z.timedOut();
    t.same([never, z.timeouts], [[], 1000], `deadAfterTimeouts ${limit}: never`);
  }
});

t.test('ScopePollLoop hooks: timedOut per timeout (after the backoff is armed), answered per answer of the poll in flight', async (t) => {
  let loop: ScopePollLoop | undefined;
  const f = fake(20, undefined, () => loop);
  loop = new ScopePollLoop(f.host, SLOW(), 4096);
  const l = loop;
  t.teardown(() => l.stop());
  l.start();
  await until(() => f.timedOut === 1, 5000, 'the first poll timed out');
  t.same([f.seen, l.timeouts, f.answered], [['idle'], 1, 0], 'the hook runs once the loop is idle again; nothing answered');
  l.onResponse(answer(f.sent[0]!.session));
  t.equal(f.answered, 0, 'an answer to the timed-out poll is stale: not an answer');
  l.pollNow();
  const s2 = f.sent[1]!.session;
  l.onResponse(answer(s2, { more: true, train: true, items: [Uint8Array.of(0x86)] }));
  t.equal(f.answered, 1, 'a train answer is an answer');
  l.onResponse(answer(s2, { train: false }));
  t.equal(f.answered, 2, 'so is the last answer of the train');
  l.onResponse(answer(s2, { train: false }));
  t.equal(f.answered, 2, 'a repeated last answer is not');
  await until(() => l.state.kind === 'idle', 5000, 'the round taken in');
  l.pollNow();
  l.onError(5);
  t.equal(f.answered, 3, 'an Error that ends the poll is an answer');
  l.onError(5);
  t.equal(f.answered, 3, 'an Error with no poll in flight is not');
  l.pollNow();
  l.onResponse(answer(f.sent[3]!.session, { more: true, train: true, items: [Uint8Array.of(0x86)] }));
  l.onError(5);
  t.equal(f.answered, 4, 'an Error midway through a train is ignored, not an answer');
  await until(() => f.timedOut === 2, 5000, 'the train timed out waiting for its next answer');
  t.same([f.sent.length, l.timeouts, f.timedOut], [4, 2, 2], 'one timedOut per timeout');
});

t.test('a timedOut hook that closes the link: the loop stays stopped, no poll after', async (t) => {
  let loop: ScopePollLoop | undefined;
  const fast = new ClientPacer({ baseMs: 1, capMs: 1, floorMs: 1, jitter: 0 });
  const f = fake(10, () => loop?.stop(), () => loop);
  loop = new ScopePollLoop(f.host, fast, 4096);
  const l = loop;
  t.teardown(() => l.stop());
  l.start();
  await until(() => f.timedOut === 1, 5000, 'timed out');
  await new Promise((r) => setTimeout(r, 30));
  t.same([l.state.kind, f.sent.length], ['stopped', 1], 'the backoff armed before the hook was cleared by its stop');
});

t.test('one watchdog, two loops: their timeouts add up; either loop’s answer resets the count', async (t) => {
  const dead: number[] = [];
  const loops: ScopePollLoop[] = [];
  const w = new LinkWatchdog(4, (n) => {
    dead.push(n);
    for (const l of loops) l.stop(); // what the session's close does
  });
  const hosts = [fake(15), fake(15)];
  for (const f of hosts) {
    f.host.timedOut = () => w.timedOut();
    f.host.answered = () => w.answered();
    loops.push(new ScopePollLoop(f.host, SLOW(), 4096));
  }
  const [a, b] = loops as [ScopePollLoop, ScopePollLoop];
  t.teardown(() => loops.forEach((l) => l.stop()));
  const timeOut = async (l: ScopePollLoop, n: number): Promise<void> => {
    if (l.state.kind === 'stopped') l.start();
    else l.pollNow();
    await until(() => l.timeouts === n, 5000, `timeout ${n}`);
  };
  await timeOut(a, 1);
  await timeOut(b, 1);
  await timeOut(a, 2);
  t.same([w.timeouts, dead], [3, []], 'three in a row over both loops');
  b.pollNow();
  b.onResponse(answer(hosts[1]!.sent.at(-1)!.session));
  t.equal(w.timeouts, 0, "b's answer resets the link's count, a's timeouts included");
  await flush();
  await timeOut(a, 3);
  await timeOut(a, 4);
  await timeOut(b, 2);
  t.same(dead, [], 'three again: alive');
  await timeOut(b, 3);
  t.same([dead, a.state.kind, b.state.kind], [[4], 'stopped', 'stopped'], 'the fourth in a row, on either loop: dead, every loop stopped');
});
