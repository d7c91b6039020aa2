/**
 * The v2 device as a requester (design §4.6, §3.6, §7 items 7–8): horizon records of an answer
 * kept as pending, adopted when a placed command names them and named in later polls; the gap
 * counter and event; and bare pushes routed by the device's own scope number.
 */
import t from 'tap';
import { encodeBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor } from '../protocol/cbor.js';
import type { CommandV2 } from '../protocol/command-v2.js';
import { encodeHorizonRecord } from '../protocol/horizon-record.js';
import { toHex } from '../protocol/keys.js';
import type { PollRequest } from '../protocol/messages-v2.js';
import { Gateway, type GwScope } from './device-v2-gateway.js';

const hex = (ids: readonly Uint8Array[]): string[] => ids.map(toHex);

/** A gateway holding the device scope (genesis, c1..c5), linked; the device's first poll of it taken. */
function setup(): { g: Gateway; ds: GwScope; c: CommandV2[]; n: number; first: PollRequest } {
  const g = new Gateway();
  const ds = g.deviceScope();
  const c = [1, 2, 3, 4, 5].map((k) => g.append(ds, encodeCbor(['c', k])));
  const n = g.linked([ds]).get(ds)!;
  const [first] = g.take('PollRequest');
  if (first === undefined) throw new Error('no first poll');
  return { g, ds, c, n, first };
}

/** The record `[c, depth, F(c) = the genesis]` (every data command here builds on the genesis only). */
const record = (ds: GwScope, c: CommandV2, depth: number, frontier = [ds.commands[0]!.id]): Uint8Array =>
  encodeHorizonRecord({ id: c.id, depth, frontier });

/** Answer `req` with `items`. */
function answer(g: Gateway, n: number, req: PollRequest, items: Uint8Array[], o: { more?: boolean; gap?: boolean } = {}): void {
  g.send({ type: 'PollResponse', scope: n, session: req.session, more: o.more ?? false, gap: o.gap ?? false, total: 6, next_poll_ms: 1000, heads: [], items });
}

/** The device's next poll: at once when it is already out, else after the round's 1 s pause. */
function nextPoll(g: Gateway): PollRequest {
  let [req] = g.take('PollRequest');
  if (req === undefined) {
    g.clock.advance(1000);
    [req] = g.take('PollRequest');
  }
  if (req === undefined) throw new Error('no poll');
  return req;
}

t.test('a command whose parent comes only as a record is placed and the record adopted', async (t) => {
  const { g, ds, c, n, first } = setup();
  const s = g.device.deviceScope;
  t.same([first.heads, first.sample], [[], []], 'the joining device names nothing');
  // c1's record is never named by a placed command; c3's is c4's parent.
  answer(g, n, first, [ds.commands[0]!.bytes, record(ds, c[0]!, 1), record(ds, c[2]!, 3), c[3]!.bytes], { more: true });
  t.ok(s.retains(c[3]!.id), 'c4 placed on its recorded parent');
  t.equal(s.ring.depthAt(s.ring.indexOf(c[3]!.id)), 4, 'its depth follows the record');
  t.equal(g.device.stats.adopted, 1);
  t.same(hex([s.horizon.idAt(0)]), hex([c[2]!.id]), 'c3 adopted into the horizon');
  t.equal(s.horizon.depthAt(0), 3);
  t.equal(s.horizon.indexOf(c[0]!.id), -1, 'a record no placed command names is not adopted');
  t.notOk(s.retains(c[2]!.id), 'a record is no command');
  const second = nextPoll(g);
  t.same(hex(second.sample.slice(0, 2)), hex([c[0]!.id, c[2]!.id]), 'the round\'s later poll names the pending records, oldest first');
  answer(g, n, second, [c[4]!.bytes]);
  t.ok(s.retains(c[4]!.id));
  t.equal(s.pending.list.length, 0, 'the round ended: pending records dropped');
  const third = nextPoll(g);
  t.ok(hex(third.sample).includes(toHex(c[2]!.id)), 'the horizon entry is named in the next round');
  t.notOk(hex([...third.sample, ...third.heads]).includes(toHex(c[0]!.id)), 'the unadopted record is forgotten');
  t.equal(g.device.stats.adopted, 1);
});

t.test('a record whose frontier names a membership command the device lacks: the command waits', async (t) => {
  const { g, ds, c, n, first } = setup();
  const s = g.device.deviceScope;
  const unknown = new Uint8Array(32).fill(0xab);
  answer(g, n, first, [ds.commands[0]!.bytes, record(ds, c[2]!, 3, [unknown]), c[3]!.bytes]);
  t.notOk(s.retains(c[3]!.id), 'not placed');
  t.equal(g.device.stats.orphans, 1, 'an orphan');
  t.equal(g.device.stats.adopted, 0);
  t.equal(s.horizon.count, 0);
  t.equal(g.device.stats.rejectedCommands, 0, 'waiting, not refused');
});

t.test('gap: counted once per round, only with gap=true and a record naming an id the device lacks', async (t) => {
  const { g, ds, c, n, first } = setup();
  const gaps: string[] = [];
  g.device.on('gap', (scope) => gaps.push(scope));
  const count = (): number => g.device.stats.gaps;
  // Round 1: gap and a record of an unknown id (c3): one gap, however many answers say so.
  answer(g, n, first, [ds.commands[0]!.bytes, record(ds, c[2]!, 3), c[3]!.bytes], { more: true, gap: true });
  t.equal(count(), 1);
  t.same(gaps, [ds.name], 'the event names the scope');
  answer(g, n, nextPoll(g), [record(ds, c[1]!, 2)], { more: true, gap: true });
  t.equal(count(), 1, 'a second gap answer of the same round is not counted');
  answer(g, n, nextPoll(g), [], { gap: true });
  t.equal(count(), 1);
  // Later rounds, each one answer.
  answer(g, n, nextPoll(g), [record(ds, c[2]!, 3)], { gap: true });
  t.equal(count(), 1, 'gap, but the record is a horizon entry: a false alarm');
  answer(g, n, nextPoll(g), [record(ds, c[3]!, 4)], { gap: true });
  t.equal(count(), 1, 'gap, but the record names a retained command');
  answer(g, n, nextPoll(g), [record(ds, c[0]!, 1)], { gap: false });
  t.equal(count(), 1, 'an unknown record without gap');
  answer(g, n, nextPoll(g), [c[4]!.bytes], { gap: true });
  t.equal(count(), 1, 'gap without any record');
  answer(g, n, nextPoll(g), [record(ds, c[0]!, 1)], { gap: true });
  t.equal(count(), 2, 'a new round counts again');
  t.equal(gaps.length, 2);
});

t.test('bare pushes are routed by the device\'s own scope number', async (t) => {
  const g = new Gateway({ joinScopes: ['fleet/acme'] });
  const ds = g.deviceScope();
  const fleet = g.fleetScope();
  const mine = g.linked([ds, fleet]);
  for (const req of g.take('PollRequest')) g.answer(req, req.scope === mine.get(ds) ? ds : fleet, req.scope);
  g.drain();
  const got: string[] = [];
  g.device.on('command', (scope, cmd) => got.push(`${scope}:${toHex(cmd.id)}`));
  const config = g.append(fleet, encodeCbor(['rate', 5]));
  const push = encodeBarePushV2(config.bytes, mine.get(fleet)!);
  t.equal(push[0], 0x87, 'the 7-element form');
  g.sendBody(push);
  t.same(got, [`fleet/acme:${toHex(config.id)}`], 'accepted into the fleet scope');
  t.ok(g.device.scopes[1]!.retains(config.id));
  g.sendBody(push);
  t.equal(g.device.stats.duplicates, 1, 'a repeat is a duplicate');

  // The fleet command under the device scope's number: its id there is another; its parent unknown.
  const received = g.device.stats.commandsReceived;
  g.sendBody(encodeBarePushV2(g.append(fleet, encodeCbor(['rate', 6])).bytes, mine.get(ds)!));
  t.equal(g.device.stats.commandsReceived, received, 'not taken into the device scope');
  t.equal(g.device.stats.orphans, 1, 'an orphan there');
  t.equal(g.take('PollRequest').length, 1, 'which makes the device poll');

  const before = g.device.stats.unknownScope;
  g.sendBody(encodeBarePushV2(g.append(ds, encodeCbor([g.device.peerId, 'reboot'])).bytes, 7));
  t.equal(g.device.stats.unknownScope, before + 1, 'a bare push to an unknown number is counted');
  t.equal(g.device.deviceScope.total, 1, 'and dropped');
  t.same(g.drain(), [], 'never answered');
  t.equal(g.device.stats.badFrames, 0);
});
