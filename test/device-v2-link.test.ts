/**
 * The v2 device's link end to end: a sealed session with the scripted gateway (both sides'
 * policy `prefer`, both offering `Seal`), and the §3.10 `UnknownScope` answer rate per link.
 */
import t from 'tap';
import { encodeCbor } from '../protocol/cbor.js';
import { decodeCommandV2 } from '../protocol/command-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { toHex } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { isSealed } from '../protocol/seal.js';
import { UNKNOWN_SCOPE_ANSWER_EVERY } from '../firmware-sim/device-v2/index.js';
import { Gateway } from './device-v2-gateway.js';

/** Whether `needle` occurs in `hay` byte for byte. */
const contains = (hay: Uint8Array, needle: Uint8Array): boolean => Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;

t.test('a sealed link end to end: table, polls both ways, orders and telemetry; no plaintext after the handshake', async (t) => {
  const g = new Gateway({ joinScopes: ['fleet/acme'] });
  const ds = g.deviceScope();
  const fleet = g.fleetScope();
  const order = g.append(ds, encodeCbor([g.device.peerId, 'reboot']));
  const config = g.append(fleet, encodeCbor(['rate', 5]));
  const orders: Uint8Array[] = [];
  g.device.on('order', (p) => orders.push(p));
  const mine = g.linked([ds, fleet], true);
  t.ok(g.sealed, 'both offered Seal: the link is sealed');
  t.equal(g.device.state, 'up');
  const polls = g.take('PollRequest');
  t.equal(polls.length, 2, 'both scopes polled over the sealed link');
  for (const req of polls) g.answer(req, req.scope === mine.get(ds) ? ds : fleet, req.scope);
  t.equal(orders.length, 1, 'the order arrived');
  t.ok(g.device.scopes[1]!.retains(config.id), 'the configuration arrived');
  const sent = [g.device.sample()!, g.device.sample()!];
  g.send({ type: 'PollRequest', scope: mine.get(ds)!, session: 5, max_bytes: 4096, heads: [order.id], sample: [], window: 0 });
  const [res] = g.take('PollResponse');
  t.same(res?.items.map((b) => toHex(decodeCommandV2(ds.id, b).id)), sent.map((c) => toHex(c.id)), 'telemetry read back through the seal');
  t.equal(g.take('Subscribe').length, 2, 'subscriptions go out sealed too');

  const after = g.wire.slice(g.upAt);
  t.ok(after.length >= 6, 'the device sent messages after the handshake');
  t.ok(after.every(isSealed), 'every one of them sealed');
  t.notOk(after.some((b) => sent.some((c) => contains(b, c.bytes))), 'no command encoding in the clear');
  const before = g.wire.slice(0, g.upAt).filter((b) => !isSealed(b)).map((b) => decodeMessageV2(b).type);
  t.ok(before.every((type) => type === 'Hello' || type === 'Auth'), `only Hello and Auth go unsealed: ${before.join(',')}`);
  t.equal(g.device.stats.sealFailures, 0);

  // An unsealed message on the sealed link is dropped, not acted on.
  g.device.onBody(encodeMessageV2({ type: 'PollRequest', scope: mine.get(ds)!, session: 6, max_bytes: 4096, heads: [], sample: [], window: 0 }));
  t.equal(g.device.stats.unsealedDropped, 1);
  t.same(g.take('PollResponse'), [], 'not answered');
  // A tampered sealed frame fails to open; a repeated one is a replay.
  const poll = encodeMessageV2({ type: 'PollRequest', scope: mine.get(ds)!, session: 7, max_bytes: 4096, heads: [], sample: [], window: 0 });
  const frame = g.seal(poll);
  const tampered = Uint8Array.from(frame);
  tampered[tampered.length - 1]! ^= 1;
  g.device.onBody(tampered);
  t.equal(g.device.stats.sealFailures, 1);
  g.device.onBody(frame);
  g.device.onBody(frame);
  t.equal(g.device.stats.replays, 1);
  t.same(g.take('PollResponse').map((r) => r.session), [7], 'the genuine frame answered once');
  // The device's close is sealed too.
  const n = g.wire.length;
  g.device.disconnect();
  t.equal(g.wire.length, n + 1, 'a close marker');
  t.ok(isSealed(g.wire[n]!));
  t.equal(g.bodies.at(-1)?.length, 0, 'which opens to the empty plaintext');
});

/** The Errors of `msgs` that refuse an unknown scope. */
const unknownScopeErrors = (msgs: MessageV2[]): MessageV2[] => msgs.filter((m) => m.type === 'Error' && m.code === ReasonCode.UnknownScope);

t.test('UnknownScope: at most one answer per 16 such requests of a link, naming the number as received', async (t) => {
  const g = new Gateway();
  const ds = g.deviceScope();
  const n = g.linked([ds]).get(ds)!;
  for (const req of g.take('PollRequest')) g.answer(req, ds, n);
  g.drain();
  const stray = n + 9;
  const request = (k: number): void =>
    k % 2 === 0
      ? g.send({ type: 'PollRequest', scope: stray, session: k, max_bytes: 4096, heads: [], sample: [], window: 0 })
      : g.send({ type: 'Subscribe', scope: stray, remain_open: 60, max_bytes: 4096, sample: [], via: [] });
  request(0);
  const [first, ...rest] = g.drain();
  t.same(rest, [], 'one message');
  t.match(first, { type: 'Error', code: ReasonCode.UnknownScope, scope: stray }, 'the first is answered at once, with the number as received');
  for (let k = 1; k < UNKNOWN_SCOPE_ANSWER_EVERY; k++) request(k);
  t.same(g.drain(), [], 'the next 15 are not answered');
  request(UNKNOWN_SCOPE_ANSWER_EVERY);
  t.equal(unknownScopeErrors(g.drain()).length, 1, 'the 17th is');
  t.equal(g.device.stats.unknownScope, UNKNOWN_SCOPE_ANSWER_EVERY + 1, 'every one counted');
  // Scoped messages that are never answered do not use up the allowance.
  g.send({ type: 'PollResponse', scope: stray, session: 1, more: false, gap: false, total: 0, next_poll_ms: 0, heads: [], items: [] });
  t.same(g.drain(), []);
});

t.test('UnknownScope: the allowance starts over on every link', async (t) => {
  const g = new Gateway();
  const ds = g.deviceScope();
  let n = g.linked([ds]).get(ds)!;
  for (const req of g.take('PollRequest')) g.answer(req, ds, n);
  const poll = (scope: number): void => g.send({ type: 'PollRequest', scope, session: 1, max_bytes: 4096, heads: [], sample: [], window: 0 });
  for (let k = 0; k < 3; k++) poll(40);
  t.equal(unknownScopeErrors(g.drain()).length, 1, 'one answer for three on the first link');
  g.device.disconnect();
  n = g.linked([ds]).get(ds)!;
  t.ok(g.device.deviceScope.state === 'held' && g.device.table.isActive(0), 'the held scope is active again');
  g.drain();
  poll(40);
  const [err] = unknownScopeErrors(g.drain());
  t.match(err, { type: 'Error', code: ReasonCode.UnknownScope, scope: 40 }, 'the first stray request of the new link is answered');
  poll(n);
  t.equal(g.take('PollResponse').length, 1, 'the scope\'s own number still answers');
});
