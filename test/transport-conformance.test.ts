/**
 * The link conformance suite (testkit/suites/link-conformance.ts), run against every transport:
 * the in-memory pair, TCP, TLS, MQTT through aedes (in-process) and through a real Mosquitto,
 * serial over a socat PTY pair and serial over the simulated binding. This file only builds the
 * pairs; each case gets a fresh one.
 *
 * External tools (openssl, mosquitto, socat) are optional on a dev machine: a missing one skips
 * its pairs with a message. Under CI=true a missing tool fails the run instead.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Link } from '../agent/link.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { openTransport, type TransportOptions } from '../agent/transport/registry.js';
import { SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { findBin, freePort, mosquitto as startMosquitto, mosquittoConf } from '../testkit/net.js';
import { firstLink, runLinkConformance as conformance, transportPair } from '../testkit/suites/link-conformance.js';
import { sleep } from '../testkit/wait.js';

const CI = process.env.CI === 'true';

/** Skip message outside CI; under CI a missing tool is a failure (reported by a failing test). */
function missing(what: string): string | undefined {
  if (CI) {
    t.fail(`${what} is required under CI=true`);
    return `${what} missing (failed above)`;
  }
  return `${what} not installed; skipped (install it to run this pair)`;
}

const peerId = (): string => randomBytes(8).toString('hex');

/** A binary on PATH or in the sbin directories, or undefined. */
const tool = (name: string): string | undefined => findBin(name) || undefined;

const fast: TransportOptions = { reconnectBaseMs: 50, reconnectMaxMs: 500, highWaterMark: 16 * 1024 };

conformance({
  name: 'memory',
  caps: { backpressure: false, remoteClose: true },
  async make() {
    const [a, b] = createMemoryLinkPair();
    return { a, b, teardown: async () => {} };
  },
});

conformance({
  name: 'tcp',
  caps: { backpressure: true, remoteClose: true },
  make: () => transportPair(
    () => openTransport('tcp-listen://127.0.0.1:0', fast),
    (l) => openTransport(`tcp://127.0.0.1:${l.localPort}`, fast),
  ).then(({ a, b, teardown }) => ({ a: b, b: a, teardown })),
});

// ---- TLS: a throwaway self-signed certificate, used as CA, server and client certificate.
const openssl = tool('openssl');
const certDir = mkdtempSync(join(tmpdir(), 'syncwire-tls-'));
t.teardown(() => rmSync(certDir, { recursive: true, force: true }));
let tlsSkip = openssl === undefined ? missing('openssl') : undefined;
if (openssl !== undefined) {
  const r = spawnSync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { encoding: 'utf8' });
  if (r.status !== 0) tlsSkip = CI ? (t.fail(`openssl failed: ${r.stderr}`), 'openssl failed') : `openssl failed: ${r.stderr}`;
}
conformance({
  name: 'tls (mutual, certificate files in the URL)',
  caps: { backpressure: true, remoteClose: true },
  skip: tlsSkip,
  make: () => {
    const q = `?ca=${join(certDir, 'cert.pem')}&cert=${join(certDir, 'cert.pem')}&key=${join(certDir, 'key.pem')}`;
    return transportPair(
      () => openTransport(`tls-listen://127.0.0.1:0${q}`, fast),
      (l) => openTransport(`tls://localhost:${l.localPort}${q}`, fast),
    ).then(({ a, b, teardown }) => ({ a: b, b: a, teardown }));
  },
});

// ---- MQTT through aedes in-process: a listener and a dialer. The listener's link appears on
// the first message, so the pair is primed with one frame that the factory consumes; the dialer
// starts only once the broker has the listener's subscription, or the primer could be lost.
const aedesBroker = (async () => {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });
  const subscribed = (clientId: string): Promise<void> => new Promise((resolve) => {
    const on = (_subs: unknown, client: { id: string } | null): void => {
      if (client?.id !== clientId) return;
      broker.off('subscribe', on);
      resolve();
    };
    broker.on('subscribe', on);
  });
  return { port: (server.address() as net.AddressInfo).port, subscribed };
})();
conformance({
  name: 'mqtt via aedes (dial + listen)',
  caps: { backpressure: true, remoteClose: true },
  async make() {
    const { port, subscribed } = await aedesBroker;
    const [ida, idb] = [peerId(), peerId()];
    const ready = subscribed(`syncwire-${idb}`);
    return transportPair(
      () => openTransport(`mqtt-listen://127.0.0.1:${port}`, { ...fast, selfId: idb }),
      async () => {
        await ready;
        return openTransport(`mqtt://127.0.0.1:${port}/${idb}?self=${ida}`, fast);
      },
      async (dialer, listener) => {
        // The listener emits `frame` right after `link`: listen for it inside the `link` handler.
        const primed = new Promise<Link>((resolve) => listener.once('link', (l) => l.once('frame', () => resolve(l))));
        (await firstLink(dialer)).send(Uint8Array.of(0xee));
        return primed;
      },
    );
  },
});

// ---- MQTT through a real Mosquitto started for this file: two dialers.
const mosquittoBin = tool('mosquitto');
let mosquittoPort: Promise<number> | undefined;
function mosquitto(): Promise<number> {
  mosquittoPort ??= (async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'syncwire-mosq-'));
    const broker = startMosquitto(mosquittoConf(dir, port), port);
    t.teardown(async () => {
      await broker.kill();
      rmSync(dir, { recursive: true, force: true });
    });
    await broker.start();
    return port;
  })();
  return mosquittoPort;
}
conformance({
  name: 'mqtt via mosquitto (dial + dial)',
  caps: { backpressure: true, remoteClose: true },
  skip: mosquittoBin === undefined ? missing('mosquitto') : undefined,
  async make() {
    const port = await mosquitto();
    const [ida, idb] = [peerId(), peerId()];
    return transportPair(
      () => openTransport(`mqtt://127.0.0.1:${port}/${idb}?self=${ida}`, fast),
      () => openTransport(`mqtt://127.0.0.1:${port}/${ida}`, { ...fast, selfId: idb }),
    );
  },
});

// ---- Serial over a socat PTY pair (a new socat per pair: closing a PTY end may end socat).
const socatBin = tool('socat');
conformance({
  name: 'serial via socat pty pair',
  caps: { backpressure: true, remoteClose: false },
  skip: socatBin === undefined ? missing('socat') : undefined,
  async make() {
    const dir = mkdtempSync(join(tmpdir(), 'syncwire-pty-'));
    const [x1, x2] = [join(dir, 'x1'), join(dir, 'x2')];
    const child = spawn(socatBin!, ['-d', '-d', `pty,raw,echo=0,link=${x1}`, `pty,raw,echo=0,link=${x2}`], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !(existsSync(x1) && existsSync(x2)); i++) await sleep(10);
    const cleanup = async (): Promise<void> => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    return transportPair(
      () => openTransport(`serial:${x1}?baud=115200`, fast),
      () => openTransport(`serial:${x2}?baud=115200`, fast),
      undefined,
      cleanup,
    );
  },
});

// ---- Serial over the simulated binding (4 Mbit/s so the large frames pass quickly).
conformance({
  name: 'serial via firmware-sim binding',
  caps: { backpressure: true, remoteClose: false },
  async make() {
    const registry = new SimRegistry();
    const sim = createSimLink({ pathA: '/dev/simA', pathB: '/dev/simB', registry, baudRate: 4_000_000 });
    const binding = createSimBinding(registry);
    return transportPair(
      () => openTransport('serial:/dev/simA?baud=4000000', { ...fast, binding }),
      () => openTransport('serial:/dev/simB?baud=4000000', { ...fast, binding }),
      undefined,
      async () => sim.dispose(),
    );
  },
});
