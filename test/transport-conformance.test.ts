/**
 * One conformance suite, run against every transport: the in-memory pair, TCP, TLS, MQTT through
 * aedes (in-process) and through a real Mosquitto, serial over a socat PTY pair and serial over
 * the simulated binding. Each case gets a fresh connected pair.
 *
 * External tools (openssl, mosquitto, socat) are optional on a dev machine: a missing one skips
 * its pairs with a message. Under CI=true a missing tool fails the run instead.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort, waitForPort } from './helpers/brokers.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Link, Transport } from '../agent/link.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { openTransport, type OpenedTransport, type TransportOptions } from '../agent/transport/registry.js';
import { SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/sim-binding.js';

const CI = process.env.CI === 'true';

/** A connected pair and how to dispose of everything behind it. */
interface Pair {
  a: Link;
  b: Link;
  teardown(): Promise<void>;
}

/** What a transport can promise beyond the common contract. */
interface Caps {
  /** `send` returns false under load and `drain` follows. The memory pair has no queue. */
  backpressure: boolean;
  /** Closing one end closes the other. A UART has no hang-up signal. */
  remoteClose: boolean;
}

interface PairFactory {
  name: string;
  caps: Caps;
  /** A reason to skip, or undefined. */
  skip?: string | undefined;
  make(): Promise<Pair>;
}

// ---------------------------------------------------------------- helpers

function tool(name: string, extra: string[] = []): string | undefined {
  const which = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const found = which.stdout.trim();
  if (found !== '') return found;
  return extra.find((p) => existsSync(p));
}

/** Skip message outside CI; under CI a missing tool is a failure (reported by a failing test). */
function missing(what: string): string | undefined {
  if (CI) {
    t.fail(`${what} is required under CI=true`);
    return `${what} missing (failed above)`;
  }
  return `${what} not installed; skipped (install it to run this pair)`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function once<T>(emitter: { once(ev: string, fn: (x: T) => void): unknown }, ev: string): Promise<T> {
  return new Promise((resolve) => emitter.once(ev, resolve));
}

const peerId = (): string => randomBytes(8).toString('hex');

/** The first link a transport emits. */
function firstLink(tr: Transport): Promise<Link> {
  return once<Link>(tr, 'link');
}

/** A frame that carries its index in its first 4 bytes (when long enough) and random filler. */
function frame(i: number, size: number): Uint8Array {
  const f = randomBytes(size);
  if (size >= 4) new DataView(f.buffer, f.byteOffset).setUint32(0, i);
  return new Uint8Array(f.buffer, f.byteOffset, size);
}

/** Collect every frame a link receives. */
function collect(link: Link): { frames: Uint8Array[]; until(n: number): Promise<void> } {
  const frames: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  link.on('frame', (f) => {
    frames.push(Uint8Array.from(f));
    wake?.();
  });
  return {
    frames,
    async until(n) {
      while (frames.length < n) {
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    },
  };
}

/** Send frames honouring backpressure: wait for `drain` whenever `send` says so. */
async function sendAll(link: Link, frames: Uint8Array[]): Promise<void> {
  for (const f of frames) {
    if (!link.send(f)) await once(link, 'drain');
  }
}

function equalFrames(tt: Test, got: Uint8Array[], want: Uint8Array[], what: string): void {
  tt.equal(got.length, want.length, `${what}: count`);
  const bad = want.findIndex((w, i) => got[i] === undefined || Buffer.compare(Buffer.from(w), Buffer.from(got[i]!)) !== 0);
  tt.equal(bad, -1, `${what}: every frame intact and in order`);
}

function countCloses(link: Link): { n: number; done: Promise<Error | undefined> } {
  const c = { n: 0, done: once<Error | undefined>(link, 'close') };
  link.on('close', () => c.n++);
  return c;
}

// ---------------------------------------------------------------- the suite

function conformance(f: PairFactory): void {
  t.test(f.name, { skip: f.skip ?? false }, async (tt) => {
    const withPair = (name: string, fn: (tt: Test, p: Pair) => Promise<void>, skip: string | false = false): void => {
      tt.test(name, { skip }, async (t2) => {
        const p = await f.make();
        t2.teardown(() => p.teardown());
        await fn(t2, p);
      });
    };

    withPair('frames of sizes 1..maxFrame arrive intact and in order, both ways', async (t2, { a, b }) => {
      t2.equal(a.maxFrame, b.maxFrame, 'both ends agree on maxFrame');
      const sizes = [1, 2, 3, 4, 100, 252, 253, 254, 255, 256, 1000, 4096, 65_535, a.maxFrame].filter((s) => s <= a.maxFrame);
      const ab = sizes.map((s, i) => frame(i, s));
      const ba = sizes.map((s, i) => frame(i, s));
      const ra = collect(a);
      const rb = collect(b);
      await Promise.all([sendAll(a, ab), sendAll(b, ba), rb.until(ab.length), ra.until(ba.length)]);
      equalFrames(t2, rb.frames, ab, 'a→b');
      equalFrames(t2, ra.frames, ba, 'b→a');
    });

    withPair('a burst of 1000 frames arrives, all and in order, both ways', async (t2, { a, b }) => {
      const mk = (): Uint8Array[] => Array.from({ length: 1000 }, (_, i) => frame(i, 4 + ((i * 37) % 200)));
      const ab = mk();
      const ba = mk();
      const ra = collect(a);
      const rb = collect(b);
      await Promise.all([sendAll(a, ab), sendAll(b, ba), rb.until(1000), ra.until(1000)]);
      equalFrames(t2, rb.frames, ab, 'a→b');
      equalFrames(t2, ra.frames, ba, 'b→a');
    });

    withPair('flooding: send returns false at some point and drain follows', async (t2, { a, b }) => {
      const rb = collect(b);
      const chunk = frame(0, 4096);
      let sent = 0;
      let refused = false;
      // Bounded so a transport that never refuses fails instead of eating memory.
      while (sent < 16_384 && !refused) {
        refused = !a.send(chunk);
        sent++;
      }
      t2.ok(refused, `send returned false after ${sent} frames`);
      await once(a, 'drain');
      t2.pass('drain fired');
      await rb.until(sent);
      t2.equal(rb.frames.length, sent, 'every queued frame arrived');
    }, f.caps.backpressure ? false : 'this link has no send queue');

    for (const side of ['a', 'b'] as const) {
      withPair(`close from ${side}: close emitted once on both sides; send after close and close again are harmless`, async (t2, p) => {
        const [closer, other] = side === 'a' ? [p.a, p.b] : [p.b, p.a];
        const cc = countCloses(closer);
        const co = countCloses(other);
        await closer.close();
        await cc.done;
        t2.equal(closer.open, false, 'closer reports closed');
        if (f.caps.remoteClose) {
          await co.done;
          t2.equal(other.open, false, 'other side reports closed');
        }
        t2.doesNotThrow(() => closer.send(Uint8Array.of(1, 2, 3)), 'send after close does not throw');
        if (f.caps.remoteClose) t2.doesNotThrow(() => other.send(Uint8Array.of(1)), 'send on the other closed side does not throw');
        await closer.close();
        await closer.close();
        // Let any duplicate event surface before counting.
        await sleep(50);
        t2.equal(cc.n, 1, 'closer emitted close once');
        if (f.caps.remoteClose) t2.equal(co.n, 1, 'other side emitted close once');
      });
    }
  });
}

// ---------------------------------------------------------------- pairs

const fast: TransportOptions = { reconnectBaseMs: 50, reconnectMaxMs: 500, highWaterMark: 16 * 1024 };

/**
 * Two transports; the pair is their first links. `prime` replaces "first link of each" for
 * transports whose link appears only on the first message (MQTT listen mode).
 */
async function transportPair(
  openA: () => Promise<OpenedTransport>,
  openB: (a: OpenedTransport) => Promise<OpenedTransport>,
  prime?: (dialer: OpenedTransport, listener: OpenedTransport) => Promise<Link>,
  extraTeardown: () => Promise<void> = async () => {},
): Promise<Pair> {
  const ta = await openA();
  const la = prime ? undefined : firstLink(ta);
  const tb = await openB(ta);
  // With `prime`, B is a dialer and A a listener whose link the primer creates.
  const lb = firstLink(tb);
  const a = prime ? await prime(tb, ta) : await la!;
  const b = await lb;
  return {
    a,
    b,
    async teardown() {
      await Promise.all([ta.close(), tb.close()]);
      await extraTeardown();
    },
  };
}

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
const mosquittoBin = tool('mosquitto', ['/usr/sbin/mosquitto']);
let mosquittoPort: Promise<number> | undefined;
function mosquitto(): Promise<number> {
  mosquittoPort ??= (async () => {
    const port = await freePort();
    const child = spawn(mosquittoBin!, ['-p', String(port)], { stdio: 'ignore' });
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    await waitForPort(port, child, 'mosquitto');
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
