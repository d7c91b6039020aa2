/**
 * Design v2-scopes §11.3 "the local seq after a restart", on a real data directory: B's own
 * commands are all pruned once A's commands build on them (B keeps 10); after B restarts, its next
 * commit continues above the highest seq it ever used (kept in `horizon.bin`'s `pruned_seqs`)
 * instead of starting again from the retained commands (which no longer name B).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { decodeCommandV2 } from '../protocol/command-v2.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { compareBytes } from '../protocol/command.js';
import { identityFromSecret, type Identity } from '../protocol/keys.js';
import type { Member } from '../protocol/membership-body.js';
import type { PeerRef, ScopeHost } from '../agent/sync/scope-host.js';
import { ScopeRegistry, type ScopesPolicy } from '../agent/sync/scope-registry.js';

const who = (s: number): Identity => identityFromSecret(new Uint8Array(32).fill(s));
const [A, B] = [who(21), who(22)];
const RW = Role.Read | Role.Write;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function genesis(by: Identity, members: Member[]): CommandV2 {
  const payload = encodeGenesisBody({ format: 1, name: 'fleet/seq', nonce: new Uint8Array(16), flags: 0, members, retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  return encodeCommandV2(null, { parents: [], author: by.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => by.sign(m));
}
const open = (id: Identity, scopes: ScopesPolicy, dataDir?: string): Promise<ScopeRegistry> =>
  ScopeRegistry.open({ identity: id, scopes: { max: Infinity, ...scopes }, durability: { mode: 'none' }, ...(dataDir === undefined ? {} : { dataDir }) });
const ref = (id: Identity): PeerRef => ({ id: id.peerId, publicKey: id.publicKey, trusted: true });

/** `to` polls `from` until an answer carries nothing. */
async function pull(to: ScopeHost, toId: Identity, from: ScopeHost, fromId: Identity): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = from.answer(ref(toId), to.request(fromId.peerId, { maxBytes: 4096 }));
    await to.accept(ref(fromId), res);
    if (res.items.length === 0) return;
  }
  throw new Error('no quiescence');
}
/** Seqs of `by`'s retained commands in `h`. */
function seqsBy(h: ScopeHost, by: Identity): number[] {
  const out: number[] = [];
  for (let i = 0; i < h.store.size; i++) {
    if (!h.store.isRetained(i)) continue;
    const a = h.store.authorOf(i);
    if (compareBytes(a.author, by.author) === 0) out.push(a.seq);
  }
  return out;
}

t.test('a restart never reuses the seq of a pruned own command', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scope-seq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const g = genesis(A, [{ publicKey: A.publicKey, roles: RW | Role.Admin }, { publicKey: B.publicKey, roles: RW }]);
  const a = await open(A, { retention: { '*': 'forever' } });
  const b = await open(B, { retention: { '*': { commands: 10 } }, join: ['fleet/seq'] }, dir);
  t.teardown(() => a.close());
  await a.create(g);
  const v = await b.join('fleet/seq', g.id, A.publicKey);
  if (!v.ok) throw new Error(v.detail);
  const [ah, bh] = [a.byId(g.id)!, v.host];
  await pull(bh, B, ah, A);
  for (let i = 0; i < 5; i++) await bh.commit(text(`b ${i}`));
  t.same(seqsBy(bh, B), [1, 2, 3, 4, 5], 'B authored seqs 1..5');
  await pull(ah, A, bh, B); // A holds them (and B knows it: A's poll named B's heads)
  // A builds on B's commands, a few at a time so that B receives them all (B's poll window is its
  // bound), until B's bound (10) has pruned all of B's own (its newest is a head until then).
  for (let round = 0; round < 20 && seqsBy(bh, B).length > 0; round++) {
    for (let i = 0; i < 3; i++) await ah.commit(text(`a ${round}.${i}`));
    await pull(bh, B, ah, A);
    await bh.retain();
  }
  t.same(seqsBy(bh, B), [], "all of B's commands are pruned at B");
  t.equal(bh.store.prunedSeq(B.author), 5, 'the store remembers the highest pruned seq');
  await b.close();

  const b2 = await open(B, { retention: { '*': { commands: 10 } }, join: ['fleet/seq'] }, dir);
  t.teardown(() => b2.close());
  const bh2 = b2.byId(g.id)!;
  t.equal(bh2.store.prunedSeq(B.author), 5, 'kept across the restart (horizon.bin)');
  const c = await bh2.commit(text('b after the restart'));
  t.equal(decodeCommandV2(g.id, bh2.store.bytesOf(bh2.store.indexOf(c.id))).seq, 6, 'the next own seq is 6, not 1');
});
