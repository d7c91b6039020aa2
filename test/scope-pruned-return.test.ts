/**
 * Design v2-scopes §11.3 "pruned history can come back": B (bounded to 10 commands) held A's first
 * data command D1, built on the genesis only, then pruned it and repacked its index. A hostile
 * answer that carries D1 again (its parent, the genesis, is still retained, so D1 resolves) is
 * not taken back: D1 does not reappear as a head or a new handle. The guard is the store's set
 * of its last 4,096 pruned data ids (scope-store-base.ts, `RECENTLY_PRUNED`).
 */
import t from 'tap';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import type { Member } from '../protocol/membership-body.js';
import type { PeerRef, ScopeHost } from '../agent/sync/scope-host.js';
import { ScopeRegistry, type ScopesPolicy } from '../agent/sync/scope-registry.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';

const who = (s: number): Identity => identityFromSecret(new Uint8Array(32).fill(s));
const [A, B] = [who(31), who(32)];
const RW = Role.Read | Role.Write;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function genesis(by: Identity, members: Member[]): CommandV2 {
  const payload = encodeGenesisBody({ format: 1, name: 'fleet/prune', nonce: new Uint8Array(16), flags: 0, members, retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  return encodeCommandV2(null, { parents: [], author: by.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => by.sign(m));
}
const open = (id: Identity, scopes: ScopesPolicy): Promise<ScopeRegistry> => ScopeRegistry.open({ identity: id, scopes: { max: Infinity, ...scopes }, durability: { mode: 'none' } });
const ref = (id: Identity): PeerRef => ({ id: id.peerId, publicKey: id.publicKey, trusted: true });

async function pull(to: ScopeHost, from: ScopeHost): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = from.answer(ref(B), to.request(A.peerId, { maxBytes: 4096 }));
    await to.accept(ref(A), res);
    if (res.items.length === 0) return;
  }
  throw new Error('no quiescence');
}

t.test('a pruned command re-sent after a repack is not accepted again', async (t) => {
  const g = genesis(A, [{ publicKey: A.publicKey, roles: RW | Role.Admin }, { publicKey: B.publicKey, roles: RW }]);
  const a = await open(A, { retention: { '*': 'forever' } });
  const b = await open(B, { retention: { '*': { commands: 10 } }, join: ['fleet/prune'] });
  t.teardown(async () => Promise.all([a.close(), b.close()]));
  await a.create(g);
  const v = await b.join('fleet/prune', g.id, A.publicKey);
  if (!v.ok) throw new Error(v.detail);
  const [ah, bh] = [a.byId(g.id)!, v.host];
  const d1 = await ah.commit(text('the first data command, on the genesis'));
  const d1Bytes = ah.store.bytesOf(d1.handle);
  // Three at a time, so that B receives every one (its poll window is its bound) and prunes.
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < 3; i++) await ah.commit(text(`a ${round}.${i}`));
    await pull(bh, ah);
  }
  t.equal(bh.store.indexOf(d1.id), -1, 'B pruned D1');
  const store = bh.store;
  if (!(store instanceof MemoryScopeStore)) throw new Error('a memory store was expected');
  t.equal(store.state.find(d1.id), -1, 'and its index repacked the slot away (the id is no longer known as pruned)');
  t.notOk(bh.store.horizon().some((e) => toHex(e.id) === toHex(d1.id)), 'D1 is not a horizon entry either');
  const [size, heads] = [bh.store.size, bh.store.heads()];
  const r = await bh.accept(ref(A), { items: [d1Bytes], gap: false, more: false, heads: [] });
  t.same(r.appended, [], 'nothing appended');
  t.equal(bh.store.size, size, 'no new handle');
  t.same(bh.store.heads(), heads, 'D1 does not come back as a head');
  t.equal(bh.store.indexOf(d1.id), -1, 'D1 is still not held');
});
