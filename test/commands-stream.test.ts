/**
 * GET /v1/commands of a protocol-2 agent (agent/api/scope-stream.ts, design v2-scopes.md §4.7)
 * over real HTTP (node:http on a unix socket) and real scope stores: full reads in handle
 * (causal) order, resuming after a cursor, `end`, `limit`, the headers, 400 and 410 refusals with
 * nothing streamed, follow on a real EngineV2 through NodeScopes (as the agent wires it),
 * resuming across a restart of a disk scope store and its server (fast-check over random scope
 * graphs and cut points: every command exactly once, in order), a reader that reads nothing while
 * 20,000 commands are appended (paced: the socket buffer and one batch, never the backlog),
 * ending on the agent's signal, and a store failure mid-stream cutting the body.
 */
import t, { type Test } from 'tap';
import { engineWithScope } from '../testkit/scope-engine.js';
import fc from 'fast-check';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../agent/api/api-error.js';
import { STREAM_BATCH_BYTES } from '../agent/api/stream-query.js';
import { v2FeedScope, type FeedScope, type ScopeItem, type ScopedEntry } from '../agent/api/scope-feed.js';
import { writeScopeStream } from '../agent/api/scope-stream.js';
import { NodeScopes } from '../agent/cli/node-scopes.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';
import type { ScopeStore, ScopeStoreReader } from '../agent/store/scope-store-contract.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { CommandV2 } from '../protocol/command-v2.js';
import { toHex } from '../protocol/keys.js';
import { randomScopeDag } from '../testkit/synthetic-commands-v2.js';
import { until } from '../testkit/wait.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-stream-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const SCOPE = 'test/dag';
const idsOf = (store: ScopeStoreReader, from = 0): string[] => Array.from({ length: store.size - from }, (_, i) => toHex(store.idOf(from + i)));

/** A feed over `store` whose `added()` plays the engine's `appended` event; counts its subscriptions. */
function emitterFeed(store: ScopeStoreReader): { feed: FeedScope; added: () => void; listeners: () => number } {
  const ee = new EventEmitter();
  ee.setMaxListeners(0);
  const feed = v2FeedScope(SCOPE, store, (l) => {
    ee.on('added', l);
    return () => void ee.off('added', l);
  });
  return { feed, added: () => ee.emit('added'), listeners: () => ee.listenerCount('added') };
}

/** A memory scope store holding a random scope graph: its genesis and `n` commands. */
function memoryStoreWith(n: number, seed = 1): MemoryScopeStore {
  const cmds = randomScopeDag(n, seed);
  const store = new MemoryScopeStore(cmds[0]!.id);
  for (const c of cmds) store.append(c, { frontier: 0 });
  return store;
}

const openDisk = (dir: string, scopeId: Uint8Array): Promise<DiskScopeStore> =>
  DiskScopeStore.open(dir, { scopeId, durability: { mode: 'always' }, hooks: { frontier: () => 0 } });

/** What the server side of one stream did. */
interface Probe {
  res: ServerResponse;
  /** Lines handed to res.write so far. */
  lines: number;
  /** Largest res.writableLength seen right after a write. */
  maxBuffered: number;
  /** What the last res.write returned. */
  lastOk: boolean;
  /** writeScopeStream settled (its rejection, if any, in `error`). */
  done: Promise<void>;
  error?: unknown;
}

/** The stream route on a unix socket; every stream probed. */
async function serve(t: Test, feed: FeedScope, signal?: AbortSignal): Promise<{ path: string; probes: Probe[]; close: () => Promise<void> }> {
  const path = join(tmp(), 'api.sock');
  const probes: Probe[] = [];
  const fail = (res: ServerResponse, err: unknown): void => {
    if (res.headersSent) return;
    const [status, body] = err instanceof ApiError ? [err.status, err.body()] : [500, { error: { reason: 'internal', message: String(err) } }];
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const probe: Probe = { res, lines: 0, maxBuffered: 0, lastOk: true, done: Promise.resolve() };
    const write = res.write.bind(res) as (chunk: string) => boolean;
    res.write = ((chunk: string) => {
      probe.lines += chunk.split('\n').length - 1;
      probe.lastOk = write(chunk);
      probe.maxBuffered = Math.max(probe.maxBuffered, res.writableLength);
      return probe.lastOk;
    }) as typeof res.write;
    res.on('drain', () => (probe.lastOk = true));
    probes.push(probe);
    probe.done = writeScopeStream(res, feed, url.searchParams, signal ? { signal } : {}).catch((err: unknown) => {
      probe.error = err;
      fail(res, err);
    });
  });
  server.timeout = 30_000; // an idle-socket timeout like the agent's: follow streams must be exempt
  await new Promise<void>((r) => server.listen(path, r));
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await Promise.all(probes.map((p) => p.done));
  };
  t.teardown(close);
  return { path, probes, close };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One whole request. */
function get(path: string, target: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: path, path: target }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const linesOf = (body: string): ScopeItem[] => body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ScopeItem);
const entriesOf = (body: string): ScopedEntry[] => linesOf(body).filter((it): it is ScopedEntry => !('gap' in it));
const reasonOf = (r: Reply): string => (JSON.parse(r.body) as { error: { reason: string } }).error.reason;

/** An open stream read line by line (or not read at all until `resume()` when `paused`). */
interface Follower {
  lines: ScopedEntry[];
  response: Promise<IncomingMessage>;
  ended: boolean;
  failed: boolean;
  resume(): void;
  close(): void;
}

function open(path: string, target: string, paused = false): Follower {
  let partial = '';
  let res: IncomingMessage | undefined;
  let reading = false;
  const lines: ScopedEntry[] = [];
  const req = http.get({ socketPath: path, path: target });
  const f: Follower = {
    lines,
    ended: false,
    failed: false,
    response: new Promise((resolve, reject) => {
      req.on('response', (r) => {
        res = r;
        r.setEncoding('utf8');
        r.on('end', () => (f.ended = true));
        r.on('error', () => (f.failed = true));
        r.on('aborted', () => (f.failed = true));
        if (!paused) f.resume();
        resolve(r);
      });
      req.on('error', (err) => {
        f.failed = true;
        reject(err);
      });
    }),
    resume() {
      if (reading || !res) return;
      reading = true;
      res.on('data', (d: string) => {
        const parts = (partial + d).split('\n');
        partial = parts.pop()!;
        for (const p of parts) {
          const it = JSON.parse(p) as ScopeItem;
          if (!('gap' in it)) lines.push(it);
        }
      });
    },
    close: () => req.destroy(),
  };
  f.response.catch(() => {});
  return f;
}

t.test('a full read in handle order, resumes after a cursor, after=end, limit; the headers', async (t) => {
  const store = memoryStoreWith(700);
  const { path } = await serve(t, emitterFeed(store).feed);
  const all = await get(path, '/v1/commands');
  t.equal(all.status, 200);
  t.equal(all.headers['content-type'], 'application/x-ndjson');
  t.equal(all.headers['cache-control'], 'no-store');
  t.equal(all.headers['x-accel-buffering'], 'no');
  t.ok(all.body.endsWith('\n'), 'every line ends with a newline');
  const entries = entriesOf(all.body);
  t.equal(entries.length, 701, 'the genesis and 700 commands, no gap line');
  t.same(entries.map((e) => e.id), idsOf(store), 'every command once, in handle order (parents first)');
  t.equal(entries[0]?.kind, 'genesis');
  t.ok(entries.every((e) => e.scope === SCOPE), 'each line names its scope');
  const position = new Map(entries.map((e, i) => [e.id, i]));
  t.ok(entries.every((e, i) => e.parents.every((p) => (position.get(p) ?? Infinity) < i)), 'causal order: every parent before its child');
  for (const cut of [0, 255, 256, 699, 700]) {
    const rest = entriesOf((await get(path, `/v1/commands?after=${entries[cut]!.cursor}`)).body);
    t.same(rest.map((e) => e.id), idsOf(store, cut + 1), `after the cursor of line ${cut}`);
  }
  const end = await get(path, '/v1/commands?after=end&follow=false');
  t.same([end.status, end.body], [200, ''], 'after=end without follow: nothing');
  t.equal(end.headers['syncwire-start-cursor'], entries[700]!.cursor, 'after=end: the start cursor is the last command');
  const some = await get(path, `/v1/commands?after=${entries[9]!.cursor}&limit=5`);
  t.same(entriesOf(some.body).map((e) => e.id), idsOf(store).slice(10, 15), 'limit=5: five lines');
  t.equal(some.headers['syncwire-start-cursor'], entries[9]!.cursor);
  t.same(entriesOf((await get(path, '/v1/commands?limit=1000000')).body).length, 701);
});

t.test('400 for a bad query or cursor syntax, 410 for a cursor this scope does not hold; nothing streamed', async (t) => {
  const store = memoryStoreWith(20);
  const other = memoryStoreWith(20, 9);
  const { path, probes } = await serve(t, emitterFeed(store).feed);
  const id = (h: number): string => toHex(store.idOf(h)).slice(0, 16);
  const bad = [
    'after=abc', 'after=01-' + id(1), 'after=1-' + id(1).toUpperCase(), 'after=1-' + id(1).slice(0, 15), 'after=', 'after=END',
    'follow=yes', 'follow=', 'follow=1', 'limit=0', 'limit=-1', 'limit=1.5', 'limit=abc', 'limit=1000001', 'limit=01', 'limit=', 'follow=true&limit=3',
    'after=end&after=end', 'limit=1&limit=2',
  ];
  for (const q of bad) {
    const r = await get(path, `/v1/commands?${q}`);
    t.equal(r.status, 400, q);
    t.equal(reasonOf(r), 'bad_request', q);
    t.equal(r.headers['content-type'], 'application/json');
  }
  const unknown = [`5-${id(6)}`, `21-${id(0)}`, `4000000000-${id(0)}`, `3-${toHex(other.idOf(3)).slice(0, 16)}`];
  for (const c of unknown) {
    const r = await get(path, `/v1/commands?after=${c}&follow=true`);
    t.equal(r.status, 410, c);
    t.equal(reasonOf(r), 'cursor_unknown', c);
  }
  t.equal(probes.filter((p) => p.lines > 0).length, 0, 'nothing was streamed for a refused query');
});

t.test('follow: commits on a real EngineV2 arrive in order through NodeScopes; closing releases the subscriptions', async (t) => {
  const { engine, scopes } = await engineWithScope(t);
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const before = toHex(await engine.commit('app/x', enc('{"n":-1}')));
  const base = scopes.feed(scopes.resolve());
  let subscribed = 0;
  const feed: FeedScope = Object.assign(Object.create(base) as FeedScope, {
    onAppended: (l: () => void) => {
      subscribed++;
      const off = base.onAppended(l);
      return () => (subscribed--, off());
    },
  });
  const { path, probes } = await serve(t, feed);
  const everything = open(path, '/v1/commands?follow=true');
  const fresh = open(path, '/v1/commands?after=end&follow=true');
  await everything.response;
  await fresh.response;
  await until(() => subscribed === 2, 10_000, 'both followers wait on the scope');
  t.equal(engine.listenerCount('appended'), 1, 'one engine listener for every follower');
  t.same(probes.map((p) => p.res.socket?.timeout), [0, 0], 'a follow stream is exempt from the idle timeout');
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push(toHex(await engine.commit('app/x', enc(JSON.stringify({ n: i })))));
  await until(() => everything.lines.length === 32 && fresh.lines.length === 30, 10_000, 'both followers got every commit');
  t.same(everything.lines.map((e) => e.kind), ['genesis', ...Array<string>(31).fill('data')]);
  t.same(everything.lines.slice(1).map((e) => e.id), [before, ...ids]);
  t.same(fresh.lines.map((e) => e.id), ids, 'after=end: only what was added after the request');
  t.same(fresh.lines.map((e) => e.json), ids.map((_, i) => ({ n: i })));
  t.same(fresh.lines.map((e) => e.cursor), ids.map((id, i) => `${i + 2}-${id.slice(0, 16)}`));
  everything.close();
  fresh.close();
  await Promise.all(probes.map((p) => p.done));
  t.equal(subscribed, 0, 'no subscription left once the clients closed');
  t.notOk(probes.some((p) => p.error), 'the streams ended without error');
});

/** Read `target` until `k` command lines arrived, then drop the connection; the first `k`. */
async function readThenDrop(path: string, target: string, k: number): Promise<ScopedEntry[]> {
  const f = open(path, target);
  await f.response;
  await until(() => f.lines.length >= k || f.ended, 10_000, `${k} lines`, 0);
  f.close();
  return f.lines.slice(0, k);
}

t.test('resume across a restart of a disk scope store: every command exactly once, in order (random graphs and cut points)', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), async (n, more, at, seed) => {
      const cmds: CommandV2[] = randomScopeDag(n + more, seed);
      const dir = tmp();
      const scopeId = cmds[0]!.id;
      const k = Math.floor(at * (n + 1));
      // The first agent holds the genesis and n commands; the application reads k lines and the agent stops.
      let store: ScopeStore = await openDisk(dir, scopeId);
      for (const c of cmds.slice(0, n + 1)) store.append(c, { frontier: 0 });
      let api = await serve(t, emitterFeed(store).feed);
      const first = await readThenDrop(api.path, '/v1/commands?follow=true', k);
      await api.close();
      await store.close();
      // The agent comes back on the same directory, receives more, and the application resumes
      // from the last cursor it processed.
      store = await openDisk(dir, scopeId);
      for (const c of cmds.slice(n + 1)) store.append(c, { frontier: 0 });
      api = await serve(t, emitterFeed(store).feed);
      const after = first.length > 0 ? `after=${first[first.length - 1]!.cursor}` : '';
      const rest = entriesOf((await get(api.path, `/v1/commands?${after}`)).body);
      await api.close();
      await store.close();
      const seen = [...first, ...rest].map((e) => e.id);
      const want = cmds.map((c) => toHex(c.id));
      if (seen.join() !== want.join()) throw new Error(`n=${n} more=${more} k=${k}: ${seen.length} seen, ${want.length} wanted`);
    }),
    { numRuns: 25 },
  );
  t.pass('25 restarts resumed with no gap and no duplicate');
});

t.test('a reader that reads nothing while 20,000 commands are appended costs the socket buffer only', async (t) => {
  const cmds = randomScopeDag(20_000, 5);
  const store = new MemoryScopeStore(cmds[0]!.id);
  store.append(cmds[0]!, { frontier: 0 });
  const { feed, added, listeners } = emitterFeed(store);
  const { path, probes } = await serve(t, feed);
  const slow = open(path, '/v1/commands?follow=true', true);
  await slow.response;
  for (let i = 1; i < cmds.length; i += 500) {
    for (const c of cmds.slice(i, i + 500)) store.append(c, { frontier: 0 });
    added();
    await new Promise((r) => setImmediate(r)); // let the server write what the socket takes
  }
  const probe = probes[0]!;
  await until(() => !probe.lastOk, 10_000, 'the server waits for drain');
  const bound = probe.res.writableHighWaterMark + STREAM_BATCH_BYTES + 4096;
  t.ok(probe.lines < cmds.length / 2, `the server wrote ${probe.lines} of ${cmds.length} lines while the client read nothing`);
  t.ok(probe.maxBuffered <= bound, `the response buffered at most ${probe.maxBuffered} bytes (bound ${bound})`);
  t.comment(`slow reader: ${probe.lines} lines written, ${probe.maxBuffered} bytes buffered at most, of ${cmds.length} appended`);
  slow.resume();
  await until(() => slow.lines.length === cmds.length, 30_000, 'the reader got every line once it read');
  t.same(slow.lines.map((e) => e.id), cmds.map((c) => toHex(c.id)), 'every command once, in order');
  t.ok(probe.maxBuffered <= bound, 'still bounded after catching up');
  slow.close();
  await probe.done;
  t.equal(listeners(), 0, 'no listener left');
});

t.test("the agent's signal ends a follow stream cleanly; a store failure mid-stream cuts it", async (t) => {
  const store = memoryStoreWith(299);
  const ac = new AbortController();
  const { feed, listeners } = emitterFeed(store);
  const api = await serve(t, feed, ac.signal);
  const warnings: Error[] = [];
  const onWarning = (w: Error): number => warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  // More followers than an EventEmitter or AbortSignal takes without a leak warning.
  const followers = Array.from({ length: 16 }, () => open(api.path, '/v1/commands?follow=true'));
  await until(() => followers.every((f) => f.lines.length === 300) && listeners() === 16, 10_000, 'caught up and waiting');
  // The agent aborts and destroys every connection in the same turn (as a server's close does).
  ac.abort();
  const closing = api.close();
  await until(() => followers.every((f) => f.ended || f.failed), 10_000, 'the responses ended');
  t.notOk(followers.some((f) => f.failed), 'complete chunked bodies, not cut ones');
  await closing;
  t.equal(listeners(), 0);
  t.same(warnings.map((w) => w.name), [], 'no MaxListenersExceededWarning with 16 followers');
  const late = await get((await serve(t, feed, ac.signal)).path, '/v1/commands');
  t.same([late.status, reasonOf(late)], [503, 'closing'], 'a stream asked for after the signal: 503 closing');

  let failAt = Infinity;
  const failing = new Proxy(store, {
    get(target, p) {
      if (p === 'bytesOf') {
        return (i: number) => {
          if (i >= failAt) throw new Error('read failed');
          return target.bytesOf(i);
        };
      }
      const v: unknown = Reflect.get(target, p, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const broken = emitterFeed(failing);
  const api2 = await serve(t, broken.feed);
  failAt = 280;
  const g = open(api2.path, '/v1/commands');
  await g.response;
  await api2.probes[0]!.done;
  await until(() => g.failed || g.ended, 10_000, 'the client saw the response end');
  t.ok(g.failed, 'the client sees a cut body, not a clean end');
  t.ok(g.lines.length > 0 && g.lines.length < failAt, `whole lines up to a batch before the failure (${g.lines.length})`);
  t.same(g.lines.map((e) => e.id), idsOf(store).slice(0, g.lines.length), 'those in order');
  t.match(api2.probes[0]!.error, { message: 'read failed' }, 'writeScopeStream rejects with the store error');
  t.equal(broken.listeners(), 0);
});
