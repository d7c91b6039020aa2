/**
 * The command feed (agent/api/command-feed.ts) and cursors (agent/api/cursor.ts): cursor syntax
 * both ways, the entry shape (base64 payload, `json` only for UTF-8 JSON), resolving `after`,
 * and the library iterator: full reads, resumes, limits, follow on a real engine, and ending by
 * abort or break with the subscription released.
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandEntry, commandsFrom, fanOut, resolveAfter, type CommandEntry, type FeedSource } from '../agent/api/command-feed.js';
import { CursorError, formatCursor, parseCursor } from '../agent/api/cursor.js';
import { DiskStore } from '../agent/store/disk-store.js';
import type { CommandStore } from '../agent/store/command-store.js';
import { Engine } from '../agent/sync/engine.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { randomDag, syntheticCommand } from '../testkit/synthetic-commands.js';
import { until } from '../testkit/wait.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-feed-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A disk store holding `n` random commands, and a source whose `added()` plays the engine's event. */
async function fixture(t: Test, n: number, seed = 1): Promise<{ store: DiskStore; source: FeedSource; added: () => void; listeners: () => number }> {
  const store = await DiskStore.open(tmp(), { durability: { mode: 'none' } });
  t.teardown(() => store.close());
  for (const c of randomDag(n, seed)) store.append(c);
  const ee = new EventEmitter();
  const source: FeedSource = {
    store,
    onAdded: (l) => {
      ee.on('added', l);
      return () => ee.off('added', l);
    },
  };
  return { store, source, added: () => ee.emit('added'), listeners: () => ee.listenerCount('added') };
}

/** Append one command on top of the store's heads. */
function appendOne(store: CommandStore, seq: number, text: string): void {
  store.append(syntheticCommand(store.heads().map((h) => store.idOf(h).slice()), seq, enc(text)));
}

const idsOf = (store: CommandStore, from = 0): string[] => Array.from({ length: store.size - from }, (_, i) => toHex(store.idOf(from + i)));

async function collect(it: AsyncIterable<CommandEntry>): Promise<CommandEntry[]> {
  const out: CommandEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
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

t.test('an entry carries the command exactly; json only for UTF-8 JSON', async (t) => {
  const store = await DiskStore.open(tmp(), { durability: { mode: 'none' } });
  t.teardown(() => store.close());
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
  const author = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  cases.forEach(([payload], i) => store.append(syntheticCommand(i === 0 ? [] : [store.idOf(i - 1).slice()], i + 7, payload, author)));
  for (const [i, [payload, hasJson, json]] of cases.entries()) {
    const e = commandEntry(store, i);
    const id = toHex(store.idOf(i));
    t.equal(e.id, id);
    t.equal(e.cursor, `${i}-${id.slice(0, 16)}`);
    t.equal(e.author, '0102030405060708');
    t.equal(e.seq, i + 7);
    t.same(e.parents, i === 0 ? [] : [toHex(store.idOf(i - 1))]);
    t.same(Buffer.from(e.payload, 'base64'), Buffer.from(payload), `payload ${i} round-trips through base64`);
    t.equal('json' in e, hasJson, `case ${i}: json present = ${hasJson}`);
    if (hasJson) t.same(e.json, json);
  }
  t.same(Object.keys(commandEntry(store, 0)), ['cursor', 'id', 'author', 'seq', 'parents', 'payload', 'json'], 'keys in the order api.md writes them');
  t.throws(() => commandEntry(store, cases.length), RangeError);
  t.throws(() => commandEntry(store, -1), RangeError);
});

t.test('resolveAfter: start, end, after a cursor; unknown and malformed cursors refused', async (t) => {
  const { store } = await fixture(t, 50);
  t.equal(resolveAfter(store), 0);
  t.equal(resolveAfter(store, 'end'), 50);
  for (const h of [0, 17, 49]) t.equal(resolveAfter(store, commandEntry(store, h).cursor), h + 1);
  const wrongPrefix = `10-${toHex(store.idOf(11)).slice(0, 16)}`;
  t.throws(() => resolveAfter(store, wrongPrefix), { name: 'CursorError', reason: 'cursor_unknown' });
  t.throws(() => resolveAfter(store, `50-${toHex(store.idOf(0)).slice(0, 16)}`), { name: 'CursorError', reason: 'cursor_unknown' }, 'beyond the log');
  t.throws(() => resolveAfter(store, 'END'), { name: 'CursorError', reason: 'cursor_syntax' });
  // A store with other contents (a rewritten log) does not accept this one's cursors.
  const other = await fixture(t, 50, 2);
  const e = commandEntry(store, 20);
  t.throws(() => resolveAfter(other.store, e.cursor), CursorError);
});

t.test('commandsFrom: everything in log order, resumes exactly after a cursor, honours limit', async (t) => {
  const { store, source } = await fixture(t, 600);
  const all = await collect(commandsFrom(source));
  t.same(all.map((e) => e.id), idsOf(store), 'every command once, in log order');
  t.same(all.map((e) => e.cursor.split('-')[0]), all.map((_, i) => String(i)));
  const parentsFirst = all.every((e, i) => e.parents.every((p) => all.findIndex((x) => x.id === p) < i));
  t.ok(parentsFirst, 'causal order: parents before children');
  for (const cut of [0, 1, 255, 256, 257, 599]) {
    const rest = await collect(commandsFrom(source, { after: all[cut]!.cursor }));
    t.same(rest.map((e) => e.id), idsOf(store, cut + 1), `after cursor ${cut}`);
  }
  t.same((await collect(commandsFrom(source, { limit: 3 }))).map((e) => e.id), idsOf(store).slice(0, 3));
  t.same(await collect(commandsFrom(source, { after: 'end' })), [], 'end without follow: nothing');
  t.throws(() => commandsFrom(source, { after: '5-0000000000000000' }), { name: 'CursorError', reason: 'cursor_unknown' }, 'a bad cursor throws at call time');
  t.throws(() => commandsFrom(source, { limit: 0 }), RangeError);
});

t.test('commandsFrom follows a real engine: its commits arrive in order, then abort ends it and unsubscribes', async (t) => {
  const store = await DiskStore.open(tmp(), { durability: { mode: 'always' } });
  const engine = new Engine({ identity: generateIdentity(), store });
  t.teardown(async () => {
    await engine.close();
    await store.close();
  });
  await engine.commit(enc('{"before":true}'));
  const source: FeedSource = {
    store,
    onAdded: (l) => {
      engine.on('commands', l);
      return () => engine.off('commands', l);
    },
  };
  const ac = new AbortController();
  const seen: CommandEntry[] = [];
  const reading = (async () => {
    for await (const e of commandsFrom(source, { after: 'end', follow: true, signal: ac.signal })) seen.push(e);
  })();
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push(toHex(await engine.commit(enc(JSON.stringify({ led: i })))));
  await until(() => seen.length === 40, 5000, 'the follower saw every commit');
  t.same(seen.map((e) => e.id), ids, 'the commits, in order, and not the one before the call');
  t.same(seen.map((e) => e.json), ids.map((_, i) => ({ led: i })));
  await until(() => engine.listenerCount('commands') === 1, 5000, 'the caught-up follower waits on the engine');
  ac.abort();
  await reading; // ends, does not reject
  t.equal(engine.listenerCount('commands'), 0, 'unsubscribed after abort');
  await engine.commit(enc('after'));
  t.equal(seen.length, 40, 'nothing read after the abort');
});

t.test('commandsFrom ends cleanly on abort at any point and on break, holding no listener', async (t) => {
  const { store, source, added, listeners } = await fixture(t, 30);
  // Aborted before the first entry.
  const pre = new AbortController();
  pre.abort();
  t.same(await collect(commandsFrom(source, { follow: true, signal: pre.signal })), []);
  // Aborted while the consumer holds an entry.
  const mid = new AbortController();
  let n = 0;
  for await (const e of commandsFrom(source, { follow: true, signal: mid.signal })) {
    if (++n === 10) mid.abort();
    t.ok(e.id);
  }
  t.equal(n, 10, 'nothing after the abort');
  t.equal(listeners(), 0);
  // Break while caught up and waiting: the wait is woken by an append, then the loop breaks.
  let got = 0;
  const reading = (async () => {
    for await (const e of commandsFrom(source, { follow: true })) {
      if (++got === 31) {
        t.equal(e.id, toHex(store.idOf(30)));
        break;
      }
    }
  })();
  await until(() => listeners() === 1, 5000, 'the follower waits');
  appendOne(store, 100, 'new');
  added();
  await reading;
  t.equal(got, 31);
  t.equal(listeners(), 0, 'no listener left after break');
  // A wake-up that brings nothing new (the event came late) just waits again.
  const ac = new AbortController();
  const idle = collect(commandsFrom(source, { after: 'end', follow: true, signal: ac.signal }));
  await until(() => listeners() === 1, 5000, 'waiting');
  added();
  await until(() => listeners() === 1, 5000, 'waiting again');
  ac.abort();
  t.same(await idle, []);
  t.equal(listeners(), 0);
});

t.test('fanOut: forty followers of one engine hold one listener, all are woken, none is left', async (t) => {
  const store = await DiskStore.open(tmp(), { durability: { mode: 'none' } });
  const engine = new Engine({ identity: generateIdentity(), store });
  t.teardown(async () => {
    await engine.close();
    await store.close();
  });
  const warnings: Error[] = [];
  const onWarning = (w: Error): number => warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const source: FeedSource = {
    store,
    onAdded: fanOut((l) => {
      engine.on('commands', l);
      return () => engine.off('commands', l);
    }),
  };
  const ac = new AbortController();
  const seen: string[][] = Array.from({ length: 40 }, () => []);
  const readers = seen.map(async (ids) => {
    for await (const e of commandsFrom(source, { follow: true, signal: ac.signal })) ids.push(e.id);
  });
  await until(() => engine.listenerCount('commands') === 1, 5000, 'the followers wait');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(toHex(await engine.commit(enc(`c${i}`))));
  await until(() => seen.every((s) => s.length === 5), 5000, 'every follower saw every commit');
  t.ok(seen.every((s) => s.join() === ids.join()), 'in order');
  t.ok(engine.listenerCount('commands') <= 1, 'one upstream listener at most');
  ac.abort();
  await Promise.all(readers);
  t.equal(engine.listenerCount('commands'), 0, 'released after the last follower');
  t.same(warnings.map((w) => w.name), [], 'no MaxListenersExceededWarning');
  const hook = fanOut((l) => {
    engine.on('commands', l);
    return () => engine.off('commands', l);
  });
  let calls = 0;
  const f = (): number => calls++;
  const offA = hook(f);
  const offB = hook(f);
  await engine.commit(enc('twice'));
  t.equal(calls, 2, 'one function subscribed twice is called twice');
  offA();
  offA();
  t.equal(engine.listenerCount('commands'), 1, 'an unsubscribe called twice removes one subscription');
  offB();
  t.equal(engine.listenerCount('commands'), 0);
});
