/**
 * agent/sync/scope-subscription.ts, the subscriber's state machine of protocol-v2.md §11.4 for one
 * (link, scope), against a fake host: it subscribes after a completed round only when the peer
 * pushes and this side asks; an ack grants (figures capped at what was asked) and a renewal goes
 * out at 80 %; `BudgetExhausted` subscribes again at once; `MaximumSubscriptionsExceeded` polls
 * and asks again no sooner than the hint; an unsolicited push changes nothing.
 */
import t from 'tap';
import { ClientPacer } from '../agent/sync/pacing.js';
import { ScopeSubscription, type ScopeSubscriptionHost } from '../agent/sync/scope-subscription.js';
import { until } from '../testkit/wait.js';

function rig(o: { pushes?: boolean; ask?: ScopeSubscriptionHost['ask'] } = {}) {
  const sent: number[] = [];
  const slow: boolean[] = [];
  const host: ScopeSubscriptionHost = {
    ask: o.ask ?? { remainOpenS: 2, maxBytes: 5000 },
    peerPushes: o.pushes ?? true,
    send: (remainOpenS) => (sent.push(remainOpenS), true),
    subscribed: (on) => void slow.push(on),
  };
  const sub = new ScopeSubscription(host, new ClientPacer({ baseMs: 10, capMs: 50, floorMs: 5, jitter: 0 }, () => 0.5));
  sub.start();
  return { sub, sent, slow };
}

t.test('no Subscribe unless the peer pushes and this side asks', async (t) => {
  for (const o of [{ pushes: false }, { ask: false as const }]) {
    const { sub, sent } = rig(o);
    sub.roundCompleted();
    t.same(sent, [], JSON.stringify(o));
    t.equal(sub.state, 'polling');
    sub.stop();
  }
});

t.test('subscribes after a completed round, granted, renews at 80 % of the granted time', async (t) => {
  const { sub, sent, slow } = rig();
  sub.roundCompleted();
  t.equal(sub.state, 'pending');
  t.same(sent, [2]);
  sub.roundCompleted();
  t.same(sent, [2], 'a second round while pending asks nothing more');
  sub.onAck(9999, 4000);
  t.equal(sub.state, 'subscribed');
  t.equal(sub.granted, 2, 'never more than asked');
  t.equal(sub.remaining, 4000);
  t.same(slow, [true], 'the poll loop slows down');
  await until(() => sent.length === 2, 3000, 'renewed at 80 % (1.6 s)');
  t.ok(sub.renewing && sub.state === 'subscribed', 'still subscribed while renewing');
  sub.onAck(2, 4000);
  t.notOk(sub.renewing);
  t.same(slow, [true], 'a renewal is no new subscription');
  sub.onPush(3000, 0);
  t.equal(sub.remaining, 3000, 'an enveloped push says what is left');
  sub.onPush(null, 216);
  t.equal(sub.remaining, 2784, 'a bare push costs its body');
  sub.stop();
  t.same(slow, [true, false], 'stopped: the loop speeds up again');
});

t.test('BudgetExhausted: subscribe again at once', async (t) => {
  const { sub, sent, slow } = rig();
  sub.roundCompleted();
  sub.onAck(2, 100);
  sub.onBudgetExhausted();
  t.equal(sub.state, 'pending');
  t.same(sent, [2, 2]);
  t.same(slow, [true, false]);
  sub.stop();
});

t.test('MaximumSubscriptionsExceeded: poll, and ask again no sooner than the hint', async (t) => {
  const { sub, sent } = rig();
  sub.roundCompleted();
  sub.onRefused(300);
  t.equal(sub.state, 'refused');
  sub.roundCompleted();
  t.same(sent, [2], 'rounds while refused ask nothing');
  await new Promise((r) => setTimeout(r, 150));
  t.same(sent, [2], 'not before the hint');
  await until(() => sent.length === 2, 3000, 'asked again after the hint');
  t.equal(sub.state, 'pending');
  sub.stop();
});

t.test('a push without a subscription is not acted on; an ack not asked for is ignored', async (t) => {
  const { sub, sent } = rig();
  sub.onPush(10, 0);
  t.equal(sub.remaining, 0);
  sub.onAck(2, 4000);
  t.equal(sub.state, 'polling', 'no Subscribe was out');
  t.same(sent, []);
  sub.stop();
});
