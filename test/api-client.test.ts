/**
 * The API client against a plain node:http server (no agent): answers parsed, non-2xx answers
 * typed as ApiAnswerError with the server's reason, a missing socket or a closed port typed as
 * ApiUnavailableError, the bearer token sent on TCP, NDJSON streamed line by line and ended by
 * an abort.
 */
import t from 'tap';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiAnswerError, ApiUnavailableError, apiRequest, apiStream } from '../agent/api/api-client.js';
import { freePort } from '../testkit/net.js';

const dir = mkdtempSync(join(tmpdir(), 'swac-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A server that echoes what it got, refuses /bad, and streams /lines until the client leaves. */
function fakeServer(): http.Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/bad') {
        res.writeHead(415, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { reason: 'unsupported_media_type', message: 'no' } }));
      }
      if (req.url === '/hang') return; // never answers
      if (req.url === '/lines') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write('{"n":1}\n{"n"');
        res.write(':2}\n\n');
        return; // stays open: a follow stream
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization ?? null, type: req.headers['content-type'] ?? null, body: Buffer.concat(chunks).toString('hex') }));
    });
  });
}

t.test('unix socket: request, typed refusal, stream with abort', async (t) => {
  const path = join(dir, 'a.sock');
  const server = fakeServer();
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const r = await apiRequest({ socketPath: path }, 'POST', '/v1/x?y=1', { body: new Uint8Array([1, 2, 255]), contentType: 'application/octet-stream' });
  t.equal(r.status, 200);
  t.same(r.json, { method: 'POST', url: '/v1/x?y=1', auth: null, type: 'application/octet-stream', body: '0102ff' });
  const err = await apiRequest({ socketPath: path }, 'GET', '/bad').catch((e: unknown) => e);
  t.type(err, ApiAnswerError);
  t.match(err, { status: 415, reason: 'unsupported_media_type', message: 'no' });

  const ac = new AbortController();
  const got: string[] = [];
  for await (const line of apiStream({ socketPath: path }, '/lines', { signal: ac.signal })) {
    got.push(line);
    if (got.length === 2) ac.abort();
  }
  t.same(got, ['{"n":1}', '{"n":2}'], 'lines split across chunks, empty lines skipped, abort ends the loop');

  const refused = await (async () => {
    for await (const _ of apiStream({ socketPath: path }, '/bad')) void _;
  })().catch((e: unknown) => e);
  t.type(refused, ApiAnswerError, 'a refused stream throws the answer');
  t.match(refused, { status: 415, reason: 'unsupported_media_type' });
  const hung = await apiRequest({ socketPath: path }, 'GET', '/hang', { timeoutMs: 100 }).catch((e: unknown) => e);
  t.match(hung, { code: 'ETIMEDOUT' }, 'no answer within timeoutMs: ETIMEDOUT');
});

t.test('tcp: the bearer token is sent', async (t) => {
  const server = fakeServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const r = await apiRequest({ url: `http://127.0.0.1:${port}`, token: 'secret-token-0123' }, 'GET', '/v1/status');
  t.match(r.json, { auth: 'Bearer secret-token-0123', method: 'GET' });
});

t.test('no agent: ApiUnavailableError ENOENT / ECONNREFUSED', async (t) => {
  const missing = await apiRequest({ socketPath: join(dir, 'none.sock') }, 'GET', '/healthz').catch((e: unknown) => e);
  t.type(missing, ApiUnavailableError);
  t.match(missing, { code: 'ENOENT' });
  const port = await freePort();
  const refused = await apiRequest({ url: `http://127.0.0.1:${port}`, token: 'x' }, 'GET', '/healthz').catch((e: unknown) => e);
  t.type(refused, ApiUnavailableError);
  t.match(refused, { code: 'ECONNREFUSED' });
  const streamErr = await (async () => {
    for await (const _ of apiStream({ socketPath: join(dir, 'none.sock') }, '/v1/commands')) void _;
  })().catch((e: unknown) => e);
  t.type(streamErr, ApiUnavailableError);
});
