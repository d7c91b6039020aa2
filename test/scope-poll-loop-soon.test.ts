/**
 * `ScopePollLoop.pollSoon` while a poll is out (PROTOCOL.md §11.8): the poll out was sent before
 * the push that asked for the repair and may not bring it, so the round's end waits at most the
 * asked time instead of the anti-entropy period; a poll sent after the ask (a continuation) covers
 * it, and then the usual wait applies.
 */
import t from 'tap';
import { ClientPacer } from '../agent/sync/pacing.js';
import { ScopePollLoop, type ScopePollHost } from '../agent/sync/scope-poll-loop.js';
import type { PollRequest, PollResponse } from '../protocol/messages-v2.js';
import { until } from '../testkit/wait.js';

const answer = (session: number, more = false): PollResponse => ({
  type: 'PollResponse', scope: 0, session, more, gap: false, total: 0, next_poll_ms: 60_000, heads: [], items: [], batch: null,
});

function rig(): { loop: ScopePollLoop; sent: PollRequest[] } {
  const sent: PollRequest[] = [];
  const host: ScopePollHost = {
    request: (session, maxBytes) => ({ type: 'PollRequest', scope: 0, session, max_bytes: maxBytes, heads: [], sample: [], window: 0 }),
    send: (req) => void sent.push(req),
    accept: () => Promise.resolve({ orphaned: 0 }),
    timeoutMs: () => 60_000,
    failed: () => {},
  };
  const loop = new ScopePollLoop(host, new ClientPacer({ baseMs: 60_000, capMs: 60_000, floorMs: 60_000, jitter: 0 }), 4096);
  loop.setSlow(60_000); // subscribed: rounds are an anti-entropy period apart
  return { loop, sent };
}

t.test('asked while a poll is out: the next poll follows the round within the asked time', async (t) => {
  const { loop, sent } = rig();
  t.teardown(() => loop.stop());
  loop.start();
  loop.pollSoon(10);
  loop.onResponse(answer(sent[0]!.session));
  await until(() => sent.length === 2, 5000, 'the repair poll (not after the 60 s period)');
  t.equal(sent.length, 2);
});

t.test('a continuation sent after the ask covers it: then the anti-entropy period applies', async (t) => {
  const { loop, sent } = rig();
  t.teardown(() => loop.stop());
  loop.start();
  loop.pollSoon(10);
  loop.onResponse(answer(sent[0]!.session, true));
  await until(() => sent.length === 2, 5000, 'the continuation');
  loop.onResponse(answer(sent[1]!.session));
  await new Promise((r) => setTimeout(r, 200));
  t.equal(sent.length, 2, 'no third poll: the continuation restated the frontier after the ask');
});
