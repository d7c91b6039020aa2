/**
 * The dead-link watchdog's parts without an engine (issue 16): {@link LinkWatchdog}'s counts
 * (consecutive timeouts per scope, all reset when the peer is heard, fired once when one reaches
 * the limit, never at 0; two scopes' timeouts do not add up), and the {@link ScopePollLoop} hook
 * that feeds it (`timedOut` once per timeout, a train's missing answer included).
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
  /** State of the loop when each `timedOut` hook ran. */
  seen: string[];
}

/** A host whose polls time out after `timeoutMs` and whose answers are taken in at once. */
function fake(timeoutMs: number, onTimeout: () => void = () => {}, loop: () => ScopePollLoop | undefined = () => undefined): Fake {
  const f: Fake = {
    sent: [], timedOut: 0, seen: [],
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
    },
  };
  return f;
}

t.test('LinkWatchdog: consecutive timeouts per scope, reset when the peer is heard, fired once at the limit', async (t) => {
  const dead: number[] = [];
  const w = new LinkWatchdog(3, (n) => void dead.push(n));
  t.equal(w.timeouts, 0, 'a new link starts at 0');
  w.timedOut('a');
  w.timedOut('a');
  w.heard();
  t.equal(w.timeouts, 0, 'hearing the peer resets the count');
  w.timedOut('a');
  w.timedOut('a');
  w.timedOut('b');
  w.timedOut('b');
  t.same([dead, w.timeouts], [[], 2], 'two scopes with two each: their timeouts do not add up');
  w.timedOut('b');
  t.same(dead, [3], 'the third in a row of one scope: dead, with the count');
  w.timedOut('a');
  w.timedOut('a');
  t.same(dead, [3], 'fired once: the link is closing');
  for (const limit of [0, -1]) {
    const never: number[] = [];
    const z = new LinkWatchdog(limit, (n) => void never.push(n));
    for (let i = 0; i < 1000; i++) z.timedOut('a');
    t.same([never, z.timeouts], [[], 1000], `deadAfterTimeouts ${limit}: never`);
  }
});

t.test('ScopePollLoop hook: timedOut once per timeout, after the backoff is armed', async (t) => {
  let loop: ScopePollLoop | undefined;
  const f = fake(20, undefined, () => loop);
  loop = new ScopePollLoop(f.host, SLOW(), 4096);
  const l = loop;
  t.teardown(() => l.stop());
  l.start();
  await until(() => f.timedOut === 1, 5000, 'the first poll timed out');
  t.same([f.seen, l.timeouts], [['idle'], 1], 'the hook runs once the loop is idle again');
  l.pollNow();
  l.onResponse(answer(f.sent[1]!.session, { more: true, train: true, items: [Uint8Array.of(0x86)] }));
  await until(() => f.timedOut === 2, 5000, 'the train timed out waiting for its next answer');
  t.same([f.sent.length, l.timeouts, f.timedOut], [2, 2, 2], 'one timedOut per timeout');
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
