/**
 * Admission control of the TCP/TLS listeners (stream-listener.ts, preauth-pool.ts), in-process
 * over real loopback sockets from several source addresses (127.0.0.x): the URL knobs, eviction
 * order (silent connections first, the address's own oldest when it is at its bound), the
 * handshake deadline (also for a TLS handshake that never starts), and the cap on authenticated
 * links. The engine's part (`markAuthenticated` after the Auth verified) is played by the test.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Link } from '../agent/link.js';
import { openTransport, type OpenedTransport, TransportError } from '../agent/transport/registry.js';
import { encodeTcpFrame } from '../protocol/tcp-frame.js';
import { until } from '../testkit/wait.js';

/** Links in arrival order. */
function collect(tr: OpenedTransport): Link[] {
  const links: Link[] = [];
  tr.on('link', (l) => links.push(l));
  return links;
}

function dial(port: number, from: string): net.Socket {
  const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  return s;
}

const closed = (s: net.Socket): boolean => s.destroyed || s.readyState === 'closed';

t.test('URL parameters set the bounds; bad values and unknown names are rejected', async (tt) => {
  const tr = await openTransport('tcp-listen://127.0.0.1:0?max_conns=3&max_preauth=2&preauth_per_addr=1&handshake_ms=250');
  tt.teardown(() => tr.close());
  // tap's `rejects` types its pattern as an error's fields; the transport errors are matched on `kind`.
  const rejection = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'resolved', (err: unknown) => err);
  tt.match(await rejection(openTransport('tcp-listen://127.0.0.1:0?max_preauth=0')), { kind: 'BadUrl' });
  tt.match(await rejection(openTransport('tcp-listen://127.0.0.1:0?handshake=5')), { kind: 'BadUrl' });
  tt.match(await rejection(openTransport('tcp://127.0.0.1:1?max_conns=3')), { kind: 'BadUrl' }, 'dialers take no listener parameters');
  // The deadline from the URL is in force.
  const s = dial(tr.localPort!, '127.0.0.1');
  const t0 = Date.now();
  await until(() => closed(s), 10_000, 'closed(s)');
  tt.ok(Date.now() - t0 < 5000, `closed by handshake_ms=250 (${Date.now() - t0} ms)`);
});

t.test('per-address bound: the address\'s oldest silent connection is evicted, a talking one is kept', async (tt) => {
  const tr = await openTransport('tcp-listen://127.0.0.1:0', { maxPreAuth: 16, maxPreAuthPerAddress: 2, refusalLogIntervalMs: 50 });
  tt.teardown(() => tr.close());
  const links = collect(tr);
  const port = tr.localPort!;
  const talker = dial(port, '127.0.0.2');
  await until(() => links.length === 1, 10_000, 'links.length === 1');
  talker.write(encodeTcpFrame(Uint8Array.of(1, 2, 3))); // one complete frame: it "spoke"
  await new Promise<void>((r) => links[0]!.once('frame', () => r()));
  const silent = dial(port, '127.0.0.2');
  const other = dial(port, '127.0.0.3');
  await until(() => links.length === 3, 10_000, 'links.length === 3');
  const warned = new Promise<TransportError>((r) => tr.once('warn', (e) => r(e as TransportError)));
  const third = dial(port, '127.0.0.2');
  tt.teardown(() => [talker, silent, other, third].forEach((s) => s.destroy()));
  await until(() => closed(silent), 10_000, 'closed(silent)');
  tt.pass('the silent connection of 127.0.0.2 was evicted');
  await new Promise((r) => setTimeout(r, 100));
  tt.notOk(closed(talker), 'the one that sent a frame is kept, although older');
  tt.notOk(closed(other), 'another address is not touched');
  tt.notOk(closed(third), 'the newcomer is in');
  const w = await warned;
  tt.match(w.message, /evicted 1, timed out 0 unauthenticated connections from 1 addresses/);
});

t.test('pool bound: a full pool evicts its oldest silent connection, whatever the address', async (tt) => {
  const tr = await openTransport('tcp-listen://127.0.0.1:0', { maxPreAuth: 3, maxPreAuthPerAddress: 3 });
  tt.teardown(() => tr.close());
  const links = collect(tr);
  const port = tr.localPort!;
  const socks = ['127.0.0.4', '127.0.0.5', '127.0.0.6'].map((a) => dial(port, a));
  await until(() => links.length === 3, 10_000, 'links.length === 3');
  const newcomer = dial(port, '127.0.0.7');
  tt.teardown(() => [...socks, newcomer].forEach((s) => s.destroy()));
  await until(() => closed(socks[0]!), 10_000, 'closed(socks[0]!)');
  await new Promise((r) => setTimeout(r, 100));
  tt.same(socks.map(closed), [true, false, false], 'only the oldest was evicted');
  tt.notOk(closed(newcomer), 'the newcomer is in');
});

t.test('handshake deadline; authenticated links leave the pool and count against max_conns', async (tt) => {
  const tr = await openTransport('tcp-listen://127.0.0.1:0', { handshakeTimeoutMs: 300, maxConnections: 1, maxPreAuth: 2 });
  tt.teardown(() => tr.close());
  const links = collect(tr);
  const port = tr.localPort!;
  const a = dial(port, '127.0.0.8');
  await until(() => links.length === 1, 10_000, 'links.length === 1');
  links[0]!.markAuthenticated!();
  const b = dial(port, '127.0.0.9');
  const c = dial(port, '127.0.0.10');
  const d = dial(port, '127.0.0.11');
  tt.teardown(() => [a, b, c, d].forEach((s) => s.destroy()));
  await until(() => links.length === 4, 10_000, 'links.length === 4');
  await until(() => !links[1]!.open, 10_000, '!links[1]!.open');
  tt.pass('b was evicted when d arrived (pool of 2; a, authenticated, is not in it)');
  const cErr = new Promise<Error | undefined>((r) => links[2]!.once('close', r));
  const dLink = links[3]!;
  const dErr = new Promise<Error | undefined>((r) => dLink.once('close', r));
  dLink.markAuthenticated!();
  tt.equal(((await dErr) as TransportError).kind, 'TooManyLinks', 'a second authenticated link is over max_conns=1: closed');
  tt.equal(((await cErr) as TransportError).kind, 'HandshakeTimeout', 'a silent one is closed at the deadline');
  await new Promise((r) => setTimeout(r, 500));
  tt.ok(links[0]!.open && !closed(a), 'the authenticated link outlives the deadline and is never evicted');
});

const openssl = spawnSync('openssl', ['version']).status === 0 ? 'openssl' : undefined;
t.test('TLS: a connection that never starts its TLS handshake is closed at the deadline', { skip: openssl ? false : 'openssl not installed' }, async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'swadm-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost',
  ], { encoding: 'utf8' });
  tt.equal(r.status, 0, 'certificate made');
  const tr = await openTransport(`tls-listen://127.0.0.1:0?cert=${join(dir, 'cert.pem')}&key=${join(dir, 'key.pem')}&handshake_ms=300`, { refusalLogIntervalMs: 50 });
  tt.teardown(() => tr.close());
  const warned = new Promise<Error>((res) => tr.once('warn', res));
  const s = dial(tr.localPort!, '127.0.0.12');
  tt.teardown(() => s.destroy());
  const t0 = Date.now();
  await until(() => closed(s), 10_000, 'closed(s)');
  tt.ok(Date.now() - t0 < 5000, `closed after ${Date.now() - t0} ms (Node's own TLS default is 120 s)`);
  tt.match((await warned).message, /timed out 1|TLS failed 1/, 'counted in the summary');
});
