/**
 * agent/sync/subscription.ts with a fake requester host: every transition of the state union
 * (request, ack, renewal, refusal and retry, Unauthorized, BudgetExhausted, stop), what it sends,
 * when it is an upstream (named in `via` elsewhere) and the push budget it believes is left.
 */
import t from 'tap';
import type { Message, Push, Subscribe } from '../protocol/messages.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { resolveSettings, type EngineOptions } from '../agent/sync/engine-settings.js';
import type { IngestResult } from '../agent/sync/ingest.js';
import { ClientPacer } from '../agent/sync/pacing.js';
import type { RequesterHost } from '../agent/sync/requester-host.js';
import { Subscription } from '../agent/sync/subscription.js';
import { until } from '../testkit/wait.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function rig(opts: Partial<EngineOptions> = {}, peerPushes = true) {
  const sent: Message[] = [];
  const events = { granted: [] as boolean[], refused: [] as number[], upstreamsChanged: 0 };
  const host: RequesterHost = {
    store: new MemoryStore(),
    settings: resolveSettings({ backoff: { baseMs: 20, capMs: 200, floorMs: 5, jitter: 0 }, ...opts }),
    log: silent,
    peerId: 'aaaaaaaaaaaaaaaa',
    linkDescription: 'fake',
    answerRoom: 65536,
    peerPushes,
    frameArrivedAt: 0,
    sendFrame: () => undefined,
    send: (m) => void sent.push(m),
    close: async () => undefined,
    ingest: async (): Promise<IngestResult> => ({ appended: [], duplicates: 0, orphaned: 0, rejected: {} }),
    upstreams: () => ['bbbbbbbbbbbbbbbb'],
    upstreamsChanged: () => void events.upstreamsChanged++,
    pollAnswered: () => undefined,
    applied: () => undefined,
  };
  const sub = new Subscription(host, new ClientPacer(host.settings.backoff, () => 0.5), {
    granted: (first) => void events.granted.push(first),
    refused: (ms) => void events.refused.push(ms),
  });
  const subscribes = (): Subscribe[] => sent.filter((m): m is Subscribe => m.type === 'Subscribe');
  return { sub, sent, events, subscribes };
}

t.test('stopped until started; a request, then the ack: granted', async (t) => {
  const { sub, events, subscribes } = rig();
  t.teardown(() => sub.stop());
  sub.request();
  t.same([sub.state, subscribes().length], ['stopped', 0], 'nothing is asked while stopped');
  sub.start();
  t.same([sub.state, sub.upstream, sub.granted], ['idle', true, false], 'idle: wanted, so already an upstream');
  sub.request();
  t.equal(sub.state, 'requested');
  const s = subscribes()[0]!;
  t.same([s.remain_open, s.max_bytes, s.via.length], [600, 1 << 20, 1], 'the configured ask, with our other upstreams as via');
  sub.onAck(900, 5000);
  t.same([sub.state, sub.granted, sub.remaining, events.granted], ['granted', true, 5000, [true]], 'granted, a first grant');
  t.equal(events.upstreamsChanged, 0, 'it was an upstream already: nobody re-subscribes');
  sub.onAck(600, 1);
  t.equal(sub.remaining, 5000, 'an ack nobody asked for is ignored');
});

t.test('renewal: renewing while the grant holds, then granted again (not a first grant)', async (t) => {
  const { sub, events, subscribes } = rig();
  t.teardown(() => sub.stop());
  sub.start();
  sub.request();
  sub.onAck(1, 100); // granted 1 s: renewed at max(1 s, 80 %)
  await until(() => subscribes().length === 2, 5000, 'the renewal');
  t.same([sub.state, sub.granted], ['renewing', true], 'renewing: still granted');
  sub.onAck(600, 200);
  t.same([sub.state, events.granted], ['granted', [true, false]]);
});

t.test('refused: only polls, retried with backoff; the retry granted makes it an upstream again', async (t) => {
  const { sub, events, subscribes } = rig();
  t.teardown(() => sub.stop());
  sub.start();
  sub.request();
  sub.onRefused(0);
  t.same([sub.state, sub.upstream, sub.granted, events.refused, events.upstreamsChanged], ['refused', false, false, [0], 1]);
  await until(() => subscribes().length === 2, 5000, 'the retry');
  t.same([sub.state, sub.upstream], ['retrying', false], 'retrying: not an upstream until granted');
  sub.onAck(600, 100);
  t.same([sub.state, sub.upstream, events.upstreamsChanged, events.granted], ['granted', true, 2, [true]], 'granted: the others re-subscribe');
});

t.test('Unauthorized forgets the request; BudgetExhausted asks again; stop ends everything', async (t) => {
  const { sub, subscribes } = rig();
  t.teardown(() => sub.stop());
  sub.start();
  sub.request();
  sub.onUnauthorized();
  t.equal(sub.state, 'idle', 'requested → idle');
  sub.onAck(600, 1);
  t.equal(sub.state, 'idle', 'and its late ack is ignored');
  sub.request();
  sub.onAck(600, 100);
  sub.request();
  sub.onUnauthorized();
  t.equal(sub.state, 'granted', 'renewing → granted');
  sub.onRefused(60_000);
  sub.request();
  sub.onUnauthorized();
  t.equal(sub.state, 'refused', 'retrying → refused');
  sub.request();
  sub.onAck(600, 100);
  const before = subscribes().length;
  sub.onBudgetExhausted();
  t.same([sub.state, subscribes().length - before], ['requested', 1], 'BudgetExhausted: asked again at once');
  sub.stop();
  t.same([sub.state, sub.upstream, sub.granted], ['stopped', false, false]);
  sub.onAck(600, 100);
  sub.onRefused(0);
  t.equal(sub.state, 'stopped', 'nothing moves a stopped subscription');
});

t.test('not wanted: pushes off, or a peer that does not push', async (t) => {
  for (const [opts, pushes] of [[{ subscribe: false }, true], [{}, false]] as const) {
    const { sub, subscribes } = rig(opts, pushes);
    sub.start();
    t.same([sub.wanted, sub.upstream], [false, false]);
    if (opts.subscribe === false) {
      sub.request();
      t.equal(subscribes().length, 0, 'subscribe: false asks for nothing');
    }
    sub.stop();
  }
});

t.test('the push budget it believes is left', async (t) => {
  const { sub } = rig();
  sub.start();
  sub.request();
  sub.onAck(600, 1000);
  const push = (remaining: number | null, commands: Uint8Array[]): Push => ({ type: 'Push', remaining, exhausted: false, commands });
  sub.onPush(push(700, [new Uint8Array(10)]));
  t.equal(sub.remaining, 700, 'a push says what is left');
  sub.onPush(push(null, [new Uint8Array(50)]));
  t.equal(sub.remaining, 650, 'a bare command costs its length');
  sub.stop();
});
