/**
 * The v2 scope feed (agent/api/scope-feed.ts, design v2-scopes.md §4.7) over a memory scope
 * store: command lines with scope and kind, `after` cursors, a `pruned` gap for pruned positions
 * (crossed from the start, or named by the `after` cursor), a `horizon` gap for a stored marker
 * (seen again when resuming from the command before it), cursor refusals, follow, `limit`
 * counting commands only, and the legacy v1 store read as `kind: "v1"`.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../agent/api/api-error.js';
import { writeScopeStream } from '../agent/api/scope-stream.js';
import type { CommandV2 } from '../protocol/command-v2.js';
import { toHex } from '../protocol/keys.js';
import { formatCursor } from '../agent/api/cursor.js';
import { ScopeReader, legacyFeedScope, scopeItems, v2FeedScope, type FeedScope, type ScopeItem, type ScopedEntry } from '../agent/api/scope-feed.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { MemoryStore } from '../testkit/memory-store.js';
import { syntheticCommandV2, syntheticGenesis } from '../testkit/synthetic-commands-v2.js';
import { encodeCommand } from '../protocol/command.js';
import { generateIdentity } from '../protocol/keys.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** genesis (0), a chain c1..c5 (1..5) with JSON payloads; c1..c3 pruned (c3 a horizon entry); a marker before c6 (6). */
function fixture(): { store: MemoryScopeStore; feed: FeedScope; bump: () => void; cmds: CommandV2[]; cursors: string[] } {
  const g = syntheticGenesis('device/0011223344556677');
  const store = new MemoryScopeStore(g.id);
  const cmds: CommandV2[] = [g];
  store.append(g, { frontier: 0 });
  for (let i = 1; i <= 5; i++) {
    const c = syntheticCommandV2(g.id, [cmds[i - 1]!.id], i, enc(JSON.stringify({ n: i })));
    cmds.push(c);
    store.append(c, { frontier: 0 });
  }
  const cursors = cmds.map((c, h) => formatCursor(h, c.id));
  store.prune({ prune: [1, 2, 3], horizon: [{ id: cmds[3]!.id.slice(), depth: 4, frontier: [] }] });
  store.appendGap([{ id: new Uint8Array(32).fill(0xaa), depth: 9 }]);
  const c6 = syntheticCommandV2(g.id, [cmds[5]!.id], 6, enc('not json'));
  cmds.push(c6);
  store.append(c6, { frontier: 0 });
  cursors.push(formatCursor(6, c6.id));
  const ev = new EventEmitter();
  const feed = v2FeedScope('device/0011223344556677', store, (l) => {
    ev.on('a', l);
    return () => void ev.off('a', l);
  });
  return { store, feed, bump: () => ev.emit('a'), cmds, cursors };
}

const shape = (it: ScopeItem): string => ('gap' in it ? `gap:${it.gap.reason}` : `${it.kind}:${it.cursor.split('-')[0]}`);

t.test('from the start: genesis, a pruned gap, the retained commands, the stored horizon marker before its command', async (t) => {
  const { feed, cursors } = fixture();
  const items = new ScopeReader(feed).take(100);
  t.same(items.map(shape), ['genesis:0', 'gap:pruned', 'data:4', 'data:5', 'gap:horizon', 'data:6']);
  t.same(items[1], { gap: { scope: feed.name, reason: 'pruned', after: cursors[0], before: cursors[4] } });
  t.same(items[4], { gap: { scope: feed.name, reason: 'horizon', before: cursors[6], horizon: [{ id: 'aa'.repeat(32), depth: 9 }] } });
  const e4 = items[2] as ScopedEntry;
  t.same(Object.keys(e4), ['cursor', 'scope', 'kind', 'id', 'author', 'seq', 'parents', 'payload', 'json']);
  t.same(e4.json, { n: 4 });
  t.equal(e4.scope, feed.name);
  t.notOk('json' in (items[5] as ScopedEntry), 'a payload that is not JSON has no json field');
  t.notOk('json' in (items[0] as ScopedEntry), 'a genesis body is not shown as json');
});

t.test('after cursors: a pruned position starts with a pruned gap; gaps are seen again on resume, commands once', async (t) => {
  const { feed, cursors } = fixture();
  const fromPruned = new ScopeReader(feed, cursors[2]).take(100);
  t.same(fromPruned.map(shape), ['gap:pruned', 'data:4', 'data:5', 'gap:horizon', 'data:6']);
  t.same(fromPruned[0], { gap: { scope: feed.name, reason: 'pruned', after: cursors[2], before: cursors[4] } });
  t.same(new ScopeReader(feed, cursors[4]).take(100).map(shape), ['data:5', 'gap:horizon', 'data:6']);
  t.same(new ScopeReader(feed, cursors[5]).take(100).map(shape), ['gap:horizon', 'data:6'], 'the marker again from the command before it');
  t.same(new ScopeReader(feed, cursors[6]).take(100), []);
  t.same(new ScopeReader(feed, 'end').take(100), []);
  t.equal(new ScopeReader(feed, cursors[4]).startCursor, cursors[4]);
});

t.test('refused cursors: unknown handle, wrong id prefix at a retained handle, bad syntax', async (t) => {
  const { feed, cursors } = fixture();
  t.throws(() => new ScopeReader(feed, formatCursor(7, new Uint8Array(32))), { name: 'CursorError', reason: 'cursor_unknown' });
  t.throws(() => new ScopeReader(feed, `4-${'0'.repeat(16)}`), { name: 'CursorError', reason: 'cursor_unknown' });
  t.throws(() => new ScopeReader(feed, 'x'), { name: 'CursorError', reason: 'cursor_syntax' });
  t.doesNotThrow(() => new ScopeReader(feed, cursors[1]), 'a pruned handle cannot be checked and is accepted');
});

t.test('follow waits for the scope\'s appends; limit counts command lines only', async (t) => {
  const { store, feed, bump, cmds } = fixture();
  const ac = new AbortController();
  const got: ScopeItem[] = [];
  const reading = (async () => {
    for await (const it of scopeItems(feed, { after: formatCursor(6, cmds[6]!.id), follow: true, signal: ac.signal })) {
      got.push(it);
      if (got.length === 1) ac.abort();
    }
  })();
  await new Promise((r) => setImmediate(r));
  t.same(got, [], 'caught up: waiting');
  const c7 = syntheticCommandV2(store.scopeId, [cmds[6]!.id], 7, enc('{"n":7}'));
  store.append(c7, { frontier: 0 });
  bump();
  await reading;
  t.same(got.map(shape), ['data:7']);
  t.equal((got[0] as ScopedEntry).id, toHex(c7.id));

  const limited: ScopeItem[] = [];
  for await (const it of scopeItems(feed, { limit: 3 })) limited.push(it);
  t.same(limited.map(shape), ['genesis:0', 'gap:pruned', 'data:4', 'data:5'], 'three commands, the gap line not counted');
  t.throws(() => scopeItems(feed, { limit: 0 }), RangeError);
});

t.test('the legacy v1 store reads as kind v1 with v1 ids and cursors', async (t) => {
  const store = new MemoryStore();
  const me = generateIdentity();
  const c = encodeCommand({ parents: [], author: me.author, seq: 1, payload: enc('{"v":1}') }, (m) => me.sign(m));
  store.append(c);
  const feed = legacyFeedScope('legacy/v1', store);
  const [e] = new ScopeReader(feed).take(10) as ScopedEntry[];
  t.equal(e?.kind, 'v1');
  t.equal(e?.scope, 'legacy/v1');
  t.equal(e?.id, toHex(c.id));
  t.same(e?.json, { v: 1 });
  t.equal(e?.cursor, formatCursor(0, c.id));
});

t.test('writeScopeStream: NDJSON with gap lines, the start cursor header, limit, follow ended by the signal', async (t) => {
  const { store, feed, bump, cmds, cursors } = fixture();
  const stop = new AbortController();
  const server = createServer((req, res) => {
    void writeScopeStream(res, feed, new URL(req.url ?? '/', 'http://x').searchParams, { signal: stop.signal }).catch((err: unknown) => {
      res.writeHead(err instanceof ApiError ? err.status : 500).end(err instanceof ApiError ? err.reason : String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const get = async (q: string): Promise<{ status: number; start: string | null; items: ScopeItem[] }> => {
    const r = await fetch(base + q);
    const text = await r.text();
    return { status: r.status, start: r.headers.get('syncwire-start-cursor'), items: r.status === 200 ? text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ScopeItem) : [] };
  };
  const all = await get('');
  t.same(all.items.map(shape), ['genesis:0', 'gap:pruned', 'data:4', 'data:5', 'gap:horizon', 'data:6']);
  t.equal(all.start, null);
  const resumed = await get(`?after=${cursors[5]}`);
  t.same(resumed.items.map(shape), ['gap:horizon', 'data:6']);
  t.equal(resumed.start, cursors[5]);
  t.same((await get('?limit=2')).items.map(shape), ['genesis:0', 'gap:pruned', 'data:4']);
  t.equal((await get(`?after=9-${'0'.repeat(16)}`)).status, 410);
  t.equal((await get('?after=nope')).status, 400);

  const r = await fetch(`${base}?follow=true&after=${cursors[6]}`);
  const reader = r.body!.getReader();
  const c7 = syntheticCommandV2(store.scopeId, [cmds[6]!.id], 7, enc('{"n":7}'));
  store.append(c7, { frontier: 0 });
  bump();
  const { value } = await reader.read();
  const line = JSON.parse(new TextDecoder().decode(value).trim()) as ScopedEntry;
  t.equal(line.id, toHex(c7.id), 'the follower got the appended command');
  stop.abort();
  t.same(await reader.read().then((x) => x.done), true, 'the stream ends when the agent closes');
});
