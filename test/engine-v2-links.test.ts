/**
 * The v2 engine's links (protocol-v2.md §7.1, §9.3): one link per peer — two links between the
 * same two engines settle on one, the same at both ends (the smaller link key), and the scope
 * still syncs over it; and a link whose side would need a 65,537th scope number is closed with
 * `Error{Closed}` first (§9.3 rule 2), so the dialer redials with fresh tables.
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { RawPeerV2 } from '../testkit/raw-peer-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const RW = Role.Read | Role.Write;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

t.test('two links between the same peers: both ends keep the same one, and sync over it', async (t) => {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const trust = { mode: 'list' as const, keys: [ia.publicKey, ib.publicKey] };
  const a = await EngineV2.open({ identity: ia, trust, tuning: FAST_V2, scopes: { max: Infinity } });
  const b = await EngineV2.open({ identity: ib, trust, tuning: FAST_V2, scopes: { join: ['team/x'] } });
  t.teardown(async () => Promise.all([a.close(), b.close()]));
  await a.createScope({ name: 'team/x', members: [{ publicKey: ia.publicKey, roles: RW | Role.Admin }, { publicKey: ib.publicKey, roles: RW }] });
  const pairs = [createMemoryLinkPair({ seal: 'require' }), createMemoryLinkPair({ seal: 'require' })];
  const sessions = pairs.map(([la, lb]) => [a.attach(la), b.attach(lb)] as const);
  await until(() => pairs.filter(([la, lb]) => la.open && lb.open).length === 1 && a.sessions().length === 1 && b.sessions().length === 1, 20_000, 'one link left');
  const kept = pairs.findIndex(([la]) => la.open);
  const [sa, sb] = sessions[kept]!;
  t.equal(sa.linkKey, sb.linkKey, 'the same link key at both ends');
  t.ok(sessions.every(([x]) => x === sa || x.linkKey > sa.linkKey), 'the kept link has the smaller key');
  t.same([a.sessions()[0], b.sessions()[0]], [sa, sb], 'each engine has that link only');
  const c = await a.commit('team/x', text('over the kept link'));
  await until(() => idsIn(b, 'team/x').includes(toHex(c)), 20_000, 'b has the command');
  t.pass('the scope syncs over the kept link');
});

t.test('a link out of scope numbers is closed with Error{Closed}', async (t) => {
  const me = generateIdentity();
  const gw = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: [me.publicKey] }, tuning: FAST_V2, scopes: { max: Infinity } });
  t.teardown(() => gw.close());
  const owner = [{ publicKey: gw.identity.publicKey, roles: RW | Role.Admin }];
  const [la, lb] = createMemoryLinkPair({ seal: 'off' });
  const s = gw.attach(la);
  const raw = new RawPeerV2(lb, me);
  await until(() => s.authenticated, 20_000, 'up');
  // 65,535 numbers used already (opening and closing as many scopes would take minutes): the
  // table's private counter is set, the rule that refuses the next number is the real one.
  (s.table as unknown as { nextNumber: number }).nextNumber = 65_535;
  const last = await gw.createScope({ name: 'fleet/last', members: owner, openRead: true });
  await until(() => raw.numberOf(last.id) !== undefined, 20_000, 'the 65,536th number is used');
  t.equal(raw.numberOf(last.id), 65_535, 'the last number is 65,535');
  t.ok(la.open, 'the link is still open');
  await gw.createScope({ name: 'fleet/one-too-many', members: owner, openRead: true });
  await until(() => !la.open, 20_000, 'the link is closed');
  const err = raw.got.find((m) => m.type === 'Error');
  t.equal(err?.type === 'Error' ? err.code : undefined, ReasonCode.Closed, 'Error{Closed} before the close');
  t.equal(s.stats.table.numbersExhausted, 1, 'counted');
});
