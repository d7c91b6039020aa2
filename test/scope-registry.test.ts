/**
 * agent/sync/scope-registry.ts (design §1.9, §5.1, §6.1): scopes by id and by name, one per name,
 * `scopes.max`, the join policy (`device/<own id>`, `scopes.join` plain and pinned), verdicts as
 * values, creation checks, every scope directory opened at start, and a refused join dropped
 * with its empty directory.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { BadSignatureError, NotPermittedError } from '../protocol/errors.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import type { Member } from '../protocol/membership-body.js';
import { SCOPES_DIR, scopeDirOf } from '../agent/store/scope-dir.js';
import { DEFAULT_MAX_SCOPES, ScopeRegistry, type ScopeRegistryOptions } from '../agent/sync/scope-registry.js';

const who = (s: number): Identity => identityFromSecret(new Uint8Array(32).fill(s));
const [A, B, C] = [1, 2, 3].map(who) as [Identity, Identity, Identity];
const RWA = Role.Read | Role.Write | Role.Admin;
let nonce = 0;
function genesis(name: string, members: Member[] = [{ publicKey: A.publicKey, roles: RWA }, { publicKey: B.publicKey, roles: Role.Read }], by: Identity = A): CommandV2 {
  const payload = encodeGenesisBody({ format: 1, name, nonce: Uint8Array.of(nonce++), flags: 0, members, retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  return encodeCommandV2(null, { parents: [], author: by.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => by.sign(m));
}
const open = (o: Partial<ScopeRegistryOptions> = {}): Promise<ScopeRegistry> => ScopeRegistry.open({ identity: B, durability: { mode: 'none' }, ...o });
const peerA = { id: A.peerId, publicKey: A.publicKey, trusted: true };
const peerB = { id: B.peerId, publicKey: B.publicKey, trusted: true };

t.test('create: by id and by name, idempotent, one scope per name, scopes.max', async (t) => {
  const reg = await open({ identity: A, scopes: { max: 2 } });
  t.equal(reg.max, 2);
  const g1 = genesis('fleet/one');
  const v = await reg.create(g1);
  t.ok(v.ok);
  const h = v.ok ? v.host : undefined;
  t.equal(reg.byId(g1.id), h);
  t.equal(reg.byName('fleet/one'), h);
  t.equal(h?.store.size, 1, 'the genesis is stored');
  t.equal(h?.membership.roles(B.publicKey), Role.Read);
  t.match(await reg.create(g1), { ok: true, host: h }, 'the same genesis again: the same host');
  t.match(await reg.create(genesis('fleet/one')), { ok: false, reason: 'ScopeDeclined' }, 'another scope of a held name');
  t.ok((await reg.create(genesis('fleet/two'))).ok);
  t.match(await reg.create(genesis('fleet/three')), { ok: false, reason: 'TooManyScopes' });
  t.equal(reg.size, 2);
  t.same(reg.list().map((x) => x.name).sort(), ['fleet/one', 'fleet/two']);
  await reg.close();
  t.equal(DEFAULT_MAX_SCOPES, 8);
  t.equal((await open()).max, 8, 'agent default');
});

t.test('create refuses a bad genesis', async (t) => {
  const reg = await open({ identity: A });
  const forged = genesis('fleet/x');
  const bad = encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload: forged.payload }, () => new Uint8Array(64));
  await t.rejects(reg.create(bad), BadSignatureError);
  await t.rejects(reg.create(genesis('fleet/y', [{ publicKey: A.publicKey, roles: Role.Read | Role.Write }])), NotPermittedError, 'author without A');
  t.equal(reg.size, 0);
  await reg.close();
});

t.test('join policy: own device scope, scopes.join entries plain and pinned, verdicts as values', async (t) => {
  const fleet = genesis('fleet/acme');
  const other = genesis('fleet/other');
  const reg = await open({ scopes: { join: ['fleet/acme', `fleet/pinned@${'ab'.repeat(32)}`], max: 3 } });
  t.same(reg.joinVerdict(`device/${B.peerId}`, new Uint8Array(32).fill(1)), { ok: true }, 'its own device scope');
  t.match(reg.joinVerdict(`device/${A.peerId}`, new Uint8Array(32).fill(1)), { ok: false, reason: 'ScopeDeclined' }, 'a foreign device scope');
  t.same(reg.joinVerdict('fleet/acme', fleet.id), { ok: true });
  t.match(reg.joinVerdict('fleet/other', other.id), { ok: false, reason: 'ScopeDeclined' }, 'not in scopes.join');
  t.same(reg.joinVerdict('fleet/pinned', new Uint8Array(32).fill(0xab)), { ok: true, pinned: true }, 'pinned, the id matches (its genesis need not name this host, §6.9)');
  t.match(reg.joinVerdict('fleet/pinned', new Uint8Array(32).fill(0xac)), { ok: false, reason: 'ScopeDeclined' }, 'pinned, another id');
  const v = await reg.join('fleet/acme', fleet.id, A.publicKey);
  t.ok(v.ok);
  const h = v.ok ? v.host : undefined;
  t.ok(h?.joining);
  t.equal(reg.byName('fleet/acme'), h, 'held under the announced name while joining');
  t.ok(h?.grants(A.publicKey, false), 'granted to the peer it is joined from');
  t.notOk(h?.grants(C.publicKey, true), 'and to no other');
  t.match(reg.joinVerdict('fleet/acme', fleet.id), { ok: true, held: h }, 'the same id: held');
  t.match(reg.joinVerdict('fleet/acme', genesis('fleet/acme').id), { ok: false, reason: 'ScopeDeclined' }, 'a second scope of that name (Q-4)');
  t.match(await reg.join('fleet/acme', genesis('fleet/acme').id, A.publicKey), { ok: false, reason: 'ScopeDeclined' });
  t.ok((await reg.join(`device/${B.peerId}`, new Uint8Array(32).fill(1), A.publicKey)).ok);
  t.ok((await reg.join('fleet/pinned', new Uint8Array(32).fill(0xab), A.publicKey)).ok);
  t.match(reg.joinVerdict(`device/${B.peerId}`, new Uint8Array(32).fill(2)), { ok: false, reason: 'ScopeDeclined' });
  t.match(await reg.join('fleet/acme', new Uint8Array(32).fill(3), A.publicKey), { ok: false, reason: 'ScopeDeclined' });
  await reg.close();
  const full = await open({ scopes: { join: ['fleet/acme'], max: 0 } });
  t.match(full.joinVerdict('fleet/acme', fleet.id), { ok: false, reason: 'TooManyScopes' });
  await full.close();
});

t.test('a joined scope takes its genesis from the peer; a refused join is dropped with its empty directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scope-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fleet = genesis('fleet/acme');
  const a = await open({ identity: A });
  await a.create(fleet);
  const b = await open({ dataDir: dir, scopes: { join: ['fleet/acme'] } });
  const v = await b.join('fleet/acme', fleet.id, A.publicKey);
  const h = v.ok ? v.host : undefined;
  if (h === undefined) throw new Error('join refused');
  const r = await h.accept(peerA, a.byId(fleet.id)!.answer(peerB, h.request(A.peerId, { maxBytes: 4096 })));
  t.same(r.appended, [0]);
  t.notOk(h.joining);
  t.equal(h.name, 'fleet/acme');
  t.ok(h.grants(A.publicKey, false));
  t.notOk(h.grants(C.publicKey, true), 'C is no member');

  // A peer that announces an id but sends another scope's genesis: the join is refused for good.
  const liar = genesis('fleet/lie');
  await a.create(liar);
  const wanted = genesis('fleet/acme2');
  const b2 = await open({ dataDir: dir, identity: B, scopes: { join: ['fleet/acme2'] } }).catch((e: unknown) => e);
  t.ok(b2 instanceof Error, 'the open directory is locked in this process');
  const v2 = await b.join('fleet/acme', wanted.id, A.publicKey);
  t.match(v2, { ok: false, reason: 'ScopeDeclined' }, 'name already held');
  await b.close();
  const b3 = await open({ dataDir: dir, scopes: { join: ['fleet/acme2'] } });
  t.equal(b3.size, 1, 'the held scope reopened at start');
  const j = await b3.join('fleet/acme2', wanted.id, A.publicKey);
  const jh = j.ok ? j.host : undefined;
  if (jh === undefined) throw new Error('join refused');
  t.ok(existsSync(scopeDirOf(dir, wanted.id)));
  const res = a.byId(liar.id)!.answer(peerB, { type: 'PollRequest', scope: 0, session: 0, max_bytes: 4096, heads: [], sample: [], window: 0 });
  const rr = await jh.accept(peerA, res);
  t.equal(rr.joinRefused?.reason, 'NotPermitted', 'the genesis id is not the announced id');
  t.same(rr.appended, []);
  t.notOk(jh.joining, 'refused for good');
  t.notOk(jh.grants(A.publicKey, true), 'a refused join grants nothing');
  await b3.drop(jh);
  t.notOk(existsSync(scopeDirOf(dir, wanted.id)), 'the empty store is deleted');
  t.equal(b3.byName('fleet/acme2'), undefined);
  t.equal(b3.size, 1);
  await b3.close();
  await a.close();
});

t.test('open lists every scope directory; unreadable ones are reported and left alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scope-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const reg = await open({ dataDir: dir, identity: A, scopes: { max: Infinity } });
  const gs = ['fleet/a', 'fleet/b', 'device/0011223344556677'].map((n) => genesis(n));
  for (const g of gs) t.ok((await reg.create(g)).ok);
  await reg.byId(gs[0]!.id)!.commit(new TextEncoder().encode('hello'));
  await reg.close();
  const junk = join(dir, SCOPES_DIR, 'ff'.repeat(32));
  mkdirSync(junk);
  const again = await open({ dataDir: dir, identity: A, scopes: { max: Infinity } });
  t.same(again.list().map((h) => h.name).sort(), ['device/0011223344556677', 'fleet/a', 'fleet/b']);
  t.equal(again.byId(gs[0]!.id)?.store.size, 2, 'the commit is still there');
  t.equal(again.unreadable.length, 1);
  t.equal(again.unreadable[0]?.dir, junk);
  t.ok(existsSync(junk));
  t.equal(toHex(again.byName('fleet/b')!.id), toHex(gs[1]!.id));
  await again.close();
});
