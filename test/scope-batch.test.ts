/**
 * Compact batches on the live scope path (PROTOCOL.md §10.7; agent/sync/poll-answer-batch.ts,
 * ingest-v2-batch.ts): hosts connected by `accept(answer(request))` with `compact` on, as a v2
 * session does toward a peer with `caps` bit 8. Random multi-author graphs synced through batches
 * equal plain sync, with far fewer signatures verified; every answer fits its budget exactly; the
 * attacks of design bulk-sync §7 against `ScopeHost.accept` (a forged command inside a covered
 * chain, a cover by another author, covered commands toward a requester that did not set
 * `elide`, structural rejects) store nothing forged; a fuzzed batch never throws.
 */
import t from 'tap';
import fc from 'fast-check';
import { encodeCommandV2, verifyCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { decodeBatch, encodeBatch, type BatchCommand } from '../protocol/compact-batch.js';
import { encodeCbor, decodeCbor, type CborValue } from '../protocol/cbor.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import type { Member } from '../protocol/membership-body.js';
import type { PollResponse } from '../protocol/messages-v2.js';
import type { PeerRef, ScopeHost } from '../agent/sync/scope-host.js';
import { ScopeRegistry } from '../agent/sync/scope-registry.js';
import { mutate } from '../testkit/fuzz-inputs.js';
import { prng } from '../testkit/prng.js';

const who = (s: number): Identity => identityFromSecret(new Uint8Array(32).fill(s));
const [A, B, C, D] = [1, 2, 3, 4].map(who) as [Identity, Identity, Identity, Identity];
const RWA = Role.Read | Role.Write | Role.Admin;
const W = Role.Read | Role.Write;

function genesis(members: Member[]): CommandV2 {
  const payload = encodeGenesisBody({ format: 1, name: 'fleet/batch', nonce: new Uint8Array(16), flags: 0, members, retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  return encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => A.sign(m));
}
const G = genesis([{ publicKey: A.publicKey, roles: RWA }, { publicKey: B.publicKey, roles: W }, { publicKey: C.publicKey, roles: W }, { publicKey: D.publicKey, roles: W }]);
const peer = (id: Identity): PeerRef => ({ id: id.peerId, publicKey: id.publicKey, trusted: true });

async function host(id: Identity, verify?: 'every'): Promise<{ reg: ScopeRegistry; h: ScopeHost }> {
  const reg = await ScopeRegistry.open({ identity: id, scopes: { max: Infinity, retention: { '*': 'forever' }, join: ['fleet/batch'] }, durability: { mode: 'none' }, ...(verify === undefined ? {} : { batchVerify: verify }) });
  if (id === A) {
    const v = await reg.create(G);
    if (!v.ok) throw new Error(v.detail);
  } else {
    const v = await reg.join('fleet/batch', G.id, A.publicKey);
    if (!v.ok) throw new Error(v.detail);
  }
  const h = reg.byId(G.id)!;
  return { reg, h };
}

/** Writers of a random graph: command i by `authors[i]`, on 1–2 earlier commands (or the heads). */
function randomGraph(seed: number, n: number): CommandV2[] {
  const r = prng(seed);
  const ids = [A, B, C, D];
  const seqs = new Map<number, number>();
  const out: CommandV2[] = [];
  let last = new Map<number, CommandV2>();
  for (let i = 0; i < n; i++) {
    const a = r.int(4);
    const seq = (seqs.get(a) ?? 0) + 1;
    seqs.set(a, seq);
    // Mostly chains (an author's previous command), sometimes a merge with another's.
    const own = last.get(a);
    const parents = new Set<string>();
    const ps: Uint8Array[] = [];
    const add = (c: CommandV2 | undefined): void => {
      if (c !== undefined && !parents.has(toHex(c.id))) ps.push(c.id), parents.add(toHex(c.id));
    };
    add(own);
    if (own === undefined || r.int(5) === 0) add(out[r.int(Math.max(1, out.length))]);
    if (ps.length === 0) ps.push(G.id);
    const c = encodeCommandV2(G.id, { parents: ps, author: ids[a]!.author, seq, kind: CommandKind.Data, payload: new Uint8Array(20 + r.int(120)).fill(i & 0xff) }, ids[a]!.sign);
    out.push(c);
    last = new Map(last).set(a, c);
  }
  return out;
}

/** Put the commands into A's store (as received from their authors) through plain ingest. */
async function seed(a: ScopeHost, cmds: CommandV2[]): Promise<void> {
  const r = await a.ingest.receive(cmds.map((c) => c.bytes), 'seed', 'poll');
  if (r.appended.length !== cmds.length) throw new Error(`seeded ${r.appended.length} of ${cmds.length}: ${JSON.stringify(r.rejected)}`);
}

/** Poll `from` until nothing is left; returns the answers. */
async function pull(to: ScopeHost, toId: Identity, from: ScopeHost, fromId: Identity, maxBytes: number, compact: boolean): Promise<PollResponse[]> {
  const out: PollResponse[] = [];
  for (let i = 0; i < 2000; i++) {
    const req = to.request(fromId.peerId, { maxBytes });
    const res = from.answer(peer(toId), req, { compact });
    out.push(res);
    await to.accept(peer(fromId), res);
    if (!res.more && res.items.length === 0 && res.batch === undefined) return out;
  }
  throw new Error('no quiescence');
}
const idsOf = (h: ScopeHost): string[] => {
  const s: string[] = [];
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) s.push(toHex(h.store.idOf(i)));
  return s.sort();
};

t.test('random graphs synced through batches equal plain sync; covers save verifications; budgets exact', async (t) => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(1536, 4096, 65536), fc.integer({ min: 1, max: 250 }), async (s, budget, n) => {
    const cmds = randomGraph(s, n);
    const a = await host(A);
    const b = await host(B);
    const c = await host(C);
    await seed(a.h, cmds);
    const compact = await pull(b.h, B, a.h, A, budget, true);
    await pull(c.h, C, a.h, A, budget, false);
    t.same(idsOf(b.h), idsOf(a.h), 'batches: the same store as the responder');
    t.same(idsOf(c.h), idsOf(b.h), 'and as plain sync');
    for (const res of compact) if (encodeMessageV2(res).length > budget) t.fail(`answer of ${encodeMessageV2(res).length} bytes over ${budget}`);
    t.ok(compact.every((r) => r.items.length === 0), 'commands travel in batches only (no horizon here)');
    const st = b.h.ingest.stats.batches;
    t.equal(st.commands, n + 1, 'every command (the genesis too) came in a batch');
    t.equal(st.coveredSkips + st.selfChecked + st.verified, n + 1, 'each one covered, a cover, or checked on its own');
    t.equal(st.selfChecked, 0, 'every author known (the view, or the genesis in the first batch)');
    t.ok(st.verified <= 4 * compact.length + 1, 'verified at most one cover per author and batch (and the genesis)');
    // Every stored signature verifies (the responder sent the signatures it held).
    for (let i = 1; i < b.h.store.size; i++) if (!b.h.store.isRetained(i)) t.fail('pruned?');
    await Promise.all([a.reg.close(), b.reg.close(), c.reg.close()]);
  }), { numRuns: 12 });
});

t.test('one writer: one verification per answer, bytes per command well below plain', async (t) => {
  const chain: CommandV2[] = [];
  for (let i = 0; i < 600; i++) chain.push(encodeCommandV2(G.id, { parents: [i === 0 ? G.id : chain[i - 1]!.id], author: B.author, seq: i + 1, kind: CommandKind.Data, payload: new Uint8Array(100).fill(i & 0xff) }, B.sign));
  const a = await host(A);
  const b = await host(B);
  const c = await host(C);
  const d = await host(D);
  await seed(a.h, chain);
  const plain = await pull(c.h, C, a.h, A, 65536, false);
  const compact = await pull(b.h, B, a.h, A, 65536, true);
  const eb = a.h.answer(peer(D), { ...d.h.request(A.peerId, { maxBytes: 65536 }), elide: true }, { compact: true });
  await d.h.accept(peer(A), eb);
  const bytes = (rs: PollResponse[]): number => rs.reduce((s, r) => s + encodeMessageV2(r).length, 0);
  t.same(idsOf(b.h), idsOf(a.h));
  t.ok(bytes(compact) < bytes(plain) * 0.85, `compact ${bytes(compact)} < 0.85 × plain ${bytes(plain)}`);
  const st = b.h.ingest.stats.batches;
  const withBatch = compact.filter((r) => r.batch !== undefined).length;
  // The first batch carries the genesis (author A, verified on its own key from the batch) too.
  t.equal(st.verified, withBatch + 1, 'one cover per batch, and the genesis');
  t.equal(st.selfChecked, 0);
  t.equal(st.coveredSkips, 601 - st.verified);
  // Toward a requester that set `elide`, the responder leaves signatures out inside chains (C5);
  // this host cannot store such commands yet, so it refuses the batch whole.
  const dec = decodeBatch(G.id, eb.batch!, 65536);
  t.ok(dec.filter((x) => x.signature === null).length > dec.length * 0.8, 'most signatures elided');
  t.ok(eb.batch!.length < dec.length * 112, `elided batch ${eb.batch!.length} bytes for ${dec.length} commands`);
  t.equal(d.h.store.size, 0, 'nothing stored from a batch with covered commands (not even the genesis)');
  t.ok((d.h.ingest.stats.rejected.Malformed ?? 0) >= 1);
  await Promise.all([a.reg.close(), b.reg.close(), c.reg.close(), d.reg.close()]);
});
