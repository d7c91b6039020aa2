import t from 'tap';
import { decodeCbor, encodeCbor } from '../protocol/cbor.js';
import { decodeCommandV2, verifyCommandV2 } from '../protocol/command-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { fromHex, generateIdentity, toHex } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { loadVectors } from '../testkit/vectors.js';
import { SCOPES_GIVE_UP_MS, SCOPES_RETRY_MS } from '../firmware-sim/device-v2/index.js';
import { Gateway } from './device-v2-gateway.js';

interface Cases { cases: { name: string; cbor: string; answers?: string }[] }
const v2 = loadVectors<Cases>('messages-v2.json');
const refusal = v2.cases.find((c) => c.name === 'error_unsupported_version')!;

t.test('Hello v2 brings the session up; a v1 Hello gets the exact 3-field refusal and a close', async (t) => {
  const g = new Gateway();
  g.handshake();
  t.equal(g.device.state, 'up');
  const v1 = new Gateway();
  v1.connect();
  const hello = decodeMessageV2(v1.bodies.shift()!);
  t.match(hello, { type: 'Hello', version: 2 });
  v1.device.onBody(fromHex(refusal.answers!));
  t.same(v1.bodies.map(toHex), [refusal.cbor], 'exactly the vector bytes, unsealed');
  t.equal(v1.closed, 1, 'the link is closed');
  t.equal(v1.device.state, 'idle');
  t.equal(v1.device.stats.versionRefused, 1);
});

t.test('table exchange survives a lost Scopes and a lost ScopesAck', async (t) => {
  const g = new Gateway();
  const ds = g.deviceScope();
  g.handshake();
  g.open(0, [[0, ds]]);
  const acks = g.take('ScopesAck');
  t.same(acks, [{ type: 'ScopesAck', seq: 0, refused: [] }]);
  const [first] = g.take('Scopes');
  t.match(first, { seq: 0, open: [[0, ds.id, ds.name]], close: [] }, 'the joined scope is opened back as number 0');
  // The ScopesAck was lost: the gateway repeats seq 0 and gets the same answer, applied once.
  g.open(0, [[0, ds]]);
  t.same(g.take('ScopesAck'), acks);
  // The device's Scopes was lost: it comes again after 500 ms, then after 1 s more.
  g.clock.advance(SCOPES_RETRY_MS - 1);
  t.same(g.take('Scopes'), []);
  g.clock.advance(1);
  t.same(g.take('Scopes'), [first]);
  g.clock.advance(2 * SCOPES_RETRY_MS);
  t.same(g.take('Scopes'), [first]);
  g.send({ type: 'ScopesAck', seq: 0, refused: [] });
  t.ok(g.device.table.isActive(0), 'active once both entries are open');
  t.equal(g.take('PollRequest').length, 1, 'the first round starts');
  g.clock.advance(60_000);
  t.same(g.take('Scopes'), [], 'acknowledged: no more retransmissions');
});

t.test('a Scopes unacknowledged for 60 s closes the link', async (t) => {
  const g = new Gateway();
  g.handshake();
  g.open(0, [[0, g.deviceScope()]]);
  g.clock.advance(SCOPES_GIVE_UP_MS + 8000);
  t.ok(g.take('Scopes').length >= 7, 'retransmitted, backing off to 8 s');
  t.equal(g.device.stats.scopesGaveUp, 1);
  t.equal(g.closed, 1);
});

t.test('a foreign device scope, a second scope of the own name and a fifth scope are refused', async (t) => {
  const g = new Gateway({ joinScopes: ['fleet/a', 'fleet/b', 'fleet/c', 'fleet/d'] });
  const other = g.genesis(`device/${generateIdentity().peerId}`, [{ publicKey: g.identity.publicKey, roles: 7 }]);
  const ds = g.deviceScope();
  const twin = g.genesis(ds.name, [{ publicKey: g.identity.publicKey, roles: 7 }]);
  g.handshake();
  g.open(0, [[0, other], [1, ds], [2, twin], [3, g.fleetScope('fleet/a')], [4, g.fleetScope('fleet/b')], [5, g.fleetScope('fleet/c')], [6, g.fleetScope('fleet/d')]]);
  const [ack] = g.take('ScopesAck');
  t.same(ack!.refused, [[0, ReasonCode.ScopeDeclined], [2, ReasonCode.ScopeDeclined], [6, ReasonCode.TooManyScopes]]);
  const [sc] = g.take('Scopes');
  t.same(sc!.open.map((e) => e[2]), [ds.name, 'fleet/a', 'fleet/b', 'fleet/c']);
  t.notOk(sc!.open.some((e) => toHex(e[1]) === toHex(other.id)), 'the foreign scope is never opened back');
  g.send({ type: 'ScopesAck', seq: 0, refused: [] });
  g.clock.advance(30_000);
  const polled = new Set(g.take('PollRequest').map((p) => p.scope));
  t.notOk(polled.has(0) || polled.has(2), 'refused scopes are never polled');
  t.same([...polled].sort(), [1, 3, 4, 5]);
});

t.test('orders in the device scope are accepted; a fleet command by a non-writer is refused', async (t) => {
  const reader = generateIdentity();
  const g = new Gateway({ joinScopes: ['fleet/acme'] });
  const ds = g.deviceScope();
  const fleet = g.fleetScope('fleet/acme', [{ publicKey: reader.publicKey, roles: 1 }]);
  const order = g.append(ds, encodeCbor([g.device.peerId, 'reboot']));
  const config = g.append(fleet, encodeCbor(['rate', 5]));
  const forged = g.append(fleet, encodeCbor(['rate', 1]), reader);
  const orders: Uint8Array[] = [];
  const rejected: string[] = [];
  g.device.on('order', (p) => orders.push(p));
  g.device.on('rejected', (scope, reason) => rejected.push(`${scope}:${reason}`));
  const mine = g.linked([ds, fleet]);
  for (const req of g.take('PollRequest')) {
    t.equal(req.window, req.scope === 0 ? 64 : 16, 'window = the ring size of the scope');
    g.answer(req, req.scope === 0 ? ds : fleet, req.scope === 0 ? mine.get(ds)! : mine.get(fleet)!);
  }
  t.equal(orders.length, 1);
  t.same(decodeCbor(orders[0]!), [g.device.peerId, 'reboot']);
  t.same(rejected, ['fleet/acme:NotPermitted'], 'the reader lacks W');
  t.ok(g.device.scopes[1]!.retains(config.id));
  t.notOk(g.device.scopes[1]!.retains(forged.id));
  t.ok(g.device.deviceScope.retains(order.id));
  t.equal(g.take('Subscribe').length, 2, 'one subscription per scope after its first round');
});

t.test('telemetry reaches the gateway poll with correct ids', async (t) => {
  const g = new Gateway();
  const ds = g.deviceScope();
  const mine = g.linked([ds]);
  for (const req of g.take('PollRequest')) g.answer(req, ds, mine.get(ds)!);
  const sent = [g.device.sample()!, g.device.sample()!, g.device.sample()!];
  g.send({ type: 'PollRequest', scope: mine.get(ds)!, session: 9, max_bytes: 4096, heads: [ds.commands[0]!.id], sample: [], window: 0 });
  const [res] = g.take('PollResponse');
  t.match(res, { scope: 0, session: 9, more: false, gap: false, total: 4 });
  const got = res!.items.map((b) => decodeCommandV2(ds.id, b));
  t.same(got.map((c) => toHex(c.id)), sent.map((c) => toHex(c.id)));
  t.ok(got.every((c) => verifyCommandV2(c, g.device.identity.publicKey)), 'signed by the device over the scope-bound id');
  t.same(toHex(got[1]!.parents[0]!), toHex(got[0]!.id), 'a chain');
  t.same(res!.heads.map(toHex), [toHex(sent[2]!.id)]);
});

t.test('ring eviction makes horizon entries; answers carry records, gap and window exactly', async (t) => {
  const g = new Gateway({ ringSizes: { device: 4 } });
  const ds = g.deviceScope();
  const mine = g.linked([ds]);
  for (const req of g.take('PollRequest')) g.answer(req, ds, mine.get(ds)!);
  const n = mine.get(ds)!;
  const poll = (heads: Uint8Array[], window: number): MessageV2 => {
    g.send({ type: 'PollRequest', scope: n, session: 1, max_bytes: 4096, heads, sample: [], window });
    return g.take('PollResponse')[0]!;
  };
  const c = [1, 2, 3, 4].map(() => g.device.sample()!);
  t.equal(g.device.sample(), null, 'a ring full of unsynced own commands refuses');
  poll([c[3]!.id], 0); // the gateway holds c4 and its past: the ring may overwrite them
  c.push(g.device.sample()!, g.device.sample()!);
  const s = g.device.deviceScope;
  t.equal(s.ring.count, 4);
  t.same([toHex(s.horizon.idAt(0))], [toHex(c[1]!.id)], 'c2, named by the retained c3, is the horizon');
  const genesisId = toHex(ds.commands[0]!.id);
  const record = (id: Uint8Array, depth: number): string => toHex(encodeCbor([id, depth, [ds.commands[0]!.id]]));
  const all = poll([], 0);
  t.match(all, { gap: true, more: false, total: 5 });
  t.same((all as { items: Uint8Array[] }).items.map(toHex), [
    toHex(ds.commands[0]!.bytes), record(c[1]!.id, 2), ...c.slice(2).map((x) => toHex(x.bytes)),
  ], 'genesis, the record of c2, c3..c6');
  const windowed = poll([], 2) as { gap: boolean; items: Uint8Array[] };
  t.equal(windowed.gap, true);
  t.same(windowed.items.map(toHex), [toHex(ds.commands[0]!.bytes), record(c[3]!.id, 4), toHex(c[4]!.bytes), toHex(c[5]!.bytes)]);
  const caught = poll([c[3]!.id], 0) as { gap: boolean; items: Uint8Array[] };
  t.equal(caught.gap, false);
  t.same(caught.items.map(toHex), [c[4]!, c[5]!].map((x) => toHex(x.bytes)), 'named ids need no record');
  t.notOk(caught.items.some((i) => toHex(i).includes(genesisId) && i[0] === 0x86 && i.length === ds.commands[0]!.bytes.length));
});
