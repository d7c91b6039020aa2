/**
 * agent/sync/ingest-v2.ts + scope-membership.ts (design v2-scopes §2.3, §1.5–§1.9, §4.4, §4.6,
 * §8): acceptance of genesis, data and membership commands over a memory scope store, every
 * rejection by reason, the ingest attacks of §8, arrival-order convergence (fast-check), orphan
 * bounds under a flood, horizon and pending-record parents, the join rule, the commit path,
 * reloading the membership from a store, and orphans released by later records or by a resent
 * command pruned here.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCommandV2, encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind, GENESIS_OPEN_READ, type CommandKindValue } from '../protocol/constants-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { encodeMembershipBody, type Member } from '../protocol/membership-body.js';
import type { SyncwireError } from '../protocol/errors.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';
import type { HorizonEntry, ScopeStore } from '../agent/store/scope-store-contract.js';
import { ScopeIngest, type IngestV2Result, type ScopeIngestOptions } from '../agent/sync/ingest-v2.js';
import { OrphanBufferV2 } from '../agent/sync/orphans-v2.js';
import { ScopeMembership } from '../agent/sync/scope-membership.js';
import { syntheticCommandV2 } from '../testkit/synthetic-commands-v2.js';

const who = (s: number): Identity => identityFromSecret(new Uint8Array(32).fill(s));
const [A, B, W, Rd, O] = [1, 2, 3, 4, 5].map(who) as [Identity, Identity, Identity, Identity, Identity];
const R = 1;
const RW = 3;
const RWA = 7;

function genesis(members: Member[], o: { author?: Identity; name?: string; flags?: number; nonce?: number } = {}): CommandV2 {
  const payload = encodeGenesisBody({ format: 1, name: o.name ?? 'fleet/test', nonce: Uint8Array.of(o.nonce ?? 0), flags: o.flags ?? 0, members, retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  const author = o.author ?? A;
  return encodeCommandV2(null, { parents: [], author: author.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => author.sign(m));
}
let seq = 1;
function cmd(scope: Uint8Array, by: Identity, parents: (CommandV2 | Uint8Array)[], kind: CommandKindValue = CommandKind.Data, payload: Uint8Array = Uint8Array.of(seq & 0xff)): CommandV2 {
  const ps = parents.map((p) => (p instanceof Uint8Array ? p : p.id));
  return encodeCommandV2(scope, { parents: ps, author: by.author, seq: seq++, kind, payload }, (m) => by.sign(m));
}
const ops = (scope: Uint8Array, by: Identity, parents: (CommandV2 | Uint8Array)[], list: Member[]): CommandV2 => cmd(scope, by, parents, CommandKind.Membership, encodeMembershipBody({ ops: list }));
const std = (): CommandV2 => genesis([{ publicKey: A.publicKey, roles: RWA }, { publicKey: B.publicKey, roles: RWA }, { publicKey: W.publicKey, roles: RW }, { publicKey: Rd.publicKey, roles: R }]);

interface Rig {
  store: ScopeStore;
  m: ScopeMembership;
  ing: ScopeIngest;
  changed: number[][];
  send: (cs: (CommandV2 | Uint8Array)[], pending?: (id: Uint8Array) => HorizonEntry | undefined) => Promise<IngestV2Result>;
}
function rig(g: CommandV2, more: Partial<ScopeIngestOptions> = {}): Rig {
  const store = new MemoryScopeStore(g.id);
  const m = new ScopeMembership(g.id);
  const changed: number[][] = [];
  const ing = new ScopeIngest({ store, membership: m, onMembershipChanged: (hs) => changed.push(hs), ...more });
  const send = (cs: (CommandV2 | Uint8Array)[], pending?: (id: Uint8Array) => HorizonEntry | undefined): Promise<IngestV2Result> =>
    ing.receive(cs.map((c) => (c instanceof Uint8Array ? c : c.bytes)), 'peer', 'poll', pending);
  return { store, m, ing, changed, send };
}
const held = (s: ScopeStore, c: CommandV2): boolean => s.indexOf(c.id) >= 0;
const flip = (c: CommandV2): Uint8Array => {
  const b = c.bytes.slice();
  b[b.length - 1]! ^= 1;
  return b;
};

t.test('genesis, data and membership commands are accepted; membership changes re-evaluate grants', async (t) => {
  const g = std();
  const { store, m, send, changed } = rig(g);
  const d1 = cmd(g.id, W, [g]);
  const add = ops(g.id, A, [d1], [{ publicKey: O.publicKey, roles: R }, { publicKey: W.publicKey, roles: 0 }]);
  const d2 = cmd(g.id, O, [add]); // O has R only: refused below
  const r = await send([g, d1, add]);
  t.same(r.appended, [0, 1, 2]);
  t.same(r.membership, [0, 2]);
  t.same(changed, [[0, 2]], 'one hook call per batch with the membership handles');
  t.same(m.idsOf(store.frontierOf(1)).map(toHex), [toHex(g.id)], 'F(d1) = {genesis}');
  t.same(m.idsOf(store.frontierOf(2)).map(toHex), [toHex(g.id)], 'F(add) = {genesis}');
  t.ok(m.grants(O.publicKey, false), 'O gained R');
  t.notOk(m.grants(W.publicKey, true), 'W was removed (open_read is off, trust does not help)');
  t.equal(m.roles(A.publicKey), RWA);
  const again = await send([g, d1, d2]);
  t.equal(again.duplicates, 2, 'duplicates dropped before crypto');
  t.same(again.rejected, { NotPermitted: 1 }, 'O lacks W');
});

t.test('every rejection by reason', async (t) => {
  const g = std();
  const other = genesis([{ publicKey: A.publicKey, roles: RWA }], { nonce: 9 });
  const { store, send, ing } = rig(g);
  await send([g]);
  const cases: [string, Uint8Array, string][] = [
    ['Malformed', Uint8Array.of(0x86, 0x00), 'garbage'],
    ['TooLarge', new Uint8Array(1025).fill(0x86), 'over 1,024 bytes'],
    ['UnknownAuthor', cmd(g.id, O, [g]).bytes, 'a key the scope never named'],
    ['NotPermitted', cmd(g.id, Rd, [g]).bytes, 'data without W'],
    ['NotPermitted', ops(g.id, W, [g], [{ publicKey: W.publicKey, roles: RWA }]).bytes, 'membership without A (a writer making itself admin)'],
    ['NotPermitted', other.bytes, 'a foreign genesis'],
    ['BadSignature', flip(cmd(g.id, W, [g])), 'a forged signature'],
    ['BadSignature', flip(ops(g.id, A, [g], [{ publicKey: O.publicKey, roles: R }])), 'a forged membership signature'],
    ['Malformed', cmd(g.id, A, [g], CommandKind.Membership, Uint8Array.of(0x80)).bytes, 'a membership body that does not decode'],
  ];
  for (const [reason, bytes, what] of cases) {
    const r = await ing.receive([bytes], 'peer', 'push');
    t.same(r.rejected, { [reason]: 1 }, what);
  }
  t.equal(store.size, 1, 'nothing stored');
  t.equal(ing.stats.rejected.NotPermitted, 3);
});

t.test('a frontier of 17 concurrent membership commands is NotPermitted', async (t) => {
  const g = std();
  const { send } = rig(g);
  const ms = Array.from({ length: 17 }, (_, i) => ops(g.id, A, [g], [{ publicKey: O.publicKey, roles: 1 + (i % 7) }]));
  const d16 = cmd(g.id, W, ms.slice(0, 16));
  const d17 = cmd(g.id, W, [d16, ms[16]!]);
  const r = await send([g, ...ms, d16, d17]);
  t.equal(r.appended.length, 1 + 17 + 1, 'a 16-wide frontier is fine');
  t.same(r.rejected, { NotPermitted: 1 });
});

t.test('§8 attack 2: replay into another scope', async (t) => {
  const s = std();
  const tg = genesis([{ publicKey: A.publicKey, roles: RWA }, { publicKey: W.publicKey, roles: RW }], { nonce: 7 });
  const c = cmd(s.id, W, [s]);
  const { store, send } = rig(tg);
  await send([tg]);
  t.same((await send([s])).rejected, { NotPermitted: 1 }, "S's genesis into T");
  // With the parent resolved (a lying record naming S's genesis), the id still differs in T.
  const lie = (id: Uint8Array): HorizonEntry | undefined => (toHex(id) === toHex(s.id) ? { id, depth: 1, frontier: [tg.id] } : undefined);
  t.same((await send([c], lie)).rejected, { BadSignature: 1 }, 'replayed bytes fail verification');
  const orphaned = await send([c]);
  t.equal(orphaned.orphaned, 1, 'a parent id of S is unresolvable in T: it orphans');
  t.equal((await send([c])).duplicates, 1, 'a waiting copy is not judged twice');
  t.equal(store.size, 1, 'nothing stored in T');
  t.equal(store.horizonEntry(s.id), undefined, 'a record no placed command names is not adopted');
});

t.test('§8: a forged command inside a valid batch, removal in the past, the backdating limit', async (t) => {
  const g = std();
  const { store, send } = rig(g);
  const c1 = cmd(g.id, W, [g]);
  const forged = cmd(g.id, W, [c1]);
  const c3 = cmd(g.id, W, [c1]);
  const child = cmd(g.id, W, [forged]);
  const r = await send([g, c1, flip(forged), c3, child]);
  t.same(r.rejected, { BadSignature: 1 }, 'only the forged one is rejected');
  t.ok(held(store, c1) && held(store, c3));
  t.equal(r.orphaned, 1, "the forged command's child waits for the genuine one");
  t.ok((await send([forged])).appended.length === 2, 'the genuine command releases it');
  const rm = ops(g.id, A, [c3], [{ publicKey: W.publicKey, roles: 0 }, { publicKey: Rd.publicKey, roles: RW }]);
  const after = cmd(g.id, W, [rm]);
  const backdated = cmd(g.id, W, [c1]);
  const r2 = await send([rm, after, backdated]);
  t.same(r2.rejected, { UnknownAuthor: 1 }, 'a removed writer (roles 0) with the removal in its past: no such member (§1.7)');
  t.ok(held(store, backdated), 'without it: accepted (the documented backdating limit, Q-1)');
  const cut = ops(g.id, A, [rm], [{ publicKey: Rd.publicKey, roles: R }]);
  const r3 = await send([cmd(g.id, Rd, [rm]), cut, cmd(g.id, Rd, [cut]), cmd(g.id, Rd, [rm])]);
  t.same(r3.rejected, { NotPermitted: 1 }, 'a writer whose W was removed in its past (still a member)');
  t.equal(r3.appended.length, 3, 'before the removal, and backdated: accepted');
  const demoted = ops(g.id, B, [rm], [{ publicKey: A.publicKey, roles: RW }]);
  await send([demoted]);
  t.same((await send([ops(g.id, A, [demoted], [{ publicKey: O.publicKey, roles: 0 }])])).rejected, { NotPermitted: 1 }, 'an admin removed in the past');
});

t.test('arrival order does not change what is accepted (fast-check)', async (t) => {
  const ks = [A, B, W, Rd];
  const g = genesis(ks.map((k, i) => ({ publicKey: k.publicKey, roles: [RWA, RWA, RW, R][i]! })), { nonce: 3 });
  const step = fc.record({ by: fc.nat(3), member: fc.boolean(), key: fc.nat(3), roles: fc.nat(7), parents: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }) });
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 24 }), fc.infiniteStream(fc.nat()), fc.nat(5), async (steps, rnd, batch) => {
      const all: CommandV2[] = [g];
      for (const s of steps) {
        const ps = [...new Set(s.parents.map((p) => all[p % all.length]!))];
        all.push(s.member ? ops(g.id, ks[s.by]!, ps, [{ publicKey: ks[s.key]!.publicKey, roles: s.roles }]) : cmd(g.id, ks[s.by]!, ps));
      }
      const inOrder = rig(g);
      for (const c of all) await inOrder.send([c]);
      const it = rnd[Symbol.iterator]();
      const shuffled = [...all];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = it.next().value! % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const mixed = rig(g);
      const size = batch + 1;
      for (let i = 0; i < shuffled.length; i += size) await mixed.send(shuffled.slice(i, i + size));
      const set = (x: Rig): string[] => all.filter((c) => held(x.store, c)).map((c) => toHex(c.id));
      if (set(inOrder).join() !== set(mixed).join()) return false;
      return ks.every((k) => inOrder.m.roles(k.publicKey) === mixed.m.roles(k.publicKey));
    }),
    { numRuns: 60 },
  );
  t.pass('same accepted set and the same current view');
});

t.test('orphan bounds hold under a flood, over all scopes', async (t) => {
  const orphans = new OrphanBufferV2();
  const g1 = std();
  const g2 = genesis([{ publicKey: A.publicKey, roles: RWA }], { nonce: 11 });
  const r1 = rig(g1, { orphans });
  const r2 = rig(g2, { orphans });
  const unknown = (i: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, k) => (i * 31 + k * 7) & 0xff);
  for (let round = 0; round < 6; round++) {
    for (const [r, g] of [[r1, g1], [r2, g2]] as const) {
      const batch = Array.from({ length: 400 }, (_, i) => syntheticCommandV2(g.id, [unknown(round * 1000 + i)], i + 1, new Uint8Array(round < 3 ? 8 : 900)).bytes);
      await r.ing.receive(batch, 'flooder', 'push');
    }
    t.ok(orphans.size <= 2048 && orphans.bytes <= 1 << 20, `round ${round}: ${orphans.size} orphans, ${orphans.bytes} bytes`);
  }
  t.ok(orphans.dropped > 0, 'the oldest were dropped');
  t.equal(r1.store.size + r2.store.size, 0, 'nothing stored');
});

t.test('a forged copy waiting first does not shut out the genuine command (unverified orphans)', async (t) => {
  const g = std();
  const { store, send } = rig(g);
  await send([g]);
  const p = cmd(g.id, W, [g]);
  const c = cmd(g.id, W, [p]);
  t.equal((await send([flip(c)])).orphaned, 1);
  t.equal((await send([c])).orphaned, 1, 'the genuine copy waits too, it is no duplicate');
  const r = await send([p]);
  t.same(r.rejected, { BadSignature: 1 }, 'the forged copy fails once released');
  t.ok(held(store, p) && held(store, c));
});

t.test('horizon entries and pending records as parents: depth, frontier, adoption', async (t) => {
  const g = std();
  const { store, m, send } = rig(g);
  const add = ops(g.id, A, [g], [{ publicKey: O.publicKey, roles: RW }]);
  await send([g, add]);
  const far = new Uint8Array(32).fill(0xab);
  await store.adopt([{ id: far, depth: 5000, frontier: [add.id] }]);
  const c = cmd(g.id, O, [far]);
  t.same((await send([c])).appended, [2], 'O has W at the entry frontier');
  t.equal(store.depthOf(2), 5001);
  t.same(m.idsOf(store.frontierOf(2)).map(toHex), [toHex(add.id)]);
  const x = new Uint8Array(32).fill(0xcd);
  const unknownMember = new Uint8Array(32).fill(0xee);
  const rec = { id: x, depth: 70, frontier: [g.id] };
  const viaRecord = cmd(g.id, W, [x, c]);
  t.same((await send([viaRecord], (id) => (toHex(id) === toHex(x) ? rec : undefined))).appended, [3], 'a pending record resolves');
  t.same(store.horizonEntry(x), rec, 'and is adopted');
  t.equal(store.depthOf(3), 5002);
  const y = new Uint8Array(32).fill(0x77);
  const lying = cmd(g.id, O, [y]);
  const r = await send([lying], (id) => (toHex(id) === toHex(y) ? { id, depth: 1, frontier: [unknownMember] } : undefined));
  t.equal(r.orphaned, 1, 'a record naming an unknown membership command orphans');
  const noW = cmd(g.id, Rd, [y]);
  const r2 = await send([noW], (id) => (toHex(id) === toHex(y) ? { id, depth: 1, frontier: [g.id] } : undefined));
  t.same(r2.rejected, { NotPermitted: 1 }, "§8 attack 5: a non-writer's command under a fake record is NotPermitted");
  const loaded = ScopeMembership.load(store, (h) => decodeCommandV2(g.id, store.bytesOf(h)));
  t.same([2, 3].map((h) => loaded.idsOf(loaded.frontierRef(store, h)).map(toHex)), [2, 3].map((h) => m.idsOf(store.frontierOf(h)).map(toHex)), 'load() reads horizon entries');
  t.equal(store.horizonEntry(y), undefined, 'and the fake record is not adopted');
});

t.test('a joined scope accepts only its genesis first (§1.9)', async (t) => {
  const g = std();
  const joinAs = { name: 'fleet/test', publicKey: Rd.publicKey };
  const d = cmd(g.id, W, [g]);
  t.same((await rig(g, { join: joinAs }).send([d, g])).joinRefused?.reason, 'NotPermitted', 'data first');
  t.same((await rig(g, { join: { ...joinAs, name: 'fleet/other' } }).send([g])).joinRefused?.reason, 'NotPermitted', 'another name');
  t.same((await rig(g, { join: { ...joinAs, publicKey: O.publicKey } }).send([g])).joinRefused?.reason, 'NotAMember', 'no R for this host');
  const pinned = rig(g, { join: { ...joinAs, publicKey: O.publicKey, pinned: true } });
  t.equal((await pinned.send([g])).joinRefused, undefined, 'a pinned join takes a genesis that does not name this host (a member added later, PROTOCOL.md §6.9)');
  t.equal(pinned.store.size, 1, 'the genesis is stored');
  const forged = rig(g, { join: joinAs });
  t.same((await forged.send([flip(g)])).joinRefused?.reason, 'BadSignature', 'a forged genesis');
  t.same((await forged.send([g])).joinRefused?.reason, 'BadSignature', 'a refused join stays refused');
  t.equal(forged.store.size, 0);
  const open = genesis([{ publicKey: A.publicKey, roles: RWA }], { flags: GENESIS_OPEN_READ, nonce: 5 });
  const ok = rig(open, { join: { ...joinAs, publicKey: O.publicKey } });
  const r = await ok.send([open]);
  t.equal(r.joinRefused, undefined, 'open_read needs no listing');
  t.notOk(ok.ing.joining);
  t.ok(ok.m.grants(O.publicKey, true) && !ok.m.grants(O.publicKey, false), 'open_read grants R only to trusted peers');
});

t.test('commit: only what peers accept; seq continues; peers take it', async (t) => {
  const g = std();
  const { store, ing, send } = rig(g);
  await send([g, cmd(g.id, W, [g])]);
  const first = await ing.commit(W, CommandKind.Data, Uint8Array.of(1));
  const second = await ing.commit(W, CommandKind.Data, Uint8Array.of(2));
  t.equal(second.cmd.seq, first.cmd.seq + 1);
  t.same(second.cmd.parents.map(toHex), [toHex(first.cmd.id)], 'on the heads');
  await t.rejects(ing.commit(Rd, CommandKind.Data, Uint8Array.of(3)), { name: 'NotPermittedError' });
  await t.rejects(ing.commit(W, CommandKind.Membership, encodeMembershipBody({ ops: [{ publicKey: W.publicKey, roles: RWA }] })), { name: 'NotPermittedError' });
  const unknown = await ing.commit(O, CommandKind.Data, Uint8Array.of(4)).then(() => 'committed', (e: SyncwireError) => e.reason);
  t.equal(unknown, 'UnknownAuthor');
  const mc = await ing.commit(A, CommandKind.Membership, encodeMembershipBody({ ops: [{ publicKey: O.publicKey, roles: RW }] }));
  const peer = rig(g);
  const r = await peer.send([...Array.from({ length: store.size }, (_, h) => store.bytesOf(h))]);
  t.equal(r.appended.length, store.size, 'a peer accepts every committed command');
  t.ok(peer.m.grants(O.publicKey, false) && mc.handle === store.size - 1);
});

t.test('membership reloads from a store: load() and the open hooks give the same frontiers and roles', async (t) => {
  const g = std();
  const { store, m, send } = rig(g);
  const d = cmd(g.id, W, [g]);
  const x = ops(g.id, A, [d], [{ publicKey: O.publicKey, roles: RW }]);
  const y = ops(g.id, B, [d], [{ publicKey: O.publicKey, roles: R }]);
  await send([g, d, x, y, cmd(g.id, W, [x, y])]);
  const ids = (mm: ScopeMembership, s: ScopeStore): string[] => Array.from({ length: s.size }, (_, h) => mm.graph.idsOf(mm.frontierOfHandle(s, h)).map(toHex).join('+'));
  const loaded = ScopeMembership.load(store, (h) => decodeCommandV2(g.id, store.bytesOf(h)));
  t.same(ids(loaded, store), ids(m, store));
  t.equal(loaded.roles(O.publicKey), R, 'concurrent R|W and R: remove wins');
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-ingest-v2-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const disk = await DiskScopeStore.open(dir, { scopeId: g.id, durability: { mode: 'none' } });
  const dm = new ScopeMembership(g.id);
  const di = new ScopeIngest({ store: disk, membership: dm });
  await di.receive(Array.from({ length: store.size }, (_, h) => store.bytesOf(h)), 'peer', 'poll');
  await disk.close();
  const reopened = new ScopeMembership(g.id);
  const again = await DiskScopeStore.open(dir, { scopeId: g.id, durability: { mode: 'none' }, hooks: reopened.openHooks() });
  t.same(ids(reopened, again), ids(m, store));
  t.equal(reopened.roles(O.publicKey), R);
  await again.close();
});

t.test('a waiting orphan whose missing parent a later record resolves is placed, and adopts it (§4.6)', async (t) => {
  const g = std();
  const { store, ing, send } = rig(g);
  await send([g]);
  const rec = (x: Uint8Array, frontier: Uint8Array[] = [g.id]): ((id: Uint8Array) => HorizonEntry | undefined) => (id) => (toHex(id) === toHex(x) ? { id: x, depth: 40, frontier } : undefined);
  // The resent copy arrives with the record of its missing parent.
  const p1 = new Uint8Array(32).fill(0x31);
  const c1 = cmd(g.id, W, [p1]);
  t.equal((await send([c1])).orphaned, 1, 'parent unknown: it waits');
  const r1 = await send([c1], rec(p1));
  t.same([r1.appended.length, r1.duplicates, r1.orphaned], [1, 0, 0], 'the resent copy is placed, not dropped as a duplicate');
  t.ok(held(store, c1));
  t.same(store.horizonEntry(p1), { id: p1, depth: 40, frontier: [g.id] }, 'the record is adopted by the placed command');
  t.equal(ing.orphans.size, 0);
  // The record arrives with other commands of the same peer: the waiting orphan is retried.
  const p2 = new Uint8Array(32).fill(0x32);
  const c2 = cmd(g.id, W, [p2]);
  const child = cmd(g.id, W, [c2]);
  await send([c2, child]);
  t.equal(ing.orphans.size, 2);
  const other = cmd(g.id, W, [c1]);
  const r2 = await send([other], rec(p2));
  t.equal(r2.appended.length, 3, 'the orphan and its waiting child are placed with the new command');
  t.ok(held(store, c2) && held(store, child) && store.horizonEntry(p2) !== undefined);
  t.equal(ing.orphans.size, 0);
  // An orphan parked from another peer: a copy from this peer with the record is processed.
  const p3 = new Uint8Array(32).fill(0x33);
  const c3 = cmd(g.id, W, [p3]);
  await ing.receive([c3.bytes], 'elsewhere', 'poll');
  const r3 = await send([c3], rec(p3));
  t.same([r3.appended.length, r3.duplicates], [1, 0], 'the copy is processed');
  t.equal(ing.orphans.size, 0, 'the waiting entry is gone');
  // Without a copy, another peer's records do not resolve it (records are of one (link, scope)).
  const p4 = new Uint8Array(32).fill(0x34);
  const c4 = cmd(g.id, W, [p4]);
  await ing.receive([c4.bytes], 'elsewhere', 'poll');
  const r4 = await send([cmd(g.id, W, [c3])], rec(p4));
  t.equal(r4.appended.length, 1, 'only the new command');
  t.notOk(held(store, c4));
  t.equal(store.horizonEntry(p4), undefined, 'a record no placed command names is not adopted');
  t.ok(ing.orphans.has(toHex(g.id), c4), 'it still waits');
});

t.test('a retried orphan: a record naming an unheld membership command keeps it waiting; forged copies do not shut out the genuine one', async (t) => {
  const g = std();
  const { store, ing, send } = rig(g);
  await send([g]);
  const add = ops(g.id, A, [g], [{ publicKey: O.publicKey, roles: RW }]);
  const p = new Uint8Array(32).fill(0x41);
  const c = cmd(g.id, O, [p]);
  await send([flip(c)]);
  await send([c]);
  t.equal(ing.orphans.size, 2, 'forged and genuine copies both wait');
  const rec = (id: Uint8Array): HorizonEntry | undefined => (toHex(id) === toHex(p) ? { id: p, depth: 9, frontier: [add.id] } : undefined);
  const r1 = await send([cmd(g.id, W, [g])], rec);
  t.equal(r1.appended.length, 1, 'the record names a membership command not held: neither copy is placed');
  t.equal(ing.orphans.size, 2, 'both wait again, now for the membership command');
  t.equal(store.horizonEntry(p), undefined);
  t.ok(ing.orphans.size <= ing.orphans.maxCount);
  const r2 = await send([add], rec);
  t.same(r2.rejected, { BadSignature: 1 }, 'released with the membership command: the forged copy fails');
  t.ok(held(store, c), 'the genuine copy is placed');
  t.same(store.horizonEntry(p), { id: p, depth: 9, frontier: [add.id] }, 'and adopts the record');
  t.equal(ing.orphans.size, 0);
});

t.test('a command pruned here, resent as the parent of a new command, lets that command be placed (found by the scope-host property)', async (t) => {
  const g = std();
  const { store, ing, send } = rig(g);
  const a = cmd(g.id, W, [g]);
  const b = cmd(g.id, W, [a]);
  const c = cmd(g.id, W, [b]);
  await send([g, a, b, c]);
  await store.prune({ prune: [1, 2], horizon: [{ id: b.id, depth: store.depthOf(2), frontier: [g.id] }] });
  t.ok(store.indexOf(a.id) < 0 && store.horizonEntry(a.id) === undefined, 'a is pruned below the horizon');
  // A peer that kept a as a head merges it with b: it sends a itself (a is no horizon entry here).
  const merge = cmd(g.id, W, [a, b]);
  t.equal((await send([merge])).orphaned, 1, 'alone: a is unknown, the merge waits');
  const r = await send([a, merge]);
  t.ok(held(store, merge), 'with a in the batch: the merge is placed');
  t.ok(held(store, a) || store.horizonEntry(a.id)?.depth === 2, 'a is taken back, or adopted as a horizon entry at its depth');
  t.equal(ing.orphans.size, 0);
  t.equal(r.appended.length, held(store, a) ? 2 : 1);
  const again = await send([a, merge]);
  t.equal(again.appended.length, 0, 'nothing more the next time');
});
