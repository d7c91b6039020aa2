/**
 * agent/sync/pending-records.ts (design §4.6, §3.4 field 5) over the horizon vectors' scope as
 * pruned (horizon {h8, h27}) and as a requester holding a prefix: item classification, the
 * pending records' bound and round, adoption, the gap marker's two conditions and once-per-round,
 * and the sample order.
 */
import t from 'tap';
import { encodeCbor } from '../protocol/cbor.js';
import { compareBytes } from '../protocol/command.js';
import { MAX_PENDING_RECORDS } from '../protocol/constants-v2.js';
import { encodeHorizonRecord, type HorizonRecord } from '../protocol/horizon-record.js';
import { toHex } from '../protocol/keys.js';
import { adoptionFor, classifyItems, exponentialSample, PendingRecords, sampleV2 } from '../agent/sync/pending-records.js';
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

t.test('sample: responder heads held, pending, horizon deepest first ≤ 32, exponential; no repeats, none of heads, ≤ 100', async (t) => {
  const req = hostOf(30, false);
  const entries = Array.from({ length: 40 }, (_, i) => ({ id: fake(i), depth: 100 + (i % 20), frontier: genesisOnly }));
  void req.store.adopt(entries);
  const heads = [id(29), id(10)];
  const pendingIds = Array.from({ length: 64 }, (_, i) => fake(100 + i));
  const s = sampleV2(req.store, { heads, responderHeads: [id(39), id(28), id(10)], pending: pendingIds });
  t.equal(s.length, 100);
  t.same(hex(s.slice(0, 1)), hex([id(28)]), 'h39 not held, h10 among the heads');
  t.same(hex(s.slice(1, 65)), hex(pendingIds));
  const deepest = [...entries].sort((a, b) => b.depth - a.depth || compareBytes(a.id, b.id)).slice(0, 32).map((e) => e.id);
  t.same(hex(s.slice(65, 97)), hex(deepest));
  t.same(hex(s.slice(97)), hex([id(26), id(22), id(14)]), 'exponential: size-4, -8, -16 (size-1 = h29 is a head, size-2 = h28 named already)');
  t.equal(new Set(hex(s)).size, 100);
  const small = sampleV2(req.store, { heads: [], responderHeads: [], pending: [] });
  t.same(hex(small.slice(32)), hex(exponentialSample(req.store, 100)));
  t.same(hex(exponentialSample(pruned.store, 100)), hex([39, 38, 36, 32, 0].map(id)), 'pruned handles skipped, the genesis last');
});
