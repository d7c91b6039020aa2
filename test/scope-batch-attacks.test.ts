/**
 * The attacks of design bulk-sync §7 against the live acceptance path of a compact batch
 * (`ScopeHost.accept`, as a v2 session calls it with a `PollResponse`): a forged command inside
 * a covered chain, a cover by another author, junk signatures on covered commands, covered
 * commands (`null` signatures) toward a host that did not set `elide`, structural rejects (the
 * items of the message still processed), and a fuzzed batch (never a throw, never a forged or
 * foreign id stored, only typed reasons).
 */
import t, { type Test } from 'tap';
import { decodeCbor, encodeCbor, type CborValue } from '../protocol/cbor.js';
import { encodeCommandV2, verifyCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { encodeBatch } from '../protocol/compact-batch.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import type { PollResponse } from '../protocol/messages-v2.js';
import type { PeerRef, ScopeHost } from '../agent/sync/scope-host.js';
import { ScopeRegistry } from '../agent/sync/scope-registry.js';
import { mutate } from '../testkit/fuzz-inputs.js';
import { prng } from '../testkit/prng.js';

const who = (s: number): Identity => identityFromSecret(new Uint8Array(32).fill(s));
const [A, B, C, R] = [1, 2, 3, 9].map(who) as [Identity, Identity, Identity, Identity];
const W = Role.Read | Role.Write;
const payload = encodeGenesisBody({ format: 1, name: 'fleet/attack', nonce: new Uint8Array(16), flags: 0, members: [{ publicKey: A.publicKey, roles: W | Role.Admin }, { publicKey: B.publicKey, roles: W }, { publicKey: C.publicKey, roles: W }, { publicKey: R.publicKey, roles: W }], retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
const G = encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload }, A.sign);
const FROM: PeerRef = { id: A.peerId, publicKey: A.publicKey, trusted: true };

/** B's chain of `n` commands on the genesis. */
function chainOf(by: Identity, n: number, first = G.id, seq0 = 1): CommandV2[] {
  const out: CommandV2[] = [];
  for (let i = 0; i < n; i++) out.push(encodeCommandV2(G.id, { parents: [i === 0 ? first : out[i - 1]!.id], author: by.author, seq: seq0 + i, kind: CommandKind.Data, payload: new Uint8Array(60).fill(i) }, by.sign));
  return out;
}
const CHAIN = chainOf(B, 40);
const HONEST = new Set([G, ...CHAIN].map((c) => toHex(c.id)));

/** A requester holding the genesis (so B's key is in its view), its registry closed when `t` ends. */
async function requester(t: Test, verify?: 'every'): Promise<ScopeHost> {
  const reg = await ScopeRegistry.open({ identity: R, scopes: { max: Infinity, retention: { '*': 'forever' } }, durability: { mode: 'none' }, ...(verify === undefined ? {} : { batchVerify: verify }) });
  t.teardown(() => reg.close());
  const v = await reg.create(G);
  if (!v.ok) throw new Error(v.detail);
  return v.host;
}
const answer = (batch: Uint8Array | null, items: Uint8Array[] = []): PollResponse => ({ type: 'PollResponse', scope: 0, session: 0, more: false, gap: false, total: 0, next_poll_ms: 0, heads: [], items, batch });
const stored = (h: ScopeHost): string[] => {
  const out: string[] = [];
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) out.push(toHex(h.store.idOf(i)));
  return out;
};
const signed = (cmds: CommandV2[]): Uint8Array => encodeBatch(cmds.map((command) => ({ command, elide: false })));
/** Edit a batch's CBOR tree. */
function edit(bytes: Uint8Array, f: (v: [Uint8Array[], CborValue[][]]) => void): Uint8Array {
  const v = decodeCbor(bytes, 65536, 4) as [Uint8Array[], CborValue[][]];
  f(v);
  return encodeCbor(v as unknown as CborValue);
}
const JUNK = new Uint8Array(64).fill(7);

t.test('honest: one cover verified for 40 commands', async (t) => {
  const h = await requester(t);
  await h.accept(FROM, answer(signed(CHAIN)));
  t.equal(stored(h).length, 41);
  t.equal(h.ingest.stats.batches.verified, 1);
  t.equal(h.ingest.stats.batches.coveredSkips, 39);
});

t.test('a forged command inside a covered chain: its descendants fail, nothing forged is stored', async (t) => {
  const h = await requester(t);
  const forged = edit(signed(CHAIN), (v) => {
    const p = v[1][10]![4] as Uint8Array; // one payload byte of the 11th command
    p[0] = p[0]! ^ 1;
  });
  const r = await h.accept(FROM, answer(forged));
  t.same(stored(h).slice(1), CHAIN.slice(0, 10).map((c) => toHex(c.id)), 'only the 10 commands before the forged one (each verified on its own)');
  t.equal(r.rejected.BadSignature, 30, 'the forged one and every later one: their ids changed');
  t.ok(stored(h).every((x) => HONEST.has(x)));
});

t.test('a cover by another author covers nothing (C2)', async (t) => {
  const h = await requester(t);
  const junk = CHAIN.slice(0, 20).map((c) => ({ ...c, signature: JUNK }));
  const cByC = encodeCommandV2(G.id, { parents: [CHAIN[19]!.id], author: C.author, seq: 1, kind: CommandKind.Data, payload: new Uint8Array(8) }, C.sign);
  const r = await h.accept(FROM, answer(signed([...junk, cByC])));
  t.equal(stored(h).length, 1, 'nothing but the genesis: B\'s commands are not covered by C\'s signature');
  t.equal(r.rejected.BadSignature, 20);
  t.equal(r.orphaned, 1, 'C\'s command waits for its parent');
});

t.test('junk signatures under a valid cover: authentic commands, stored (covers) or refused (every)', async (t) => {
  const junk = [...CHAIN.slice(0, 39).map((c) => ({ ...c, signature: JUNK })), CHAIN[39]!];
  const h = await requester(t);
  await h.accept(FROM, answer(signed(junk)));
  t.same(stored(h).slice(1), CHAIN.map((c) => toHex(c.id)), 'covers: every id is the authentic one (the cover signed them all)');
  const held = h.store.bytesOf(1);
  t.notOk(verifyCommandV2({ ...CHAIN[0]!, signature: held.subarray(held.length - 64), bytes: held }, B.publicKey), 'but its own stored signature is the junk one (PROTOCOL.md §10.7: relaying)');
  const e = await requester(t, 'every');
  const r = await e.accept(FROM, answer(signed(junk)));
  t.equal(r.rejected.BadSignature, 39, 'every: each junk signature refused');
  t.equal(stored(e).length, 1, 'nothing but the genesis');
  t.equal(r.orphaned, 1, 'the validly signed last one waits for its refused parent');
});

t.test('covered commands toward a host that did not set elide: Malformed, the items still processed', async (t) => {
  const h = await requester(t);
  const covered = encodeBatch(CHAIN.slice(1).map((command, i) => ({ command, elide: i < 38 })));
  const r = await h.accept(FROM, answer(covered, [CHAIN[0]!.bytes]));
  t.equal(r.rejected.Malformed, 1, 'the whole batch');
  t.same(stored(h).slice(1), [toHex(CHAIN[0]!.id)], 'the plain item is stored');
});

t.test('structural rejects: the whole batch Malformed, the items still processed', async (t) => {
  const base = signed(CHAIN.slice(1, 6));
  const cases: [string, Uint8Array][] = [
    ['a parent index at its own position', edit(base, (v) => void (v[1][2]![0] = [2]))],
    ['an author index out of range', edit(base, (v) => void (v[1][1]![1] = 1))],
    ['an author listed twice', edit(base, (v) => void v[0].push(v[0][0]!))],
    ['a run with a reserved element not 0', edit(base, (v) => void v[1].push([[4], 0, 1, 0, [new Uint8Array(1), new Uint8Array(1)], JUNK, 1]))],
    ['not [authors, entries]', encodeCbor([1, 2, 3])],
  ];
  for (const [what, bytes] of cases) {
    const h = await requester(t);
    const r = await h.accept(FROM, answer(bytes, [CHAIN[0]!.bytes]));
    t.equal(r.rejected.Malformed, 1, what);
    t.equal(stored(h).length, 2, `${what}: the item stored, nothing of the batch`);
  }
});

t.test('a fuzzed batch never throws, stores only honest ids, counts only typed reasons', async (t) => {
  const r = prng(17);
  const corpus = [signed(CHAIN), signed(CHAIN.slice(5, 30)), encodeBatch(CHAIN.map((command, i) => ({ command, elide: i % 3 !== 2 })))];
  const h = await requester(t);
  for (let i = 0; i < 600; i++) {
    const bytes = mutate(r, r.pick(corpus), corpus);
    const res = await h.accept(FROM, answer(bytes));
    for (const reason of Object.keys(res.rejected)) if (!(reason in ReasonCode)) t.fail(`untyped reason ${reason}`);
  }
  t.ok(stored(h).every((x) => HONEST.has(x)), 'no forged id stored');
  t.ok(h.ingest.stats.batches.received === 600);
});
