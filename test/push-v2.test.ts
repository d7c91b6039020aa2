/**
 * Subscriptions and push between v2 engines over memory links (protocol-v2.md §11): an agent
 * device subscribes to its device scope and the fleet scope after their first poll rounds, and a
 * gateway commit then reaches it by push (its poll loops, slowed to the anti-entropy period, send
 * nothing meanwhile); with one slot, the second scope's `Subscribe` is refused with
 * `MaximumSubscriptionsExceeded` naming that scope, it keeps polling, and nothing of it is pushed;
 * 129 (peer, scope) subscriptions against the default 128 slots refuse exactly one; a subscription
 * is suspended when its link closes and resumed, same slot, on the peer's next link.
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2, type EngineV2Options } from '../agent/sync/engine-v2.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const RWA = Role.Read | Role.Write | Role.Admin;
type Tuning = NonNullable<EngineV2Options['tuning']>;

/** A gateway with device scopes and `fleets` open-read scopes, and agent devices joining them all. */
async function rig(t: { teardown(fn: () => unknown): void }, o: { devices: number; fleets: string[]; gateway?: Tuning }) {
  const gi = generateIdentity();
  const di = Array.from({ length: o.devices }, () => generateIdentity());
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: di.map((d) => d.publicKey) }, tuning: { ...FAST_V2, ...o.gateway }, scopes: { max: Infinity, deviceScopes: {} } });
  const devs = await Promise.all(di.map((identity) => EngineV2.open({ identity, trust: { mode: 'list', keys: [gi.publicKey] }, tuning: FAST_V2, scopes: { join: o.fleets, max: Infinity } })));
  t.teardown(async () => Promise.all([gw.close(), ...devs.map((d) => d.close())]));
  for (const name of o.fleets) await gw.createScope({ name, members: [{ publicKey: gi.publicKey, roles: RWA }], openRead: true });
  const out = new Map<string, MessageV2[]>();
  gw.on('frame-out', (peer, m) => m.length > 0 && (out.get(peer) ?? out.set(peer, []).get(peer)!).push(decodeMessageV2(m)));
  const connect = (d: EngineV2): { g: SessionV2; s: SessionV2 } => {
    const [lg, ld] = createMemoryLinkPair();
    return { g: gw.attach(lg), s: d.attach(ld) };
  };
  return { gw, gi, devs, connect, out };
}

const stateOf = (s: SessionV2, e: EngineV2, name: string): string | undefined => s.scoped.push.subscriptionOf(e.scope(name)!.id)?.state;

t.test('gateway → agent device: subscribed after the first rounds, a commit arrives by push', async (t) => {
  const { gw, devs, connect } = await rig(t, { devices: 1, fleets: ['fleet/acme'] });
  const d = devs[0]!;
  const { g, s } = connect(d);
  const ds = `device/${d.peerId}`;
  await until(() => d.scope(ds) !== undefined && d.scope('fleet/acme') !== undefined && stateOf(s, d, ds) === 'subscribed' && stateOf(s, d, 'fleet/acme') === 'subscribed', 5000, 'the device subscribed to both scopes');
  t.equal(g.stats.subscribesIn >= 2 && g.stats.subscribesRefused === 0, true, 'the gateway granted both');
  const loop = s.scoped.loopOf(d.scope(ds)!.id)!;
  await until(() => loop.slowMs !== null && loop.state.kind === 'idle', 20_000, 'the poll loop slowed to the anti-entropy period');
  const polls = loop.polls;
  const order = await gw.commit(ds, text('order: reboot'));
  await until(() => idsIn(d, ds).includes(toHex(order)), 20_000, 'the order at the device');
  t.equal(loop.polls, polls, 'no poll of the device scope meanwhile: it came by push');
  t.ok(g.stats.pushedCommands >= 1 && s.stats.pushesIn >= 1, 'pushed and received');
  t.equal(s.stats.pushesUnsolicited, 0, 'within its subscription');
  const back = await d.commit(ds, text('telemetry'));
  await until(() => idsIn(gw, ds).includes(toHex(back)), 20_000, 'the gateway subscribed to the device too, or polled it');
  t.equal(g.stats.badFrames + s.stats.badFrames, 0, 'no bad frame');
});

t.test('one slot: the second scope is refused naming it, keeps polling, and none of its commands is pushed', async (t) => {
  const { gw, devs, connect, out } = await rig(t, { devices: 1, fleets: ['fleet/acme'], gateway: { subscriptionCapacity: 1 } });
  const d = devs[0]!;
  const { g, s } = connect(d);
  const ds = `device/${d.peerId}`;
  await until(() => [ds, 'fleet/acme'].every((n) => d.scope(n) !== undefined) && [ds, 'fleet/acme'].map((n) => stateOf(s, d, n)).sort().join() === 'refused,subscribed', 5000, 'one granted, one refused');
  const [S, T] = stateOf(s, d, ds) === 'subscribed' ? [ds, 'fleet/acme'] : ['fleet/acme', ds];
  t.equal(stateOf(s, d, T), 'refused', `the subscriber of ${T} was refused`);
  // The subscriber's numbers: what the gateway names them by in its messages to the device.
  const sNum = g.table.theirNumber(gw.scope(S)!.id);
  const tNum = g.table.theirNumber(gw.scope(T)!.id);
  t.ok(sNum !== undefined && tNum !== undefined && sNum !== tNum);
  const refusal = out.get(d.peerId)!.find((m) => m.type === 'Error' && m.code === ReasonCode.MaximumSubscriptionsExceeded);
  t.match(refusal, { type: 'Error', scope: tNum }, 'Error{MaximumSubscriptionsExceeded} names the refused scope by the subscriber\'s number');
  t.ok(refusal?.type === 'Error' && refusal.retry_after_ms !== null && refusal.retry_after_ms >= 1000, 'with a retry hint of at least 1 s');
  const inT = await gw.commit(T, text('in T'));
  await until(() => idsIn(d, T).includes(toHex(inT)), 20_000, 'T still syncs by poll');
  const inS = await gw.commit(S, text('in S'));
  await until(() => idsIn(d, S).includes(toHex(inS)), 20_000, 'S by push');
  const pushes = out.get(d.peerId)!.filter((m) => m.type === 'Push');
  t.ok(pushes.length >= 1, 'pushes went to the device');
  t.ok(pushes.every((m) => m.type === 'Push' && m.scope === sNum && m.scope !== tNum), 'every push names S: nothing of T');
});

t.test('129 (peer, scope) subscriptions against 128 slots: exactly one refused, naming its scope', async (t) => {
  const fleets = Array.from({ length: 42 }, (_, i) => `fleet/s${String(i).padStart(3, '0')}`);
  const { gw, devs, connect, out } = await rig(t, { devices: 3, fleets });
  const sessions = devs.map((d) => ({ d, ...connect(d) }));
  // 3 devices × (42 fleet scopes + their device scope) = 129 keys.
  await until(() => sessions.reduce((n, x) => n + x.g.stats.subscribesIn, 0) >= 129 && gw.sessions().length === 3, 20_000, 'every scope asked for a subscription');
  await until(() => sessions.reduce((n, x) => n + x.g.stats.subscribesRefused, 0) >= 1, 5000, 'one refused');
  const pusher = (gw as unknown as { core: { pusher: { table: { size: number } } } }).core.pusher; // why: the engine exposes no push status yet
  t.equal(pusher.table.size, 128, 'all 128 slots in use');
  const refusals = sessions.flatMap((x) => (out.get(x.d.peerId) ?? []).filter((m) => m.type === 'Error' && m.code === ReasonCode.MaximumSubscriptionsExceeded).map((m) => ({ x, m })));
  t.equal(refusals.length, 1, 'exactly one refusal');
  const { x, m } = refusals[0]!;
  const refused = m.type === 'Error' && typeof m.scope === 'number' ? x.s.table.scopeOfMine(m.scope) : undefined;
  t.ok(refused !== undefined, 'the refusal names one of the subscriber\'s scopes');
  // The gateway counted its refusal when it sent it; the device takes it in on a later turn.
  await until(() => x.s.scoped.push.subscriptionOf(refused!)?.state === 'refused', 20_000, 'the device took the refusal in');
  t.equal(sessions.reduce((n, y) => n + y.s.stats.subscribesSent, 0) >= 129, true, 'every scope of every device asked');
});

t.test('a subscription is suspended when its link closes and resumed, same slot, on the next link', async (t) => {
  const { gw, devs, connect } = await rig(t, { devices: 1, fleets: ['fleet/acme'] });
  const d = devs[0]!;
  const first = connect(d);
  await until(() => d.scope('fleet/acme') !== undefined && stateOf(first.s, d, 'fleet/acme') === 'subscribed', 5000, 'subscribed');
  const core = (gw as unknown as { core: { pusher: { slotOf(fp: Uint8Array, id: Uint8Array): number; table: { isSuspended(s: number): boolean; linkAt(s: number): number } } } }).core; // why: no push status API yet
  const fleetId = gw.scope('fleet/acme')!.id;
  const slot = core.pusher.slotOf(first.g.fingerprint, fleetId);
  t.ok(slot >= 0, 'the gateway holds a slot for (device, fleet)');
  await first.g.close();
  await until(() => !first.s.link.open, 2000, 'both ends closed');
  t.ok(core.pusher.table.isSuspended(slot), 'suspended, not removed');
  const missed = await gw.commit('fleet/acme', text('while the link was down'));
  const second = connect(d);
  await until(() => second.g.authenticated && second.g.table.active(fleetId), 20_000, 'the fleet scope active on the new link');
  t.equal(core.pusher.slotOf(second.g.fingerprint, fleetId), slot, 'the same slot');
  t.notOk(core.pusher.table.isSuspended(slot), 'resumed');
  t.equal(core.pusher.table.linkAt(slot), second.g.linkId, 'bound to the new link');
  await until(() => idsIn(d, 'fleet/acme').includes(toHex(missed)), 20_000, 'what it missed arrived');
  await until(() => stateOf(second.s, d, 'fleet/acme') === 'subscribed', 5000, 'the subscriber subscribed again on the new link (it never relies on a resumption)');
});
