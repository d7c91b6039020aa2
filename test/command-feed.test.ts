/**
 * The library's command feed on protocol 2 (agent/api/scope-feed.ts `scopeItems`, what
 * `agent.commands({ scope })` returns) and cursors (agent/api/cursor.ts): cursor syntax both
 * ways, the entry shape (base64 payload, `json` only for UTF-8 JSON, `scope` and `kind`), full
 * reads in causal order, resumes, limits, a bad cursor refused at the call, follow on a real
 * EngineV2 through NodeScopes (as the agent wires it), and ending by abort or break with every
 * subscription released, forty followers on one engine listener.
 * (Gap lines, pruned positions and horizon markers: test/scope-feed.test.ts.)
 */
import t from 'tap';
import { engineWithScope } from '../testkit/scope-engine.js';
import fc from 'fast-check';
import { EventEmitter } from 'node:events';
import { CursorError, formatCursor, parseCursor } from '../agent/api/cursor.js';
import { scopeItems, v2FeedScope, type FeedScope, type ScopeItem, type ScopedEntry } from '../agent/api/scope-feed.js';
import { NodeScopes } from '../agent/cli/node-scopes.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import type { ScopeStoreReader } from '../agent/store/scope-store-contract.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { toHex } from '../protocol/keys.js';
import { randomScopeDag, syntheticCommandV2, syntheticGenesis, SYNTHETIC_AUTHOR_V2 } from '../testkit/synthetic-commands-v2.js';
import { until } from '../testkit/wait.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const idsOf = (store: ScopeStoreReader, from = 0): string[] => Array.from({ length: store.size - from }, (_, i) => toHex(store.idOf(from + i)));

/** A memory scope store holding a random scope graph (genesis and `n` commands), a feed whose `added()` plays the engine's event. */
function fixture(n: number, seed = 1): { store: MemoryScopeStore; feed: FeedScope; added: () => void; listeners: () => number } {
  const cmds = randomScopeDag(n, seed);
  const store = new MemoryScopeStore(cmds[0]!.id);
  for (const c of cmds) store.append(c, { frontier: 0 });
  const ee = new EventEmitter();
  const feed = v2FeedScope('test/dag', store, (l) => {
    ee.on('added', l);
    return () => void ee.off('added', l);
  });
  return { store, feed, added: () => ee.emit('added'), listeners: () => ee.listenerCount('added') };
}

/** The command items (gap lines left out). */
async function collect(it: AsyncIterable<ScopeItem>): Promise<ScopedEntry[]> {
  const out: ScopedEntry[] = [];
  for await (const e of it) if (!('gap' in e)) out.push(e);
  return out;
}

/** `feed` with its subscriptions counted. */
function counted(feed: FeedScope): { feed: FeedScope; subscribed: () => number } {
  let n = 0;
  const wrapped: FeedScope = Object.assign(Object.create(feed) as FeedScope, {
    onAppended: (l: () => void) => {
      n++;
      const off = feed.onAppended(l);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        n--;
        off();
      };
    },
  });
  return { feed: wrapped, subscribed: () => n };
}

t.test('cursors: format and parse round-trip, and the syntax is strict', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff_fffe }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (h, id) => {
      const c = formatCursor(h, id);
      t.equal(c, `${h}-${toHex(id).slice(0, 16)}`);
      const p = parseCursor(c);
      return p.handle === h && p.idPrefix === toHex(id).slice(0, 16) && formatCursor(h, toHex(id)) === c;
    }),
  );
  const bad = ['', 'end', '-0123456789abcdef', '01-0123456789abcdef', '+1-0123456789abcdef', '1-0123456789ABCDEF', '1-0123456789abcde', '1-0123456789abcdef0',
    ' 1-0123456789abcdef', '1-0123456789abcdef\n', '1.0-0123456789abcdef', '1e3-0123456789abcdef', '4294967295-0123456789abcdef', '99999999999-0123456789abcdef', '1_0123456789abcdef'];
  for (const text of bad) {
    t.throws(() => parseCursor(text), { name: 'CursorError', reason: 'cursor_syntax' }, JSON.stringify(text));
  }
  t.same(parseCursor('0-0123456789abcdef'), { handle: 0, idPrefix: '0123456789abcdef' });
  t.same(parseCursor('4294967294-ffffffffffffffff'), { handle: 0xffff_fffe, idPrefix: 'ffffffffffffffff' });
  t.throws(() => formatCursor(-1, new Uint8Array(32)), RangeError);
  t.throws(() => formatCursor(1.5, new Uint8Array(32)), RangeError);
  t.throws(() => formatCursor(1, new Uint8Array(4)), RangeError);
});

t.test('an entry carries the command exactly; json only for UTF-8 JSON; scope and kind', async (t) => {
  const g = syntheticGenesis('app/entries');
  const store = new MemoryScopeStore(g.id);
  store.append(g, { frontier: 0 });
  const cases: [Uint8Array, boolean, unknown][] = [
    [enc('{"led":1}'), true, { led: 1 }],
    [enc(' [1, "ü", null] '), true, [1, 'ü', null]],
    [enc('null'), true, null],
    [enc('"text"'), true, 'text'],
    [enc('17'), true, 17],
    [enc('hello'), false, undefined],
    [enc('{"led":1'), false, undefined],
    [new Uint8Array(0), false, undefined],
    [Uint8Array.from([0x22, 0xff, 0x22]), false, undefined], // "\xff": JSON once replaced by U+FFFD, but not UTF-8
    [Uint8Array.from([0x22, 0xed, 0xa0, 0x80, 0x22]), false, undefined], // a UTF-8-encoded lone surrogate
    [Uint8Array.from([0x31, 0x00]), false, undefined],
  ];
  cases.forEach(([payload], i) => store.append(syntheticCommandV2(g.id, [store.idOf(i).slice()], i + 7, payload), { frontier: 0 }));
  const feed = v2FeedScope('app/entries', store, () => () => {});
  const genesis = feed.entry(0);
  t.same([genesis.kind, genesis.scope, genesis.seq, genesis.parents], ['genesis', 'app/entries', 0, []]);
  t.notOk('json' in genesis, 'a genesis body is not shown as json');
  for (const [i, [payload, hasJson, json]] of cases.entries()) {
    const h = i + 1;
    const e = feed.entry(h);
    const id = toHex(store.idOf(h));
    t.equal(e.id, id);
    t.equal(e.cursor, `${h}-${id.slice(0, 16)}`);
    t.equal(e.scope, 'app/entries');
    t.equal(e.kind, 'data');
    t.equal(e.author, toHex(SYNTHETIC_AUTHOR_V2));
    t.equal(e.seq, i + 7);
    t.same(e.parents, [toHex(store.idOf(h - 1))]);
    t.same(Buffer.from(e.payload, 'base64'), Buffer.from(payload), `payload ${i} round-trips through base64`);
    t.equal('json' in e, hasJson, `case ${i}: json present = ${hasJson}`);
    if (hasJson) t.same(e.json, json);
  }
  t.same(Object.keys(feed.entry(1)), ['cursor', 'scope', 'kind', 'id', 'author', 'seq', 'parents', 'payload', 'json'], 'keys in the order README writes them');
});

t.test('scopeItems: everything in causal order, resumes exactly after a cursor, honours limit, refuses bad cursors at the call', async (t) => {
  const { store, feed } = fixture(600);
  const all = await collect(scopeItems(feed));
  t.same(all.map((e) => e.id), idsOf(store), 'every command once, in handle order');
  t.same(all.map((e) => e.cursor.split('-')[0]), all.map((_, i) => String(i)));
  const position = new Map(all.map((e, i) => [e.id, i]));
  t.ok(all.every((e, i) => e.parents.every((p) => (position.get(p) ?? Infinity) < i)), 'causal order: parents before children');
  for (const cut of [0, 1, 255, 256, 257, 600]) {
    const rest = await collect(scopeItems(feed, { after: all[cut]!.cursor }));
    t.same(rest.map((e) => e.id), idsOf(store, cut + 1), `after cursor ${cut}`);
  }
  t.same((await collect(scopeItems(feed, { limit: 3 }))).map((e) => e.id), idsOf(store).slice(0, 3));
  t.same(await collect(scopeItems(feed, { after: 'end' })), [], 'end without follow: nothing');
  t.throws(() => scopeItems(feed, { after: '5-0000000000000000' }), { name: 'CursorError', reason: 'cursor_unknown' }, 'a bad cursor throws at call time');
  t.throws(() => scopeItems(feed, { after: `601-${all[0]!.id.slice(0, 16)}` }), { name: 'CursorError', reason: 'cursor_unknown' }, 'beyond the scope');
  t.throws(() => scopeItems(feed, { after: 'END' }), { name: 'CursorError', reason: 'cursor_syntax' });
  t.throws(() => scopeItems(feed, { limit: 0 }), RangeError);
  // Another scope's cursor at a retained handle does not name this scope's command there.
  const other = fixture(600, 2);
  t.throws(() => scopeItems(other.feed, { after: all[20]!.cursor }), CursorError);
});

t.test('scopeItems follows a real EngineV2: its commits arrive in order, then abort ends it and unsubscribes', async (t) => {
  const { engine, scopes } = await engineWithScope(t);
  await engine.commit('app/x', enc('{"before":true}'));
  const { feed, subscribed } = counted(scopes.feed(scopes.resolve()));
  const ac = new AbortController();
  const seen: ScopedEntry[] = [];
  const reading = (async () => {
    for await (const e of scopeItems(feed, { after: 'end', follow: true, signal: ac.signal })) if (!('gap' in e)) seen.push(e);
  })();
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push(toHex(await engine.commit('app/x', enc(JSON.stringify({ led: i })))));
  await until(() => seen.length === 40, 10_000, 'the follower saw every commit');
  t.same(seen.map((e) => e.id), ids, 'the commits, in order, and not the one before the call');
  t.same(seen.map((e) => e.json), ids.map((_, i) => ({ led: i })));
  t.ok(seen.every((e) => e.scope === 'app/x' && e.kind === 'data'));
  await until(() => subscribed() === 1, 10_000, 'the caught-up follower waits on the scope');
  ac.abort();
  await reading; // ends, does not reject
  t.equal(subscribed(), 0, 'unsubscribed after abort');
  await engine.commit('app/x', enc('after'));
  t.equal(seen.length, 40, 'nothing read after the abort');
});

t.test('scopeItems ends cleanly on abort at any point and on break, holding no listener', async (t) => {
  const { store, feed, added, listeners } = fixture(29);
  // Aborted before the first entry.
  const pre = new AbortController();
  pre.abort();
  t.same(await collect(scopeItems(feed, { follow: true, signal: pre.signal })), []);
  // Aborted while the consumer holds an entry.
  const mid = new AbortController();
  let n = 0;
  for await (const e of scopeItems(feed, { follow: true, signal: mid.signal })) {
    if (++n === 10) mid.abort();
    t.ok('cursor' in e);
  }
  t.equal(n, 10, 'nothing after the abort');
  t.equal(listeners(), 0);
  // Break while caught up and waiting: the wait is woken by an append, then the loop breaks.
  let got = 0;
  const reading = (async () => {
    for await (const e of scopeItems(feed, { follow: true })) {
      if (++got === 31) {
        t.equal('gap' in e ? null : e.id, toHex(store.idOf(30)));
        break;
      }
    }
  })();
  await until(() => listeners() === 1, 10_000, 'the follower waits');
  store.append(syntheticCommandV2(store.scopeId, [store.idOf(29).slice()], 100, enc('new')), { frontier: 0 });
  added();
  await reading;
  t.equal(got, 31);
  t.equal(listeners(), 0, 'no listener left after break');
  // A wake-up that brings nothing new (the event came late) just waits again.
  const ac = new AbortController();
  const idle = collect(scopeItems(feed, { after: 'end', follow: true, signal: ac.signal }));
  await until(() => listeners() === 1, 10_000, 'waiting');
  added();
  await until(() => listeners() === 1, 10_000, 'waiting again');
  ac.abort();
  t.same(await idle, []);
  t.equal(listeners(), 0);
});

t.test('forty followers of one scope hold one engine listener, all are woken, none is left', async (t) => {
  const { engine, scopes } = await engineWithScope(t);
  const warnings: Error[] = [];
  const onWarning = (w: Error): number => warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const { feed, subscribed } = counted(scopes.feed(scopes.resolve('app/x')));
  const ac = new AbortController();
  const seen: string[][] = Array.from({ length: 40 }, () => []);
  const readers = seen.map(async (ids) => {
    for await (const e of scopeItems(feed, { after: 'end', follow: true, signal: ac.signal })) if (!('gap' in e)) ids.push(e.id);
  });
  await until(() => subscribed() === 40, 10_000, 'the followers wait');
  t.equal(engine.listenerCount('appended'), 1, 'one engine listener for every follower (NodeScopes)');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(toHex(await engine.commit('app/x', enc(`c${i}`))));
  await until(() => seen.every((s) => s.length === 5), 10_000, 'every follower saw every commit');
  t.ok(seen.every((s) => s.join() === ids.join()), 'in order');
  ac.abort();
  await Promise.all(readers);
  t.equal(subscribed(), 0, 'released after the last follower');
  t.equal(engine.listenerCount('appended'), 1, 'still one engine listener');
  t.same(warnings.map((w) => w.name), [], 'no MaxListenersExceededWarning');
});
