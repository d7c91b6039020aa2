/**
 * agent/sync/poll-answer-v2.ts, design §4.5 step by step on the horizon vectors' scope (40
 * commands, retention 10: h1..h9 and h11..h27 pruned, h10 a pinned head, horizon {h8, h27}) and
 * on small hand-made scopes: K, M, window, gap (both cases), records (order, no duplicates, not
 * for T, Q or membership parents), the exact fit at every budget 64..4096, POLL_FIT_ANY_BYTES_V2,
 * the cursor; then a fast-check property over random scopes, pruning and requesters.
 */
import t from 'tap';
import { compareBytes } from '../protocol/command.js';
import { decodeCommandV2, encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind, POLL_FIT_ANY_BYTES_V2 } from '../protocol/constants-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { decodeHorizonRecord } from '../protocol/horizon-record.js';
import { toHex } from '../protocol/keys.js';
import type { PollRequest, PollResponse } from '../protocol/messages-v2.js';
import fc from 'fast-check';
import { adoptionFor, classifyItems, PendingRecords, sampleV2 } from '../agent/sync/pending-records.js';
import { encodeMembershipBody } from '../protocol/membership-body.js';
import { mulberry32 } from '../testkit/prng.js';
import { AnswerItems, fitAnswer, gapOf, headsOf, knownOf, MissingV2, PollAnswererV2, windowOf } from '../agent/sync/poll-answer-v2.js';
import { horizonCommands, ScopeHost } from '../scripts/vectors-horizon.js';
import { syntheticGenesis } from '../testkit/synthetic-commands-v2.js';

const cmds = horizonCommands();
const hostOf = (list: readonly CommandV2[], prune = true): ScopeHost => {
  const h = new ScopeHost(list[0]!.id);
  for (const c of list) h.place(c);
  if (prune) h.prune({ commands: 10, bytes: Infinity, ageS: Infinity });
  return h;
};
const pruned = hostOf(cmds);
const full = hostOf(cmds, false);
const id = (h: number): Uint8Array => cmds[h]!.id;
const handles = (host: ScopeHost, ids: readonly Uint8Array[]): number[] => ids.map((x) => host.store.indexOf(x));
const req = (q: { heads?: number[]; sample?: number[]; window?: number; max?: number }): PollRequest => ({
  type: 'PollRequest', scope: 3, session: 7, max_bytes: q.max ?? 4096, heads: (q.heads ?? []).map(id), sample: (q.sample ?? []).map(id), window: q.window ?? 0,
});
const missing = (host: ScopeHost, k: number[]): number[] => Array.from(new MissingV2(host.store, host.frontierIds, k.map(id)).result());
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

t.test('the scope as pruned: base 28, h10 pinned, horizon h8 and h27', async (t) => {
  t.equal(pruned.store.base, 28);
  t.same(pruned.store.horizon().map((e) => cmds.findIndex((c) => compareBytes(c.id, e.id) === 0)).sort((a, b) => a - b), [8, 27]);
  t.ok(pruned.store.isRetained(10));
});

t.test('step 1: K keeps the ids retained or in the horizon, once each', async (t) => {
  const k = knownOf(pruned.store, [id(5), id(8), id(29), id(8), id(0), id(20)]);
  t.same(k.map(toHex), [id(8), id(29), id(0)].map(toHex));
  t.same(knownOf(pruned.store, [id(3), id(20)]), [], 'pruned beyond the horizon');
});

t.test('step 2: M, the walk stopping at horizon entries, membership commands by their frontiers', async (t) => {
  t.same(missing(pruned, []), [0, 10, ...range(28, 39)], 'empty K: every retained command, the genesis below the horizon included');
  t.same(missing(pruned, [29]), [10, ...range(30, 39)], 'the genesis is in the past of h29 although no retained link leads there');
  t.same(missing(pruned, [8]), [10, ...range(28, 39)], 'a horizon entry: its frontier (the genesis) is known');
  t.same(missing(pruned, [10, 39]), [], 'the heads: nothing');
  t.same(missing(full, [24]), [10, ...range(25, 39)], 'unpruned: v1\'s walk');
});

t.test('step 3: window keeps every membership command and the last n data commands of M', async (t) => {
  const m = missing(pruned, [29]);
  t.same(windowOf(pruned.store, m, 5), { t: [30, 35, 36, 37, 38, 39], cut: true });
  t.same(windowOf(pruned.store, m, 10), { t: m, cut: false }, 'exactly n data commands: no cut');
  t.same(windowOf(pruned.store, m, 0), { t: m, cut: false });
});

t.test('step 4: gap for a cut, and for a requester behind the horizon', async (t) => {
  t.ok(gapOf(pruned.store, true, [id(39)]), 'cut');
  t.ok(gapOf(pruned.store, false, []), 'K empty, horizon not');
  t.ok(gapOf(pruned.store, false, [id(0), id(30)]), 'K names membership commands only');
  t.notOk(gapOf(pruned.store, false, [id(28)]), 'K names a retained data command');
  t.notOk(gapOf(pruned.store, false, [id(27)]), 'K names a horizon entry');
  t.notOk(gapOf(full.store, false, []), 'no horizon: an empty requester lacks nothing that is not sent');
});

/** L in full: kinds and the handle each item names (records by the handle of their id). */
function itemsOf(host: ScopeHost, tList: number[], q: number[]): string[] {
  const items = new AnswerItems(host.store, host.frontierIds, tList, q.map(id));
  const out: string[] = [];
  for (let it = items.take(); it !== undefined; it = items.take()) {
    const h = cmds.findIndex((c) => compareBytes(c.id, it.id) === 0);
    out.push(it.handle >= 0 ? `c${h}` : `r${h}`);
    if (it.handle < 0 && compareBytes(decodeHorizonRecord(it.bytes).id, it.id) !== 0) throw new Error('record bytes name another id');
  }
  return out;
}

t.test('step 5: records before the command that needs them', async (t) => {
  t.same(itemsOf(pruned, [0, 10, ...range(28, 39)], []), ['c0', 'r8', 'c10', 'r27', ...range(28, 39).map((h) => `c${h}`)], 'horizon parents');
  t.same(itemsOf(pruned, [30, 35, 36, 37, 38, 39], [29]), ['c30', 'r34', 'c35', 'c36', 'c37', 'c38', 'c39'], 'a cut parent; none for h29 in Q');
  const merge = itemsOf(full, range(27, 39), [24]);
  const two = [id(25), id(26)].sort(compareBytes).map((x) => `r${cmds.findIndex((c) => compareBytes(c.id, x) === 0)}`);
  t.same(merge.slice(0, 3), [...two, 'c27'], 'two parents of a merge, ascending id order');
  t.same(itemsOf(full, range(25, 39), [23]).filter((x) => x === 'r24'), ['r24'], 'h24, a parent of h25 and h26, recorded once');
  t.same(itemsOf(full, [9, ...range(11, 39)], [10]).slice(0, 2), ['r8', 'c9'], 'a parent the requester holds but did not name (the v1 case)');
  const g = syntheticGenesis('test/records');
  const d = (n: number): CommandV2 => encodeCommandV2(g.id, { parents: [g.id], author: g.author, seq: n, kind: CommandKind.Data, payload: Uint8Array.of(n) }, () => new Uint8Array(64));
  const small = new ScopeHost(g.id);
  for (const c of [g, d(1), d(2)]) small.place(c);
  const items = new AnswerItems(small.store, small.frontierIds, [2], [d(1).id]);
  t.same([items.take()?.handle, items.take()], [2, undefined], 'no record for a membership parent (the genesis)');
});

/** Encoded size of `r` with `items` and `heads` in place of its own. */
const sizeWith = (r: PollResponse, items: Uint8Array[], heads = r.heads): number => encodeMessageV2({ ...r, items, heads }).length;

t.test('step 6: exact at every budget from 64 to 4096 (empty requester of the pruned scope)', async (t) => {
  const base: PollResponse = { type: 'PollResponse', scope: 3, session: 7, more: false, gap: false, total: 14, next_poll_ms: 1000, heads: [id(39), id(10)], items: [] };
  const all = fitAnswer(base, new AnswerItems(pruned.store, pruned.frontierIds, missing(pruned, []), []), 1 << 20).response.items;
  t.equal(all.length, 16);
  let bad = 0;
  for (let max = 64; max <= 4096; max++) {
    const { response: r } = fitAnswer(base, new AnswerItems(pruned.store, pruned.frontierIds, missing(pruned, []), []), max);
    const n = r.items.length;
    const ok = encodeMessageV2(r).length <= max
      && r.items.every((x, i) => compareBytes(x, all[i]!) === 0)
      && r.more === (n < all.length)
      && (n === all.length || sizeWith(r, [...r.items, all[n]!]) > max)
      && (r.heads.length === 2 || (n <= 1 && sizeWith(r, all.slice(0, 1), base.heads.slice(0, r.heads.length + 1)) > max));
    if (!ok) bad++;
  }
  t.equal(bad, 0, '4033 budgets: within, a prefix of L, maximal, heads give way only to the first item');
});

t.test('POLL_FIT_ANY_BYTES_V2: a 1024-byte item with 10 heads and 5-byte integers fits', async (t) => {
  const g = syntheticGenesis('test/fit');
  const host = new ScopeHost(g.id);
  host.place(g);
  const mk = (n: number, len: number): CommandV2 => encodeCommandV2(g.id, { parents: [g.id], author: g.author, seq: n, kind: CommandKind.Data, payload: new Uint8Array(len).fill(n) }, () => new Uint8Array(64));
  const big = mk(100, 1024 - mk(100, 900).bytes.length + 900);
  t.equal(big.bytes.length, 1024);
  const others = range(1, 9).map((n) => mk(n, 10));
  for (const c of [...others, big]) host.place(c);
  const a = new PollAnswererV2(host.store, host.frontierIds);
  const r = a.answer('p', { type: 'PollRequest', scope: 1, session: 0xffffffff, max_bytes: POLL_FIT_ANY_BYTES_V2, heads: others.map((c) => c.id), sample: [], window: 0 }, { scope: 65535, nextPollMs: 0xffffffff, total: 0xffffffff }).response;
  t.same([r.items.length, r.heads.length, r.more], [1, 10, false]);
  t.equal(encodeMessageV2(r).length, POLL_FIT_ANY_BYTES_V2, 'exactly: 364 bytes of envelope, 3 + 1,024 of item');
});

/** What one round of a requester saw. */
interface Round {
  answers: PollResponse[];
  placed: CommandV2[];
  /** A command it already held (or had pruned) arrived; with the request ids the responder did not know. */
  heldAgain: Array<{ cmd: CommandV2; unknownNamed: boolean }>;
  unplaceable: number;
  gapMarkers: number;
}

/**
 * A requester applying answers item by item as §4.6 says: records kept pending (or ignored when
 * known), each command placed after adopting the pending records it names; polls until `more` is false.
 */
function round(responder: PollAnswererV2, rs: ScopeHost, req: ScopeHost, window: number, maxBytes: number, gone: Set<string>): Round {
  const pending = new PendingRecords();
  const out: Round = { answers: [], placed: [], heldAgain: [], unplaceable: 0, gapMarkers: 0 };
  let responderHeads: Uint8Array[] = [];
  for (let i = 0; i < 500; i++) {
    const s = req.store;
    const heads = s.heads().sort((a, b) => s.depthOf(b) - s.depthOf(a) || b - a).slice(0, 10).map((h) => s.idOf(h).slice());
    const sample = sampleV2(s, { heads, responderHeads, pending: pending.ids() });
    const unknownNamed = [...heads].some((x) => rs.store.indexOf(x) < 0 && rs.store.horizonEntry(x) === undefined);
    const r = responder.answer('req', { type: 'PollRequest', scope: 0, session: i, max_bytes: maxBytes, heads, sample, window }, { scope: 0, nextPollMs: 0 }).response;
    out.answers.push(r);
    responderHeads = r.heads;
    const { items, malformed } = classifyItems(r.items);
    if (malformed > 0) throw new Error('malformed item');
    const records = items.flatMap((x) => (x.kind === 'record' ? [x.record] : []));
    if (pending.gapMarker(s, r.gap, records) !== null) out.gapMarkers++;
    for (const it of items) {
      if (it.kind === 'record') {
        pending.offer(s, it.record);
        continue;
      }
      const cmd = decodeCommandV2(rs.scopeId, it.bytes);
      if (s.indexOf(cmd.id) >= 0 || gone.has(toHex(cmd.id))) out.heldAgain.push({ cmd, unknownNamed });
      const a = adoptionFor(s, pending, cmd.parents, req.holdsMembership);
      if (!a.ok) {
        out.unplaceable++;
        continue;
      }
      void s.adopt(a.adopt); // memory store: applied at once
      if (req.place(cmd) >= 0) out.placed.push(cmd);
    }
    if (r.items.length === 0 && r.more) throw new Error('no progress');
    if (!r.more) break;
  }
  pending.endRound();
  return out;
}

t.test('a bootstrap at POLL_FIT_ANY_BYTES_V2: the cursor continues, gap only in the first answer', async (t) => {
  const req = new ScopeHost(pruned.scopeId);
  const r = round(new PollAnswererV2(pruned.store, pruned.frontierIds), pruned, req, 0, POLL_FIT_ANY_BYTES_V2, new Set());
  t.ok(r.answers.length > 1, `${r.answers.length} answers`);
  t.same(r.answers.map((a) => a.gap), r.answers.map((_, i) => i === 0));
  t.same([r.unplaceable, r.heldAgain.length, r.gapMarkers, r.placed.length], [0, 0, 1, 14]);
  t.same(req.store.horizon().map((e) => toHex(e.id)).sort(), [id(8), id(27)].map(toHex).sort(), 'both records adopted');
});

/** A random scope: genesis, data and membership commands (A adds keys), at most 6 heads at a time. */
function randomScope(n: number, seed: number): CommandV2[] {
  const rand = mulberry32(seed);
  const pick = (k: number): number => Math.floor(rand() * k);
  const g = syntheticGenesis('test/horizon', Uint8Array.from({ length: 16 }, () => pick(256)));
  const out: CommandV2[] = [g];
  let heads = [0];
  for (let i = 1; i <= n; i++) {
    const r = rand();
    let ps = heads.length >= 6 || r < 0.15 ? heads.slice(0, 2 + pick(2)) : r < 0.3 ? [pick(i)] : [heads[pick(heads.length)]!];
    ps = [...new Set(ps)];
    const member = rand() < 0.08;
    const payload = member ? encodeMembershipBody({ ops: [{ publicKey: Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? 0x20 + (i % 200) : 7)), roles: 1 }] }) : Uint8Array.from({ length: 1 + pick(150) }, () => pick(256));
    out.push(encodeCommandV2(g.id, { parents: ps.map((p) => out[p]!.id), author: g.author, seq: i, kind: member ? CommandKind.Membership : CommandKind.Data, payload }, () => new Uint8Array(64)));
    heads = [...heads.filter((h) => !ps.includes(h)), i];
  }
  return out;
}

t.test('property: a requester places every command it receives and gets what the window allows', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }), fc.nat(), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 32 }),
      fc.double({ min: 0, max: 1, noNaN: true }), fc.option(fc.integer({ min: 0, max: 20 })), fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 12 })),
      fc.integer({ min: POLL_FIT_ANY_BYTES_V2, max: 6000 }),
      (n, seed, keep, target, have, reqKeep, window, maxBytes) => {
        const all = randomScope(n, seed);
        const rs = hostOf(all, false);
        rs.prune({ commands: keep, bytes: Infinity, ageS: Infinity }, target);
        const req = new ScopeHost(rs.scopeId);
        for (const c of all.slice(0, Math.floor(have * (n + 1)))) req.place(c);
        const gone = new Set<string>();
        if (reqKeep !== null) for (const h of req.prune({ commands: reqKeep, bytes: Infinity, ageS: Infinity }, target).prune) gone.add(toHex(all[h]!.id));
        const r = round(new PollAnswererV2(rs.store, rs.frontierIds), rs, req, window, maxBytes, gone);
        if (r.unplaceable > 0) return false;
        if (r.heldAgain.some((x) => x.cmd.kind === CommandKind.Data || !x.unknownNamed)) return false;
        if (r.gapMarkers > 1) return false;
        const data = r.placed.filter((c) => c.kind === CommandKind.Data).length;
        if (window > 0) return data <= window;
        for (let h = 0; h < rs.store.size; h++) {
          if (rs.store.isRetained(h) && req.store.indexOf(rs.store.idOf(h)) < 0 && !gone.has(toHex(rs.store.idOf(h)))) return false;
        }
        return true;
      },
    ),
    { numRuns: 200 },
  );
  t.pass('200 random scopes, prunings and requesters');
});

t.test('headsOf selects the 10 deepest heads (ties: higher handle first) as a full sort would', async (t) => {
  t.doesNotThrow(() => fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(40), fc.nat(5)), { maxLength: 60 }), (rows) => {
      // A reader with heads at distinct handles and chosen depths: only heads, depthOf and idOf are read.
      const handles = [...new Set(rows.map(([h]) => h))];
      const depth = new Map(rows.map(([h, d]) => [h, d]));
      const reader = { heads: () => [...handles], depthOf: (h: number) => depth.get(h)!, idOf: (h: number) => Uint8Array.of(h) } as unknown as Parameters<typeof headsOf>[0];
      const want = [...handles].sort((a, b) => depth.get(b)! - depth.get(a)! || b - a).slice(0, 10);
      return JSON.stringify(headsOf(reader).map((b) => b[0])) === JSON.stringify(want);
    }),
    { numRuns: 300 },
  ));
});
