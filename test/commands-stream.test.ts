/**
 * GET /v1/commands over real HTTP (node:http on a unix socket, a real DiskStore): full reads,
 * resuming after a cursor, `end`, 400 and 410 refusals, follow (with a real engine), resuming
 * across a restart of store and server (fast-check over random graphs and cut points), a reader
 * that reads nothing while 20,000 commands are appended, ending on the agent's signal, a store
 * failure mid-stream, and GET /v1/commands/<id>.
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../agent/api/api-error.js';
import { fanOut, type CommandEntry, type FeedSource } from '../agent/api/command-feed.js';
import { showCommandJson, STREAM_BATCH_BYTES, writeCommandStream } from '../agent/api/commands-stream.js';
import { DiskStore } from '../agent/store/disk-store.js';
import type { CommandStore } from '../agent/store/command-store.js';
import { Engine } from '../agent/sync/engine.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { randomDag } from '../testkit/synthetic-commands.js';
import { until } from '../testkit/wait.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-stream-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const idsOf = (store: CommandStore, from = 0): string[] => Array.from({ length: store.size - from }, (_, i) => toHex(store.idOf(from + i)));

/** A source whose `added()` plays the engine's `commands` event (through a fan-out, as the agent wires it). */
function emitterSource(store: CommandStore): { source: FeedSource; added: () => void; listeners: () => number } {
  const ee = new EventEmitter();
  const source: FeedSource = {
    store,
    onAdded: fanOut((l) => {
      ee.on('added', l);
      return () => ee.off('added', l);
    }),
  };
  return { source, added: () => ee.emit('added'), listeners: () => ee.listenerCount('added') };
}

/** What the server side of one stream did. */
interface Probe {
  res: ServerResponse;
  /** Lines handed to res.write so far. */
  lines: number;
  /** Largest res.writableLength seen right after a write. */
  maxBuffered: number;
  /** What the last res.write returned. */
  lastOk: boolean;
  /** writeCommandStream settled (its rejection, if any, in `error`). */
  done: Promise<void>;
  error?: unknown;
}

/** The two routes of the API this module answers, on a unix socket; every stream probed. */
async function serve(t: Test, source: FeedSource, signal?: AbortSignal): Promise<{ path: string; probes: Probe[]; close: () => Promise<void> }> {
  const path = join(tmp(), 'api.sock');
  const probes: Probe[] = [];
  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, err: unknown): void => {
    if (res.headersSent) return;
    if (err instanceof ApiError) answer(res, err.status, err.body());
    else answer(res, 500, { error: { reason: 'internal', message: String(err) } });
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const one = /^\/v1\/commands\/([^/]+)$/.exec(url.pathname);
    if (one) {
      try {
        const entry = showCommandJson(source.store, one[1]!);
        if (entry) answer(res, 200, entry);
        else answer(res, 404, { error: { reason: 'not_found', message: 'no such command' } });
      } catch (err) {
        fail(res, err);
      }
      return;
    }
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
    probe.done = writeCommandStream(res, source, url.searchParams, signal ? { signal } : {}).catch((err: unknown) => {
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

const linesOf = (body: string): CommandEntry[] => body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as CommandEntry);
const reasonOf = (r: Reply): string => (JSON.parse(r.body) as { error: { reason: string } }).error.reason;

/** An open stream read line by line (or not read at all until `resume()` when `paused`). */
interface Follower {
  lines: CommandEntry[];
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
  const lines: CommandEntry[] = [];
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
        for (const p of parts) lines.push(JSON.parse(p) as CommandEntry);
      });
    },
    close: () => req.destroy(),
  };
  f.response.catch(() => {});
  return f;
}

async function storeWith(n: number, seed = 1, dir = tmp()): Promise<DiskStore> {
  const store = await DiskStore.open(dir, { durability: { mode: 'none' } });
  for (const c of randomDag(n, seed)) store.append(c);
  return store;
}

t.test('a full read, resumes after a cursor, after=end, limit; the headers', async (t) => {
  const store = await storeWith(700);
  t.teardown(() => store.close());
  const { path } = await serve(t, emitterSource(store).source);
  const all = await get(path, '/v1/commands');
  t.equal(all.status, 200);
  t.equal(all.headers['content-type'], 'application/x-ndjson');
  t.equal(all.headers['cache-control'], 'no-store');
  t.equal(all.headers['x-accel-buffering'], 'no');
  t.ok(all.body.endsWith('\n'), 'every line ends with a newline');
  const entries = linesOf(all.body);
  t.same(entries.map((e) => e.id), idsOf(store), 'every command once, in log order');
  for (const cut of [0, 255, 256, 698, 699]) {
    const rest = linesOf((await get(path, `/v1/commands?after=${entries[cut]!.cursor}`)).body);
    t.same(rest.map((e) => e.id), idsOf(store, cut + 1), `after the cursor of line ${cut}`);
  }
  const end = await get(path, '/v1/commands?after=end&follow=false');
  t.same([end.status, end.body], [200, ''], 'after=end without follow: nothing');
  const some = await get(path, `/v1/commands?after=${entries[9]!.cursor}&limit=5`);
  t.same(linesOf(some.body).map((e) => e.id), idsOf(store).slice(10, 15), 'limit=5: five lines');
  t.same(linesOf((await get(path, '/v1/commands?limit=1000000')).body).length, 700);
});

t.test('400 for a bad query or cursor syntax, 410 for a cursor this store does not hold', async (t) => {
  const store = await storeWith(20);
  const other = await storeWith(20, 9);
  t.teardown(async () => {
    await store.close();
    await other.close();
  });
  const { path, probes } = await serve(t, emitterSource(store).source);
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
  const unknown = [`5-${id(6)}`, `20-${id(0)}`, `4000000000-${id(0)}`, `3-${toHex(other.idOf(3)).slice(0, 16)}`];
  for (const c of unknown) {
    const r = await get(path, `/v1/commands?after=${c}&follow=true`);
    t.equal(r.status, 410, c);
    t.equal(reasonOf(r), 'cursor_unknown', c);
  }
  t.equal(probes.filter((p) => p.lines > 0).length, 0, 'nothing was streamed for a refused query');
});

t.test('follow: commands committed on a real engine arrive in order; closing releases the subscription', async (t) => {
  const store = await DiskStore.open(tmp(), { durability: { mode: 'always' } });
  const engine = new Engine({ identity: generateIdentity(), store });
  t.teardown(async () => {
    await engine.close();
    await store.close();
  });
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const before = toHex(await engine.commit(enc('{"n":-1}')));
  const source: FeedSource = {
    store,
    onAdded: (l) => {
      engine.on('commands', l);
      return () => engine.off('commands', l);
    },
  };
  const { path, probes } = await serve(t, source);
  const everything = open(path, '/v1/commands?follow=true');
  const fresh = open(path, '/v1/commands?after=end&follow=true');
  await everything.response;
  await fresh.response;
  await until(() => engine.listenerCount('commands') === 2, 5000, 'both followers wait on the engine');
  t.same(probes.map((p) => p.res.socket?.timeout), [0, 0], 'a follow stream is exempt from the idle timeout');
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push(toHex(await engine.commit(enc(JSON.stringify({ n: i })))));
  await until(() => everything.lines.length === 31 && fresh.lines.length === 30, 5000, 'both followers got every commit');
  t.same(everything.lines.map((e) => e.id), [before, ...ids]);
  t.same(fresh.lines.map((e) => e.id), ids, 'after=end: only what was added after the request');
  t.same(fresh.lines.map((e) => e.json), ids.map((_, i) => ({ n: i })));
  t.same(fresh.lines.map((e) => e.cursor), ids.map((id, i) => `${i + 1}-${id.slice(0, 16)}`));
  everything.close();
  fresh.close();
  await Promise.all(probes.map((p) => p.done));
  t.equal(engine.listenerCount('commands'), 0, 'no listener left once the clients closed');
  t.notOk(probes.some((p) => p.error), 'the streams ended without error');
});

/** Read `target` until `k` lines arrived, then drop the connection; the first `k` lines. */
async function readThenDrop(path: string, target: string, k: number): Promise<CommandEntry[]> {
  const f = open(path, target);
  await f.response;
  await until(() => f.lines.length >= k || f.ended, 10_000, `${k} lines`, 0);
  f.close();
  return f.lines.slice(0, k);
}

t.test('resume across a restart: every command exactly once, in order (random graphs and cut points)', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 120 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), async (n, more, at, seed) => {
      const cmds = randomDag(n + more, seed);
      const dir = tmp();
      const k = Math.floor(at * n);
      // The first agent holds n commands; the application reads k of them and the agent stops.
      let store = await DiskStore.open(dir, { durability: { mode: 'always' } });
      for (const c of cmds.slice(0, n)) store.append(c);
      let api = await serve(t, emitterSource(store).source);
      const first = await readThenDrop(api.path, '/v1/commands?follow=true', k);
      await api.close();
      await store.close();
      // The agent comes back (new DiskStore on the same directory), receives more, and the
      // application resumes from the last cursor it processed.
      store = await DiskStore.open(dir, { durability: { mode: 'always' } });
      for (const c of cmds.slice(n)) store.append(c);
      api = await serve(t, emitterSource(store).source);
      const after = first.length > 0 ? `after=${first[first.length - 1]!.cursor}` : '';
      const rest = linesOf((await get(api.path, `/v1/commands?${after}`)).body);
      await api.close();
      await store.close();
      const seen = [...first, ...rest].map((e) => e.id);
      const want = cmds.map((c) => toHex(c.id));
      if (seen.join() !== want.join()) throw new Error(`n=${n} more=${more} k=${k}: ${seen.length} seen, ${want.length} wanted`);
    }),
    { numRuns: 30 },
  );
  t.pass('30 restarts resumed with no gap and no duplicate');
});

t.test('a reader that reads nothing while 20,000 commands are appended costs the socket buffer only', async (t) => {
  const store = await DiskStore.open(tmp(), { durability: { mode: 'none' } });
  t.teardown(() => store.close());
  const { source, added, listeners } = emitterSource(store);
  const { path, probes } = await serve(t, source);
  const slow = open(path, '/v1/commands?follow=true', true);
  await slow.response;
  const cmds = randomDag(20_000, 5);
  for (let i = 0; i < cmds.length; i += 500) {
    for (const c of cmds.slice(i, i + 500)) store.append(c);
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
  const store = await storeWith(300);
  t.teardown(() => store.close());
  const ac = new AbortController();
  const { source, listeners } = emitterSource(store);
  const api = await serve(t, source, ac.signal);
  const warnings: Error[] = [];
  const onWarning = (w: Error): number => warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  // More followers than an EventEmitter or AbortSignal takes without a leak warning.
  const followers = Array.from({ length: 16 }, () => open(api.path, '/v1/commands?follow=true'));
  await until(() => followers.every((f) => f.lines.length === 300) && listeners() === 1, 5000, 'caught up and waiting');
  // The agent aborts and destroys every connection in the same turn (as a server's close does).
  ac.abort();
  const closing = api.close();
  await until(() => followers.every((f) => f.ended || f.failed), 5000, 'the responses ended');
  t.notOk(followers.some((f) => f.failed), 'complete chunked bodies, not cut ones');
  await closing;
  t.equal(listeners(), 0);
  t.same(warnings.map((w) => w.name), [], 'no MaxListenersExceededWarning with 16 followers');
  const late = await get((await serve(t, source, ac.signal)).path, '/v1/commands');
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
  const broken = emitterSource(failing);
  const api2 = await serve(t, broken.source);
  failAt = 280;
  const g = open(api2.path, '/v1/commands');
  await g.response;
  await api2.probes[0]!.done;
  await until(() => g.failed || g.ended, 5000, 'the client saw the response end');
  t.ok(g.failed, 'the client sees a cut body, not a clean end');
  t.ok(g.lines.length > 0 && g.lines.length < failAt, `whole lines up to a batch before the failure (${g.lines.length})`);
  t.same(g.lines.map((e) => e.id), idsOf(store).slice(0, g.lines.length), 'those in order');
  t.match(api2.probes[0]!.error, { message: 'read failed' }, 'writeCommandStream rejects with the store error');
  t.equal(broken.listeners(), 0);
});

t.test('GET /v1/commands/<id>: the entry, 404 when absent, 400 when malformed', async (t) => {
  const store = await storeWith(50);
  t.teardown(() => store.close());
  const { path } = await serve(t, emitterSource(store).source);
  const line = linesOf((await get(path, '/v1/commands')).body)[33]!;
  const r = await get(path, `/v1/commands/${line.id}`);
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), line, 'the same object as the stream line');
  t.same(JSON.parse((await get(path, `/v1/commands/${line.id.toUpperCase()}`)).body), line, 'upper-case hex accepted');
  const missing = await get(path, `/v1/commands/${'ab'.repeat(32)}`);
  t.same([missing.status, reasonOf(missing)], [404, 'not_found']);
  for (const id of ['abc', line.id.slice(1), `${line.id}0`, 'zz'.repeat(32)]) {
    const m = await get(path, `/v1/commands/${id}`);
    t.same([m.status, reasonOf(m)], [400, 'bad_request'], id);
  }
  t.equal(showCommandJson(store, 'ab'.repeat(32)), null);
});
