/**
 * Transport behaviour under faults and misuse: reconnects (TCP socket destroyed, Mosquitto
 * killed and restarted, serial adapter unplugged and replugged), bounds on connections and
 * virtual links, typed errors for bad URLs, and lazy loading of transport modules.
 *
 * Mosquitto is optional on a dev machine (skipped with a message) and required under CI=true.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from '../testkit/net.js';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Link, Transport } from '../agent/link.js';
import { SyncwireError } from '../protocol/errors.js';
import { encodeTcpFrame } from '../protocol/tcp-frame.js';
import { TransportError, openTransport, redactUrl, type TransportOptions } from '../agent/transport/registry.js';
import { SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { sleep } from '../testkit/wait.js';

const CI = process.env.CI === 'true';
const fast: TransportOptions = { reconnectBaseMs: 20, reconnectMaxMs: 300, connectTimeoutMs: 2000 };
function once<T>(emitter: { once(ev: string, fn: (x: T) => void): unknown }, ev: string): Promise<T> {
  return new Promise((resolve) => emitter.once(ev, resolve));
}

/** Every link a transport emits, in order, each with its received frames recorded from the start. */
function links(tr: Transport): { next(): Promise<Link>; frames: Map<Link, Uint8Array[]> } {
  const queue: Link[] = [];
  const frames = new Map<Link, Uint8Array[]>();
  let wake: (() => void) | null = null;
  tr.on('link', (l) => {
    const got: Uint8Array[] = [];
    frames.set(l, got);
    l.on('frame', (f) => got.push(Uint8Array.from(f)));
    queue.push(l);
    wake?.();
  });
  return {
    frames,
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      return queue.shift()!;
    },
  };
}

function nextFrame(link: Link): Promise<Uint8Array> {
  return once<Uint8Array>(link, 'frame');
}

async function rejectsWith(tt: Test, p: Promise<unknown>, kind: string, what: string): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  tt.ok(err instanceof TransportError && err instanceof SyncwireError, `${what}: a TransportError`);
  tt.equal((err as TransportError).kind, kind, `${what}: kind ${kind}`);
}

t.test('bad URLs and options give typed errors', async (tt) => {
  await rejectsWith(tt, openTransport('carrier-pigeon://coop:1'), 'UnknownScheme', 'unknown scheme');
  await rejectsWith(tt, openTransport('not a url'), 'BadUrl', 'unparsable');
  await rejectsWith(tt, openTransport('tcp://127.0.0.1'), 'BadUrl', 'tcp without port');
  await rejectsWith(tt, openTransport('tcp://:7000'), 'BadUrl', 'tcp without host');
  await rejectsWith(tt, openTransport('tcp://127.0.0.1:7000?nodelay=0'), 'BadUrl', 'unknown parameter');
  await rejectsWith(tt, openTransport('serial:'), 'BadUrl', 'serial without path');
  await rejectsWith(tt, openTransport('serial:/dev/ttyS0?baud=fast'), 'BadUrl', 'non-numeric baud');
  await rejectsWith(tt, openTransport('mqtt://127.0.0.1:1883/0123456789abcdef'), 'BadOptions', 'mqtt without self id');
  await rejectsWith(tt, openTransport('mqtt://127.0.0.1:1883/not-a-peer?self=0123456789abcdef'), 'BadUrl', 'mqtt with bad remote id');
  await rejectsWith(tt, openTransport('tls-listen://127.0.0.1:0'), 'BadOptions', 'tls listener without cert');
  await rejectsWith(tt, openTransport('tls://127.0.0.1:1?ca=/nonexistent/ca.pem'), 'BadOptions', 'unreadable CA file');
  const held = await openTransport('tcp-listen://127.0.0.1:0');
  await rejectsWith(tt, openTransport(`tcp-listen://127.0.0.1:${held.localPort}`), 'ListenFailed', 'address in use');
  await held.close();

  tt.equal(redactUrl('mqtt://gw:s3cret@broker:1883/0123456789abcdef'), 'mqtt://gw:***@broker:1883/0123456789abcdef');
  tt.notMatch(redactUrl('mqtt://gw:s3cret@[bad'), /s3cret/, 'unparsable URLs are masked too');
  const tr = await openTransport('mqtt://gw:s3cret@127.0.0.1:1/0123456789abcdef?self=fedcba9876543210', { ...fast, reconnectBaseMs: 60_000 });
  tt.notMatch(tr.url, /s3cret/, 'Transport.url carries no password');
  await tr.close();
});

t.test('the registry loads transport modules lazily', async (tt) => {
  // A child process imports the registry through tap's TypeScript loader, opens a TCP pair and
  // reports whether mqtt.js or serialport were loaded. Both are CommonJS packages, so loading
  // them populates require.cache even from ESM; the same child then opens an MQTT transport as
  // a positive control proving the probe sees a load when there is one.
  const tsLoader = process.execArgv.find((a) => a.includes('@tapjs/typescript'))
    ?? `--import=${pathToFileURL(resolvePath('node_modules/@tapjs/typescript/dist/esm/import.mjs')).href}`;
  const registry = pathToFileURL(fileURLToPath(new URL('../agent/transport/registry.ts', import.meta.url))).href;
  const code = `
    import { createRequire } from 'node:module';
    const require = createRequire(process.cwd() + '/');
    const loaded = (name) => Object.keys(require.cache).some((k) => k.includes('/node_modules/' + name + '/'));
    const { openTransport } = await import(${JSON.stringify(registry)});
    const l = await openTransport('tcp-listen://127.0.0.1:0');
    const d = await openTransport('tcp://127.0.0.1:' + l.localPort);
    await new Promise((r) => d.once('link', r));
    const afterTcp = { mqtt: loaded('mqtt'), serialport: loaded('serialport') };
    await d.close(); await l.close();
    const m = await openTransport('mqtt://127.0.0.1:1/0123456789abcdef?self=fedcba9876543210', { reconnectBaseMs: 60000 });
    const afterMqtt = { mqtt: loaded('mqtt') };
    await m.close();
    console.log(JSON.stringify({ afterTcp, afterMqtt }));
  `;
  const r = spawnSync(process.execPath, [tsLoader, '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 30_000 });
  tt.equal(r.status, 0, `child exited cleanly ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  tt.same(out.afterTcp, { mqtt: false, serialport: false }, 'a TCP agent loads neither mqtt nor serialport');
  tt.same(out.afterMqtt, { mqtt: true }, 'positive control: opening MQTT does load mqtt');
});

t.test('tcp dialer: reconnects after the far side destroys the socket; a corrupt length closes the link', async (tt) => {
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    if (accepted === 1) s.destroy();
    else if (accepted === 2) s.write(encodeTcpFrame(Uint8Array.of(7, 7)));
    // An impossible length: the stream cannot be resynchronised, so the link must close.
    else if (accepted === 3) s.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const tr = await openTransport(`tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, fast);
  // The dialer first: the server's close waits for its connections to end.
  tt.teardown(async () => {
    await tr.close();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const q = links(tr);

  const l1 = await q.next();
  await once(l1, 'close');
  tt.pass('first link closed when the socket was destroyed');
  const l2 = await q.next();
  tt.not(l2, l1, 'a new link after reconnecting');
  const f = q.frames.get(l2)!.length > 0 ? q.frames.get(l2)![0]! : await nextFrame(l2);
  tt.same([...f], [7, 7], 'the new link carries frames');
  // Make the server misbehave on the next connection.
  await l2.close();
  const l3 = await q.next();
  const err = await once<Error | undefined>(l3, 'close');
  tt.equal((err as SyncwireError | undefined)?.reason, 'TooLarge', 'fatal framing error closes the link with TooLarge');
  await q.next();
  tt.pass('and the dialer reconnects again');
});

t.test('tcp dialer: keeps retrying while nobody listens, connects once a listener appears', async (tt) => {
  const port = await freePort();
  const tr = await openTransport(`tcp://127.0.0.1:${port}`, fast);
  tt.teardown(() => tr.close());
  const q = links(tr);
  const w = await once<TransportError>(tr, 'warn');
  tt.equal(w.kind, 'ConnectFailed', 'a refused connection is a ConnectFailed warning');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  tt.teardown(() => new Promise<void>((r) => server.close(() => r())));
  await q.next();
  await tr.close();
  tt.pass('link after the listener came up');
});

t.test('tcp listener: a full pre-auth pool evicts its oldest connection, with a summary warning', async (tt) => {
  const tr = await openTransport('tcp-listen://127.0.0.1:0', { maxPreAuth: 1, refusalLogIntervalMs: 50 });
  tt.teardown(() => tr.close());
  const q = links(tr);
  const c1 = net.connect(tr.localPort!, '127.0.0.1');
  c1.on('error', () => {});
  tt.teardown(() => c1.destroy());
  await q.next();
  const warned = once<TransportError>(tr, 'warn');
  const c2 = net.connect(tr.localPort!, '127.0.0.1');
  tt.teardown(() => c2.destroy());
  await once(c1, 'close');
  tt.pass('the older unauthenticated socket was closed by the listener');
  const w = await warned;
  tt.equal(w.kind, 'TooManyLinks');
  tt.match(w.message, /evicted 1,/);
});

t.test('mqtt listener: at most maxLinks authenticated virtual links', async (tt) => {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  tt.teardown(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });
  const port = (server.address() as net.AddressInfo).port;
  const gw = 'aaaaaaaaaaaaaaaa';
  // Dialers start once the broker holds the listener's subscription, or their frames could be lost.
  const subscribed = new Promise<void>((resolve) => broker.on('subscribe', (_s, client) => {
    if (client?.id === `syncwire-${gw}`) resolve();
  }));
  const listener = await openTransport(`mqtt-listen://127.0.0.1:${port}?self=${gw}`, { ...fast, maxLinks: 1 });
  const q = links(listener);
  await subscribed;
  const d1 = await openTransport(`mqtt://127.0.0.1:${port}/${gw}?self=1111111111111111`, fast);
  const l1 = links(d1).next();
  const d2 = await openTransport(`mqtt://127.0.0.1:${port}/${gw}?self=2222222222222222`, fast);
  const l2 = links(d2).next();
  tt.teardown(() => Promise.all([listener.close(), d1.close(), d2.close()]));
  (await l1).send(Uint8Array.of(1));
  const first = await q.next();
  tt.equal(first.description.endsWith('/1111111111111111'), true, 'first sender got a link');
  // maxLinks counts authenticated links (unauthenticated ones have their own pool): play the engine.
  first.markAuthenticated?.();
  const warned = once<TransportError>(listener, 'warn');
  (await l2).send(Uint8Array.of(2));
  tt.equal((await warned).kind, 'TooManyLinks', 'the second sender is dropped with a warning');
});

const mosquittoBin = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).stdout.trim()
  || (existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : '');
if (mosquittoBin === '' && CI) t.fail('mosquitto is required under CI=true');
t.test('mqtt dialer: reconnects after Mosquitto is killed and restarted on the same port', {
  skip: mosquittoBin === '' ? 'mosquitto not installed; skipped (install it to run this test)' : false,
}, async (tt) => {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const startBroker = async (): Promise<void> => {
    const c = spawn(mosquittoBin, ['-p', String(port)], { stdio: 'ignore' });
    child = c;
    for (let i = 0; ; i++) {
      if (c.exitCode !== null || i > 200) throw new Error('mosquitto did not start');
      const ok = await new Promise<boolean>((r) => {
        const s = net.connect(port, '127.0.0.1', () => r(true));
        s.once('error', () => r(false));
        s.once('connect', () => s.destroy());
      });
      if (ok) return;
      await sleep(25);
    }
  };
  tt.teardown(() => {
    child?.kill('SIGKILL');
  });
  await startBroker();
  const [ida, idb] = ['aaaaaaaaaaaaaaa1', 'bbbbbbbbbbbbbbb2'];
  const ta = await openTransport(`mqtt://127.0.0.1:${port}/${idb}?self=${ida}`, fast);
  const qa = links(ta);
  const tb = await openTransport(`mqtt://127.0.0.1:${port}/${ida}?self=${idb}`, fast);
  const qb = links(tb);
  tt.teardown(() => Promise.all([ta.close(), tb.close()]));
  const [a1, b1] = await Promise.all([qa.next(), qb.next()]);
  const got1 = nextFrame(b1);
  a1.send(Uint8Array.of(1));
  tt.same([...(await got1)], [1], 'frames flow before the crash');

  const closes = Promise.all([once<Error>(a1, 'close'), once<Error>(b1, 'close')]);
  const dead = once(child!, 'exit');
  child!.kill('SIGKILL');
  await dead;
  const [ea, eb] = await closes;
  tt.equal((ea as TransportError).kind, 'Disconnected', 'a: link closed as Disconnected');
  tt.equal((eb as TransportError).kind, 'Disconnected', 'b: link closed as Disconnected');

  await startBroker();
  const [a2, b2] = await Promise.all([qa.next(), qb.next()]);
  tt.not(a2, a1, 'a: new link after the broker restarted');
  const got2 = nextFrame(a2);
  b2.send(Uint8Array.of(2));
  tt.same([...(await got2)], [2], 'frames flow after the restart');
});

t.test('serial over the simulated binding survives unplug and replug', async (tt) => {
  const registry = new SimRegistry();
  const sim = createSimLink({ pathA: '/dev/simA', pathB: '/dev/simB', registry });
  tt.teardown(() => sim.dispose());
  const binding = createSimBinding(registry);
  // Listen for links right after each open: a simulated port opens within the same tick.
  const ta = await openTransport('serial:/dev/simA', { ...fast, binding });
  const qa = links(ta);
  const tb = await openTransport('serial:/dev/simB?baud=115200', { ...fast, binding });
  const qb = links(tb);
  tt.teardown(() => Promise.all([ta.close(), tb.close()]));
  const [a1, b1] = await Promise.all([qa.next(), qb.next()]);

  const closes = Promise.all([once<Error | undefined>(a1, 'close'), once<Error | undefined>(b1, 'close')]);
  const retrying = new Promise<TransportError>((resolve) => {
    const onWarn = (e: Error): void => {
      if ((e as TransportError).kind !== 'ConnectFailed') return;
      ta.off('warn', onWarn);
      resolve(e as TransportError);
    };
    ta.on('warn', onWarn);
  });
  sim.unplug();
  const [ea] = await closes;
  tt.equal((ea as { disconnected?: boolean } | undefined)?.disconnected, true, 'the link closed with the port\'s disconnect error');
  tt.match((await retrying).message, /ENOENT|No such file/, 'reopening fails (and is retried) while unplugged');
  sim.replug();
  const [a2, b2] = await Promise.all([qa.next(), qb.next()]);
  tt.not(a2, a1, 'a new link after replug');
  const got = nextFrame(b2);
  a2.send(Uint8Array.of(0, 1, 2, 0));
  tt.same([...(await got)], [0, 1, 2, 0], 'frames flow after replug');
});

t.test('links and frames that appear before anyone listens are held, not lost', async (tt) => {
  const registry = new SimRegistry();
  const sim = createSimLink({ pathA: '/dev/simA', pathB: '/dev/simB', registry });
  tt.teardown(() => sim.dispose());
  const binding = createSimBinding(registry);
  const ta = await openTransport('serial:/dev/simA', { ...fast, binding });
  const tb = await openTransport('serial:/dev/simB', { ...fast, binding });
  tt.teardown(() => Promise.all([ta.close(), tb.close()]));
  // Both ports open well before anyone listens.
  await sleep(100);
  const [a, b] = await Promise.all([once<Link>(ta, 'link'), once<Link>(tb, 'link')]);
  tt.ok(a.open && b.open, 'both held links are delivered, open');
  b.send(Uint8Array.of(5, 6));
  await sleep(100);
  tt.same([...(await nextFrame(a))], [5, 6], 'a frame that arrived before the frame listener is delivered');
});
