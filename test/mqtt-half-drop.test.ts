/**
 * The gateway's broker connection drops while the device's stays up (a NAT timeout on the
 * gateway's side, a cluster node resetting some clients, a session takeover). The gateway's
 * transport closes its links without being able to send close markers, so the device's link is
 * dead at the far end while the device still counts it as authenticated. The gateway's live
 * `online` on reconnect must make the device relink (protocol 2: it re-handshakes on the link,
 * sees the gateway's scope tables start anew and restarts its own in place); before, a subscribed device sat on the dead
 * link and received nothing (found by the NATS failover test, where the surviving node reset the
 * gateway while JetStream moved its stream leaders).
 *
 * The gateway reaches a real Mosquitto through a TCP proxy in this test that can cut its
 * connections; the device connects directly. A second test closes the link from the engine at
 * either end (as a handshake timeout or a refused peer would): a new link must always follow.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBin, freePort, mosquitto, mosquittoConf } from '../testkit/net.js';
import { fleetV2 } from '../testkit/engines-v2.js';
import { until } from '../testkit/wait.js';
import { sessionOf } from '../testkit/mqtt-attacker.js';

const CI = process.env.CI === 'true';
const have = findBin('mosquitto') !== '';
if (!have && CI) t.fail('mosquitto is required under CI=true');

/** A loopback TCP proxy to `port`; `cut()` destroys every connection through it so far. */
async function proxy(port: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const pairs = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(port, '127.0.0.1');
    for (const [a, b] of [[inbound, outbound], [outbound, inbound]] as const) {
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
      pairs.add(a);
      a.on('close', () => pairs.delete(a));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => { for (const s of pairs) s.destroy(); },
    close: () => new Promise<void>((r) => { for (const s of pairs) s.destroy(); server.close(() => r()); }),
  };
}

t.test('the gateway alone loses its broker connection; the device relinks and pushes resume', {
  skip: have ? false : 'mosquitto not installed; skipped',
}, async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-mqtt-half-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const broker = mosquitto(mosquittoConf(dir, port), port);
  await broker.start();
  tt.teardown(() => broker.kill());
  const p = await proxy(port);
  tt.teardown(() => p.close());
  const [gw, dev] = await fleetV2(2);
  tt.teardown(() => Promise.all([gw!.close(), dev!.close()]));
  await gw!.open(`mqtt-listen://127.0.0.1:${p.port}`, { reconnectBaseMs: 100, mqttReconnectMaxMs: 500 });
  await dev!.open(`mqtt://127.0.0.1:${port}/${gw!.id}`);
  await until(() => dev!.up.has(gw!.id) && gw!.up.has(dev!.id), 20_000, 'first link');
  const before = await gw!.commit('before');
  await until(() => dev!.has(before), 20_000, 'push before the cut');

  let devDowns = 0;
  dev!.engine.on('peer-down', () => devDowns++);
  const kept = sessionOf(dev!, gw!.id);
  p.cut();
  await until(() => !gw!.up.has(dev!.id), 10_000, "the gateway's link closed with its connection");
  const t0 = performance.now();
  await until(() => gw!.up.has(dev!.id), 20_000, 'the gateway relinked with the device');
  const relinkMs = performance.now() - t0;
  const after = await gw!.commit('after');
  const pushMs = await until(() => dev!.has(after), 20_000, 'a push after the gateway reconnected');
  // The link is sealed (MQTT default): the gateway's live `online` and new Hello are answered with
  // a re-handshake on the same link (PROTOCOL.md §7.5, §7.6). The gateway's end is new, with empty
  // scope tables (its Scopes starts again at seq 0), so the device restarts its tables in place:
  // keeping the old ones would leave every scope closed at the gateway and nothing pushed again.
  tt.equal(devDowns, 0, 'the device kept its sealed link');
  tt.ok(sessionOf(dev!, gw!.id) === kept && kept.stats.rehandshakes >= 1, 'and re-handshook on it with the restarted gateway end');
  tt.pass(`relinked ${Math.round(relinkMs)} ms after the cut, push ${Math.round(pushMs)} ms after the commit`);
});

t.test('a link closed locally, at either end, is always followed by a new link', {
  skip: have ? false : 'mosquitto not installed; skipped',
}, async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-mqtt-half-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const broker = mosquitto(mosquittoConf(dir, port), port);
  await broker.start();
  tt.teardown(() => broker.kill());
  const [gw, dev] = await fleetV2(2);
  tt.teardown(() => Promise.all([gw!.close(), dev!.close()]));
  await gw!.open(`mqtt-listen://127.0.0.1:${port}`);
  await dev!.open(`mqtt://127.0.0.1:${port}/${gw!.id}`, { reconnectBaseMs: 100, reconnectMaxMs: 500 });
  const both = (): boolean => dev!.up.has(gw!.id) && gw!.up.has(dev!.id);
  await until(both, 20_000, 'first link');
  // The engine closes the link (as after a handshake timeout or an Unauthorized), device side first.
  for (const [closer, other] of [[dev!, gw!], [gw!, dev!], [dev!, gw!]] as const) {
    const s = closer.sessionWith(other.id);
    tt.ok(s !== undefined, `${closer === dev ? 'device' : 'gateway'} has a session`);
    await s!.close();
    await until(() => !closer.up.has(other.id), 5000, 'session closed');
    await until(both, 20_000, `relinked after the ${closer === dev ? 'device' : 'gateway'} closed its link`);
    const c = await gw!.commit('after local close');
    await until(() => dev!.has(c), 20_000, 'push after the relink');
  }
  tt.pass('relinked after every local close');
});
