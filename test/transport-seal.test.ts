/**
 * The transport side of sealed links (issue 13), on real transports: the `seal=` URL parameter
 * and its per-scheme defaults (TCP, TLS, serial over the simulated binding, MQTT and MQTTS
 * through Mosquitto), and what `markSealed()` changes on an MQTT link: a forged empty payload no
 * longer ends it, closing it publishes no empty marker, and a live `online` for the remote makes
 * it emit `rehandshake` instead of being replaced. No engine: the tests call
 * `markAuthenticated()` / `markSealed()` themselves, as the session does once a link is up sealed.
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import type { Link, Transport } from '../agent/link.js';
import { openTransport, type OpenedTransport, type TransportOptions } from '../agent/transport/registry.js';
import { MqttLink, REHANDSHAKE_HINT_MS } from '../agent/transport/mqtt-link.js';
import { KICK_AFTER_MS, onlineAction } from '../agent/transport/mqtt-presence.js';
import { SEAL_POLICIES } from '../protocol/seal.js';
import { SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { findBin, freePort, mosquitto, mosquittoConf } from '../testkit/net.js';
import { until } from '../testkit/wait.js';

const CI = process.env.CI === 'true';
const haveMosquitto = findBin('mosquitto') !== '';
const haveOpenssl = findBin('openssl') !== '';
if (CI && !(haveMosquitto && haveOpenssl)) t.fail('mosquitto and openssl are required under CI=true');
const noBroker = haveMosquitto ? false : 'mosquitto not installed; skipped';
const dir = mkdtempSync(join(tmpdir(), 'syncwire-seal-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const fast: TransportOptions = { reconnectBaseMs: 20, reconnectMaxMs: 100, mqttReconnectMaxMs: 100, handshakeTimeoutMs: 0 };
const peerId = (): string => randomBytes(8).toString('hex');
const text = (b: Uint8Array): string => Buffer.from(b).toString();

/** The next `event` of `link`; rejects after 10 s, or at once if the link closes first (unless waiting for `close`). */
function next<T>(link: Link, event: 'frame' | 'frame-error' | 'rehandshake' | 'close'): Promise<T> {
  const p = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within 10 s on ${link.description}`)), 10_000);
    const done = (x: T): void => {
      clearTimeout(timer);
      resolve(x);
    };
    link.once(event, done as (...args: unknown[]) => void);
    if (event !== 'close') link.once('close', () => reject(new Error(`${link.description} closed while waiting for ${event}`)));
  });
  // Awaited later, after the publishes that cause it: a failure then must not count as unhandled.
  p.catch(() => undefined);
  return p;
}

/** Poll `cond` every 20 ms until true; throws after `timeoutMs`. */
// A throwaway self-signed certificate: CA, TLS server and MQTTS broker certificate at once.
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const tlsSkip = haveOpenssl && spawnSync('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
  '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
]).status === 0 ? false : 'openssl missing or failed; skipped';
// Mosquitto started as root drops to its `mosquitto` user: it must be able to read them.
if (tlsSkip === false) {
  chmodSync(dir, 0o755);
  for (const f of [cert, key]) chmodSync(f, 0o644);
}

/** Every link `tr` emits, in order; `next()` waits for the next one not taken yet. */
function linksOf(tr: Transport): { all: Link[]; next(): Promise<Link> } {
  const all: Link[] = [];
  let taken = 0;
  tr.on('link', (l) => all.push(l));
  return {
    all,
    async next() {
      await until(() => all.length > taken, 20_000, 'next link');
      return all[taken++]!;
    },
  };
}

/** Start a transport and tear it down with the test. */
async function open(tt: Test, url: string, opts: TransportOptions = {}): Promise<OpenedTransport> {
  const tr = await openTransport(url, { ...fast, ...opts });
  tt.teardown(() => tr.close());
  return tr;
}

/** A raw mqtt.js client (attacker or sniffer), connected. */
async function rawClient(tt: Test, port: number): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync({ host: '127.0.0.1', port, protocolVersion: 4, reconnectPeriod: 0 });
  tt.teardown(() => c.endAsync(true));
  return c;
}

/** A Mosquitto on a free port (TLS with the test certificate when `tls`), killed with the test. */
async function broker(tt: Test, tls = false): Promise<number> {
  const port = await freePort();
  const b = mosquitto(mosquittoConf(dir, port, tls ? [`certfile ${cert}`, `keyfile ${key}`] : []), port);
  await b.start();
  tt.teardown(() => b.kill());
  return port;
}

t.test('seal= is checked on every scheme; a bad value is a BadUrl that lists the choices', async (tt) => {
  const urls = [
    'tcp://127.0.0.1:1', 'tcp-listen://127.0.0.1:0', 'tls://127.0.0.1:1', 'tls-listen://127.0.0.1:0',
    'serial:/dev/none', `mqtt://127.0.0.1:1/${peerId()}`, `mqtts://127.0.0.1:1/${peerId()}`, 'mqtt-listen://127.0.0.1:1',
  ];
  for (const u of urls) {
    const url = `${u}${u.startsWith('mqtt') ? `?self=${peerId()}&` : '?'}seal=maybe`;
    await tt.rejects(openTransport(url), { name: 'TransportError', kind: 'BadUrl', message: /seal=maybe is not one of require, prefer, off/ }, url);
  }
  tt.same(SEAL_POLICIES, ['require', 'prefer', 'off']);
  // Any other value, however spelled (case, spaces, empty), is refused before any I/O happens.
  await fc.assert(fc.asyncProperty(fc.string().filter((v) => !(SEAL_POLICIES as readonly string[]).includes(v)), async (v) => {
    try {
      await (await openTransport(`tcp://127.0.0.1:1?seal=${encodeURIComponent(v)}`)).close();
      return false;
    } catch (err) {
      return (err as { kind?: unknown }).kind === 'BadUrl';
    }
  }), { numRuns: 200 });
});

t.test('tcp: default require, explicit values on dialer and listener', async (tt) => {
  const l1 = await open(tt, 'tcp-listen://127.0.0.1:0');
  const d1 = await open(tt, `tcp://127.0.0.1:${l1.localPort}?seal=off`);
  const [a, b] = await Promise.all([linksOf(l1).next(), linksOf(d1).next()]);
  tt.equal(a.sealPolicy, 'require', 'tcp-listen default');
  tt.equal(b.sealPolicy, 'off', 'tcp seal=off');
  const l2 = await open(tt, 'tcp-listen://127.0.0.1:0?seal=prefer&max_conns=4');
  const d2 = await open(tt, `tcp://127.0.0.1:${l2.localPort}`);
  const [c, d] = await Promise.all([linksOf(l2).next(), linksOf(d2).next()]);
  tt.equal(c.sealPolicy, 'prefer', 'tcp-listen seal=prefer (with other listener parameters)');
  tt.equal(d.sealPolicy, 'require', 'tcp default');
  // markSealed on a stream link: idempotent, emits nothing, the link keeps carrying frames.
  const seen: string[] = [];
  for (const ev of ['frame', 'drain', 'frame-error', 'close', 'authenticated', 'rehandshake'] as const) d.on(ev, () => seen.push(ev));
  d.markSealed!();
  d.markSealed!();
  tt.same(seen, [], 'markSealed emits nothing');
  const got = next<Uint8Array>(c, 'frame');
  d.send(Buffer.from('still works'));
  tt.equal(text(await got), 'still works');
});

t.test('tls: default prefer, seal=require honoured', { skip: tlsSkip }, async (tt) => {
  const l = await open(tt, `tls-listen://127.0.0.1:0?cert=${cert}&key=${key}`);
  const d = await open(tt, `tls://localhost:${l.localPort}?ca=${cert}&seal=require`);
  const [a, b] = await Promise.all([linksOf(l).next(), linksOf(d).next()]);
  tt.equal(a.sealPolicy, 'prefer', 'tls-listen default');
  tt.equal(b.sealPolicy, 'require', 'tls seal=require');
  const d2 = await open(tt, `tls://localhost:${l.localPort}?ca=${cert}`);
  tt.equal((await linksOf(d2).next()).sealPolicy, 'prefer', 'tls default');
});

t.test('serial: default prefer, seal=off honoured (simulated UART pair)', async (tt) => {
  const registry = new SimRegistry();
  const sim = createSimLink({ pathA: '/dev/sealA', pathB: '/dev/sealB', registry });
  const binding = createSimBinding(registry);
  const a = await open(tt, 'serial:/dev/sealA', { binding });
  const b = await open(tt, 'serial:/dev/sealB?baud=9600&seal=off', { binding });
  tt.teardown(() => sim.dispose());
  const [la, lb] = await Promise.all([linksOf(a).next(), linksOf(b).next()]);
  tt.equal(la.sealPolicy, 'prefer');
  tt.equal(lb.sealPolicy, 'off');
});

t.test('mqtt and mqtts: default require, seal=prefer honoured', { skip: noBroker || tlsSkip }, async (tt) => {
  const [plain, secure] = await Promise.all([broker(tt), broker(tt, true)]);
  const [a, b] = [peerId(), peerId()];
  const d = await open(tt, `mqtt://127.0.0.1:${plain}/${b}?self=${a}`);
  tt.equal((await linksOf(d).next()).sealPolicy, 'require', 'mqtt default');
  const ds = await open(tt, `mqtts://localhost:${secure}/${b}?self=${a}&ca=${cert}`);
  tt.equal((await linksOf(ds).next()).sealPolicy, 'require', 'mqtts default: TLS to the broker is not end to end');
  const l = await open(tt, `mqtt-listen://127.0.0.1:${plain}?self=${b}&seal=prefer`);
  const ll = linksOf(l);
  const rogue = await rawClient(tt, plain);
  // A listener's link exists once a sender wrote; publish until the subscription is in place.
  await until(() => (rogue.publish(`syncwire/${b}/in/${a}`, 'x', { qos: 1 }), ll.all.length > 0), 10_000, 'listener link');
  tt.equal(ll.all[0]!.sealPolicy, 'prefer', 'mqtt-listen seal=prefer');
});

t.test('sealed MQTT link: a forged empty payload no longer ends it (dialer and listener)', { skip: noBroker }, async (tt) => {
  const port = await broker(tt);
  const [a, b, g, x] = [peerId(), peerId(), peerId(), peerId()];
  const rogue = await rawClient(tt, port);
  const dial = linksOf(await open(tt, `mqtt://127.0.0.1:${port}/${b}?self=${a}`));
  const victimInbox = `syncwire/${a}/in/${b}`;

  const l1 = await dial.next();
  const closed = next<Error | undefined>(l1, 'close');
  await rogue.publishAsync(victimInbox, Buffer.alloc(0), { qos: 1 });
  tt.match(await closed, { kind: 'Closed' }, 'before markSealed: the empty payload is the close marker');

  const l2 = await dial.next();
  l2.markAuthenticated!();
  l2.markSealed!();
  const frames: Uint8Array[] = [];
  l2.on('frame', (f) => frames.push(f));
  await rogue.publishAsync(victimInbox, Buffer.alloc(0), { qos: 1 });
  await rogue.publishAsync(victimInbox, 'after', { qos: 1 });
  await until(() => frames.length >= 2, 10_000, 'both frames');
  tt.same(frames.map(text), ['', 'after'], 'the forged marker is handed on as an empty frame (the engine drops it, §7.4 rule 4); later frames still arrive');
  tt.ok(l2.open, 'after markSealed: still open');
  tt.equal((l2 as MqttLink).ignoredCloseMarkers, 1);
  tt.equal(dial.all.length, 2, 'not replaced');

  // Listen mode: the link of sender x, on inbox `<g>/in/<x>`.
  const listen = linksOf(await open(tt, `mqtt-listen://127.0.0.1:${port}?self=${g}`));
  await until(() => (rogue.publish(`syncwire/${g}/in/${x}`, 'hi', { qos: 1 }), listen.all.length > 0), 10_000, 'listener link');
  const lx = await listen.next();
  lx.markAuthenticated!();
  lx.markSealed!();
  const lxFrames: Uint8Array[] = [];
  lx.on('frame', (f) => lxFrames.push(f));
  await rogue.publishAsync(`syncwire/${g}/in/${x}`, Buffer.alloc(0), { qos: 1 });
  // Earlier 'hi's of the wait above may still be arriving; the empty payload comes after them.
  await until(() => lxFrames.some((f) => f.length === 0), 10_000, 'the empty payload as a frame');
  tt.ok(lx.open, 'listener link still open');
});

t.test('live online on an authenticated dial link: sealed → rehandshake on the same link; unsealed → replaced', { skip: noBroker }, async (tt) => {
  const port = await broker(tt);
  const rogue = await rawClient(tt, port);
  const [a, b] = [peerId(), peerId()];
  const dial = linksOf(await open(tt, `mqtt://127.0.0.1:${port}/${b}?self=${a}`));
  const l = await dial.next();
  l.markAuthenticated!();
  l.markSealed!();
  const hinted = next<void>(l, 'rehandshake');
  await rogue.publishAsync(`syncwire/${b}/presence`, 'online', { qos: 1 });
  await hinted;
  // Sync point: a frame published after the presence arrives on the very same link.
  const frame = next<Uint8Array>(l, 'frame');
  await rogue.publishAsync(`syncwire/${a}/in/${b}`, 'same link', { qos: 1 });
  tt.equal(text(await frame), 'same link');
  tt.ok(l.open, 'the sealed link stays open');
  tt.equal(dial.all.length, 1, 'no new link');

  // Control, today's behaviour: an authenticated but unsealed link is replaced, with no hint.
  const [c, e] = [peerId(), peerId()];
  const dial2 = linksOf(await open(tt, `mqtt://127.0.0.1:${port}/${e}?self=${c}`));
  const u = await dial2.next();
  u.markAuthenticated!();
  let hints = 0;
  u.on('rehandshake', () => hints++);
  const gone = next<Error | undefined>(u, 'close');
  await rogue.publishAsync(`syncwire/${e}/presence`, 'online', { qos: 1 });
  tt.match(await gone, { kind: 'Disconnected', message: /came online again/ });
  tt.not(await dial2.next(), u, 'a new link replaces it');
  tt.equal(hints, 0);
});

t.test('close() on a sealed MQTT link publishes no empty payload (sniffer on #)', { skip: noBroker }, async (tt) => {
  const port = await broker(tt);
  const [a, b] = [peerId(), peerId()];
  const sniffer = await rawClient(tt, port);
  const seen: Array<[string, string]> = [];
  sniffer.on('message', (topic, payload) => seen.push([topic, payload.toString()]));
  await sniffer.subscribeAsync('#', { qos: 1 });
  const tr = await open(tt, `mqtt://127.0.0.1:${port}/${b}?self=${a}`);
  const dial = linksOf(tr);
  const outbox = `syncwire/${b}/in/${a}`;
  const sent = (): string[] => seen.filter(([topic]) => topic === outbox).map(([, p]) => p);

  const l1 = await dial.next();
  l1.send(Buffer.from('one'));
  await l1.close();
  await until(() => sent().length === 2, 10_000, 'control: the unsealed close marker');
  tt.same(sent(), ['one', ''], 'unsealed: close() publishes the empty marker');

  const l2 = await dial.next();
  l2.markAuthenticated!();
  l2.markSealed!();
  l2.send(Buffer.from('two'));
  await l2.close();
  // Sync point: the next link's first frame follows on the same topic and connection.
  const l3 = await dial.next();
  l3.send(Buffer.from('three'));
  await until(() => sent().includes('three'), 10_000, 'frame on the next link');
  tt.same(sent(), ['one', '', 'two', 'three'], 'sealed: no empty marker from close()');

  // Closing the transport ends a sealed link without a marker too; its `offline` comes after.
  l3.markAuthenticated!();
  l3.markSealed!();
  await tr.close();
  await until(() => seen.some(([topic, p]) => topic === `syncwire/${a}/presence` && p === 'offline'), 10_000, 'offline');
  tt.same(sent(), ['one', '', 'two', 'three'], 'transport close: no empty marker for a sealed link');
});

t.test('presence rule and rehandshake rate limit (pure parts)', async (tt) => {
  const up = (sealed: boolean) => ({ authenticated: true, sealed });
  const pending = { authenticated: false, sealed: false };
  tt.equal(onlineAction(up(true), true, 10_000), 'rehandshake', 'live online, sealed up link');
  tt.equal(onlineAction(up(true), false, 10_000), 'ignore', 'retained online, sealed up link');
  tt.equal(onlineAction(up(false), true, 10_000), 'replace', 'live online, unsealed up link');
  tt.equal(onlineAction(up(false), false, 10_000), 'ignore', 'retained online, unsealed up link');
  for (const live of [true, false]) {
    tt.equal(onlineAction(pending, live, KICK_AFTER_MS - 1), 'ignore', 'fresh pending link keeps its Hello going');
    tt.equal(onlineAction(pending, live, KICK_AFTER_MS), 'replace', 'stale pending link is replaced');
    tt.equal(onlineAction(undefined, live, KICK_AFTER_MS), 'replace', 'no link: open one');
  }
  const released: boolean[] = [];
  const link = new MqttLink(
    { remote: peerId(), description: 'unit', maxFrame: 1024, topicLength: 40, highWaterMark: 4096, sealPolicy: 'require' },
    { publish: (_r, _b, done) => done(), released: (_l, notify) => released.push(notify) },
  );
  let hints = 0;
  link.on('rehandshake', () => hints++);
  const results = [0, 1, REHANDSHAKE_HINT_MS - 1, REHANDSHAKE_HINT_MS, REHANDSHAKE_HINT_MS + 5].map((now) => link.hintRehandshake(now));
  tt.same(results, [true, false, false, true, false], 'at most one rehandshake per second');
  tt.equal(hints, 2);
  link.markSealed();
  await link.close();
  tt.same(released, [false], 'a sealed link asks for no close marker');
  tt.equal(link.hintRehandshake(10 * REHANDSHAKE_HINT_MS), false, 'none after close');
});

t.test('agent with a bad seal= exits 78 (EX_CONFIG)', async (tt) => {
  const main = resolve('dist/agent/cli/main.js');
  tt.ok(existsSync(main), `${main} exists (build first: npx tsc -p tsconfig.json)`);
  const d = mkdtempSync(join(tmpdir(), 'swseal-'));
  tt.teardown(() => rmSync(d, { recursive: true, force: true }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_')));
  const run = (args: string[]): Promise<{ code: number | null; stderr: string }> => new Promise((res) => {
    const c = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (x: Buffer) => (stderr += x));
    c.on('close', (code) => res({ code, stderr }));
  });
  tt.equal((await run(['keygen', '--out', join(d, 'key.json')])).code, 0, 'keygen');
  const r = await run(['agent', '-d', d, '--link', 'tcp://127.0.0.1:9?seal=maybe', '--log-level', 'fatal']);
  tt.equal(r.code, 78, r.stderr);
  tt.match(r.stderr, /seal=maybe is not one of require, prefer, off/);
});
