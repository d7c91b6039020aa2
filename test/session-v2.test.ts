/**
 * agent/sync/session-v2.ts over a memory link pair: two v2 engines (sealed and unsealed links)
 * come up, exchange their scope tables, join and poll a shared scope both ways until each holds
 * the other's commits; an ungranted scope is never offered; the v1 handshake state machine
 * speaking version 2 (the minimal `version` parameter) refuses a version-1 `Hello` with the
 * 3-field text of §3.1 and keeps version 1 refusing version 2 as before.
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { Handshake } from '../agent/sync/handshake.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const RW = Role.Read | Role.Write;
const RWA = RW | Role.Admin;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function pair(seal: 'require' | 'off'): Promise<{ a: EngineV2; b: EngineV2; ia: Identity; ib: Identity }> {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const trust = { mode: 'list' as const, keys: [ia.publicKey, ib.publicKey] };
  const a = await EngineV2.open({ identity: ia, trust, tuning: FAST_V2, scopes: { max: Infinity } });
  const b = await EngineV2.open({ identity: ib, trust, tuning: FAST_V2, scopes: { join: ['team/x'] } });
  return { a, b, ia, ib };
}

const ids = idsIn;

for (const seal of ['require', 'off'] as const) {
  t.test(`two sessions (${seal === 'off' ? 'unsealed' : 'sealed'}): table, join, polls both ways`, async (t) => {
    const { a, b, ia, ib } = await pair(seal);
    t.teardown(async () => Promise.all([a.close(), b.close()]));
    await a.createScope({ name: 'team/x', members: [{ publicKey: ia.publicKey, roles: RWA }, { publicKey: ib.publicKey, roles: RW }] });
    const secret = await a.createScope({ name: 'team/secret', members: [{ publicKey: ia.publicKey, roles: RWA }] });
    const first = await a.commit('team/x', text('from a, before the link'));
    const out: string[] = [];
    a.on('frame-out', (_p, m) => m.length > 0 && out.push(toHex(m)));
    const [la, lb] = createMemoryLinkPair({ seal });
    const sa = a.attach(la);
    const sb = b.attach(lb);
    await until(() => sa.authenticated && sb.authenticated, 2000, 'both up');
    t.equal(sa.sealed, seal === 'require', 'sealed as the policy says');
    await until(() => ids(b, 'team/x').includes(toHex(first)), 20_000, 'b joined and polled a');
    t.same(b.scopes().map((s) => s.name), ['team/x'], 'b holds the joined scope only');
    const fromB = await b.commit('team/x', text('from b'));
    await until(() => ids(a, 'team/x').includes(toHex(fromB)), 20_000, 'a polled b');
    const later = await a.commit('team/x', text('from a, later'));
    await until(() => ids(b, 'team/x').includes(toHex(later)), 20_000, 'b polls again after the hint');
    t.same(ids(a, 'team/x'), ids(b, 'team/x'), 'both hold the same commands');
    t.ok(sa.stats.pollsAnswered > 0 && sb.stats.pollsAnswered > 0, 'each side answered polls');
    t.equal(sa.stats.badFrames + sb.stats.badFrames, 0, 'no bad frame');
    const secretHex = toHex(secret.id);
    t.notOk(out.some((m) => m.includes(secretHex)), 'the ungranted scope id never left a');
    if (seal === 'off') {
      const scopes = out.map((m) => decodeMessageV2(Uint8Array.from(Buffer.from(m, 'hex')))).filter((m) => m.type === 'Scopes');
      t.same(scopes.flatMap((m) => (m.type === 'Scopes' ? m.open.map((e) => e[2]) : [])), ['team/x'], 'a opened team/x only');
    }
  });
}

t.test('a link closed mid-sync: loops stop, a new link syncs from the tables up', async (t) => {
  const { a, b, ia, ib } = await pair('require');
  t.teardown(async () => Promise.all([a.close(), b.close()]));
  await a.createScope({ name: 'team/x', members: [{ publicKey: ia.publicKey, roles: RWA }, { publicKey: ib.publicKey, roles: RW }] });
  let [la, lb] = createMemoryLinkPair();
  const s1 = a.attach(la);
  b.attach(lb);
  await until(() => ids(b, 'team/x').length === 1, 20_000, 'joined');
  await la.close();
  await until(() => a.sessions().length === 0 && b.sessions().length === 0, 2000, 'both sessions down');
  t.notOk(s1.scoped.loopOf(a.scope('team/x')!.id), 'no loop left on the closed link');
  const c = await a.commit('team/x', text('while apart'));
  [la, lb] = createMemoryLinkPair();
  a.attach(la);
  b.attach(lb);
  await until(() => ids(b, 'team/x').includes(toHex(c)), 20_000, 'synced over the new link');
});

t.test('Handshake speaking version 2 refuses version 1 with the 3-field text, and a side playing version 1 refuses 2 alike', async (t) => {
  const [v1, v2] = [generateIdentity(), generateIdentity()];
  const setup = (identity: Identity, version?: number) => ({
    identity, maxFrame: 4096, caps: 0, policy: 'prefer' as const, admits: () => true, randomBytes: (n: number) => new Uint8Array(n).fill(identity.publicKey[0]!),
    ...(version === undefined ? {} : { version }),
  });
  const two = new Handshake(setup(v2, 2));
  const one = new Handshake(setup(v1, 1));
  const hello2 = decodeMessageV2(two.hello);
  t.equal(hello2.type === 'Hello' && hello2.version, 2, 'version 2 announced');
  const step = two.onHello(decodeMessageV2(one.hello) as never, one.hello);
  t.equal(step.refuse?.reason, 'UnsupportedVersion');
  const err = decodeMessageV2(step.send[0]!);
  t.same(err, { type: 'Error', code: 3, message: 'protocol version 1 is not supported; this peer speaks version 2', retry_after_ms: null }, 'exactly three fields');
  t.match(step.refuse?.log ?? '', /speaks protocol 1; this agent speaks 2: upgrade it/);
  const back = one.onHello(hello2 as never, two.hello);
  t.equal(back.refuse?.reason, 'UnsupportedVersion', 'the version-1 side refuses version 2');
  t.same(decodeMessageV2(back.send[0]!), { type: 'Error', code: 3, message: 'protocol version 2 is not supported; this peer speaks version 1', retry_after_ms: null });
});
