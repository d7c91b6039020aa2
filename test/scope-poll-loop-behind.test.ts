/**
 * `ScopePollLoop` after a *behind* answer (PROTOCOL.md §13.3): an answer with `more` false whose
 * heads name commands the requester lacks and did not get (the responder left them out, e.g. by
 * §10.3 step 3a while it could not see where the two stand). The next poll comes after
 * `floor × 2^k` (k: behind answers in a row) instead of the hint, never later than the hint; an
 * answer that is not behind restores the usual wait. Before, the requester waited the hint (1 s
 * at least): the concurrent peer-comparison sync took ~1.1 s, its first answer carrying nothing.
 */
import t from 'tap';
import { ClientPacer } from '../agent/sync/pacing.js';
import { ScopePollLoop, type ScopePollHost } from '../agent/sync/scope-poll-loop.js';
import type { PollRequest, PollResponse } from '../protocol/messages-v2.js';
import { until } from '../testkit/wait.js';

const answer = (session: number): PollResponse => ({
  type: 'PollResponse', scope: 0, session, more: false, gap: false, total: 0, next_poll_ms: 60_000, heads: [], items: [], batch: null,
});

function rig(behind: boolean[], orphaned = 0): { loop: ScopePollLoop; sent: PollRequest[] } {
  const sent: PollRequest[] = [];
  let k = 0;
  const host: ScopePollHost = {
    request: (session, maxBytes) => ({ type: 'PollRequest', scope: 0, session, max_bytes: maxBytes, heads: [], sample: [], window: 0 }),
    send: (req) => void sent.push(req),
    accept: () => Promise.resolve({ orphaned, behind: behind[k++] ?? false }),
    timeoutMs: () => 60_000,
    failed: () => {},
  };
  const pacer = new ClientPacer({ baseMs: 60_000, capMs: 60_000, floorMs: 10, jitter: 0 });
  return { loop: new ScopePollLoop(host, pacer, 4096), sent };
}

t.test('ClientPacer.soon: floor × 2^k, clamped to the cap', async (t) => {
  const p = new ClientPacer({ baseMs: 250, capMs: 60_000, floorMs: 50, jitter: 0 });
  t.same([0, 1, 2, 3].map((k) => p.soon(k)), [50, 100, 200, 400]);
  t.equal(p.soon(40), 60_000);
});

t.test('behind answers are followed by polls within floor × 2^k; the first answer that is not behind restores the hint', async (t) => {
  const { loop, sent } = rig([true, true, true, false]);
  t.teardown(() => loop.stop());
  loop.start();
  for (let i = 1; i <= 3; i++) {
    loop.onResponse(answer(sent[i - 1]!.session));
    await until(() => sent.length === i + 1, 5000, `poll ${i + 1} after behind answer ${i} (not after the 60 s hint)`);
  }
  loop.onResponse(answer(sent[3]!.session));
  await new Promise((r) => setTimeout(r, 300));
  t.equal(sent.length, 4, 'after an answer that is not behind, the 60 s hint applies');
});

t.test('never later than the usual wait, and orphans back off as a failure instead', async (t) => {
  const { loop, sent } = rig([true], 1);
  t.teardown(() => loop.stop());
  loop.start();
  loop.onResponse(answer(sent[0]!.session));
  await new Promise((r) => setTimeout(r, 300));
  t.equal(sent.length, 1, 'orphans: the failure backoff (60 s base here), not the behind schedule');
});
