/**
 * The v2 device's `sample` under §3.4 field 5's steady-state rule, both ways on its link: as a
 * requester its polls carry the ring spread (the exponential part) only while it retains none of
 * the gateway's heads from the last answer, a `Subscribe` always carries it; as a responder it
 * answers a gateway's steady-state poll (heads and the device's last heads, nothing else) with
 * exactly the commands that gateway lacks.
 */
import t from 'tap';
import { encodeCbor } from '../protocol/cbor.js';
import { decodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { toHex } from '../protocol/keys.js';
import type { PollRequest, PollResponse } from '../protocol/messages-v2.js';
import { Gateway, type GwScope } from './device-v2-gateway.js';

const hex = (ids: readonly Uint8Array[]): string[] => ids.map(toHex);

/** A gateway polled every second, holding the device scope (genesis, c1..c10), linked, its first round answered. */
function setup(): { g: Gateway; ds: GwScope; c: CommandV2[]; n: number; first: PollRequest } {
  const g = new Gateway({ pollMs: 1000 });
  const ds = g.deviceScope();
  const c = Array.from({ length: 10 }, (_, k) => g.append(ds, encodeCbor(['c', k + 1])));
  const n = g.linked([ds]).get(ds)!;
  const [first] = g.take('PollRequest');
  if (first === undefined) throw new Error('no first poll');
  g.answer(first, ds, n);
  return { g, ds, c, n, first };
}

/** The device's next poll, after the 1 s period. */
function nextPoll(g: Gateway): PollRequest {
  g.clock.advance(1000);
  const [req] = g.take('PollRequest');
  if (req === undefined) throw new Error('no poll');
  return req;
}

/** Answer `req` with `items`, claiming `heads`. */
function answer(g: Gateway, n: number, req: PollRequest, items: CommandV2[], heads: Uint8Array[]): void {
  g.send({ type: 'PollResponse', scope: n, session: req.session, more: false, gap: false, total: 0, next_poll_ms: 1000, heads, items: items.map((x) => x.bytes) });
}

t.test('requester: the ring spread only while no gateway head of the last answer is retained', async (t) => {
  const { g, ds, c, n, first } = setup();
  const s = g.device.deviceScope;
  t.same([first.heads, first.sample], [[], []], 'joining: nothing to name');
  const [sub] = g.take('Subscribe');
  t.ok(sub !== undefined && sub.sample.length > 2, 'the subscription after the first round');
  t.same(hex(sub!.sample.slice(0, 3)), hex([c[9]!.id, c[8]!.id, c[7]!.id]), 'a Subscribe keeps the spread: its heads, then back from the newest');

  const equal = nextPoll(g);
  t.same(hex(equal.heads), hex([c[9]!.id]));
  t.same(equal.sample, [], 'steady state, heads equal to the gateway\'s: the sample is empty');
  const spread = sub!.sample.slice(1);
  t.comment(`device steady-state PollRequest (10 data commands in the ring): ${encodeMessageV2({ ...equal, sample: spread }).length} B before, ${encodeMessageV2(equal).length} B after`);

  // The device commits; the gateway appends one more on c10: both ahead of the other.
  const t1 = g.device.sample()!;
  const c11 = g.append(ds, encodeCbor(['c', 11]));
  answer(g, n, equal, [c11], [c11.id]);
  t.ok(s.retains(c11.id));
  const ahead = nextPoll(g);
  t.same(hex(ahead.heads).sort(), hex([t1.id, c11.id]).sort(), 'two heads');
  t.same(ahead.sample, [], 'the gateway head is among the device\'s heads');
  const c12 = g.append(ds, encodeCbor(['c', 12]));
  answer(g, n, ahead, [], [c12.id, c11.id]); // c12 did not fit: the gateway names it, the device lacks it
  const partial = nextPoll(g);
  t.same(partial.sample, [], 'one gateway head held (c11, among the heads): still no spread');

  answer(g, n, partial, [], [c12.id]);
  const cold = nextPoll(g);
  t.ok(cold.sample.length > 2, 'no gateway head held: the spread is back');
  t.ok(cold.sample.every((x) => s.retains(x)), 'only ids the device holds');
  t.notOk(hex(cold.sample).some((x) => hex(cold.heads).includes(x)), 'none of its heads');
  t.ok(hex(cold.sample).includes(toHex(c[9]!.id)), 'the spread walks back from the newest');
});

t.test('responder: a steady-state poll (heads and the device\'s last heads only) is answered with exactly what the gateway lacks', async (t) => {
  const { g, ds, c, n } = setup();
  const ids = (r: PollResponse | undefined): string[] => (r?.items ?? []).map((b) => toHex(decodeCommandV2(ds.id, b).id));
  const poll = (session: number, heads: Uint8Array[], sample: Uint8Array[]): PollResponse | undefined => {
    g.send({ type: 'PollRequest', scope: n, session, max_bytes: 4096, heads, sample, window: 0 });
    return g.take('PollResponse')[0];
  };
  const t1 = g.device.sample()!;
  const r1 = poll(1, [c[9]!.id], []);
  t.same(ids(r1), hex([t1.id]), 'the first poll: the new telemetry');
  t.same(hex(r1!.heads), hex([t1.id]));
  const t2 = g.device.sample()!;
  const t3 = g.device.sample()!;
  // The gateway placed t1: its head is the device's last head, so its sample is empty.
  const r2 = poll(2, [t1.id], []);
  t.same(ids(r2), hex([t2.id, t3.id]), 'exactly the commands since the last answer');
  t.same(hex(r2!.heads), hex([t3.id]));
  // The gateway is ahead on its own branch (c11 on c10, unknown to the device): its heads are c11
  // and t3, and it names the device's last head t3 — among its heads, so the sample is empty again.
  const c11 = g.append(ds, encodeCbor(['c', 11]));
  const t4 = g.device.sample()!;
  t.same(ids(poll(3, [t3.id, c11.id], [])), hex([t4.id]), 'K = {t3}: the unknown head is ignored, only t4 is sent');
  // A gateway that named only its own branch (c11, unknown here) and no device head would get the whole ring.
  t.equal(ids(poll(4, [c11.id], [])).length, 1 + 10 + 4, 'K empty: the genesis and every retained data command');
});
