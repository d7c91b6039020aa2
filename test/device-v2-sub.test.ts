/**
 * The v2 device takes subscriptions (protocol v2 §11, v2-scopes §11.3), against the scripted
 * gateway: `Push` announced only when on, `SubscribeAck` with `remain_open` capped, own commits
 * pushed (bare when the gateway announced `BareCommand`, else enveloped), exact budgets with
 * `exhausted` and `BudgetExhausted`, expiry at `remain_open`, the end at link down, and a full
 * table refused with `MaximumSubscriptionsExceeded`.
 */
import t from 'tap';
import fc from 'fast-check';
import { decodeBarePushV2, isBarePushV2 } from '../protocol/bare-push-v2.js';
import { decodeCommandV2 } from '../protocol/command-v2.js';
import { Capability } from '../protocol/constants.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { toHex } from '../protocol/keys.js';
import type { MessageV2, Push } from '../protocol/messages-v2.js';
import { MAX_REMAIN_OPEN_S } from '../firmware-sim/device-v2/subscriptions-v2.js';
import type { DeviceV2Options } from '../firmware-sim/device-v2/index.js';
import { Gateway, type GwScope } from './device-v2-gateway.js';

/** A gateway linked to the device scope with `caps`, the device's first polls answered. */
function rig(caps: number, options: DeviceV2Options = {}): { g: Gateway; ds: GwScope; n: number } {
  const g = new Gateway(options);
  const ds = g.deviceScope();
  g.handshake(caps);
  g.open(0, [[0, ds]]);
  const [sc] = g.take('Scopes');
  g.send({ type: 'ScopesAck', seq: sc!.seq, refused: [] });
  const n = [...sc!.open].find(([, id]) => toHex(id) === toHex(ds.id))![0];
  for (const req of g.take('PollRequest')) g.answer(req, ds, n);
  g.drain();
  return { g, ds, n };
}

/** The bodies the device sent since `from`, plaintext (the rig is unsealed). */
function sentSince(g: Gateway, from: number): Uint8Array[] {
  return g.wire.slice(from);
}

t.test('Push is announced by default and not when subscriptions are off', async (t) => {
  for (const on of [true, false]) {
    const g = new Gateway({ acceptSubscriptions: on });
    g.connect();
    const hello = decodeMessageV2(g.bodies[0]!);
    t.equal(hello.type === 'Hello' && (hello.caps & Capability.Push) !== 0, on, `acceptSubscriptions ${on}`);
  }
  const { g, n } = rig(Capability.Push, { acceptSubscriptions: false });
  g.send({ type: 'Subscribe', scope: n, remain_open: 60, max_bytes: 4096, sample: [], via: [] });
  const [err] = g.take('Error');
  t.equal(err?.code, ReasonCode.MaximumSubscriptionsExceeded, 'off: refused to polling');
});

t.test('SubscribeAck caps remain_open; own commits are pushed bare, or enveloped without BareCommand', async (t) => {
  for (const bare of [true, false]) {
    const { g, ds, n } = rig(bare ? Capability.Push | Capability.BareCommand : Capability.Push);
    g.send({ type: 'Subscribe', scope: n, remain_open: 100_000, max_bytes: 10_000, sample: [ds.commands[0]!.id], via: [] });
    const [ack] = g.take('SubscribeAck');
    t.same(ack, { type: 'SubscribeAck', scope: 0, remain_open: MAX_REMAIN_OPEN_S, max_bytes: 10_000 }, 'capped at the device maximum');
    t.same(g.drain(), [], 'nothing to push yet: the gateway holds the genesis');
    const from = g.wire.length;
    const c = g.device.sample()!;
    const out = sentSince(g, from);
    t.equal(out.length, 1, 'one push per commit');
    if (bare) {
      t.ok(isBarePushV2(out[0]!), 'bare push');
      const p = decodeBarePushV2(out[0]!);
      t.equal(p.scope, 0, 'the gateway\'s number');
      t.same(toHex(decodeCommandV2(ds.id, p.command).id), toHex(c.id));
    } else {
      const m = decodeMessageV2(out[0]!) as Push;
      t.match(m, { type: 'Push', scope: 0, exhausted: false });
      t.same(m.commands.map((b) => toHex(decodeCommandV2(ds.id, b).id)), [toHex(c.id)]);
      t.equal(m.remaining, 10_000 - encodeMessageV2({ ...m, remaining: 0 }).length - 4, 'remaining is R - L0 - 4');
    }
    t.equal(g.device.stats.pollsAnswered, 0, 'no poll needed');
  }
});

t.test('budgets are exact: pushes never exceed max_bytes, trim with exhausted, then BudgetExhausted', async (t) => {
  let trimmedRuns = 0;
  let multiRuns = 0;
  fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 2000 }), fc.boolean(), (k, budget, bare) => {
    const { g, ds, n } = rig(bare ? Capability.Push | Capability.BareCommand : Capability.Push);
    const early = Array.from({ length: k }, () => g.device.sample()!); // before subscribing: one push may carry them all
    g.drain();
    const from = g.wire.length;
    g.send({ type: 'Subscribe', scope: n, remain_open: 60, max_bytes: budget, sample: [ds.commands[0]!.id], via: [] });
    const late = Array.from({ length: 3 }, () => g.device.sample()!);
    const bodies = sentSince(g, from);
    const msgs: MessageV2[] = bodies.map((b) => (isBarePushV2(b) ? { type: 'Push', scope: decodeBarePushV2(b).scope, remaining: null, exhausted: false, commands: [decodeBarePushV2(b).command] } : decodeMessageV2(b)));
    if (msgs[0]?.type !== 'SubscribeAck') return false;
    let spent = 0;
    let left = budget;
    const got: string[] = [];
    let ended = false;
    for (let i = 1; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (ended) return false; // nothing after BudgetExhausted
      if (m.type === 'Error') {
        if (m.code !== ReasonCode.BudgetExhausted) return false;
        ended = true;
        continue;
      }
      if (m.type !== 'Push') return false;
      spent += bodies[i]!.length;
      if (m.remaining !== null) {
        const truth = left - bodies[i]!.length;
        if (m.remaining > truth || m.remaining < truth - 4) return false;
      }
      left -= bodies[i]!.length;
      if (m.exhausted) trimmedRuns++;
      if (m.commands.length > 1) multiRuns++;
      if (m.exhausted && (m.commands.length === 0 || msgs[i + 1]?.type !== 'Error')) return false;
      for (const b of m.commands) got.push(toHex(decodeCommandV2(ds.id, b).id));
    }
    if (spent > budget) return false;
    const all = [...early, ...late].map((c) => toHex(c.id));
    // Everything pushed is a prefix of the commits, in order; without exhaustion all of them.
    if (got.join() !== all.slice(0, got.length).join()) return false;
    return ended || got.length === all.length;
  }), { numRuns: 150 });
  t.ok(trimmedRuns > 0, `trimmed pushes seen (${trimmedRuns})`);
  t.ok(multiRuns > 0, `pushes of several commands seen (${multiRuns})`);
});

t.test('a subscription expires at remain_open and ends at link down', async (t) => {
  const { g, ds, n } = rig(Capability.Push | Capability.BareCommand);
  g.send({ type: 'Subscribe', scope: n, remain_open: 5, max_bytes: 10_000, sample: [ds.commands[0]!.id], via: [] });
  t.equal(g.take('SubscribeAck').length, 1);
  g.clock.advance(4_000);
  let from = g.wire.length;
  g.device.sample();
  t.equal(sentSince(g, from).filter(isBarePushV2).length, 1, 'pushed before it closes');
  g.clock.advance(1_000);
  g.drain();
  from = g.wire.length;
  g.device.sample();
  t.equal(sentSince(g, from).filter(isBarePushV2).length, 0, 'not after remain_open');

  g.send({ type: 'Subscribe', scope: n, remain_open: 60, max_bytes: 10_000, sample: [], via: [] });
  t.equal(g.take('SubscribeAck').length, 1, 'subscribed again');
  g.device.disconnect();
  g.handshake();
  g.drain();
  from = g.wire.length;
  g.device.sample();
  t.equal(sentSince(g, from).filter(isBarePushV2).length, 0, 'a new link starts with no subscription');
});

t.test('a full table refuses with MaximumSubscriptionsExceeded and a retry hint until the earliest close', async (t) => {
  const g = new Gateway({ joinScopes: ['fleet/a', 'fleet/b', 'fleet/c'], subscriptionSlots: 3 });
  const scopes = [g.deviceScope(), g.fleetScope('fleet/a'), g.fleetScope('fleet/b'), g.fleetScope('fleet/c')];
  g.handshake();
  g.open(0, scopes.map((s, i) => [i, s]));
  // The device joins the fleet scopes: its first polls bring their genesis.
  const mine = new Map<string, number>();
  for (let round = 0; round < 4; round++) {
    for (const sc of g.take('Scopes')) {
      for (const [num, id] of sc.open) mine.set(toHex(id), num);
      g.send({ type: 'ScopesAck', seq: sc.seq, refused: [] });
    }
    g.take('ScopesAck');
    for (const req of g.take('PollRequest')) g.answer(req, scopes[req.scope]!, mine.get(toHex(scopes[req.scope]!.id))!);
  }
  t.equal(g.device.scopes.filter((s) => s.state === 'held').length, 4, 'four scopes held');
  g.drain();
  const numbers = scopes.map((s) => mine.get(toHex(s.id))!);
  numbers.forEach((num, i) => g.send({ type: 'Subscribe', scope: num, remain_open: 30 + i, max_bytes: 4096, sample: [], via: [] }));
  t.equal(g.take('SubscribeAck').length, 3, 'three slots granted');
  const [err] = g.take('Error');
  t.equal(err?.code, ReasonCode.MaximumSubscriptionsExceeded, 'the fourth refused');
  t.equal(err?.retry_after_ms, 30_000, 'until the earliest slot closes');
  t.equal(err?.scope, 3, 'naming the gateway\'s number of the scope');
  g.clock.advance(30_000);
  g.send({ type: 'Subscribe', scope: numbers[3]!, remain_open: 30, max_bytes: 4096, sample: [], via: [] });
  t.equal(g.take('SubscribeAck').length, 1, 'granted once a slot closed');
});


t.test('known heads come from the sample as far as the ring holds them; Unsubscribe ends it', async (t) => {
  const { g, ds, n } = rig(Capability.Push);
  const c = [g.device.sample()!, g.device.sample()!, g.device.sample()!];
  g.drain();
  g.send({ type: 'Subscribe', scope: n, remain_open: 60, max_bytes: 10_000, sample: [c[0]!.id], via: [] });
  t.equal(g.take('SubscribeAck').length, 1);
  const pushes = g.take('Push');
  t.same(pushes.flatMap((p) => p.commands).map((b) => toHex(decodeCommandV2(ds.id, b).id)), [c[1]!, c[2]!].map((x) => toHex(x.id)), 'what follows the known head');
  g.send({ type: 'Unsubscribe', scope: n });
  g.device.sample();
  t.same(g.take('Push'), [], 'nothing pushed after Unsubscribe');
  t.same(g.take('Error'), [], 'Unsubscribe is never answered');
  g.send({ type: 'Subscribe', scope: n, remain_open: 60, max_bytes: 10_000, sample: [new Uint8Array(32).fill(9)], via: [] });
  t.equal(g.take('SubscribeAck').length, 1);
  t.same(g.take('Push'), [], 'no id known: the known heads are the device\'s heads, only new commands go out');
  const d = g.device.sample()!;
  t.same(g.take('Push').flatMap((p) => p.commands).map((b) => toHex(decodeCommandV2(ds.id, b).id)), [toHex(d.id)]);
});
