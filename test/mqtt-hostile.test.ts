/**
 * MQTT under hostile or unlucky brokers, with real Mosquitto processes on free ports and real
 * protocol-2 engines (a gateway and devices of testkit/engines-v2.ts): relink after a session-losing restart with the gateway first, forged `offline`
 * presence, a fake-sender flood, and the shipped ACL recipe (docs/mosquitto/).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { findBin, freePort, mosquitto, mosquittoConf } from '../testkit/net.js';
import { fleetV2 } from '../testkit/engines-v2.js';
import { until } from '../testkit/wait.js';

const CI = process.env.CI === 'true';
const have = findBin('mosquitto') !== '' && findBin('mosquitto_passwd') !== '';
if (!have && CI) t.fail('mosquitto and mosquitto_passwd are required under CI=true');
const skip = have ? false : 'mosquitto not installed; skipped';
const dir = mkdtempSync(join(tmpdir(), 'syncwire-mqtt-hostile-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A raw mqtt.js client, connected. */
async function rawClient(port: number, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = mqtt.connect({ host: '127.0.0.1', port, protocolVersion: 4, reconnectPeriod: 0, ...opts });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

t.test('relink after a session-losing broker restart, gateway reconnecting first', { skip }, async (tt) => {
  const port = await freePort();
  const broker = mosquitto(mosquittoConf(dir, port), port);
  await broker.start();
  tt.teardown(() => broker.kill());
  const [gw, dev] = await fleetV2(2);
  tt.teardown(() => Promise.all([gw!.close(), dev!.close()]));
  // The gateway comes back at once, the device 2-3 s later (its first delay is the whole window).
  await gw!.open(`mqtt-listen://127.0.0.1:${port}`, { reconnectBaseMs: 50, mqttReconnectMaxMs: 200, random: () => 0 });
  await dev!.open(`mqtt://127.0.0.1:${port}/${gw!.id}`, { reconnectBaseMs: 2500, mqttReconnectMaxMs: 3000, random: () => 0.999 });
  await until(() => dev!.up.has(gw!.id) && gw!.up.has(dev!.id), 20_000, 'first link');
  const before = await gw!.commit('before');
  await until(() => dev!.has(before), 20_000, 'push before the restart');

  // SIGTERM: Mosquitto publishes every client's will on the way down, so the device sees the
  // gateway go `offline` live; `persistence false` then forgets sessions and retained messages.
  const dead = new Promise((r) => broker.child.once('exit', r));
  broker.child.kill('SIGTERM');
  await dead;
  await until(() => !dev!.up.has(gw!.id), 10_000, 'link down');
  await broker.start();
  const t0 = performance.now();
  const relinkMs = await until(() => dev!.up.has(gw!.id) && gw!.up.has(dev!.id), 30_000, 'relink after the restart (target ≤ 30 s)');
  const after = await gw!.commit('after');
  await until(() => dev!.has(after), 15_000, 'push after the relink');
  tt.pass(`relinked ${Math.round(relinkMs)} ms after the broker came back; push ${Math.round(performance.now() - t0)} ms after`);
});

t.test('forged offline presence (live and retained) does not cut or block an authenticated link', { skip }, async (tt) => {
  const port = await freePort();
  const broker = mosquitto(mosquittoConf(dir, port), port);
  await broker.start();
  tt.teardown(() => broker.kill());
  const [gw, dev, dev2] = await fleetV2(3);
  tt.teardown(() => Promise.all([gw!.close(), dev!.close(), dev2!.close()]));
  await gw!.open(`mqtt-listen://127.0.0.1:${port}`);
  await dev!.open(`mqtt://127.0.0.1:${port}/${gw!.id}`);
  await until(() => dev!.up.has(gw!.id), 20_000, 'link up');
  const rogue = await rawClient(port, { clientId: 'rogue' });
  tt.teardown(() => rogue.endAsync(true));
  let downs = 0;
  dev!.engine.on('peer-down', () => downs++);
  await rogue.publishAsync(`syncwire/${gw!.id}/presence`, 'offline', { qos: 1, retain: true });
  await new Promise((r) => setTimeout(r, 1500));
  tt.equal(downs, 0, 'the live forged offline did not close the link');
  tt.ok(dev!.up.has(gw!.id), 'still up');
  const c = await gw!.commit('after forged offline');
  await until(() => dev!.has(c), 15_000, 'push after the forged offline');
  // A device connecting now finds only the forged retained `offline`: it must link all the same.
  await dev2!.open(`mqtt://127.0.0.1:${port}/${gw!.id}`);
  await until(() => dev2!.up.has(gw!.id), 20_000, 'a new dialer links despite a retained offline');
  tt.pass('both devices linked');
});

t.test('fake-sender flood: a trusted device still gets in; answers to fakes are bounded', { skip }, async (tt) => {
  const port = await freePort();
  const broker = mosquitto(mosquittoConf(dir, port, ['max_queued_messages 100000']), port);
  await broker.start();
  tt.teardown(() => broker.kill());
  const [gw, dev] = await fleetV2(2);
  tt.teardown(() => Promise.all([gw!.close(), dev!.close()]));
  await gw!.open(`mqtt-listen://127.0.0.1:${port}`);
  const rogue = await rawClient(port, { clientId: 'rogue' });
  tt.teardown(() => rogue.endAsync(true));
  let answers = 0;
  rogue.on('message', () => answers++);
  await rogue.subscribeAsync(`syncwire/+/in/${gw!.id}`, { qos: 0 });
  // 200 made-up senders a second, each with a small junk message (the probe sent 100/s).
  let sent = 0;
  const flood = setInterval(() => {
    for (let i = 0; i < 10; i++) {
      rogue.publish(`syncwire/${gw!.id}/in/${randomBytes(8).toString('hex')}`, randomBytes(24), { qos: 0 });
      sent++;
    }
  }, 50);
  tt.teardown(() => clearInterval(flood));
  // Long enough that the old code's 1,024-link table was full before the device arrives.
  await new Promise((r) => setTimeout(r, 7000));
  const t0 = performance.now();
  await dev!.open(`mqtt://127.0.0.1:${port}/${gw!.id}`);
  const inMs = await until(() => dev!.up.has(gw!.id) && gw!.up.has(dev!.id), 30_000, 'trusted device admitted during the flood');
  const floodS = (performance.now() - t0) / 1000 + 7;
  clearInterval(flood);
  const c = await gw!.commit('during flood');
  await until(() => dev!.has(c), 15_000, 'push during the flood');
  // Bound: 50 new unauthenticated links/s, each answered with a Hello and at most a few
  // retransmissions (and an Error + close marker) before it is evicted: 6 per link, generous.
  const bound = 50 * 6 * (floodS + 2);
  tt.ok(answers <= bound, `answers to fake senders: ${answers} for ${sent} fake messages in ${floodS.toFixed(1)} s (bound ${bound})`);
  tt.pass(`trusted device admitted ${Math.round(inMs)} ms after it started`);
});

t.test('ACL recipe (docs/mosquitto): a device cannot publish as another or forge presence', { skip }, async (tt) => {
  const recipe = new URL('../docs/mosquitto/', import.meta.url);
  const port = await freePort();
  // gw and b run real agents; a is the attacker's stolen credentials; c watches what arrives.
  const [gw, a, b, c] = await fleetV2(4);
  tt.teardown(() => Promise.all([gw!, a!, b!, c!].map((n) => n.close())));
  // Mosquitto started as root drops to its `mosquitto` user: it must be able to read the files.
  const aclDir = mkdtempSync(join(tmpdir(), 'syncwire-acl-'));
  tt.teardown(() => rmSync(aclDir, { recursive: true, force: true }));
  chmodSync(aclDir, 0o755);
  const passwd = join(aclDir, 'syncwire.passwd');
  const pw = new Map<string, string>();
  for (const [i, n] of [gw!, a!, b!, c!].entries()) {
    pw.set(n.id, randomBytes(9).toString('base64url'));
    const args = i === 0 ? ['-c', '-b', passwd, n.id, pw.get(n.id)!] : ['-b', passwd, n.id, pw.get(n.id)!];
    const r = spawnSync(findBin('mosquitto_passwd'), args, { encoding: 'utf8' });
    tt.equal(r.status, 0, `mosquitto_passwd for ${n.id} ${r.stderr}`);
  }
  // The shipped files; only the port and the two paths are the test's.
  chmodSync(passwd, 0o644);
  const acl = join(aclDir, 'syncwire.acl');
  writeFileSync(acl, readFileSync(new URL('syncwire.acl', recipe)));
  const conf = readFileSync(new URL('syncwire.conf', recipe), 'utf8')
    .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
    .replace(/^password_file .*$/m, `password_file ${passwd}`)
    .replace(/^acl_file .*$/m, `acl_file ${acl}`);
  tt.not(conf, readFileSync(new URL('syncwire.conf', recipe), 'utf8'), 'the shipped config has the lines the test adapts');
  const confFile = join(aclDir, 'acl-recipe.conf');
  writeFileSync(confFile, conf);
  const broker = mosquitto(confFile, port);
  await broker.start();
  tt.teardown(() => broker.kill());
  const cred = (id: string): string => `${id}:${pw.get(id)}@`;
  await gw!.open(`mqtt-listen://${cred(gw!.id)}127.0.0.1:${port}`);
  await b!.open(`mqtt://${cred(b!.id)}127.0.0.1:${port}/${gw!.id}`);
  await until(() => b!.up.has(gw!.id) && gw!.up.has(b!.id), 20_000, 'device B links through the ACL broker');

  const login = (n: typeof a): Promise<mqtt.MqttClient> => rawClient(port, { username: n!.id, password: pw.get(n!.id)!, clientId: 'any' });
  const watcher = await login(c);
  tt.teardown(() => watcher.endAsync(true));
  const seen: string[] = [];
  watcher.on('message', (topic, payload) => seen.push(`${topic}=${payload.toString()}`));
  await watcher.subscribeAsync([`syncwire/${c!.id}/in/+`, 'syncwire/+/presence'], { qos: 1 });
  await new Promise((r) => setTimeout(r, 500));
  seen.length = 0; // the retained presences of gw and b
  const mallory = await login(a);
  tt.teardown(() => mallory.endAsync(true));
  // A pretends to be B and the gateway (the sender level), and forges their presence.
  await mallory.publishAsync(`syncwire/${c!.id}/in/${b!.id}`, 'as-b', { qos: 1 });
  await mallory.publishAsync(`syncwire/${c!.id}/in/${gw!.id}`, 'as-gateway', { qos: 1 });
  await mallory.publishAsync(`syncwire/${gw!.id}/presence`, 'offline', { qos: 1, retain: true });
  await mallory.publishAsync(`syncwire/${b!.id}/presence`, 'offline', { qos: 1, retain: true });
  await mallory.publishAsync(`syncwire/${gw!.id}/in/${b!.id}`, 'as-b-to-gw', { qos: 1 });
  // Positive control: A publishing as itself, and its own presence, do get through.
  await mallory.publishAsync(`syncwire/${c!.id}/in/${a!.id}`, 'as-self', { qos: 1 });
  await mallory.publishAsync(`syncwire/${a!.id}/presence`, 'online', { qos: 1, retain: true });
  await until(() => seen.length >= 2, 5000, 'the allowed publishes arrive');
  await new Promise((r) => setTimeout(r, 500));
  tt.same(seen.sort(), [`syncwire/${a!.id}/presence=online`, `syncwire/${c!.id}/in/${a!.id}=as-self`].sort(), 'only what A may publish as itself arrived');
  // Nor can A read another peer's inbox.
  const got: string[] = [];
  mallory.on('message', (topic) => got.push(topic));
  await mallory.subscribeAsync(`syncwire/${c!.id}/in/+`, { qos: 1 });
  await watcher.publishAsync(`syncwire/${c!.id}/in/${c!.id}`, 'x', { qos: 1 });
  await new Promise((r) => setTimeout(r, 500));
  tt.same(got, [], "A cannot read C's inbox");
  tt.ok(b!.up.has(gw!.id) && gw!.up.has(b!.id), 'the real link of B is unaffected');
  const cmd = await gw!.commit('after the forgeries');
  await until(() => b!.has(cmd), 15_000, 'pushes still reach B');
});
