/**
 * agent/sync/pending-records.ts (design §4.6, §3.4 field 5) over the horizon vectors' scope as
 * pruned (horizon {h8, h27}) and as a requester holding a prefix: item classification, the
 * pending records' bound and round, adoption, the gap marker's two conditions and once-per-round,
 * the sample order and its steady-state rule (no exponential part once a responder head is held),
 * with the responder's answer to such a sample over a 1,000-command chain and its size before/after.
 */
import t from 'tap';
import { encodeCbor } from '../protocol/cbor.js';
import { compareBytes } from '../protocol/command.js';
import { MAX_PENDING_RECORDS } from '../protocol/constants-v2.js';
import { encodeHorizonRecord, type HorizonRecord } from '../protocol/horizon-record.js';
import { toHex } from '../protocol/keys.js';
import { adoptionFor, classifyItems, exponentialSample, PendingRecords, sampleV2, sendsExponential } from '../agent/sync/pending-records.js';
import { PollAnswererV2 } from '../agent/sync/poll-answer-v2.js';
import { decodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import type { PollRequest, PollResponse } from '../protocol/messages-v2.js';
import { syntheticCommandV2, syntheticGenesis } from '../testkit/synthetic-commands-v2.js';
import { horizonCommands, ScopeHost } from '../scripts/vectors-horizon.js';

const cmds = horizonCommands();
const id = (h: number): Uint8Array => cmds[h]!.id;
const hostOf = (n: number, prune: boolean): ScopeHost => {
  const host = new ScopeHost(id(0));
  for (const c of cmds.slice(0, n)) host.place(c);
  if (prune) host.prune({ commands: 10, bytes: Infinity, ageS: Infinity });
  return host;
};
const pruned = hostOf(40, true);
const genesisOnly = [id(0)];
const rec = (h: number, depth = h, frontier = genesisOnly): HorizonRecord => ({ id: id(h), depth, frontier });
const fake = (n: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 0xee : i === 1 ? n : 0));
const hex = (ids: readonly Uint8Array[]): string[] => ids.map(toHex);

t.test('items by first byte: commands and records kept in order, the rest counted Malformed', async (t) => {
  const badDepth = encodeCbor([id(3), 2 ** 31, []]);
  const unsorted = encodeCbor([id(3), 1, [id(2), id(1)].sort(compareBytes).reverse()]);
  const { items, malformed } = classifyItems([cmds[1]!.bytes, encodeHorizonRecord(rec(8)), Uint8Array.of(0x84, 1, 2, 3, 4), badDepth, unsorted, cmds[2]!.bytes]);
  t.same(items.map((x) => x.kind), ['command', 'record', 'command']);
  t.same(items[1]?.kind === 'record' ? items[1].record.depth : -1, 8);
  t.equal(malformed, 3);
});

t.test('pending records: known ids ignored, repeats keep the first, the oldest dropped at the bound, a round clears', async (t) => {
  const p = new PendingRecords(3);
  t.equal(p.offer(pruned.store, rec(30)), 'known', 'retained');
  t.equal(p.offer(pruned.store, rec(8)), 'known', 'in the horizon');
  t.same([1, 2, 3].map((h) => p.offer(pruned.store, rec(h))), ['pending', 'pending', 'pending']);
  t.equal(p.offer(pruned.store, rec(2, 99)), 'repeat');
  t.equal(p.get(id(2))?.depth, 2, 'the first one kept');
  t.equal(p.offer(pruned.store, rec(4)), 'pending');
  t.same(hex(p.ids()), hex([id(2), id(3), id(4)]), 'h1 dropped, oldest first');
  p.endRound();
  t.same([p.size, p.ids()], [0, []]);
  t.equal(new PendingRecords().max, MAX_PENDING_RECORDS);
});

t.test('gap marker: gap and an unknown record, at most once per round', async (t) => {
  const req = hostOf(6, false); // holds h0..h5
  const p = new PendingRecords();
  t.equal(p.gapMarker(req.store, false, [rec(8)]), null, 'no gap flag');
  t.equal(p.gapMarker(req.store, true, [rec(3)]), null, 'gap but every record known: a false alarm');
  t.same(p.gapMarker(req.store, true, [rec(3), rec(8), rec(27)]), [{ id: id(8), depth: 8 }, { id: id(27), depth: 27 }]);
  t.ok(p.gapWritten);
  t.equal(p.gapMarker(req.store, true, [rec(9)]), null, 'one per round');
  p.endRound();
  t.not(p.gapMarker(req.store, true, [rec(9)]), null, 'a new round');
});

t.test('adoption: retained, horizon, or a pending record whose frontier is held', async (t) => {
  const req = hostOf(6, false);
  const p = new PendingRecords();
  p.offer(req.store, rec(8));
  p.offer(req.store, rec(9, 9, [fake(1)]));
  const held = req.holdsMembership;
  t.same(adoptionFor(req.store, p, [id(5)], held), { ok: true, adopt: [] });
  t.same(adoptionFor(req.store, p, [id(5), id(8)], held), { ok: true, adopt: [{ id: id(8), depth: 8, frontier: genesisOnly }] });
  t.same(adoptionFor(req.store, p, [id(9)], held), { ok: false, missing: [id(9)] }, 'frontier names a membership command not held: waits');
  t.same(adoptionFor(req.store, p, [id(8), id(20)], held), { ok: false, missing: [id(20)] }, 'unknown parent: nothing adopted');
  void req.store.adopt([{ id: id(8), depth: 8, frontier: genesisOnly }]);
  t.same(adoptionFor(req.store, p, [id(8)], held), { ok: true, adopt: [] }, 'now in the horizon');
});

t.test('sample: responder heads held, pending, horizon deepest first ≤ 32, exponential only with no responder head held; no repeats, none of heads, ≤ 100', async (t) => {
  const req = hostOf(30, false);
  const entries = Array.from({ length: 40 }, (_, i) => ({ id: fake(i), depth: 100 + (i % 20), frontier: genesisOnly }));
  void req.store.adopt(entries);
  const heads = [id(29), id(10)];
  const pendingIds = Array.from({ length: 64 }, (_, i) => fake(100 + i));
  const deepest = [...entries].sort((a, b) => b.depth - a.depth || compareBytes(a.id, b.id)).slice(0, 32).map((e) => e.id);
  const s = sampleV2(req.store, { heads, responderHeads: [id(39), id(28), id(10)], pending: pendingIds });
  t.equal(s.length, 97, 'h28 held: no exponential part');
  t.same(hex(s.slice(0, 1)), hex([id(28)]), 'h39 not held, h10 among the heads');
  t.same(hex(s.slice(1, 65)), hex(pendingIds));
  t.same(hex(s.slice(65, 97)), hex(deepest));
  const cold = sampleV2(req.store, { heads, responderHeads: [id(39)], pending: pendingIds });
  t.same(hex(cold.slice(0, 64)), hex(pendingIds), 'no responder head held: none named');
  t.same(hex(cold.slice(64, 96)), hex(deepest));
  t.same(hex(cold.slice(96)), hex([id(28), id(26), id(22), id(14)]), 'exponential: size-2, -4, -8, -16 (size-1 = h29 is a head), cut to 100');
  t.equal(new Set(hex(cold)).size, 100);
  const small = sampleV2(req.store, { heads: [], responderHeads: [], pending: [] });
  t.same(hex(small.slice(32)), hex(exponentialSample(req.store, 100)), 'no previous answer: exponential');
  t.same(hex(exponentialSample(pruned.store, 100)), hex([39, 38, 36, 32, 0].map(id)), 'pruned handles skipped, the genesis last');
});

t.test('steady-state rule: one retained responder head (named in heads or in the sample) drops the exponential part', async (t) => {
  const req = hostOf(30, false); // holds h0..h29, no horizon
  t.ok(sendsExponential(req.store, []), 'before any answer');
  t.ok(sendsExponential(req.store, [id(35), fake(1)]), 'no responder head held');
  t.ok(sendsExponential(pruned.store, [id(20)]), 'a head pruned here is not held');
  t.notOk(sendsExponential(req.store, [id(35), id(29)]), 'one held is enough');
  t.same(sampleV2(req.store, { heads: [id(29)], responderHeads: [id(29)], pending: [] }), [], 'in sync: the head is in heads, the sample is empty');
  t.same(hex(sampleV2(req.store, { heads: [id(29)], responderHeads: [id(25)], pending: [] })), hex([id(25)]), 'requester ahead: the responder head only');
  t.same(hex(sampleV2(req.store, { heads: [id(29)], responderHeads: [id(25), id(35)], pending: [] })), hex([id(25)]), 'one held, one not: still no exponential');
  const withPending = sampleV2(req.store, { heads: [id(29)], responderHeads: [id(35)], pending: [fake(7)] });
  t.same(hex(withPending), hex([fake(7), ...exponentialSample(req.store, 100).filter((x) => toHex(x) !== toHex(id(29)))]), 'mid-round, no responder head held: exponential after the pending ids');
});

/** A chain of `n` data commands on a synthetic genesis (the genesis first). */
function chain(n: number): CommandV2[] {
  const out = [syntheticGenesis('test/sample')];
  for (let i = 1; i <= n; i++) out.push(syntheticCommandV2(out[0]!.id, [out[i - 1]!.id], i, Uint8Array.of(i & 0xff, i >> 8)));
  return out;
}
const headsOf = (host: ScopeHost): Uint8Array[] => host.store.heads().sort((a, b) => host.store.depthOf(b) - host.store.depthOf(a) || b - a).slice(0, 10).map((h) => host.store.idOf(h).slice());
const place = (host: ScopeHost, list: readonly CommandV2[]): void => {
  for (const c of list) host.place(c);
};
const all = chain(1010);
const scopeId = all[0]!.id;
const ids = (r: PollResponse): string[] => r.items.map((b) => toHex(decodeCommandV2(scopeId, b).id));

t.test('responder: K from heads ∪ named responder heads answers exactly the new commands (1,000-command history)', async (t) => {
  const rs = new ScopeHost(scopeId);
  const rq = new ScopeHost(scopeId);
  place(rs, all.slice(0, 1001));
  place(rq, all.slice(0, 1001));
  const answerer = new PollAnswererV2(rs.store, rs.frontierIds);
  let session = 0;
  const poll = (responderHeads: Uint8Array[]): { req: PollRequest; res: PollResponse } => {
    const heads = headsOf(rq);
    const req: PollRequest = { type: 'PollRequest', scope: 0, session: ++session, max_bytes: 65536, heads, sample: sampleV2(rq.store, { heads, responderHeads, pending: [] }), window: 0 };
    return { req, res: answerer.answer('rq', req, { scope: 0, nextPollMs: 1000 }).response };
  };
  /** The request as the rule before it: the exponential part always sent (same order, cut to 100). */
  const before = (req: PollRequest): PollRequest => {
    const named = new Set(hex([...req.heads, ...req.sample]));
    return { ...req, sample: [...req.sample, ...exponentialSample(rq.store, 100).filter((x) => !named.has(toHex(x)))].slice(0, 100) };
  };
  const bytes = (r: PollRequest): number => encodeMessageV2(r).length;
  const first = poll([]);
  t.same([first.res.items.length, first.res.more], [0, false], 'in sync: nothing to send');
  t.same(hex(first.req.sample), hex(before({ ...first.req, sample: [] }).sample), 'the first poll (no previous answer) carries the exponential part');
  // Steady state, heads equal: the responder appends; the requester's head is the responder's last.
  place(rs, all.slice(1001, 1004));
  const equal = poll(first.res.heads);
  t.same(equal.req.sample, [], 'steady-state sample = responder heads only (here all among heads: none)');
  t.same(ids(equal.res), hex(all.slice(1001, 1004).map((c) => c.id)), 'exactly the new commands');
  t.same(ids(answerer.answer('rq-old', before(equal.req), { scope: 0, nextPollMs: 1000 }).response), ids(equal.res), 'the answer the exponential part gave');
  place(rq, all.slice(1001, 1004));
  // Steady state, requester ahead on its own branch: its head is unknown there, the responder's last head is named.
  rq.place(syntheticCommandV2(scopeId, [all[1003]!.id], 5000, Uint8Array.of(9)));
  place(rs, all.slice(1004, 1005));
  const ahead = poll(equal.res.heads);
  t.same(hex(ahead.req.sample), hex(equal.res.heads), 'steady-state sample = responder heads only');
  t.same(ids(ahead.res), [toHex(all[1004]!.id)], 'exactly the new command');
  t.same(ids(answerer.answer('rq-old', before(ahead.req), { scope: 0, nextPollMs: 1000 }).response), ids(ahead.res), 'the answer the exponential part gave');
  t.comment(`steady-state PollRequest, 1,000-command history, heads equal: ${bytes(before(equal.req))} B before, ${bytes(equal.req)} B after`);
  t.comment(`steady-state PollRequest, 1,000-command history, requester ahead by one: ${bytes(before(ahead.req))} B before, ${bytes(ahead.req)} B after`);
});
