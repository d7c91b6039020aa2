/**
 * The local HTTP API server, over real sockets: the unix socket (0600) and TCP with no, a wrong
 * and the right bearer token; every error the server itself produces (400, 401, 404, 405 with
 * Allow, 413 without reading the body, 415, 500 without the detail) and the host's (disk full →
 * 503 disk_full with Retry-After, closing, not_ready with the checks); a commit round-trip
 * against a real EngineV2 through the v2 API host (agent/cli/api-host-v2.ts), the body cap at
 * exactly the largest payload of a v2 data command; garbage
 * bytes; 40 connections at once against the limit of 32; a follow-like stream that outlives
 * every timeout, and close() while one is open.
 */
import t, { type Test } from 'tap';
import { engineWithScope } from '../testkit/scope-engine.js';
import net from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiAnswerError, apiRequest, apiStream, type ApiTarget } from '../agent/api/api-client.js';
import { ApiError } from '../agent/api/api-error.js';
import type { ApiHost } from '../agent/api/api-host.js';
import { MAX_PAYLOAD_BYTES } from '../agent/api/body-limit.js';
import { socketExchange } from '../testkit/socket-exchange.js';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../agent/api/server.js';
import { StoreWriteError } from '../agent/store/write-error.js';
import { encodeCommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { TooLargeError } from '../protocol/errors.js';
import { fromHex, generateIdentity, toHex } from '../protocol/keys.js';
import { agentApiHostV2 } from '../agent/cli/api-host-v2.js';
import { takeSnapshotV2, type SnapshotV2 } from '../agent/cli/snapshot-v2.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { until } from '../testkit/wait.js';
import type { Logger } from '../agent/node/log.js';

const dir = mkdtempSync(join(tmpdir(), 'swapi-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let sockN = 0;
const sockPath = (): string => join(dir, `api${sockN++}.sock`);
const TOKEN = 'tok-0123456789abcdef';

/** A host whose every answer a test can replace; records commits. */
function fakeHost(over: Partial<ApiHost> = {}): ApiHost & { commits: Uint8Array[] } {
  const commits: Uint8Array[] = [];
  return {
    commits,
    status: () => ({ peerId: 'ab'.repeat(8), commands: 0 }),
    commit: (p) => {
      commits.push(p);
      return Promise.resolve({ id: new Uint8Array(32).fill(7), cursor: `0-${'07'.repeat(8)}` });
    },
    streamCommands: (_req, res, q) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end(JSON.stringify({ after: q.get('after') }) + '\n');
    },
    showCommand: (id) => (id === 'aa'.repeat(32) ? { id } : null),
    metrics: () => '# TYPE syncwire_up gauge\nsyncwire_up 1\n',
    ready: () => ({ ok: true, checks: { store: true } }),
    reload: () => Promise.resolve({ ok: true, trusted: 1, added: 0, removed: 0, closed: 0 }),
    ...over,
  };
}

async function start(t: Test, host: ApiHost, extra: Partial<ApiServerOptions> = {}): Promise<{ s: ApiServer; unix: ApiTarget }> {
  const s = await startApiServer({ socketPath: sockPath(), ...extra }, host);
  t.teardown(() => s.close());
  return { s, unix: { socketPath: s.socketPath } };
}

/** The ApiAnswerError `p` rejects with (fails the test when it resolves). */
async function refusal(p: Promise<unknown>): Promise<ApiAnswerError> {
  const e = await p.then(
    () => new Error('expected a refusal'),
    (err: unknown) => err,
  );
  if (!(e instanceof ApiAnswerError)) throw e;
  return e;
}

/** Write `chunks` on a raw connection to `path` and collect the answer until the agent closes it. */
const raw = async (path: string, chunks: (string | Buffer)[]): Promise<string> => (await socketExchange(path, chunks, 60_000)).answer;

t.test('unix socket: 0600, healthz, status, readyz, metrics, show, reload, stream query', async (t) => {
  const host = fakeHost();
  const { unix, s } = await start(t, host);
  t.equal(statSync(s.socketPath).mode & 0o777, 0o600, 'socket mode 0600');
  t.equal(s.tcpPort, null, 'no TCP listener unless asked');
  t.same((await apiRequest(unix, 'GET', '/healthz')).json, { ok: true });
  t.same((await apiRequest(unix, 'GET', '/v1/status')).json, host.status());
  t.same((await apiRequest(unix, 'GET', '/readyz')).json, { ok: true, checks: { store: true } });
  const m = await apiRequest(unix, 'GET', '/metrics');
  t.equal(m.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  t.equal(m.text, host.metrics());
  t.same((await apiRequest(unix, 'GET', `/v1/commands/${'AA'.repeat(32)}`)).json, { id: 'aa'.repeat(32) }, 'ids in either case');
  const missing = await refusal(apiRequest(unix, 'GET', `/v1/commands/${'bb'.repeat(32)}`));
  t.match(missing, { status: 404, reason: 'not_found' });
  t.match(await refusal(apiRequest(unix, 'GET', '/v1/commands/xyz')), { status: 400, reason: 'bad_request' });
  t.same((await apiRequest(unix, 'POST', '/v1/reload')).json, { ok: true, trusted: 1, added: 0, removed: 0, closed: 0 });
  const lines: string[] = [];
  for await (const l of apiStream(unix, '/v1/commands?after=end&follow=false')) lines.push(l);
  t.same(lines, ['{"after":"end"}'], 'the query reaches the host');
});

t.test('tcp: bearer token required except on /healthz', async (t) => {
  const { s } = await start(t, fakeHost(), { tcp: { host: '127.0.0.1', port: 0, token: TOKEN } });
  t.type(s.tcpPort, 'number');
  const url = `http://127.0.0.1:${s.tcpPort}`;
  const none = await refusal(apiRequest({ url, token: '' }, 'GET', '/v1/status'));
  t.match(none, { status: 401, reason: 'unauthorized' }, 'no token: 401');
  t.equal(none.headers['www-authenticate'], 'Bearer');
  t.match(await refusal(apiRequest({ url, token: TOKEN + 'x' }, 'GET', '/v1/status')), { status: 401, reason: 'unauthorized' }, 'wrong token: 401');
  t.match(await refusal(apiRequest({ url, token: 'short' }, 'GET', '/no/such/path')), { status: 401 }, 'paths are not probed without the token');
  t.match((await apiRequest({ url, token: TOKEN }, 'GET', '/v1/status')).json, { commands: 0 }, 'right token: 200');
  t.same((await apiRequest({ url, token: '' }, 'GET', '/healthz')).json, { ok: true }, '/healthz needs none');
  await t.rejects(startApiServer({ socketPath: '', tcp: { host: '127.0.0.1', port: 0, token: 'too-short' } }, fakeHost()), RangeError, 'tokens under 16 characters are refused');
});

t.test("the server's own refusals", async (t) => {
  const host = fakeHost();
  const { unix, s } = await start(t, host);
  t.match(await refusal(apiRequest(unix, 'GET', '/v2/status')), { status: 404, reason: 'not_found' });
  t.match(await refusal(apiRequest(unix, 'GET', '/v1/status/')), { status: 404 }, 'one spelling per path');
  const e405 = await refusal(apiRequest(unix, 'DELETE', '/v1/commands'));
  t.match(e405, { status: 405, reason: 'method_not_allowed' });
  t.equal(e405.headers.allow, 'GET, POST');
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: '<a/>', contentType: 'application/xml' })), { status: 415, reason: 'unsupported_media_type' });
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: '{}', contentType: 'application/json; charset=latin1' })), { status: 415 });
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: '{"led":', contentType: 'application/json' })), { status: 400, reason: 'bad_request' }, 'bad JSON: 400');
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: Buffer.from([0x22, 0xff, 0x22]), contentType: 'application/json' })), { status: 400 }, 'JSON that is not UTF-8: 400');
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: '' })), { status: 400, reason: 'bad_request' }, 'empty body: 400');
  const over = await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: new Uint8Array(MAX_PAYLOAD_BYTES + 1) }));
  t.match(over, { status: 413, reason: 'too_large', detail: { limit: MAX_PAYLOAD_BYTES } });
  t.equal(host.commits.length, 0, 'nothing refused reached the host');
  await apiRequest(unix, 'POST', '/v1/commands', { body: '{"led":1}', contentType: 'application/json; charset=UTF-8' });
  await apiRequest(unix, 'POST', '/v1/commands', { body: 'hello', contentType: 'text/plain' });
  t.same(host.commits.map((c) => Buffer.from(c).toString()), ['{"led":1}', 'hello'], 'bytes as sent');

  // 413 from the declared length: answered at once, before any body byte (and no 100 Continue).
  const declared = await raw(s.socketPath, [`POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n`]);
  t.match(declared, /^HTTP\/1\.1 413 [^]*"too_large"/);
  t.notMatch(declared, /100 Continue/);
  // 413 from the running count: a chunked body that is never finished is answered once the cap passed.
  const chunk = 'x'.repeat(1000);
  const running = await raw(s.socketPath, [`POST /v1/commands HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, `${(1000).toString(16)}\r\n${chunk}\r\n`]);
  t.match(running, /^HTTP\/1\.1 413 [^]*connection: close[^]*"too_large"/i, 'answered and closed without waiting for the rest');
  t.equal(host.commits.length, 2);

  t.match(await raw(s.socketPath, ['GET http://evil.example/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']), /^HTTP\/1\.1 400 [^]*"bad_request"/, 'absolute-form target: 400');
  t.match(await raw(s.socketPath, ['GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n']), /^HTTP\/1\.1 400 [^]*"bad_request"/, 'no Host: a JSON 400');
  t.match(await raw(s.socketPath, ['GET /healthz HTTP/1.0\r\n\r\n']), /^HTTP\/1\.1 200 [^]*\{"ok":true\}/, 'HTTP/1.0 needs none');
  t.match(await raw(s.socketPath, ['BREW /v1/status HTTP/1.1\r\nHost: x\r\n\r\n']), /^HTTP\/1\.1 400 [^]*"bad_request"/, 'unknown method token: 400');
  t.match(await raw(s.socketPath, [Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a])]), /^HTTP\/1\.1 400 [^]*"bad_request"/, 'a TLS hello: 400');
  t.same((await apiRequest(unix, 'GET', '/healthz')).json, { ok: true }, 'still answering');
});

t.test("the host's refusals: disk full, closing, not ready, store error, internal", async (t) => {
  const logged: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (f) => void logged.push(JSON.stringify(f)) };
  let fail: unknown = new StoreWriteError('disk-full', 'ENOSPC', '/d/commands.log: the disk is full; the command was not stored');
  const host = fakeHost({
    commit: () => Promise.reject(fail),
    ready: () => ({ ok: false, checks: { store: true, transports: false } }),
    status: () => {
      throw new Error('secret detail at /home/x');
    },
  });
  const { unix, s } = await start(t, host, { logger });
  const full = await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: 'x' }));
  t.match(full, { status: 503, reason: 'disk_full' });
  t.equal(full.headers['retry-after'], '30');
  fail = new StoreWriteError('io-error', 'EIO', 'write failed');
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: 'x' })), { status: 500, reason: 'store_error' });
  fail = ApiError.of('closing', 'the agent is shutting down');
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: 'x' })), { status: 503, reason: 'closing' });
  const nr = await refusal(apiRequest(unix, 'GET', '/readyz'));
  t.match(nr, { status: 503, reason: 'not_ready', detail: { checks: { store: true, transports: false } } });
  const internal = await refusal(apiRequest(unix, 'GET', '/v1/status'));
  t.match(internal, { status: 500, reason: 'internal' });
  t.notMatch(internal.message, /secret|home|at /, 'no detail or stack for the client');
  t.ok(logged.some((l) => l.includes('secret detail')), 'the detail is in the log');
});

t.test('commit round-trip against a real EngineV2 through the v2 API host', async (t) => {
  const { engine, scopes } = await engineWithScope(t);
  const closing = new AbortController();
  const snapshot = (): SnapshotV2 => takeSnapshotV2({ engine, legacy: null, role: 'agent', startedAt: Date.now(), dataDir: dir, durability: 'none', transports: [] });
  const log: Logger = { debug() {}, info() {}, warn() {}, error() {} };
  const host = agentApiHostV2({ scopes, snapshot, checks: () => ({ store: true }), reload: () => ({ trusted: 0, added: 0, removed: 0, closed: 0 }), closing: closing.signal, log });
  const { unix } = await start(t, host);
  const scopeStore = engine.scope('app/x')!.store;
  // The cap is exactly the largest payload a data command can carry: one parent (the genesis), seq 1.
  const big = await apiRequest(unix, 'POST', '/v1/commands', { body: new Uint8Array(MAX_PAYLOAD_BYTES).fill(0xab) });
  t.equal(big.status, 201);
  const first = big.json as { id: string; cursor: string; scope: string };
  t.match(first.id, /^[0-9a-f]{64}$/);
  t.equal(first.scope, 'app/x', 'the only scope held');
  t.equal(first.cursor, `1-${first.id.slice(0, 16)}`, 'handle 1: after the genesis');
  const r = await apiRequest(unix, 'POST', '/v1/commands', { body: '{"led":1}', contentType: 'application/json' });
  const second = r.json as { id: string; cursor: string };
  t.equal(second.cursor, `2-${second.id.slice(0, 16)}`);
  const h = scopeStore.indexOf(fromHex(second.id));
  t.equal(h, 2, 'in the scope store at handle 2');
  t.equal(toHex(scopeStore.idOf(h)), second.id);
  t.match((await apiRequest(unix, 'GET', '/v1/status')).json, { protocol: 2, commands: 3 }, 'status counts the genesis and both');
  t.same((await apiRequest(unix, 'GET', `/v1/commands/${second.id}`)).json, { ...(scopes.show(second.id) as object) }, 'show finds it');
  t.match((await apiRequest(unix, 'GET', `/v1/commands/${second.id}`)).json, { scope: 'app/x', kind: 'data', json: { led: 1 } });
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: new Uint8Array(MAX_PAYLOAD_BYTES + 1) })), { status: 413, reason: 'too_large', detail: { limit: MAX_PAYLOAD_BYTES } }, 'one byte more: 413');
  const third = await apiRequest(unix, 'POST', '/v1/commands', { body: Uint8Array.of(0xff, 0x00) });
  t.match(third.json, { id: /^[0-9a-f]{64}$/ }, 'a binary commit');
  t.match((await apiRequest(unix, 'GET', '/v1/status')).json, { commands: 4 }, 'status counts it');
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands?scope=nope/x', { body: 'x' })), { status: 404, reason: 'not_found' }, 'an unknown scope');
  closing.abort();
  t.match(await refusal(apiRequest(unix, 'POST', '/v1/commands', { body: 'x' })), { status: 503, reason: 'closing' }, 'once the agent is shutting down');
  t.equal(scopeStore.size, 4, 'nothing refused was stored');
});

t.test('MAX_PAYLOAD_BYTES is exactly what the v2 encoding allows a data command (one parent, seq < 24)', async (t) => {
  const id = generateIdentity();
  const scopeId = new Uint8Array(32).fill(1);
  const cmd = (n: number, seq = 1) => encodeCommandV2(scopeId, { parents: [new Uint8Array(32)], author: id.author, seq, kind: CommandKind.Data, payload: new Uint8Array(n) }, id.sign);
  t.equal(MAX_PAYLOAD_BYTES, 908, 'docs/PROTOCOL.md: 1,024 - 116');
  t.doesNotThrow(() => cmd(MAX_PAYLOAD_BYTES));
  t.throws(() => cmd(MAX_PAYLOAD_BYTES + 1), TooLargeError);
  t.throws(() => cmd(MAX_PAYLOAD_BYTES, 24), TooLargeError, 'a larger seq fits less');
});

t.test('40 connections at once: 32 served, the rest refused, the server answers afterwards', async (t) => {
  const { unix, s } = await start(t, fakeHost());
  const socks = await Promise.all(
    Array.from({ length: 40 }, async () => {
      const sock = net.connect(s.socketPath);
      sock.on('error', () => undefined);
      await new Promise((r) => sock.once('connect', r));
      return sock;
    }),
  );
  const outcomes = await Promise.all(
    socks.map(
      (sock) =>
        new Promise<'answered' | 'refused'>((resolve) => {
          let got = '';
          sock.on('data', (c: Buffer) => {
            got += c.toString();
            if (got.includes('{"ok":true}')) resolve('answered');
          });
          sock.once('close', () => resolve('refused'));
          sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        }),
    ),
  );
  const answered = outcomes.filter((o) => o === 'answered').length;
  t.equal(answered, 32, '32 answered (kept alive)');
  t.equal(outcomes.length - answered, 8, '8 refused');
  for (const sock of socks) sock.destroy();
  t.same((await apiRequest(unix, 'GET', '/healthz')).json, { ok: true }, 'answers afterwards');
});

t.test('a follow stream outlives every timeout; close() with one open resolves', async (t) => {
  const open = new Set<ServerResponse>();
  const host = fakeHost({
    streamCommands: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      open.add(res);
      res.once('close', () => open.delete(res));
      let n = 0;
      // One line per 100 ms for longer than every timeout below, then the stream stays open.
      const tick = setInterval(() => {
        res.write(JSON.stringify({ n: n++ }) + '\n');
        if (n === 12) clearInterval(tick);
      }, 100);
      res.once('close', () => clearInterval(tick));
    },
  });
  const limits = { headersTimeoutMs: 200, requestTimeoutMs: 300, keepAliveTimeoutMs: 200, checkIntervalMs: 50 };
  const { unix, s } = await start(t, host, { limits });
  const got: number[] = [];
  const stream = (async () => {
    try {
      for await (const l of apiStream(unix, '/v1/commands?follow=true')) {
        got.push((JSON.parse(l) as { n: number }).n);
        if (got.length === 12) return 'all';
      }
      return 'ended';
    } catch {
      return 'cut';
    }
  })();
  t.equal(await stream, 'all', 'all 12 lines arrived over 1.2 s, 4x the request timeout');
  t.same(got, [...Array(12).keys()]);

  const lines: string[] = [];
  const second = (async () => {
    try {
      for await (const l of apiStream(unix, '/v1/commands?follow=true')) lines.push(l);
      return 'ended';
    } catch {
      return 'cut';
    }
  })();
  await until(() => lines.length > 0, 10_000, 'the second stream started');
  await s.close();
  t.ok(['ended', 'cut'].includes(await second), 'the open stream ends when the server closes');
  await until(() => open.size === 0, 10_000, "the host's responses close");
  t.pass("the host's responses are closed (their timers stop)");
  await t.rejects(apiRequest(unix, 'GET', '/healthz'), { code: 'ENOENT' }, 'socket file removed');
});
